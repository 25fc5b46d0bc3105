//! Health, identity, UI settings and the OpenAPI document.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::{AppState, UiConfig};
use crate::auth::Principal;
use crate::error::ApiResult;

/// `GET /healthz` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
    /// Newest event sequence number published on this node.
    pub seq: i64,
}

/// Liveness and storage check (no token needed).
#[utoipa::path(get, path = "/healthz", tag = "meta", responses((status = 200, body = Health), (status = 503, body = incident_types::wire::ErrorBody)))]
pub async fn healthz(State(state): State<AppState>) -> Result<Json<Health>, (StatusCode, Json<Health>)> {
    match state.store.head_seq().await {
        Ok(_) => Ok(Json(Health {
            status: "ok",
            seq: state.hub.last_seq(),
        })),
        Err(_) => Err((
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health {
                status: "storage unavailable",
                seq: state.hub.last_seq(),
            }),
        )),
    }
}

/// Who the token belongs to.
#[utoipa::path(get, path = "/api/v1/me", tag = "meta", security(("bearer" = [])), responses((status = 200, body = Principal), (status = 401, body = incident_types::wire::ErrorBody)))]
pub async fn me(p: Principal) -> Json<Principal> {
    Json(p)
}

/// Settings for the browser UI.
#[utoipa::path(get, path = "/api/v1/ui-config", tag = "meta", security(("bearer" = [])), responses((status = 200, body = UiConfig)))]
pub async fn ui_config(_: Principal, State(state): State<AppState>) -> Json<UiConfig> {
    Json((*state.ui).clone())
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", responses((status = 200, description = "OpenAPI 3 document")))]
pub async fn openapi_json() -> ApiResult<Json<utoipa::openapi::OpenApi>> {
    Ok(Json(super::openapi::document()))
}
