//! The HTTP layer: routes, shared state, and the static console UI.

pub mod extract;
pub mod incidents;
pub mod intake;
pub mod meta;
pub mod openapi;
pub mod units;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::routing::{get, MethodRouter};
use axum::Router;
use tokio::sync::watch;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::auth::TokenCache;
use crate::core::Core;
use crate::domain::Domain;
use crate::live::Hub;
use crate::store::Store;

/// Largest accepted request body (a report's 4,000 characters fit many times over).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Counts open websocket connections: shutdown waits for them to close, tests check none leak.
#[derive(Debug, Clone, Default)]
pub struct Connections(Arc<ConnectionCount>);

#[derive(Debug, Default)]
pub struct ConnectionCount {
    open: AtomicUsize,
    /// Woken when the count drops to zero.
    none_left: tokio::sync::Notify,
}

#[derive(Debug)]
pub struct ConnectionGuard(Arc<ConnectionCount>);

impl Connections {
    pub fn track(&self) -> ConnectionGuard {
        self.0.open.fetch_add(1, Ordering::SeqCst);
        ConnectionGuard(self.0.clone())
    }
    pub fn open(&self) -> usize {
        self.0.open.load(Ordering::SeqCst)
    }
    /// Resolves once no connection is open.
    pub async fn all_closed(&self) {
        loop {
            // Registered before the check, so a close in between is not missed.
            let woken = self.0.none_left.notified();
            if self.open() == 0 {
                return;
            }
            woken.await;
        }
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if self.0.open.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.none_left.notify_waiters();
        }
    }
}

/// Options the browser UI reads at start.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct UiConfig {
    /// An online tile URL template; none means the offline basemap.
    pub tile_url: Option<String>,
    pub tile_attribution: Option<String>,
}

/// Everything a handler needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub core: Core,
    pub hub: Hub,
    pub domain: Arc<Domain>,
    pub tokens: TokenCache,
    pub connections: Connections,
    /// Where websocket connections run (the feed's own runtime).
    pub feed: tokio::runtime::Handle,
    pub shutdown: watch::Receiver<bool>,
    pub ui: Arc<UiConfig>,
    pub gateways: Arc<intake::GatewayState>,
}

/// Every API route: (method, path, handler). The router and the OpenAPI drift test both read this table.
pub fn api_routes() -> Vec<(&'static str, &'static str, MethodRouter<AppState>)> {
    use axum::routing::{patch, post};
    vec![
        ("get", "/healthz", get(meta::healthz)),
        ("get", "/api/v1/openapi.json", get(meta::openapi_json)),
        ("get", "/api/v1/me", get(meta::me)),
        ("get", "/api/v1/ui-config", get(meta::ui_config)),
        ("post", "/api/v1/calls/events", post(intake::call_event)),
        ("get", "/api/v1/calls", get(intake::list_calls)),
        ("post", "/api/v1/reports", post(intake::create_report)),
        ("post", "/api/v1/classify", post(intake::classify)),
        ("get", "/api/v1/gazetteer", get(intake::gazetteer)),
        ("post", "/api/v1/sms/inbound", post(intake::sms_inbound)),
        ("post", "/api/v1/aml/sms", post(intake::aml_sms)),
        ("post", "/api/v1/aml/https", post(intake::aml_https)),
        ("get", "/api/v1/incidents", get(incidents::list)),
        ("get", "/api/v1/incidents/{id}", get(incidents::detail)),
        ("patch", "/api/v1/incidents/{id}", patch(incidents::correct)),
        ("post", "/api/v1/incidents/{id}/transition", post(incidents::transition)),
        (
            "get",
            "/api/v1/incidents/{id}/recommendation",
            get(incidents::recommendation),
        ),
        ("post", "/api/v1/incidents/{id}/dispatch", post(incidents::dispatch)),
        ("get", "/api/v1/incidents/{id}/duplicates", get(incidents::duplicates)),
        ("post", "/api/v1/incidents/{id}/merge", post(incidents::merge)),
        ("post", "/api/v1/reports/{id}/unlink", post(incidents::unlink)),
        ("post", "/api/v1/units", post(units::register)),
        ("get", "/api/v1/units", get(units::list)),
        ("get", "/api/v1/units/{id}", get(units::one)),
        ("post", "/api/v1/units/{id}/position", post(units::position)),
        ("post", "/api/v1/units/{id}/status", post(units::status)),
    ]
}

/// The console UI's folder: `--ui-dir`, or the repository's `console-ui/`.
pub fn default_ui_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../console-ui"))
}

/// Builds the whole application router.
pub fn router(state: AppState, ui_dir: PathBuf) -> Router {
    let mut api = Router::new();
    for (_, path, handler) in api_routes() {
        api = api.route(path, handler);
    }
    let page = |name: &str| ServeFile::new(ui_dir.join(name));
    let csp = "default-src 'self'; img-src 'self' data: https:; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'";
    api.route("/ws", get(crate::live::ws::upgrade))
        .route_service("/", page("index.html"))
        .route_service("/console", page("console.html"))
        .route_service("/map", page("map.html"))
        .route_service("/unit", page("unit.html"))
        .nest_service("/assets", ServeDir::new(ui_dir.join("assets")))
        .fallback(|| async { crate::error::ApiError::NotFound("route") })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
