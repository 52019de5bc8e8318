//! Storage under concurrent writers: each write keeps its own outcome, whichever writers
//! happen to share a transaction (SQLite's group commit) or run side by side (PostgreSQL).

use serde_json::json;

use carebridge::interaction::{self, Incoming, InteractionError};
use carebridge::store::{Head, Isolation, NewVersion, Query, Store, StoreError, Tx};

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

storage_test!(
    an_upsert_found_unchanged_is_written_and_indexed_if_the_version_moved,
    |srv| {
        let store = Store::open(&srv.database_url, Some(2)).expect("store opens");
        let basic = |code: &str| {
            json!({"resourceType": "Basic", "id": "u1",
            "code": {"coding": [{"system": "http://example.org/c", "code": code}]}})
        };
        let put = |incoming: &Incoming| {
            store.write(Isolation::Plain, |tx| {
                interaction::update(tx, "Basic", "u1", incoming, None)
            })
        };
        put(&Incoming::new("Basic", basic("first"))).expect("v1");
        let v1 = store
            .read(|tx| tx.version("Basic", "u1", Some(1)))
            .expect("reads")
            .expect("v1 stored");
        put(&Incoming::new("Basic", basic("second"))).expect("v2");
        // Prepared while version 1 was current, and found equal to it: by the time it runs,
        // version 2 is current, so it is a change after all, and must be indexed.
        let stale = put(&Incoming::unchanged(basic("first"), v1.clone())).expect("v3");
        assert!(stale.changed);
        assert_eq!(stale.version.version_id, 3);
        let found = srv
            .get("/Basic?code=http://example.org/c|first")
            .await
            .json();
        assert_eq!(found["entry"].as_array().map(Vec::len), Some(1), "{found}");
        // Found unchanged against the current version: nothing written.
        let v3 = store
            .read(|tx| tx.version("Basic", "u1", None))
            .expect("reads")
            .expect("v3 stored");
        let same = put(&Incoming::unchanged(basic("first"), v3.clone())).expect("unchanged");
        assert!(!same.changed);
        assert_eq!(same.version.version_id, 3);
        assert_eq!(srv.version_count().await, 3);
        // Found different from version 1, which is no longer current: that finding is not
        // trusted, and against version 3 it is the same content after all.
        let old = Incoming::new("Basic", basic("first")).changed_from(&v1);
        assert!(!put(&old).expect("compared again").changed);
        assert_eq!(srv.version_count().await, 3);
        let fresh = Incoming::new("Basic", basic("third")).changed_from(&v3);
        let v4 = put(&fresh).expect("v4");
        assert!(v4.changed);
        assert_eq!(v4.version.version_id, 4);
    }
);

storage_test!(the_change_mark_moves_with_every_commit, |srv| {
    let store = Store::open(&srv.database_url, Some(2)).expect("store opens");
    let mark = || store.read(|tx| tx.change_mark()).expect("reads the mark");
    let write = |f: &dyn Fn(&mut dyn Tx) -> Result<(), InteractionError>| {
        store.write(Isolation::Plain, f).expect("writes");
    };
    let basic = json!({"resourceType": "Basic", "id": "m1",
        "code": {"coding": [{"system": "http://example.org/c", "code": "x"}]}});
    let put = || {
        write(&|tx| {
            let incoming = Incoming::new("Basic", basic.clone());
            interaction::update(tx, "Basic", "m1", &incoming, None).map(|_| ())
        })
    };
    let start = mark();
    put();
    let created = mark();
    assert_ne!(created, start, "a create moves it");
    write(&|tx| interaction::delete(tx, "Basic", "m1").map(|_| ()));
    let deleted = mark();
    assert_ne!(deleted, created, "a delete moves it");
    // On PostgreSQL a write on one connection moves the mark read on another.
    put();
    assert_ne!(mark(), deleted, "bringing it back moves it");
    if srv.database_url.starts_with("sqlite") {
        // The newest version key: reads, and writes that write no version, leave it. (On
        // PostgreSQL any commit in the cluster moves it, other tests' included.)
        let back = mark();
        assert!(back.parse::<i64>().expect("a key") > deleted.parse::<i64>().expect("a key"));
        assert_eq!(srv.get("/Basic/m1").await.status, 200);
        assert_eq!(mark(), back, "a read leaves the mark");
        put();
        assert_eq!(mark(), back, "an unchanged write leaves it");
    }
});

/// PostgreSQL plans from ANALYZE's statistics; the server keeps them current after writes
/// even where autovacuum is off (as on this project's CI machine), or the planner takes the
/// written tables for empty and the bulk identifier lookup scans instead of seeking.
#[actix_rt::test]
async fn postgres_planner_statistics_follow_writes() {
    let Some(srv) = crate::helpers::TestServer::postgres(module_path!()).await else {
        return;
    };
    let store = Store::open(&srv.database_url, Some(2)).expect("store opens");
    let sizes = || {
        store
            .read(|tx| {
                tx.pairs(&carebridge::store::Query::new(
                    "SELECT relname AS a, CAST(CAST(reltuples AS BIGINT) AS TEXT) AS b \
                     FROM pg_class WHERE relname IN ('resource', 'idx_token') ORDER BY relname",
                ))
            })
            .expect("reads pg_class")
    };
    let unknown = vec![
        ("idx_token".to_string(), "-1".to_string()),
        ("resource".to_string(), "-1".to_string()),
    ];
    assert_eq!(
        sizes(),
        unknown,
        "a new database's tables were never analyzed"
    );
    store
        .write(Isolation::Plain, |tx| {
            for i in 0..300 {
                let id = format!("s{i}");
                let incoming = Incoming::new(
                    "Basic",
                    json!({"resourceType": "Basic", "id": id,
                        "code": {"coding": [{"system": "http://example.org/c", "code": id}]}}),
                );
                interaction::update(tx, "Basic", &id, &incoming, None)?;
            }
            Ok::<_, InteractionError>(())
        })
        .expect("writes");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut seen = sizes();
    while seen.iter().any(|(_, n)| n == "-1") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(250));
        seen = sizes();
    }
    let rows = |name: &str| -> i64 {
        seen.iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(-1)
    };
    assert_eq!(rows("resource"), 300, "{seen:?}");
    assert!(rows("idx_token") >= 300, "{seen:?}");
}

storage_test!(heads_are_read_together_as_one_by_one, |srv| {
    let store = Store::open(&srv.database_url, Some(2)).expect("store opens");
    let ids: Vec<String> = (0..130).map(|i| format!("h{i}")).collect();
    store
        .write(Isolation::Plain, |tx| {
            for id in &ids {
                let incoming = Incoming::new("Basic", json!({"resourceType": "Basic", "id": id}));
                interaction::update(tx, "Basic", id, &incoming, None)?;
            }
            // A second version of one, and one deleted: heads say so.
            let h7 = json!({"resourceType": "Basic", "id": "h7", "code": {"text": "v2"}});
            interaction::update(tx, "Basic", "h7", &Incoming::new("Basic", h7), None)?;
            interaction::delete(tx, "Basic", "h9")?;
            Ok::<_, InteractionError>(())
        })
        .expect("writes");
    // More than one statement's worth (100), with ids that are not there.
    let mut asked: Vec<&str> = ids.iter().map(String::as_str).collect();
    asked.extend(["nope", "h130"]);
    for write in [false, true] {
        let heads = if write {
            store.write(Isolation::Plain, |tx| tx.heads("Basic", &asked))
        } else {
            store.read(|tx| tx.heads("Basic", &asked))
        }
        .expect("reads heads");
        assert_eq!(heads.len(), 130);
        for id in &asked {
            let one = store.read(|tx| tx.head("Basic", id)).expect("reads a head");
            assert_eq!(heads.get(*id), one.as_ref(), "{id}");
        }
        assert_eq!(heads["h7"].version_id, 2);
        assert!(heads["h9"].deleted);
        assert!(store
            .read(|tx| tx.heads("Patient", &asked))
            .expect("reads")
            .is_empty());
    }
});

storage_test!(rows_under_a_key_of_no_resource_undo_the_write, |srv| {
    // PostgreSQL refuses them by its foreign keys. SQLite's writer does not enforce those
    // (`store/backend.rs`): the statements that take a caller's key refuse it themselves.
    // Either way the write fails whole, the resource it created first included.
    let store = Store::open(&srv.database_url, Some(2)).expect("store opens");
    let basic = json!({"resourceType": "Basic", "id": "k", "code": {"text": "kept?"}});
    const MISSING: i64 = 987_654_321;
    type Misuse<'a> = &'a dyn Fn(&mut dyn Tx, &Incoming) -> Result<(), StoreError>;
    let misuses: [(&str, Misuse); 3] = [
        ("index rows", &|tx, incoming| {
            tx.replace_index(MISSING, &incoming.rows, true)
        }),
        ("a version", &|tx, _| {
            tx.append_version(&NewVersion {
                res_pk: MISSING,
                res_type: "Basic",
                res_id: "k",
                version_id: 2,
                last_updated: 1,
                method: "PUT",
                content: Some("{}"),
            })
        }),
        ("a head", &|tx, _| {
            tx.update_head(&Head {
                pk: MISSING,
                version_id: 2,
                last_updated: 1,
                deleted: false,
            })
        }),
    ];
    for (what, misuse) in misuses {
        let result = store.write(Isolation::Plain, |tx| {
            let incoming = Incoming::new("Basic", basic.clone());
            interaction::update(tx, "Basic", "k", &incoming, None)?;
            assert!(
                !incoming.rows.tokens.is_empty(),
                "Basic.code gives index rows"
            );
            misuse(tx, &incoming)?;
            Ok::<_, InteractionError>(())
        });
        assert!(result.is_err(), "{what} of a missing resource is refused");
        assert_eq!(
            store.read(|tx| tx.head("Basic", "k")).expect("reads"),
            None,
            "{what}"
        );
    }
    // The store goes on writing.
    store
        .write(Isolation::Plain, |tx| {
            interaction::update(
                tx,
                "Basic",
                "k",
                &Incoming::new("Basic", basic.clone()),
                None,
            )
        })
        .expect("writes");
    assert!(store
        .read(|tx| tx.head("Basic", "k"))
        .expect("reads")
        .is_some());
});

/// The tables whose rows belong to a resource by `res_pk`.
const KEYED_TABLES: [&str; 10] = [
    "resource_version",
    "compartment_member",
    "idx_composite",
    "idx_date",
    "idx_number",
    "idx_quantity",
    "idx_reference",
    "idx_string",
    "idx_token",
    "idx_uri",
];

storage_test!(
    every_kind_of_write_leaves_no_row_without_its_resource,
    |srv| {
        // Imports write in bulk (creates, then updates, with Provenances); the REST API writes
        // one at a time and in transactions; `reindex` replaces index rows. SQLite's writer
        // leaves the foreign keys to the store's statements, so none may leave a row whose
        // resource key names nothing.
        use crate::adapters::{ingest, report, set_column, Batch};
        let emis = Batch::sample("emis");
        assert!(report(&ingest(&srv, "emis", &emis).await).created > 0);
        let weight = "{0B000000-0003-4000-8000-000000000000}";
        let changed = emis.edit("CareRecord_Observation.csv", |t| {
            set_column(t, weight, "Value", "71.0")
        });
        assert_eq!(report(&ingest(&srv, "emis", &changed).await).updated, 1);
        assert!(report(&ingest(&srv, "rio", &Batch::sample("rio")).await).created > 0);
        let id = srv
            .create(&json!({"resourceType": "Patient", "name": [{"family": "Single"}]}))
            .await;
        let put = srv
            .put(
                &format!("Patient/{id}"),
                &json!({"resourceType": "Patient", "id": id, "name": [{"family": "Kept"}]}),
            )
            .await;
        assert_eq!(put.status, 200, "{}", put.text());
        let obs = srv
            .create(&json!({"resourceType": "Observation", "status": "final",
            "code": {"text": "mood"}, "subject": {"reference": format!("Patient/{id}")}}))
            .await;
        assert_eq!(srv.delete(&format!("Observation/{obs}")).await.status, 200);
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"fullUrl": "urn:uuid:8f7a2c1e-0000-4000-8000-000000000001",
             "resource": {"resourceType": "Patient", "name": [{"family": "Bundled"}]},
             "request": {"method": "POST", "url": "Patient"}},
            {"resource": {"resourceType": "Observation", "status": "final",
              "code": {"text": "sleep"},
              "subject": {"reference": "urn:uuid:8f7a2c1e-0000-4000-8000-000000000001"}},
             "request": {"method": "POST", "url": "Observation"}},
            {"resource": {"resourceType": "Patient", "id": id, "name": [{"family": "Again"}]},
             "request": {"method": "PUT", "url": format!("Patient/{id}")}}
        ]});
        let tx = srv.post("", &bundle).await;
        assert_eq!(tx.status, 200, "{}", tx.text());
        let store = Store::open(&srv.database_url, Some(1)).expect("store opens");
        // Rebuilding every index replaces the rows of resources already stored.
        assert!(carebridge::search::reindex(&store, |_| {}).expect("reindexes") > 0);
        let count = |sql: String| {
            store
                .read(|tx| tx.count(&Query::new(sql.clone())))
                .expect("counts")
        };
        for table in KEYED_TABLES {
            let orphans = count(format!(
                "SELECT COUNT(*) AS n FROM {table} t \
             WHERE NOT EXISTS (SELECT 1 FROM resource r WHERE r.pk = t.res_pk)"
            ));
            assert_eq!(orphans, 0, "{table}");
            // Each kind of row the writes above make was looked at.
            if !matches!(table, "idx_number" | "idx_composite") {
                assert!(
                    count(format!("SELECT COUNT(*) AS n FROM {table}")) > 0,
                    "{table}"
                );
            }
        }
    }
);

/// `bench-import` reads its figure against SQLite's own time to write the same rows: the
/// copy it times holds every row of every table, no more, and only SQLite can be copied.
#[actix_rt::test]
async fn the_floor_copy_holds_every_row_of_the_import() {
    use crate::adapters::{ingest, report, Batch};
    let srv = crate::helpers::TestServer::sqlite().await;
    assert!(report(&ingest(&srv, "emis", &Batch::sample("emis")).await).created > 0);
    let dir = tempfile::tempdir().expect("temp dir");
    let into = format!("sqlite://{}", dir.path().join("floor.db").display());
    let copied = carebridge::store::copy_sqlite_rows(&srv.database_url, &into).expect("copies");
    let (from, to) = (
        Store::open(&srv.database_url, Some(1)).expect("opens"),
        Store::open(&into, Some(1)).expect("opens"),
    );
    let count = |store: &Store, table: &str| {
        store
            .read(|tx| tx.count(&Query::new(format!("SELECT COUNT(*) AS n FROM {table}"))))
            .expect("counts")
    };
    let mut total = 0;
    for table in ["resource", "adapter_memory"]
        .into_iter()
        .chain(KEYED_TABLES)
    {
        let n = count(&from, table);
        assert_eq!(count(&to, table), n, "{table}");
        total += n as u64;
    }
    assert!(count(&to, "idx_token") > 0 && count(&to, "adapter_memory") > 0);
    assert_eq!(copied.rows, total, "rows of other tables were copied too");
    let postgres = carebridge::store::copy_sqlite_rows("postgres://127.0.0.1/x", &into);
    assert!(postgres.is_err(), "a PostgreSQL source is refused");
}

/// On SQLite a multi-row INSERT that an immediate foreign key could stop half-way keeps a
/// statement journal (a temporary file of every page it changes); only deferred keys spare
/// it (migration 5). The writer does not enforce them today (`store/backend.rs`), but a
/// connection that does must not bring those journals back: every foreign key of the
/// schema stays deferred, new tables' too.
#[test]
fn sqlite_foreign_keys_are_deferred() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("fk.db").display());
    let store = Store::open(&url, Some(1)).expect("store opens");
    let tables = store
        .read(|tx| {
            tx.pairs(&carebridge::store::Query::new(
                "SELECT name AS a, sql AS b FROM sqlite_master \
                 WHERE type = 'table' AND sql LIKE '%REFERENCES%' ORDER BY name",
            ))
        })
        .expect("reads the schema");
    // The same tables as the orphan check above reads, so that a new one is checked too.
    let names: Vec<&str> = tables.iter().map(|(name, _)| name.as_str()).collect();
    let mut keyed = KEYED_TABLES.to_vec();
    keyed.sort_unstable();
    assert_eq!(names, keyed, "versions and index tables");
    for (name, sql) in &tables {
        let keys = sql.matches("REFERENCES").count();
        let deferred = sql.matches("DEFERRABLE INITIALLY DEFERRED").count();
        assert_eq!(keys, deferred, "{name}: {sql}");
    }
}

/// SQLite is the one compiled in, with the options `.cargo/config.toml` gives it: its
/// connections skip the per-call and per-allocation mutexes (sound because no connection is
/// used by two threads at once) and keep page caches of their own.
#[test]
fn sqlite_is_built_in_with_its_options() {
    use diesel::sql_types::Text;
    use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        compile_options: String,
    }
    let mut c = SqliteConnection::establish(":memory:").expect("in-memory SQLite");
    let options: Vec<String> = diesel::sql_query("PRAGMA compile_options")
        .load::<Row>(&mut c)
        .expect("compile options")
        .into_iter()
        .map(|r| r.compile_options)
        .collect();
    for wanted in ["THREADSAFE=2", "DEFAULT_MEMSTATUS=0"] {
        assert!(
            options.iter().any(|o| o == wanted),
            "{wanted} in {options:?}"
        );
    }
    // One page cache for all connections behind a global mutex; sampled statistics.
    for unwanted in ["ENABLE_MEMORY_MANAGEMENT", "ENABLE_STAT4"] {
        assert!(
            !options.iter().any(|o| o == unwanted),
            "{unwanted} in {options:?}"
        );
    }
}

storage_test!(adapter_memory_keeps_the_last_word_per_key, |srv| {
    use carebridge::adapters::memory::{self, Memory};
    use carebridge::adapters::model::Remember;
    let store = Store::open(&srv.database_url, Some(2)).expect("store opens");
    let said = |kind: &str, key: &str, value: &str| Remember {
        kind: kind.into(),
        key: key.into(),
        value: value.into(),
    };
    let save = |adapter: &str, items: Vec<Remember>| {
        store
            .write(Isolation::Plain, |tx| memory::save(tx, adapter, &items))
            .expect("saved")
    };
    save(
        "emis",
        vec![
            said("clinical-code", "1", "old"),
            said("clinical-code", "2", "two"),
            said("sender", "1", "practice"),
        ],
    );
    save("rio", vec![said("clinical-code", "1", "rio's")]);
    // Saved again: one key overwritten, one new, one given twice (the later wins), and
    // the same kind and key under another adapter left alone.
    save(
        "emis",
        vec![
            said("clinical-code", "1", "new"),
            said("clinical-code", "3", "first"),
            said("clinical-code", "3", "second"),
        ],
    );
    let emis = Memory::load(&store, "emis").expect("loads");
    assert_eq!(emis.get("clinical-code", "1"), Some("new"));
    assert_eq!(emis.get("clinical-code", "2"), Some("two"));
    assert_eq!(emis.get("clinical-code", "3"), Some("second"));
    assert_eq!(emis.get("sender", "1"), Some("practice"));
    assert_eq!(emis.of_kind("clinical-code").count(), 3);
    let rio = Memory::load(&store, "rio").expect("loads");
    assert_eq!(rio.get("clinical-code", "1"), Some("rio's"));
    // More keys than one statement holds.
    let many: Vec<Remember> = (0..600)
        .map(|i| said("patient", &i.to_string(), "a"))
        .collect();
    save("emis", many.clone());
    let again: Vec<Remember> = many.iter().map(|r| said(&r.kind, &r.key, "b")).collect();
    save("emis", again);
    let emis = Memory::load(&store, "emis").expect("loads");
    assert_eq!(emis.of_kind("patient").count(), 600);
    assert!(emis.of_kind("patient").all(|(_, v)| v == "b"));
});
