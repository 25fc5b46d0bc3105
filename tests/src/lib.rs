//! Test harness: a real dispatcher on port 0 with a fresh database per test,
//! on SQLite (always) or PostgreSQL (`TEST_DATABASE_URL`, set by the README's
//! test command), plus a small JSON client with ready-made tokens.

pub mod feed;

use std::time::Duration;

use anyhow::Context;
use dispatcher::app::{App, Settings};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Runs an async test body once per backend: `both_backends!(name, body_fn)`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #![allow(clippy::module_inception)]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body($crate::Db::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$body($crate::Db::Postgres).await
            }
        }
    };
}

/// Settings for a fresh database of the given kind (the temp dir lives as long as the guard).
pub async fn fresh_settings(db: Db) -> (Settings, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::new("127.0.0.1:0".parse().expect("addr"), dir.path().to_path_buf());
    if db == Db::Postgres {
        let admin = std::env::var("TEST_DATABASE_URL")
            .expect("TEST_DATABASE_URL must point at a PostgreSQL server (the README's test command starts one)");
        let name = format!("t_{}", uuid::Uuid::now_v7().simple());
        settings.database_url = Some(
            dispatcher::store::create_postgres_database(&admin, &name)
                .await
                .expect("create test database"),
        );
    }
    (settings, dir)
}

/// Tokens for every role, and one unit token per seeded unit on request.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub call_taker: String,
    pub dispatcher: String,
    pub supervisor: String,
    pub integrator: String,
    pub admin: String,
}

/// A running dispatcher with a client.
#[derive(Debug)]
pub struct TestApp {
    pub app: App,
    pub settings: Settings,
    pub url: String,
    pub tokens: Tokens,
    pub http: reqwest::Client,
    pub _dir: tempfile::TempDir,
}

/// Starts a dispatcher on port 0 with a fresh database.
pub async fn spawn_app(db: Db) -> TestApp {
    let (settings, dir) = fresh_settings(db).await;
    spawn_with(settings, dir).await
}

pub async fn spawn_with(settings: Settings, dir: tempfile::TempDir) -> TestApp {
    let app = App::start(settings.clone()).await.expect("app starts");
    let token = |role: &'static str| {
        let settings = settings.clone();
        async move {
            dispatcher::cli::create_token(&settings, role, None, Some(role))
                .await
                .expect("token")
        }
    };
    let tokens = Tokens {
        call_taker: token("call_taker").await,
        dispatcher: token("dispatcher").await,
        supervisor: token("supervisor").await,
        integrator: token("integrator").await,
        admin: token("admin").await,
    };
    TestApp {
        url: app.url(),
        app,
        settings,
        tokens,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client"),
        _dir: dir,
    }
}

/// An HTTP answer: status and JSON body (`null` when empty or not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_value(self.body.clone()).unwrap_or_else(|e| panic!("unexpected body {}: {e}", self.body))
    }

    /// The `error.field` of a 4xx body.
    pub fn error_field(&self) -> Option<&str> {
        self.body.pointer("/error/field").and_then(Value::as_str)
    }

    pub fn error_code(&self) -> Option<&str> {
        self.body.pointer("/error/code").and_then(Value::as_str)
    }
}

impl TestApp {
    pub async fn unit_token(&self, unit: &str) -> String {
        dispatcher::cli::create_token(&self.settings, "unit", Some(unit), None)
            .await
            .expect("unit token")
    }

    /// Sends a request with a bearer token and an optional JSON body.
    pub async fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Answer {
        self.send(method, path, token, body, &[]).await.expect("request")
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Answer> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.context("sending")?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        Ok(Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        })
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call("GET", path, token, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call("POST", path, token, Some(body)).await
    }

    /// Registers the Badung units from the shipped stations.
    pub async fn seed_units(&self) -> usize {
        dispatcher::demo::register_units(&self.app, dispatcher::seed::STATIONS_CSV)
            .await
            .expect("seed")
    }

    /// Seeds the units unless the database already has them (after a restart).
    pub async fn seed_units_if_empty(&self) {
        if self.app.state.domain.units.units().is_empty() {
            self.seed_units().await;
        }
    }

    /// Posts a report and returns the 201 body.
    pub async fn report(&self, text: &str, lat: f64, lon: f64) -> Value {
        let a = self
            .post(
                "/api/v1/reports",
                &self.tokens.integrator,
                serde_json::json!({"channel": "app", "text": text, "location": {"lat": lat, "lon": lon, "accuracy_m": 10, "source": "gnss"}}),
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.body);
        a.body
    }

    pub async fn stop(self) {
        self.app.shutdown().await.expect("clean shutdown");
    }
}
