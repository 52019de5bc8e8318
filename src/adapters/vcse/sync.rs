//! `carebridge sync --adapter vcse --endpoint URL`: pulls each object's changes from a
//! Salesforce-style REST endpoint (`queryAll`, so deleted records come too, ordered by
//! SystemModstamp and newer than the last sync), following nextRecordsUrl page by page, and
//! imports all pages as one batch. The watermark moves only when the import lands.

use std::time::Duration;

use super::super::command::{import_and_report, Target};
use super::super::{Memory, SourceBatch, SourceFile};
use super::{OBJECTS, WATERMARK};

#[derive(clap::Args, Debug)]
pub struct SyncArgs {
    /// The adapter (vcse), database, configuration and strictness, as for import.
    #[command(flatten)]
    pub target: Target,
    /// The REST base, e.g. https://example.my.salesforce.com/services/data/v59.0
    #[arg(long)]
    pub endpoint: String,
    /// An OAuth access token, sent as a Bearer token.
    #[arg(long, env = "CAREBRIDGE_SYNC_TOKEN")]
    pub token: Option<String>,
}

/// Largest page accepted.
const PAGE_LIMIT: usize = 256 * 1024 * 1024;

pub fn run_sync(args: SyncArgs) -> Result<(), String> {
    if args.target.adapter != "vcse" {
        return Err(format!(
            "the {} adapter reads files; only vcse syncs from an endpoint",
            args.target.adapter
        ));
    }
    let (adapter, store) = args.target.open()?;
    let memory = Memory::load(&store, adapter.name()).map_err(|e| e.to_string())?;
    let queries: Vec<(String, String)> = OBJECTS
        .iter()
        .map(|(object, fields)| {
            (
                object.to_string(),
                soql(object, fields, memory.get(WATERMARK, object)),
            )
        })
        .collect();
    let (endpoint, token) = (args.endpoint.clone(), args.token.clone());
    let files = actix_web::rt::System::new().block_on(fetch_all(endpoint, token, queries))?;
    import_and_report(
        &store,
        adapter.as_ref(),
        &SourceBatch { files },
        args.target.strict,
    )
}

/// The SOQL for one object's changes since `since` (a SystemModstamp).
pub fn soql(object: &str, fields: &[&str], since: Option<&str>) -> String {
    let mut q = format!("SELECT {} FROM {object}", fields.join(", "));
    let since =
        since.and_then(|s| chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z").ok());
    if let Some(t) = since {
        // SOQL datetime literals are written without quotes, in UTC.
        let utc = t.with_timezone(&chrono::Utc);
        q.push_str(&format!(
            " WHERE SystemModstamp > {}",
            utc.format("%Y-%m-%dT%H:%M:%S%.3fZ")
        ));
    }
    q.push_str(" ORDER BY SystemModstamp");
    q
}

/// `https://host/services/data/v59` → `https://host`, to resolve nextRecordsUrl paths.
fn origin(endpoint: &str) -> &str {
    let after_scheme = endpoint.find("://").map_or(0, |i| i + 3);
    match endpoint[after_scheme..].find('/') {
        Some(i) => &endpoint[..after_scheme + i],
        None => endpoint,
    }
}

async fn fetch_all(
    endpoint: String,
    token: Option<String>,
    queries: Vec<(String, String)>,
) -> Result<Vec<SourceFile>, String> {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(120))
        .finish();
    let endpoint = endpoint.trim_end_matches('/').to_string();
    let mut files = Vec::new();
    for (object, q) in queries {
        let encoded: String = form_urlencoded::byte_serialize(q.as_bytes()).collect();
        let mut url = format!("{endpoint}/queryAll?q={encoded}");
        for page in 1.. {
            let mut req = client
                .get(&url)
                .insert_header(("Accept", "application/json"));
            if let Some(t) = &token {
                req = req.insert_header(("Authorization", format!("Bearer {t}")));
            }
            let mut res = req
                .send()
                .await
                .map_err(|e| format!("{url} cannot be fetched: {e}"))?;
            let body = res
                .body()
                .limit(PAGE_LIMIT)
                .await
                .map_err(|e| format!("{url}: the answer cannot be read: {e}"))?;
            if !res.status().is_success() {
                return Err(format!(
                    "{url} answered {}: {}",
                    res.status(),
                    String::from_utf8_lossy(&body)
                        .chars()
                        .take(500)
                        .collect::<String>()
                ));
            }
            let page_json: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| format!("{url} did not answer a query result: {e}"))?;
            let next = page_json
                .get("nextRecordsUrl")
                .and_then(|n| n.as_str())
                .map(str::to_string);
            let done = page_json
                .get("done")
                .and_then(|d| d.as_bool())
                .unwrap_or(true);
            files.push(SourceFile {
                name: format!("{object}-{page}.json"),
                bytes: body.to_vec(),
            });
            match next {
                Some(n) if !done => url = format!("{}{n}", origin(&endpoint)),
                _ => break,
            }
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_ask_for_changes_since_the_watermark() {
        assert_eq!(
            soql("Contact", &["Id", "LastName"], Some("2024-05-01T11:00:00.000+0100")),
            "SELECT Id, LastName FROM Contact WHERE SystemModstamp > 2024-05-01T10:00:00.000Z ORDER BY SystemModstamp"
        );
        assert_eq!(
            soql("Case", &["Id"], None),
            "SELECT Id FROM Case ORDER BY SystemModstamp"
        );
        assert_eq!(
            origin("https://h.example/services/data/v59.0"),
            "https://h.example"
        );
    }
}
