//! One helper for every integration test: a fresh database (a SQLite file in a temp dir, or a
//! new PostgreSQL database), the real server on 127.0.0.1:0, and an HTTP client.

use std::io::Write;
use std::time::Duration;

use awc::http::header::HeaderMap;
use awc::http::Method;
use carebridge::profile::Policy;
use carebridge::server::{start, ServerConfig};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use serde_json::Value;

/// The variable that turns on the PostgreSQL cases, e.g.
/// `postgres://postgres@127.0.0.1:5432/postgres`.
pub const POSTGRES_VAR: &str = "CAREBRIDGE_TEST_POSTGRES_URL";

/// Runs a test body against SQLite and against PostgreSQL, as two tests.
#[macro_export]
macro_rules! storage_test {
    ($name:ident, |$srv:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[actix_rt::test]
            async fn sqlite() {
                let $srv = $crate::helpers::TestServer::sqlite().await;
                $body
            }

            #[actix_rt::test]
            async fn postgres() {
                let Some($srv) = $crate::helpers::TestServer::postgres(module_path!()).await else {
                    return;
                };
                $body
            }
        }
    };
    // The same, with the server enforcing profiles.
    ($name:ident, profiles = $policy:expr, |$srv:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[actix_rt::test]
            async fn sqlite() {
                let $srv = $crate::helpers::TestServer::sqlite_with($policy).await;
                $body
            }

            #[actix_rt::test]
            async fn postgres() {
                let Some($srv) =
                    $crate::helpers::TestServer::postgres_with(module_path!(), $policy).await
                else {
                    return;
                };
                $body
            }
        }
    };
}

enum Database {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Database::Postgres { admin_url, name } = self {
            if let Ok(mut c) = PgConnection::establish(admin_url) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

pub struct TestServer {
    pub base: String,
    /// The database the server runs on, for tests that open it themselves.
    pub database_url: String,
    client: awc::Client,
    _db: Database,
}

/// A response, read whole.
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// The first issue's code and expression of an OperationOutcome body.
    pub fn issue(&self) -> (String, Option<String>) {
        let oo = self.json();
        assert_eq!(oo["resourceType"], "OperationOutcome", "{oo}");
        let i = &oo["issue"][0];
        (
            i["code"].as_str().unwrap_or_default().to_string(),
            i["expression"][0].as_str().map(str::to_string),
        )
    }
}

impl TestServer {
    pub async fn sqlite() -> TestServer {
        TestServer::sqlite_with(Policy::default()).await
    }

    pub async fn sqlite_with(profiles: Policy) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("carebridge.db").display());
        TestServer::launch(url, Database::Sqlite(dir), profiles)
    }

    /// `None`, with a note on stderr, when PostgreSQL is not configured.
    pub async fn postgres(test: &str) -> Option<TestServer> {
        TestServer::postgres_with(test, Policy::default()).await
    }

    pub async fn postgres_with(test: &str, profiles: Policy) -> Option<TestServer> {
        let Ok(admin_url) = std::env::var(POSTGRES_VAR) else {
            // Written past the test harness's capture so the skip is visible in every run.
            let _ = writeln!(
                std::io::stderr(),
                "skipped {test}::postgres: {POSTGRES_VAR} is not set (see README, Testing)"
            );
            return None;
        };
        let name = format!("carebridge_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(&admin_url)
            .unwrap_or_else(|e| panic!("{POSTGRES_VAR}={admin_url} does not connect: {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create test database");
        let (prefix, _) = admin_url
            .rsplit_once('/')
            .expect("URL ends in a database name");
        let url = format!("{prefix}/{name}");
        Some(TestServer::launch(
            url,
            Database::Postgres { admin_url, name },
            profiles,
        ))
    }

    fn launch(database_url: String, db: Database, profiles: Policy) -> TestServer {
        let cfg = ServerConfig {
            workers: Some(2),
            pool_size: Some(8),
            body_limit: 64 * 1024,
            profiles,
            ..ServerConfig::new("127.0.0.1:0".parse().expect("addr"), database_url.clone())
        };
        let running = start(&cfg).expect("server starts");
        actix_rt::spawn(running.server);
        TestServer {
            base: running.base_url,
            database_url,
            client: awc::Client::builder()
                .timeout(Duration::from_secs(30))
                .disable_redirects()
                .finish(),
            _db: db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    /// Sends a request; `path` is relative to the FHIR base.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Resp {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, self.url(path));
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        let mut res = match body {
            Some(b) => req.send_body(b).await,
            None => req.send().await,
        }
        .expect("request is answered");
        let body = res.body().limit(64 * 1024 * 1024).await.expect("body");
        Resp {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            body: body.to_vec(),
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send("GET", path, &[], None).await
    }

    pub async fn post(&self, path: &str, resource: &Value) -> Resp {
        self.send_json("POST", path, &[], resource).await
    }

    pub async fn put(&self, path: &str, resource: &Value) -> Resp {
        self.send_json("PUT", path, &[], resource).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send("DELETE", path, &[], None).await
    }

    pub async fn send_json(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        resource: &Value,
    ) -> Resp {
        let mut h = vec![("Content-Type", "application/fhir+json")];
        h.extend_from_slice(headers);
        self.send(method, path, &h, Some(resource.to_string().into_bytes()))
            .await
    }

    /// Creates a resource and returns its id.
    pub async fn create(&self, resource: &Value) -> String {
        let rt = resource["resourceType"].as_str().expect("resourceType");
        let r = self.post(rt, resource).await;
        assert_eq!(r.status, 201, "create {rt}: {}", r.text());
        r.json()["id"].as_str().expect("id").to_string()
    }

    /// How many versions the whole system history holds.
    pub async fn version_count(&self) -> usize {
        let r = self.get("_history?_count=1000").await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["entry"].as_array().map_or(0, Vec::len)
    }
}
