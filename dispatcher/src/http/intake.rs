//! Intake routes: 112 call events, reports, SMS to 1708, AML caller locations, classify, gazetteer.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::{DateTime, Utc};
use incident_types::wire::{CallEventIn, ClassifyRequest, ErrorBody, NewReport, ReportAccepted};
use incident_types::{Call, CallEventKind, Channel, Classification, District, Location, PlaceKind, Queue, Reporter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{idempotency_key, ApiQuery, JsonBody};
use super::AppState;
use crate::auth::{Principal, Role};
use crate::core::calls::RecordCallEvent;
use crate::core::intake::{check_text, CreateReport};
use crate::error::{ApiError, ApiResult};
use crate::gateways::aml::{self, AmlError};
use crate::gateways::lapor::{self, ConcatAssembler, LaporParse};

/// Gateway state that lives between requests: SMS parts waiting for the rest,
/// and AML fixes that arrived before their call.
#[derive(Debug)]
pub struct GatewayState {
    pub concat: Mutex<ConcatAssembler>,
    /// Shared key for AML-over-HTTPS HMACs; none means not checked.
    pub aml_hmac_key: Option<Vec<u8>>,
    /// How long an AML fix waits for its call.
    pub aml_hold: chrono::Duration,
    held: Mutex<HashMap<String, (Location, DateTime<Utc>)>>,
}

impl GatewayState {
    pub fn new(aml_hmac_key: Option<Vec<u8>>, sms_window: chrono::Duration, aml_hold: chrono::Duration) -> Self {
        GatewayState {
            concat: Mutex::new(ConcatAssembler::new(sms_window, 10_000)),
            aml_hmac_key,
            aml_hold,
            held: Mutex::new(HashMap::new()),
        }
    }

    fn hold(&self, caller: String, location: Location, now: DateTime<Utc>) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let hold = self.aml_hold;
        held.retain(|_, (_, at)| now - *at < hold);
        if held.len() < 10_000 {
            held.insert(caller, (location, now));
        }
    }

    fn take_held(&self, caller: &str, now: DateTime<Utc>) -> Option<Location> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.remove(caller)
            .filter(|(_, at)| now - *at < self.aml_hold)
            .map(|(l, _)| l)
    }
}

/// A 112 call event from the telephony side. Idempotent by (call_id, kind, at).
#[utoipa::path(post, path = "/api/v1/calls/events", tag = "intake", request_body = CallEventIn, security(("bearer" = [])),
    responses((status = 200, body = Call), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn call_event(
    p: Principal,
    State(state): State<AppState>,
    body: JsonBody<CallEventIn>,
) -> ApiResult<Json<Call>> {
    p.require(&[Role::Integrator])?;
    let event = body.value;
    let caller = event.caller.clone();
    let offered = event.kind == CallEventKind::Offered;
    let at = event.at;
    let call_id = event.call_id.clone();
    let call = state.core.execute(p.actor(), RecordCallEvent(event)).await?;
    if offered {
        // An AML fix that arrived before its call.
        if let Some(location) = state.gateways.take_held(&caller, state.domain.clock.now()) {
            let located = CallEventIn {
                call_id,
                kind: CallEventKind::Location,
                caller,
                at: at + chrono::Duration::microseconds(1),
                location: Some(location),
                text: None,
                call_taker: None,
            };
            return Ok(Json(state.core.execute(p.actor(), RecordCallEvent(located)).await?));
        }
    }
    Ok(Json(call))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CallsQuery {
    /// Only ringing and answered calls (default true).
    pub active: Option<bool>,
    /// Only calls from this number in the last 24 hours (the caller's history).
    pub caller: Option<String>,
}

/// Calls, newest first.
#[utoipa::path(get, path = "/api/v1/calls", tag = "intake", params(CallsQuery), security(("bearer" = [])), responses((status = 200, body = Vec<Call>)))]
pub async fn list_calls(
    p: Principal,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<CallsQuery>,
) -> ApiResult<Json<Vec<Call>>> {
    p.require(Principal::CONSOLE)?;
    if let Some(caller) = q.caller {
        let since = state.domain.clock.now() - chrono::Duration::hours(24);
        return Ok(Json(state.store.calls_from(&caller, since).await?));
    }
    Ok(Json(state.store.calls(q.active.unwrap_or(true), 500).await?))
}

/// A report from any channel: classified, located, and routed to the emergency or general queue.
#[utoipa::path(post, path = "/api/v1/reports", tag = "intake", request_body = NewReport, security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "retries with the same key return the first answer")),
    responses((status = 201, body = ReportAccepted), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn create_report(
    p: Principal,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: JsonBody<NewReport>,
) -> ApiResult<(StatusCode, Json<ReportAccepted>)> {
    p.require(&[Role::Integrator, Role::CallTaker, Role::Dispatcher])?;
    let key = idempotency_key(&headers, &p, &body.fingerprint)?;
    let command = CreateReport::new(&state.domain, body.value)?;
    let accepted = state.core.execute_idempotent(p.actor(), key, command).await?;
    Ok((StatusCode::CREATED, Json(accepted)))
}

/// Classifies a text without storing anything.
#[utoipa::path(post, path = "/api/v1/classify", tag = "intake", request_body = ClassifyRequest, security(("bearer" = [])),
    responses((status = 200, body = Classification), (status = 400, body = ErrorBody)))]
pub async fn classify(
    _: Principal,
    State(state): State<AppState>,
    body: JsonBody<ClassifyRequest>,
) -> ApiResult<Json<Classification>> {
    check_text("text", &body.value.text)?;
    Ok(Json(state.domain.classifier.classify(&body.value.text)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct GazetteerQuery {
    pub q: String,
    pub limit: Option<usize>,
}

/// A gazetteer place.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlaceOut {
    pub name: String,
    pub kind: PlaceKind,
    pub district: District,
    pub lat: f64,
    pub lon: f64,
}

/// Searches Badung's places by name or alias, tolerant of spelling.
#[utoipa::path(get, path = "/api/v1/gazetteer", tag = "intake", params(GazetteerQuery), security(("bearer" = [])), responses((status = 200, body = Vec<PlaceOut>)))]
pub async fn gazetteer(
    _: Principal,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<GazetteerQuery>,
) -> ApiResult<Json<Vec<PlaceOut>>> {
    if q.q.chars().count() > 100 {
        return Err(ApiError::bad_field("q", "must be at most 100 characters"));
    }
    let limit = q.limit.unwrap_or(10).clamp(1, 50);
    let places = state.domain.classifier.gazetteer().search(&q.q, limit);
    Ok(Json(
        places
            .into_iter()
            .map(|p| PlaceOut {
                name: p.name.clone(),
                kind: p.kind,
                district: p.district,
                lat: p.lat,
                lon: p.lon,
            })
            .collect(),
    ))
}

/// What the SMS gateway gets back: whether a report was made and the reply to send.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmsAnswer {
    /// `accepted`, `rejected` (reply explains the format) or `waiting_for_parts`.
    pub status: &'static str,
    /// The reply text to send back to the sender (Indonesian); none while waiting for parts.
    pub reply: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportAccepted>,
}

/// An SMS to 1708 in the SP4N LAPOR format `BADUNG <isi aduan>` (see docs/gateways.md).
#[utoipa::path(post, path = "/api/v1/sms/inbound", tag = "gateways", request_body(content = String, description = "InboundSms JSON, see docs/gateways.md", content_type = "application/json"), security(("bearer" = [])),
    responses((status = 201, body = SmsAnswer), (status = 200, body = SmsAnswer), (status = 202, body = SmsAnswer), (status = 400, body = ErrorBody)))]
pub async fn sms_inbound(
    p: Principal,
    State(state): State<AppState>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<SmsAnswer>)> {
    p.require(&[Role::Integrator])?;
    // Shape errors name the field the same way as every other route; then the gateway rules.
    let sms = lapor::validate_inbound(super::extract::parse_json(&body)?)?;
    let now = state.domain.clock.now();
    let from = sms.from.clone();
    let whole = {
        let mut concat = state.gateways.concat.lock().unwrap_or_else(|p| p.into_inner());
        concat.push(sms.into_part(), now)
    };
    let Some(whole) = whole else {
        return Ok((
            StatusCode::ACCEPTED,
            Json(SmsAnswer {
                status: "waiting_for_parts",
                reply: None,
                code: None,
                report: None,
            }),
        ));
    };
    match lapor::parse_lapor(&whole.text) {
        LaporParse::Rejected(r) => Ok((
            StatusCode::OK,
            Json(SmsAnswer {
                status: "rejected",
                reply: Some(lapor::reply_for_rejection(r)),
                code: Some(r.code()),
                report: None,
            }),
        )),
        LaporParse::Complaint(complaint) => {
            let accepted = store_sms(&state, &p, complaint, from).await?;
            Ok((
                StatusCode::CREATED,
                Json(SmsAnswer {
                    status: "accepted",
                    reply: Some(lapor::reply_for_accepted(
                        &accepted.number,
                        accepted.queue == Queue::Emergency,
                    )),
                    code: None,
                    report: Some(accepted),
                }),
            ))
        }
    }
}

async fn store_sms(state: &AppState, p: &Principal, text: String, from: String) -> ApiResult<ReportAccepted> {
    let phone = from.chars().all(|c| c.is_ascii_digit() || c == '+').then_some(from);
    let command = CreateReport::new(
        &state.domain,
        NewReport {
            channel: Channel::Sms,
            text,
            location: None,
            reporter: Some(Reporter { name: None, phone }),
        },
    )?;
    state.core.execute(p.actor(), command).await
}

/// Stores what arrived of multi-part SMS whose other parts never came.
pub async fn flush_expired_sms(state: &AppState) {
    let expired = {
        let mut concat = state.gateways.concat.lock().unwrap_or_else(|p| p.into_inner());
        concat.expire(state.domain.clock.now())
    };
    let gateway = Principal {
        role: Role::Integrator,
        name: "sms-reassembly".into(),
        unit_id: None,
    };
    for sms in expired {
        if let LaporParse::Complaint(text) = lapor::parse_lapor(&sms.text) {
            if let Err(e) = store_sms(state, &gateway, text, sms.from.clone()).await {
                tracing::warn!(error = %e, "incomplete SMS could not be stored");
            }
        }
    }
}

/// Where an AML fix went.
#[derive(Debug, Serialize, ToSchema)]
pub struct AmlAnswer {
    /// `attached` to an open call, or `held` for a call expected shortly.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    pub location: Location,
}

fn aml_error(e: AmlError) -> ApiError {
    ApiError::BadRequest {
        code: e.code(),
        message: e.message().to_owned(),
        field: Some(e.field().to_owned()),
    }
}

/// Attaches a fix to the caller's open call, or holds it for a call about to arrive.
async fn attach_fix(state: &AppState, p: &Principal, caller: String, location: Location) -> ApiResult<AmlAnswer> {
    let now = state.domain.clock.now();
    let recent = state
        .store
        .calls_from(&caller, now - chrono::Duration::hours(2))
        .await?;
    let open = recent
        .into_iter()
        .find(|c| c.status != incident_types::CallStatus::Ended);
    match open {
        Some(call) => {
            let event = CallEventIn {
                call_id: call.id.0.clone(),
                kind: CallEventKind::Location,
                caller,
                at: now,
                location: Some(location.clone()),
                text: None,
                call_taker: None,
            };
            state.core.execute(p.actor(), RecordCallEvent(event)).await?;
            Ok(AmlAnswer {
                status: "attached",
                call_id: Some(call.id.0),
                location,
            })
        }
        None => {
            state.gateways.hold(caller, location.clone(), now);
            Ok(AmlAnswer {
                status: "held",
                call_id: None,
                location,
            })
        }
    }
}

/// An AML SMS body (ETSI TS 103 625); the sender's number in the `X-AML-From` header.
#[utoipa::path(post, path = "/api/v1/aml/sms", tag = "gateways", request_body(content = String, content_type = "text/plain"), security(("bearer" = [])),
    params(("X-AML-From" = String, Header, description = "the originating number of the AML SMS")),
    responses((status = 200, body = AmlAnswer), (status = 400, body = ErrorBody)))]
pub async fn aml_sms(
    p: Principal,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<AmlAnswer>> {
    p.require(&[Role::Integrator])?;
    let caller = headers
        .get("x-aml-from")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|c| (3..=20).contains(&c.len()) && c.chars().all(|ch| ch.is_ascii_digit() || ch == '+'))
        .ok_or_else(|| ApiError::bad_field("X-AML-From", "the sender's number is required (3 to 20 digits)"))?
        .to_owned();
    let fix = aml::parse_sms(&body, state.domain.clock.now()).map_err(aml_error)?;
    Ok(Json(attach_fix(&state, &p, caller, fix.to_location()).await?))
}

/// An AML HTTPS POST (form fields such as `location_latitude`, `device_number`, `hmac`).
#[utoipa::path(post, path = "/api/v1/aml/https", tag = "gateways", request_body(content = String, content_type = "application/x-www-form-urlencoded"), security(("bearer" = [])),
    responses((status = 200, body = AmlAnswer), (status = 400, body = ErrorBody)))]
pub async fn aml_https(p: Principal, State(state): State<AppState>, body: Bytes) -> ApiResult<Json<AmlAnswer>> {
    p.require(&[Role::Integrator])?;
    let fields: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&body).map_err(|e| ApiError::bad_field("body", format!("not a form: {e}")))?;
    let fix = aml::parse_https(
        &fields,
        state.gateways.aml_hmac_key.as_deref(),
        state.domain.clock.now(),
    )
    .map_err(aml_error)?;
    let caller = fix
        .caller
        .clone()
        .ok_or_else(|| ApiError::bad_field("device_number", "is required"))?;
    Ok(Json(attach_fix(&state, &p, caller, fix.to_location()).await?))
}
