//! 112 call events: a call's offered/answered/location/transcript/ended steps build one `Call`.

use async_trait::async_trait;
use incident_types::wire::CallEventIn;
use incident_types::{Actor, Call, CallEventKind, CallId, CallStatus, Channel, Event, LocationSource};

use super::intake::{check_text, ingest, Intake, Sender};
use super::{Command, Write};
use crate::error::ApiError;
use crate::store::write;

/// One telephony event. Idempotent by (call_id, kind, at): a resent event changes nothing.
#[derive(Debug)]
pub struct RecordCallEvent(pub CallEventIn);

impl RecordCallEvent {
    pub fn validate(&self) -> Result<CallId, ApiError> {
        let e = &self.0;
        let id = CallId::parse("call_id", &e.call_id)?;
        let caller_ok = (3..=20).contains(&e.caller.len()) && e.caller.chars().all(|c| c.is_ascii_digit() || c == '+');
        if !caller_ok {
            return Err(ApiError::bad_field(
                "caller",
                "must be 3 to 20 digits, optionally starting with +",
            ));
        }
        if let Some(l) = &e.location {
            l.validate().map_err(|e| e.under("location"))?;
        }
        match e.kind {
            CallEventKind::Transcript => check_text("text", e.text.as_deref().unwrap_or(""))?,
            CallEventKind::Location if e.location.is_none() => {
                return Err(ApiError::bad_field("location", "is required for location events"))
            }
            _ => {
                if let Some(t) = &e.text {
                    check_text("text", t)?;
                }
            }
        }
        if e.call_taker
            .as_ref()
            .is_some_and(|n| n.is_empty() || n.chars().count() > 64)
        {
            return Err(ApiError::bad_field("call_taker", "must be 1 to 64 characters"));
        }
        Ok(id)
    }
}

/// Rank of a location source: a better fix is never replaced by a worse one.
fn source_rank(s: LocationSource) -> u8 {
    match s {
        LocationSource::Aml | LocationSource::Gnss => 3,
        LocationSource::Manual => 2,
        LocationSource::Cell => 1,
        LocationSource::Geocoded => 0,
    }
}

#[async_trait]
impl Command for RecordCallEvent {
    type Output = Call;
    async fn apply(self, w: &mut Write<'_>) -> Result<Call, ApiError> {
        let id = self.validate()?;
        let e = self.0;
        let existing = write::load_call(&mut w.conn, id.as_str()).await?;
        if !write::record_call_event(&mut w.conn, id.as_str(), e.kind.as_str(), e.at).await? {
            // A retry of an event already applied.
            return existing.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("call event recorded without its call")));
        }
        let mut call = match existing {
            Some(c) => c,
            None => {
                let since = e.at - w.domain.duplicates.repeat_window;
                let previous = write::count_calls_from(&mut w.conn, &e.caller, since).await?;
                Call {
                    id: id.clone(),
                    caller: e.caller.clone(),
                    status: CallStatus::Ringing,
                    offered_at: e.at,
                    answered_at: None,
                    ended_at: None,
                    call_taker: None,
                    location: None,
                    previous_calls: u32::try_from(previous).unwrap_or(u32::MAX),
                    transcript: String::new(),
                    incident_id: None,
                }
            }
        };
        if call.status == CallStatus::Ended && e.kind != CallEventKind::Transcript {
            return Ok(call);
        }
        if let Some(l) = &e.location {
            let better = call
                .location
                .as_ref()
                .is_none_or(|old| source_rank(l.source) >= source_rank(old.source));
            if better {
                call.location = Some(l.clone());
            }
        }
        match e.kind {
            CallEventKind::Offered | CallEventKind::Location => {}
            CallEventKind::Answered => {
                call.status = CallStatus::Answered;
                call.answered_at = Some(e.at);
                call.call_taker = e.call_taker.clone();
            }
            CallEventKind::Ended => {
                call.status = CallStatus::Ended;
                call.ended_at = Some(e.at);
            }
            CallEventKind::Transcript => {
                let text = e.text.unwrap_or_default();
                if call.transcript.chars().count() + text.chars().count() + 1 > incident_types::wire::MAX_TEXT_CHARS {
                    return Err(ApiError::bad_field(
                        "text",
                        "the call's transcript would exceed 4000 characters",
                    ));
                }
                if !call.transcript.is_empty() {
                    call.transcript.push('\n');
                }
                call.transcript.push_str(text.trim());
            }
        }
        if e.kind == CallEventKind::Transcript {
            transcript_to_incident(w, &mut call).await?;
        } else if e.kind == CallEventKind::Location {
            locate_incident(w, &call).await?;
        }
        write::upsert_call(&mut w.conn, &call).await?;
        w.emit(Event::CallUpdated { call: call.clone() }).await?;
        Ok(call)
    }
}

/// Classifies the transcript: opens the call's incident, or re-classifies it
/// while no person has confirmed the category.
async fn transcript_to_incident(w: &mut Write<'_>, call: &mut Call) -> Result<(), ApiError> {
    let c = w.domain.classifier.classify(&call.transcript);
    match call.incident_id {
        None => {
            let sender = Sender {
                channel: Channel::Call,
                reporter: Some(incident_types::Reporter {
                    name: None,
                    phone: Some(call.caller.clone()),
                }),
                call_id: Some(call.id.clone()),
            };
            let intake = Intake::new(w.domain, sender, call.transcript.clone(), call.location.clone(), c);
            let accepted = ingest(w, intake).await?;
            call.incident_id = Some(accepted.id);
        }
        Some(id) => {
            let Some(mut incident) = write::load_incident(&mut w.conn, id).await? else {
                return Ok(());
            };
            incident.summary = call.transcript.clone();
            let changed =
                !incident.category_confirmed && (incident.category != c.category || incident.priority != c.priority);
            if changed {
                incident.category = c.category;
                incident.queue = c.queue;
                incident.priority = c.priority;
                incident.confidence = c.confidence;
                incident.evidence = c.evidence.clone();
            }
            incident.updated_at = w.now;
            write::update_incident(&mut w.conn, &incident).await?;
            if changed {
                w.emit_as(
                    &Actor::system(),
                    Event::IncidentReclassified {
                        incident_id: id,
                        category: c.category,
                        priority: c.priority,
                        confidence: c.confidence,
                        evidence: c.evidence,
                    },
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// A better caller location (AML after cell) moves the call's incident unless a person placed it.
async fn locate_incident(w: &mut Write<'_>, call: &Call) -> Result<(), ApiError> {
    let (Some(id), Some(loc)) = (call.incident_id, &call.location) else {
        return Ok(());
    };
    let Some(mut incident) = write::load_incident(&mut w.conn, id).await? else {
        return Ok(());
    };
    let better = incident.location.as_ref().is_none_or(|old| {
        old.source != LocationSource::Manual && source_rank(loc.source) >= source_rank(old.source) && old != loc
    });
    if !better {
        return Ok(());
    }
    let from = incident.location.replace(loc.clone());
    incident.updated_at = w.now;
    write::update_incident(&mut w.conn, &incident).await?;
    w.emit_as(
        &Actor::system(),
        Event::IncidentCorrected {
            incident_id: id,
            category: None,
            priority: None,
            location: Some(incident_types::event::Change {
                from,
                to: Some(loc.clone()),
            }),
            note: Some("caller location".into()),
        },
    )
    .await
}
