//! Incident routes: list, detail with timeline, transitions, corrections, recommendation, dispatch.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use chrono::{DateTime, Utc};
use incident_types::wire::{
    DispatchRequest, DispatchResult, ErrorBody, IncidentDetail, IncidentPatch, MergeRequest, Recommendation,
    TransitionRequest,
};
use incident_types::{Incident, IncidentId, IncidentStatus, Queue};
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{idempotency_key, path_id, ApiQuery, JsonBody};
use super::AppState;
use crate::auth::{Principal, Role};
use crate::core::incidents::{Correct, Transition};
use crate::core::merge::{Merge, Unlink};
use crate::core::units::Dispatch;
use crate::dispatch::recommend::recommend;
use crate::error::{ApiError, ApiResult};
use crate::store::IncidentFilter;

/// Filters for the incident list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub queue: Option<Queue>,
    pub status: Option<IncidentStatus>,
    /// Only active (true) or only ended (false) incidents.
    pub active: Option<bool>,
    /// Only incidents changed at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// At most this many (default 200, at most 1000).
    pub limit: Option<u32>,
}

/// Incidents, highest priority first, then oldest first.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<Incident>), (status = 400, body = ErrorBody)))]
pub async fn list(
    p: Principal,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Vec<Incident>>> {
    p.require(Principal::CONSOLE)?;
    let limit = q.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_field("limit", "must be 1 to 1000"));
    }
    let filter = IncidentFilter {
        queue: q.queue,
        status: q.status,
        active: q.active,
        since: q.since,
        limit,
    };
    Ok(Json(state.store.list_incidents(&filter).await?))
}

/// May this principal read this incident? Staff may; a unit only the incident it is on.
fn may_read(p: &Principal, state: &AppState, id: IncidentId) -> ApiResult<()> {
    if p.role == Role::Unit {
        let on_it = p
            .unit_id
            .as_ref()
            .and_then(|u| state.domain.units.unit(u))
            .is_some_and(|u| u.incident_id == Some(id));
        return if on_it {
            Ok(())
        } else {
            Err(ApiError::Forbidden("a unit may read only its own incident".into()))
        };
    }
    p.require(Principal::CONSOLE)
}

/// One incident with its reports and full timeline.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = IncidentDetail), (status = 404, body = ErrorBody)))]
pub async fn detail(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<IncidentDetail>> {
    let id: IncidentId = path_id(&id, "incident")?;
    may_read(&p, &state, id)?;
    let mut detail = state
        .store
        .incident_detail(id)
        .await?
        .ok_or(ApiError::NotFound("incident"))?;
    if p.role == Role::Unit {
        // Reporters' details are confidential to staff.
        for r in &mut detail.reports {
            r.reporter = None;
        }
        detail.timeline.clear();
    }
    Ok(Json(detail))
}

/// Corrects category, priority or location (kept in the timeline).
#[utoipa::path(patch, path = "/api/v1/incidents/{id}", tag = "incidents", params(("id" = String, Path)), request_body = IncidentPatch, security(("bearer" = [])),
    responses((status = 200, body = Incident), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn correct(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: JsonBody<IncidentPatch>,
) -> ApiResult<Json<Incident>> {
    let incident_id = path_id(&id, "incident")?;
    p.require(Principal::OPERATORS)?;
    let incident = state
        .core
        .execute(
            p.actor(),
            Correct {
                incident_id,
                patch: body.value,
            },
        )
        .await?;
    Ok(Json(incident))
}

/// Moves an incident through its lifecycle; an illegal step is a 409 listing the allowed ones.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/transition", tag = "incidents", params(("id" = String, Path)), request_body = TransitionRequest, security(("bearer" = [])),
    responses((status = 200, body = Incident), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn transition(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: JsonBody<TransitionRequest>,
) -> ApiResult<Json<Incident>> {
    let incident_id = path_id(&id, "incident")?;
    p.require(&[Role::CallTaker, Role::Dispatcher, Role::Supervisor])?;
    let TransitionRequest { to, note } = body.value;
    Ok(Json(
        state
            .core
            .execute(p.actor(), Transition { incident_id, to, note })
            .await?,
    ))
}

/// The nearest sendable units for each unit type the incident's response plan needs.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/recommendation", tag = "dispatch", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Recommendation), (status = 404, body = ErrorBody)))]
pub async fn recommendation(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Recommendation>> {
    let id: IncidentId = path_id(&id, "incident")?;
    p.require(Principal::CONSOLE)?;
    let incident = state.store.incident(id).await?.ok_or(ApiError::NotFound("incident"))?;
    let assignments = state.store.assignments_of(id).await?;
    Ok(Json(recommend(&state.domain, &incident, &assignments)))
}

/// Assigns units; a unit held by another incident is a 409 naming it. All or none.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/dispatch", tag = "dispatch", params(("id" = String, Path)), request_body = DispatchRequest, security(("bearer" = [])),
    responses((status = 200, body = DispatchResult), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn dispatch(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: JsonBody<DispatchRequest>,
) -> ApiResult<Json<DispatchResult>> {
    let incident_id = path_id(&id, "incident")?;
    p.require(Principal::OPERATORS)?;
    let key = idempotency_key(&headers, &p, &body.fingerprint)?;
    let result = state
        .core
        .execute_idempotent(
            p.actor(),
            key,
            Dispatch {
                incident_id,
                units: body.value.units,
            },
        )
        .await?;
    Ok(Json(result))
}

/// Other open incidents within 1 km: candidates for a merge (wider than the automatic 300 m).
#[utoipa::path(get, path = "/api/v1/incidents/{id}/duplicates", tag = "incidents", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Vec<Incident>), (status = 404, body = ErrorBody)))]
pub async fn duplicates(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Incident>>> {
    let id: IncidentId = path_id(&id, "incident")?;
    p.require(Principal::CONSOLE)?;
    let incident = state.store.incident(id).await?.ok_or(ApiError::NotFound("incident"))?;
    let Some(loc) = &incident.location else {
        return Ok(Json(Vec::new()));
    };
    let mut out = Vec::new();
    for other in state
        .domain
        .incidents
        .near(loc.lat, loc.lon, 1000.0)
        .into_iter()
        .filter(|o| *o != id)
    {
        if let Some(i) = state.store.incident(other).await? {
            out.push(i);
        }
    }
    Ok(Json(out))
}

/// Merges this incident (a duplicate) into another: its reports move, it ends as `duplicate`.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/merge", tag = "incidents", params(("id" = String, Path)), request_body = MergeRequest, security(("bearer" = [])),
    responses((status = 200, body = Incident), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn merge(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: JsonBody<MergeRequest>,
) -> ApiResult<Json<Incident>> {
    let incident_id = path_id(&id, "incident")?;
    p.require(Principal::OPERATORS)?;
    Ok(Json(
        state
            .core
            .execute(
                p.actor(),
                Merge {
                    incident_id,
                    into: body.value.into,
                },
            )
            .await?,
    ))
}

/// Takes a report out of its incident into a new incident of its own.
#[utoipa::path(post, path = "/api/v1/reports/{id}/unlink", tag = "incidents", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 201, body = Incident), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn unlink(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<(axum::http::StatusCode, Json<Incident>)> {
    let report_id = path_id(&id, "report")?;
    p.require(Principal::OPERATORS)?;
    let incident = state.core.execute(p.actor(), Unlink { report_id }).await?;
    Ok((axum::http::StatusCode::CREATED, Json(incident)))
}
