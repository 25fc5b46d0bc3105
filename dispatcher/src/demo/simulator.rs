//! The demo's simulated Badung: callers, SMS senders, app users and field crews.
//!
//! Everything goes through the same commands the HTTP API uses, so the demo
//! exercises the real intake, classification, dispatch and feed.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use incident_types::wire::{CallEventIn, NewReport, UnitReport};
use incident_types::{
    Actor, CallEventKind, Channel, IncidentStatus, Location, LocationSource, PlaceKind, Position, Queue, Reporter,
    UnitId, UnitStatus,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::core::calls::RecordCallEvent;
use crate::core::incidents::Transition;
use crate::core::intake::CreateReport;
use crate::core::units::{ReportStatus, UpdatePosition};
use crate::dispatch::index::distance_m;
use crate::http::AppState;
use crate::store::IncidentFilter;

/// Emergencies as people report them; `{p}` is a place.
const EMERGENCIES: &[&str] = &[
    "Tolong ada kebakaran rumah di {p}, apinya besar, masih ada orang di dalam",
    "kebakaran warung dekat {p}, asap tebal sekali, tlg cepat",
    "There's a scooter crash near {p}, one guy is bleeding and not moving",
    "Kecelakaan motor tabrakan dengan mobil di {p}, ada korban luka-luka",
    "Ada bapak-bapak pingsan di {p}, tidak sadarkan diri, mohon kirim ambulans",
    "My friend collapsed at {p} and is having trouble breathing, please send an ambulance",
    "Banjir masuk rumah warga di {p}, air sudah setinggi lutut",
    "Pohon besar tumbang menutup jalan di {p} karena angin kencang",
    "Ada maling masuk toko dekat {p}, pelakunya masih di dalam",
    "Tourist swept away by the current at {p}, please send lifeguards now",
    "Ada ular kobra masuk rumah di {p}, anak-anak ketakutan",
    "Kabel listrik putus menjuntai ke jalan di {p}, ada percikan api",
    "Bau gas menyengat dari dapur restoran di {p}",
    "Senderan jebol dan tanah longsor menutup jalan di {p}",
    "Anak saya hilang di {p} sejak dua jam lalu, pakai baju merah",
    "Perkelahian pemuda di {p}, ada yang bawa parang",
];

/// Complaints for the general queue.
const COMPLAINTS: &[&str] = &[
    "Lampu jalan mati di {p} sudah seminggu, gelap sekali kalau malam",
    "Jalan berlubang besar di {p}, mohon segera diperbaiki",
    "Sampah menumpuk di pinggir jalan {p}, baunya menyengat",
    "Air PDAM mati sejak kemarin di {p}",
    "Parkir liar di {p} bikin macet setiap sore",
    "Saluran air tersumbat di {p}, belum banjir tapi mohon dibersihkan",
];

const SPEED_MPS: f64 = 60.0; // sped up so the demo moves visibly
const TICK: Duration = Duration::from_secs(2);

fn crew(unit: &UnitId) -> Actor {
    Actor {
        role: "unit".into(),
        name: unit.0.clone(),
    }
}

fn officer() -> Actor {
    Actor {
        role: "call_taker".into(),
        name: "demo officer".into(),
    }
}

/// A place to put a report: villages, beaches and landmarks of the gazetteer.
fn random_place(state: &AppState, rng: &mut StdRng) -> Option<(String, f64, f64)> {
    let places: Vec<_> = state
        .domain
        .classifier
        .gazetteer()
        .places()
        .iter()
        .filter(|p| matches!(p.kind, PlaceKind::Village | PlaceKind::Beach | PlaceKind::Landmark))
        .collect();
    let p = places.get(rng.gen_range(0..places.len().max(1)))?;
    Some((
        p.name.clone(),
        p.lat + rng.gen_range(-0.001..0.001),
        p.lon + rng.gen_range(-0.001..0.001),
    ))
}

async fn new_report(state: AppState, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let Some((place, lat, lon)) = random_place(&state, &mut rng) else {
        return;
    };
    let emergency = rng.gen_bool(0.7);
    let template = if emergency {
        EMERGENCIES[rng.gen_range(0..EMERGENCIES.len())]
    } else {
        COMPLAINTS[rng.gen_range(0..COMPLAINTS.len())]
    };
    let text = template.replace("{p}", &place);
    let phone = format!("+62812{:08}", rng.gen_range(0..100_000_000u32));
    let gateway = Actor {
        role: "integrator".into(),
        name: "demo gateway".into(),
    };
    let located = Location {
        lat,
        lon,
        accuracy_m: Some(rng.gen_range(8.0..40.0)),
        source: LocationSource::Aml,
        label: None,
    };
    let roll: f64 = rng.gen();
    if emergency && roll < 0.6 {
        let call_id = format!("demo-{seed}");
        let step = |kind, text: Option<String>, location: Option<Location>| CallEventIn {
            call_id: call_id.clone(),
            kind,
            caller: phone.clone(),
            at: Utc::now(),
            location,
            text,
            call_taker: (kind == CallEventKind::Answered).then(|| "demo call-taker".to_owned()),
        };
        let core = &state.core;
        let _ = core
            .execute(
                gateway.clone(),
                RecordCallEvent(step(CallEventKind::Offered, None, None)),
            )
            .await;
        tokio::time::sleep(Duration::from_secs(rng.gen_range(2..6))).await;
        let _ = core
            .execute(
                gateway.clone(),
                RecordCallEvent(step(CallEventKind::Answered, None, None)),
            )
            .await;
        let _ = core
            .execute(
                gateway.clone(),
                RecordCallEvent(step(CallEventKind::Location, None, Some(located))),
            )
            .await;
        tokio::time::sleep(Duration::from_secs(rng.gen_range(3..8))).await;
        let _ = core
            .execute(
                gateway.clone(),
                RecordCallEvent(step(CallEventKind::Transcript, Some(text), None)),
            )
            .await;
        tokio::time::sleep(Duration::from_secs(rng.gen_range(20..60))).await;
        let _ = core
            .execute(gateway, RecordCallEvent(step(CallEventKind::Ended, None, None)))
            .await;
    } else {
        let (channel, location, text) = if roll < 0.8 {
            (
                Channel::App,
                Some(Location {
                    source: LocationSource::Gnss,
                    ..located
                }),
                text,
            )
        } else {
            (Channel::Sms, None, text)
        };
        let report = NewReport {
            channel,
            text,
            location,
            reporter: Some(Reporter {
                name: None,
                phone: Some(phone),
            }),
        };
        let result = match CreateReport::new(&state.domain, report) {
            Ok(command) => state.core.execute(gateway, command).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "simulated report refused");
        }
    }
}

/// Where each crew started (its station), and when it got its assignment.
#[derive(Debug, Default)]
struct Crews {
    home: HashMap<UnitId, (f64, f64)>,
    since: HashMap<UnitId, (UnitStatus, tokio::time::Instant)>,
}

async fn drive_crews(state: &AppState, crews: &mut Crews) {
    let now = tokio::time::Instant::now();
    for unit in state.domain.units.units() {
        let Some(pos) = unit.position.clone() else {
            continue;
        };
        crews.home.entry(unit.id.clone()).or_insert((pos.lat, pos.lon));
        let entered = match crews.since.get(&unit.id) {
            Some((s, at)) if *s == unit.status => *at,
            _ => {
                crews.since.insert(unit.id.clone(), (unit.status, now));
                now
            }
        };
        let waited = now - entered;
        let core = &state.core;
        let actor = crew(&unit.id);
        let report = |r| ReportStatus {
            unit_id: unit.id.clone(),
            report: r,
        };
        let target = match unit.status {
            UnitStatus::Dispatched if waited > Duration::from_secs(6) => {
                let _ = core.execute(actor.clone(), report(UnitReport::Acknowledged)).await;
                let _ = core.execute(actor, report(UnitReport::EnRoute)).await;
                continue;
            }
            UnitStatus::EnRoute => match unit.incident_id {
                Some(i) => state
                    .store
                    .incident(i)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|i| i.location)
                    .map(|l| (l.lat, l.lon)),
                None => None,
            },
            UnitStatus::OnScene if waited > Duration::from_secs(45) => {
                let _ = core.execute(actor, report(UnitReport::Returning)).await;
                continue;
            }
            UnitStatus::Returning => crews.home.get(&unit.id).copied(),
            _ => continue,
        };
        let Some((lat, lon)) = target else { continue };
        let remaining = distance_m(pos.lat, pos.lon, lat, lon);
        let step = SPEED_MPS * TICK.as_secs_f64();
        if remaining <= step.max(30.0) {
            let arrive = if unit.status == UnitStatus::EnRoute {
                UnitReport::OnScene
            } else {
                UnitReport::Available
            };
            let _ = core
                .execute(
                    actor.clone(),
                    UpdatePosition {
                        unit_id: unit.id.clone(),
                        position: Position {
                            lat,
                            lon,
                            accuracy_m: Some(10.0),
                            heading_deg: None,
                            speed_mps: Some(0.0),
                            at: Utc::now(),
                        },
                    },
                )
                .await;
            let _ = core.execute(actor, report(arrive)).await;
        } else {
            let f = step / remaining;
            let (nlat, nlon) = (pos.lat + (lat - pos.lat) * f, pos.lon + (lon - pos.lon) * f);
            let heading = (lon - pos.lon).atan2(lat - pos.lat).to_degrees().rem_euclid(360.0);
            let position = Position {
                lat: nlat,
                lon: nlon,
                accuracy_m: Some(10.0),
                heading_deg: Some(heading),
                speed_mps: Some(SPEED_MPS),
                at: Utc::now(),
            };
            let _ = core
                .execute(
                    actor,
                    UpdatePosition {
                        unit_id: unit.id.clone(),
                        position,
                    },
                )
                .await;
        }
    }
}

/// Officers forward old complaints; incidents whose units all left are resolved and closed.
async fn tidy(state: &AppState) {
    let Ok(active) = state
        .store
        .list_incidents(&IncidentFilter {
            active: Some(true),
            limit: 1000,
            ..Default::default()
        })
        .await
    else {
        return;
    };
    let now = Utc::now();
    for i in active {
        let age = now - i.created_at;
        let steps: &[IncidentStatus] = match (i.queue, i.status) {
            (Queue::General, IncidentStatus::New) if age > chrono::Duration::minutes(3) => {
                &[IncidentStatus::Triaged, IncidentStatus::Resolved]
            }
            (Queue::Emergency, IncidentStatus::OnScene) if i.units.is_empty() => {
                &[IncidentStatus::Resolved, IncidentStatus::Closed]
            }
            (Queue::Emergency, IncidentStatus::New) if age > chrono::Duration::minutes(20) => {
                &[IncidentStatus::Cancelled]
            }
            _ => &[],
        };
        for to in steps {
            let _ = state
                .core
                .execute(
                    officer(),
                    Transition {
                        incident_id: i.id,
                        to: *to,
                        note: Some("demo: handled".into()),
                    },
                )
                .await;
        }
    }
}

pub async fn run(state: AppState, every_s: f64) {
    let mut rng = StdRng::from_entropy();
    let mut crews = Crews::default();
    let mut tick = tokio::time::interval(TICK);
    let mut next_report = tokio::time::Instant::now();
    let mut next_tidy = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        tick.tick().await;
        let now = tokio::time::Instant::now();
        if now >= next_report {
            tokio::spawn(new_report(state.clone(), rng.gen()));
            // Exponential gaps: reports arrive like real calls, in bursts and lulls.
            let gap = -every_s.max(0.5) * (1.0 - rng.gen::<f64>()).ln();
            next_report = now + Duration::from_secs_f64(gap.min(every_s * 5.0));
        }
        drive_crews(&state, &mut crews).await;
        if now >= next_tidy {
            tidy(&state).await;
            next_tidy = now + Duration::from_secs(30);
        }
    }
}
