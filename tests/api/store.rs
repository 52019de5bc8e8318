//! Storage under concurrent writers: each write keeps its own outcome, whichever writers
//! happen to share a transaction (SQLite's group commit) or run side by side (PostgreSQL).

use serde_json::json;

use carebridge::interaction::{self, Incoming, InteractionError};
use carebridge::store::{Isolation, Store};

use crate::storage_test;

storage_test!(concurrent_writes_keep_their_own_outcome, |srv| {
    // One store shared by all threads, so SQLite writers queue and share commits.
    let store = Store::open(&srv.database_url, Some(2)).expect("store opens");
    let outcomes = std::thread::scope(|s| {
        let handles: Vec<_> = (0..24)
            .map(|i| {
                let store = &store;
                s.spawn(move || {
                    let id = format!("b{i}");
                    let incoming = Incoming::new(
                        "Basic",
                        json!({"resourceType": "Basic", "id": id, "code": {"text": "x"}}),
                    );
                    store
                        .write(Isolation::Plain, |tx| {
                            interaction::update(tx, "Basic", &id, &incoming, None)?;
                            // Every fourth writer fails after writing: its work must vanish alone.
                            if i % 4 == 0 {
                                return Err(InteractionError::BadRequest(
                                    "refused on purpose".into(),
                                ));
                            }
                            Ok(())
                        })
                        .is_ok()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(false))
            .collect::<Vec<bool>>()
    });
    for (i, ok) in outcomes.iter().enumerate() {
        assert_eq!(*ok, i % 4 != 0, "writer {i}");
        let head = store
            .read(|tx| tx.head("Basic", &format!("b{i}")))
            .expect("reads");
        assert_eq!(
            head.is_some(),
            i % 4 != 0,
            "b{i} stored iff its write succeeded"
        );
    }
});
