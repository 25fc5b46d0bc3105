//! `GET /ws`: the websocket feed for consoles, the map and field units.
//!
//! A connection authenticates (bearer header on the upgrade, or a token in the
//! first message: never in the URL, which ends up in logs), picks topics its
//! role allows, says the last sequence it saw, and gets either a replay of
//! what it missed or a snapshot, then the live stream. Memory per connection is
//! bounded: frames are shared `Arc`s, written from there to the socket
//! ([`super::socket`]) without a copy of their own, and a client that falls more than the
//! broadcast capacity behind is told `lagging` and dropped (it catches up on
//! reconnect by sequence). Position updates are coalesced while it is behind.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::response::Response;
use incident_types::feed::{ClientMessage, ServerMessage, SnapshotReason};
use incident_types::{IncidentId, Position, UnitId};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::socket::{FeedSocket, Framed};
use super::{on_topic, Frame, Start, Topic};
use crate::auth::{authenticate, Principal, Role};
use crate::core::units::{ReportStatus, UpdatePosition};
use crate::error::ApiError;
use crate::http::AppState;

/// How often the server pings.
pub const PING_EVERY: Duration = Duration::from_secs(20);
/// A peer silent this long is dropped.
pub const IDLE_LIMIT: Duration = Duration::from_secs(60);
/// Time allowed for the first (hello) message.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for one send before the peer counts as stuck.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Frames queued for a connection before positions start being coalesced.
const COALESCE_ABOVE: usize = 64;
/// Most queued frames written before one flush.
const MAX_FRAMES_PER_FLUSH: usize = 256;
/// Largest snapshot message (about 30,000 active incidents).
pub const MAX_SNAPSHOT_BYTES: usize = 16 * 1024 * 1024;
pub use super::socket::MAX_CLIENT_MESSAGE;

/// Upgrades to a websocket. A bearer header, if present, must be valid.
pub async fn upgrade(State(state): State<AppState>, mut request: Request) -> Result<Response, ApiError> {
    let header_principal = {
        let (parts, body) = request.into_parts();
        let principal = match crate::auth::bearer(&parts) {
            Some(token) => Some(authenticate(&state, token).await?),
            None => None,
        };
        request = Request::from_parts(parts, body);
        principal
    };
    FeedSocket::accept(&mut request, move |socket| async move {
        // The connection lives on the feed's runtime, apart from intake.
        let guard = state.connections.track();
        let feed = state.feed.clone();
        feed.spawn(async move {
            let _guard = guard;
            Connection { socket, state }.run(header_principal).await;
        });
    })
}

struct Connection {
    socket: FeedSocket,
    state: AppState,
}

fn text(msg: &ServerMessage) -> Message {
    Message::Text(serde_json::to_string(msg).unwrap_or_default().into())
}

fn error(code: &str, message: impl Into<String>, reference: Option<String>) -> Message {
    text(&ServerMessage::Error {
        code: code.into(),
        message: message.into(),
        reference,
    })
}

/// May this principal subscribe to this topic?
pub fn may_subscribe(p: &Principal, topic: &Topic) -> bool {
    match p.role {
        Role::Admin | Role::CallTaker | Role::Dispatcher | Role::Supervisor => true,
        Role::Unit => match topic {
            Topic::Map => true,
            Topic::Unit(id) => p.unit_id.as_ref() == Some(id),
            _ => false,
        },
        Role::Integrator => false,
    }
}

impl Connection {
    async fn send(&mut self, msg: Message) -> bool {
        matches!(
            tokio::time::timeout(SEND_TIMEOUT, self.socket.send(msg)).await,
            Ok(Ok(()))
        )
    }

    /// Writes pre-framed messages in as few writes as the socket takes, under
    /// one deadline for all of them: under load a connection wakes for many
    /// frames at once, and one write and one timer per wake (not per frame) is
    /// what keeps up.
    async fn send_all<'a>(&mut self, frames: impl IntoIterator<Item = &'a Framed>) -> bool {
        let wire: Vec<&[u8]> = frames.into_iter().map(Framed::wire).collect();
        if wire.is_empty() {
            return true;
        }
        matches!(
            tokio::time::timeout(SEND_TIMEOUT, self.socket.write_framed(&wire)).await,
            Ok(Ok(()))
        )
    }

    async fn close(&mut self, code: u16, reason: &str) {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: Utf8Bytes::from(reason.to_owned()),
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), self.socket.send(Message::Close(Some(frame)))).await;
    }

    async fn refuse(&mut self, code: &str, message: &str) {
        let _ = self.send(error(code, message, None)).await;
        self.close(1008, code).await;
    }

    async fn run(mut self, header_principal: Option<Principal>) {
        let hello = match tokio::time::timeout(HELLO_TIMEOUT, self.socket.recv()).await {
            Ok(Some(Ok(Message::Text(t)))) => serde_json::from_str::<ClientMessage>(&t),
            _ => return self.refuse("bad_message", "expected a hello message first").await,
        };
        let Ok(ClientMessage::Hello {
            token,
            topics,
            last_seq,
        }) = hello
        else {
            return self
                .refuse("bad_message", "the first message must be {\"type\":\"hello\",...}")
                .await;
        };
        let principal = match (header_principal, token) {
            (Some(p), _) => p,
            (None, Some(t)) => match authenticate(&self.state, &t).await {
                Ok(p) => p,
                Err(_) => return self.refuse("unauthorized", "unknown token").await,
            },
            (None, None) => return self.refuse("unauthorized", "send a bearer token").await,
        };
        let mut wanted = Vec::new();
        for name in &topics {
            let Some(topic) = Topic::parse(name) else {
                return self.refuse("bad_message", &format!("unknown topic {name}")).await;
            };
            if !may_subscribe(&principal, &topic) {
                return self
                    .refuse(
                        "topic_forbidden",
                        &format!("role {} may not subscribe to {name}", principal.role),
                    )
                    .await;
            }
            wanted.push(topic);
        }
        if wanted.is_empty() {
            return self.refuse("bad_message", "subscribe to at least one topic").await;
        }
        let (start, mut rx, head) = self.state.hub.subscribe(last_seq);
        let welcome = ServerMessage::Welcome {
            role: principal.role.as_str().into(),
            name: principal.name.clone(),
            unit_id: principal.unit_id.as_ref().map(|u| u.0.clone()),
            topics: wanted.iter().map(Topic::name).collect(),
            head_seq: head,
        };
        if !self.send(text(&welcome)).await {
            return;
        }
        let mut floor: i64;
        // The incident the subscribed unit is on, so its topic carries that incident's events.
        let my_unit = wanted.iter().find_map(|t| match t {
            Topic::Unit(u) => Some(u.clone()),
            _ => None,
        });
        let mut unit_incident: Option<IncidentId> = my_unit
            .as_ref()
            .and_then(|u| self.state.domain.units.unit(u))
            .and_then(|u| u.incident_id);
        match start {
            Start::Replay(frames) => {
                // Frames up to what the client saw may still come by broadcast
                // (a batch between apply and broadcast): never twice.
                floor = last_seq.unwrap_or(i64::MIN);
                for chunk in frames.chunks(MAX_FRAMES_PER_FLUSH) {
                    let mut outgoing = Vec::with_capacity(chunk.len());
                    for f in chunk {
                        track_unit_incident(f, my_unit.as_ref(), &mut unit_incident);
                        if wanted.iter().any(|t| on_topic(f, t, unit_incident)) {
                            outgoing.push(&f.framed);
                        }
                        floor = f.seq;
                    }
                    if !self.send_all(outgoing).await {
                        return;
                    }
                }
            }
            Start::Snapshot => {
                let shared = match self.state.hub.snapshot(head).await {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!(error = %e, "snapshot failed");
                        return self.close(1011, "snapshot unavailable").await;
                    }
                };
                let snap = &shared.snapshot;
                floor = snap.seq;
                let reason = if last_seq.is_some() {
                    SnapshotReason::HistoryGap
                } else {
                    SnapshotReason::NoLastSeq
                };
                let sent = if principal.role != Role::Unit {
                    // Framed once and shared by every console that joins at
                    // once: no copy of megabytes per connection.
                    let framed = shared.staff_message(reason);
                    drop(shared);
                    self.send_all([&framed]).await
                } else {
                    // A unit sees only its own incident, and no calls.
                    let msg = text(&ServerMessage::Snapshot {
                        seq: snap.seq,
                        reason,
                        incidents: snap
                            .incidents
                            .iter()
                            .filter(|i| Some(i.id) == unit_incident)
                            .cloned()
                            .collect(),
                        units: snap.units.clone(),
                        calls: Vec::new(),
                    });
                    drop(shared);
                    self.send(msg).await
                };
                if !sent {
                    return;
                }
            }
        }
        self.live(principal, wanted, &mut rx, floor, my_unit, unit_incident)
            .await;
    }

    async fn live(
        &mut self,
        principal: Principal,
        topics: Vec<Topic>,
        rx: &mut tokio::sync::broadcast::Receiver<Arc<Frame>>,
        mut floor: i64,
        my_unit: Option<UnitId>,
        mut unit_incident: Option<IncidentId>,
    ) {
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
        let mut last_heard = tokio::time::Instant::now();
        let mut positions: HashMap<UnitId, Arc<Frame>> = HashMap::new();
        let mut shutdown = self.state.shutdown.clone();
        loop {
            tokio::select! {
                _ = shutdown.changed() => {
                    self.close(1001, "server shutting down").await;
                    return;
                }
                frame = rx.recv() => match frame {
                    Ok(first) => {
                        // Everything already queued goes out in one write with one flush:
                        // under load that saves a syscall per frame.
                        let mut queued = vec![first];
                        let mut lagged = None;
                        while queued.len() < MAX_FRAMES_PER_FLUSH {
                            match rx.try_recv() {
                                Ok(f) => queued.push(f),
                                Err(TryRecvError::Lagged(n)) => {
                                    lagged = Some(n);
                                    break;
                                }
                                Err(_) => break,
                            }
                        }
                        let mut outgoing = Vec::with_capacity(queued.len());
                        for f in queued {
                            if f.seq <= floor {
                                continue;
                            }
                            floor = f.seq;
                            track_unit_incident(&f, my_unit.as_ref(), &mut unit_incident);
                            if !topics.iter().any(|t| on_topic(&f, t, unit_incident)) {
                                continue;
                            }
                            if f.kind == "unit_moved" && rx.len() > COALESCE_ABOVE {
                                if let Some(u) = &f.unit_id {
                                    positions.insert(u.clone(), f);
                                    continue;
                                }
                            }
                            outgoing.push(f);
                        }
                        if let Some(n) = lagged {
                            let _ = self.send_all(outgoing.iter().map(|f| &f.framed)).await;
                            let _ = self.send(error("lagging", format!("{n} events behind; reconnect with last_seq={floor}"), None)).await;
                            self.close(1008, "lagging").await;
                            return;
                        }
                        if rx.is_empty() {
                            outgoing.extend(positions.drain().map(|(_, p)| p));
                        }
                        if !self.send_all(outgoing.iter().map(|f| &f.framed)).await {
                            return;
                        }
                    }
                    Err(RecvError::Lagged(n)) => {
                        let _ = self.send(error("lagging", format!("{n} events behind; reconnect with last_seq={floor}"), None)).await;
                        self.close(1008, "lagging").await;
                        return;
                    }
                    Err(RecvError::Closed) => return,
                },
                _ = ping.tick() => {
                    if last_heard.elapsed() > IDLE_LIMIT {
                        let _ = self.send(error("idle", "no answer to pings", None)).await;
                        self.close(1001, "idle").await;
                        return;
                    }
                    if !self.send(text(&ServerMessage::Ping)).await {
                        return;
                    }
                }
                incoming = self.socket.recv() => {
                    let Some(Ok(msg)) = incoming else { return };
                    last_heard = tokio::time::Instant::now();
                    match msg {
                        Message::Text(t) => {
                            let reply = handle(&self.state, &principal, &t).await;
                            if let Some(reply) = reply {
                                if !self.send(reply).await {
                                    return;
                                }
                            }
                        }
                        Message::Close(_) => return,
                        Message::Binary(_) => {
                            if !self.send(error("bad_message", "binary messages are not supported", None)).await {
                                return;
                            }
                        }
                        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
                    }
                }
            }
        }
    }
}

/// A message from the client after hello: pong, unit status or position.
async fn handle(state: &AppState, principal: &Principal, raw: &str) -> Option<Message> {
    let msg = match serde_json::from_str::<ClientMessage>(raw) {
        Ok(m) => m,
        Err(e) => return Some(error("bad_message", e.to_string(), None)),
    };
    let (reference, result) = match msg {
        ClientMessage::Pong => return None,
        ClientMessage::Hello { .. } => return Some(error("bad_message", "already said hello", None)),
        ClientMessage::UnitStatus {
            unit_id,
            status,
            reference,
        } => {
            let unit = match acting_unit(principal, unit_id) {
                Ok(u) => u,
                Err(e) => return Some(error(e.code(), e.to_string(), reference)),
            };
            let r = state
                .core
                .execute(
                    principal.actor(),
                    ReportStatus {
                        unit_id: unit,
                        report: status,
                    },
                )
                .await
                .map(|_| ());
            (reference, r)
        }
        ClientMessage::Position {
            unit_id,
            lat,
            lon,
            accuracy_m,
            heading_deg,
            speed_mps,
            at,
            reference,
        } => {
            let unit = match acting_unit(principal, unit_id) {
                Ok(u) => u,
                Err(e) => return Some(error(e.code(), e.to_string(), reference)),
            };
            let position = Position {
                lat,
                lon,
                accuracy_m,
                heading_deg,
                speed_mps,
                at,
            };
            let r = state
                .core
                .execute(
                    principal.actor(),
                    UpdatePosition {
                        unit_id: unit,
                        position,
                    },
                )
                .await
                .map(|_| ());
            (reference, r)
        }
    };
    Some(match result {
        Ok(()) => text(&ServerMessage::Ack { reference }),
        Err(e) => error(e.code(), e.to_string(), reference),
    })
}

/// The unit a socket message acts for: a unit token only for its own unit.
fn acting_unit(p: &Principal, asked: Option<String>) -> Result<UnitId, ApiError> {
    crate::http::units::unit_for(p, asked.as_deref())
}

fn track_unit_incident(f: &Frame, my_unit: Option<&UnitId>, current: &mut Option<IncidentId>) {
    if my_unit.is_none() || f.unit_id.as_ref() != my_unit {
        return;
    }
    match f.kind {
        "unit_assigned" => *current = f.incident_id,
        "assignment_released" if *current == f.incident_id => *current = None,
        _ => {}
    }
}
