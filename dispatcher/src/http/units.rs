//! Unit routes: register, list, position (AVL) and status reports.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use incident_types::wire::{ErrorBody, NewUnit, UnitStatusRequest};
use incident_types::{Position, Unit, UnitId};

use super::extract::JsonBody;
use super::AppState;
use crate::auth::{Principal, Role};
use crate::core::units::{RegisterUnit, ReportStatus, UpdatePosition};
use crate::error::{ApiError, ApiResult};

/// The unit a request acts for: a `unit` token only for its own unit; dispatch staff for any.
pub fn unit_for(p: &Principal, asked: Option<&str>) -> ApiResult<UnitId> {
    match p.role {
        Role::Unit => {
            let own = p
                .unit_id
                .clone()
                .ok_or_else(|| ApiError::Forbidden("unit token without a unit".into()))?;
            match asked {
                Some(a) if a != own.as_str() => {
                    Err(ApiError::Forbidden(format!("this token may act only for unit {own}")))
                }
                _ => Ok(own),
            }
        }
        _ => {
            p.require(Principal::OPERATORS)?;
            let asked = asked.ok_or_else(|| ApiError::bad_field("unit_id", "is required"))?;
            UnitId::parse("unit_id", asked).map_err(|_| ApiError::NotFound("unit"))
        }
    }
}

/// Registers a unit (or updates its description).
#[utoipa::path(post, path = "/api/v1/units", tag = "units", request_body = NewUnit, security(("bearer" = [])),
    responses((status = 201, body = Unit), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn register(
    p: Principal,
    State(state): State<AppState>,
    body: JsonBody<NewUnit>,
) -> ApiResult<(StatusCode, Json<Unit>)> {
    p.require(&[Role::Dispatcher, Role::Supervisor])?;
    let unit = state.core.execute(p.actor(), RegisterUnit(body.value)).await?;
    Ok((StatusCode::CREATED, Json(unit)))
}

/// Every unit with its status and last position.
#[utoipa::path(get, path = "/api/v1/units", tag = "units", security(("bearer" = [])), responses((status = 200, body = Vec<Unit>)))]
pub async fn list(p: Principal, State(state): State<AppState>) -> ApiResult<Json<Vec<Unit>>> {
    if p.role != Role::Unit {
        p.require(Principal::CONSOLE)?;
    }
    Ok(Json(state.store.units().await?))
}

/// One unit.
#[utoipa::path(get, path = "/api/v1/units/{id}", tag = "units", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Unit), (status = 404, body = ErrorBody)))]
pub async fn one(p: Principal, State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Unit>> {
    let id = if p.role == Role::Unit {
        unit_for(&p, Some(&id))?
    } else {
        p.require(Principal::CONSOLE)?;
        UnitId::parse("id", &id).map_err(|_| ApiError::NotFound("unit"))?
    };
    Ok(Json(state.store.unit(&id).await?.ok_or(ApiError::NotFound("unit"))?))
}

/// An AVL position report; GPS jitter of a standing unit is kept in the history only.
#[utoipa::path(post, path = "/api/v1/units/{id}/position", tag = "units", params(("id" = String, Path)), request_body = Position, security(("bearer" = [])),
    responses((status = 200, body = Unit), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn position(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: JsonBody<Position>,
) -> ApiResult<Json<Unit>> {
    let unit_id = unit_for(&p, Some(&id))?;
    Ok(Json(
        state
            .core
            .execute(
                p.actor(),
                UpdatePosition {
                    unit_id,
                    position: body.value,
                },
            )
            .await?,
    ))
}

/// Acknowledge an assignment or report a status (a unit token only for its own unit).
#[utoipa::path(post, path = "/api/v1/units/{id}/status", tag = "units", params(("id" = String, Path)), request_body = UnitStatusRequest, security(("bearer" = [])),
    responses((status = 200, body = Unit), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn status(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: JsonBody<UnitStatusRequest>,
) -> ApiResult<Json<Unit>> {
    let unit_id = unit_for(&p, Some(&id))?;
    Ok(Json(
        state
            .core
            .execute(
                p.actor(),
                ReportStatus {
                    unit_id,
                    report: body.value.status,
                },
            )
            .await?,
    ))
}
