//! Intake: a report from any channel becomes a classified, located incident (or joins one).

use async_trait::async_trait;
use incident_types::location::is_in_badung;
use incident_types::wire::{NewReport, ReportAccepted, MAX_TEXT_CHARS};
use incident_types::{
    CallId, Category, Channel, Classification, District, Event, Incident, IncidentId, IncidentStatus, Location,
    LocationSource, PlaceKind, Report, ReportId, Reporter,
};
use uuid::Uuid;

use super::units::assign_units;
use super::{Command, Write};
use crate::dispatch::index::distance_m;
use crate::dispatch::recommend::recommend;
use crate::domain::Domain;
use crate::error::ApiError;
use crate::store::sql::execute_batch;
use crate::store::write::{self, IncidentHead};

/// Checks a report's text: not blank, not over the limit.
pub fn check_text(field: &str, text: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::bad_field(field, "must not be empty"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::bad_field(
            field,
            format!("must be at most {MAX_TEXT_CHARS} characters"),
        ));
    }
    Ok(())
}

fn check_reporter(r: &Option<Reporter>) -> Result<(), ApiError> {
    let Some(r) = r else { return Ok(()) };
    if r.name.as_ref().is_some_and(|n| n.chars().count() > 120) {
        return Err(ApiError::bad_field("reporter.name", "must be at most 120 characters"));
    }
    if let Some(phone) = &r.phone {
        let ok = (3..=20).contains(&phone.len())
            && phone
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-'));
        if !ok {
            return Err(ApiError::bad_field(
                "reporter.phone",
                "must be 3 to 20 digits, optionally with + - and spaces",
            ));
        }
    }
    Ok(())
}

/// `POST /api/v1/reports`.
#[derive(Debug)]
pub struct CreateReport {
    intake: Intake,
}

impl CreateReport {
    /// Validates, classifies and locates the report. This runs in the caller's
    /// task, not the single writer's, so none of it queues behind the database.
    pub fn new(domain: &Domain, report: NewReport) -> Result<Self, ApiError> {
        check_text("text", &report.text)?;
        if let Some(l) = &report.location {
            l.validate().map_err(|e| e.under("location"))?;
        }
        check_reporter(&report.reporter)?;
        let classification = domain.classifier.classify(&report.text);
        let intake = Intake::new(
            domain,
            Sender {
                channel: report.channel,
                reporter: report.reporter,
                call_id: None,
            },
            report.text,
            report.location,
            classification,
        );
        Ok(CreateReport { intake })
    }
}

#[async_trait]
impl Command for CreateReport {
    type Output = ReportAccepted;
    // Validated and classified before the writer; after its first write only
    // a database error can fail it (auto-dispatch has a savepoint of its own).
    const NEEDS_SAVEPOINT: bool = false;
    async fn apply(self, w: &mut Write<'_>) -> Result<ReportAccepted, ApiError> {
        ingest(w, self.intake).await
    }
}

/// Who sent a report, and how.
#[derive(Debug)]
pub struct Sender {
    pub channel: Channel,
    pub reporter: Option<Reporter>,
    pub call_id: Option<CallId>,
}

/// A report ready to be stored: classified and located.
#[derive(Debug)]
pub struct Intake {
    sender: Sender,
    text: String,
    location: Option<Location>,
    district: Option<District>,
    classification: Classification,
}

impl Intake {
    /// Places the report: the location sent with it, else the place its text
    /// names, and the district that lies in.
    pub fn new(
        domain: &Domain,
        sender: Sender,
        text: String,
        sent_location: Option<Location>,
        classification: Classification,
    ) -> Intake {
        let location = choose_location(sent_location, &classification);
        let district = district_of(domain, location.as_ref(), &classification);
        Intake {
            sender,
            text,
            location,
            district,
            classification,
        }
    }
}

/// The location to use: one sent with the report (GPS/AML) always wins over one read from the text.
pub fn choose_location(given: Option<Location>, c: &Classification) -> Option<Location> {
    given.or_else(|| {
        c.location.as_ref().map(|p| Location {
            lat: p.lat,
            lon: p.lon,
            accuracy_m: Some(match p.kind {
                PlaceKind::District => 5000.0,
                PlaceKind::Village => 1500.0,
                PlaceKind::Road | PlaceKind::River => 1000.0,
                PlaceKind::Beach | PlaceKind::Landmark | PlaceKind::Banjar => 300.0,
            }),
            source: LocationSource::Geocoded,
            label: Some(p.name.clone()),
        })
    })
}

/// The district of a point: that of the nearest gazetteer village within 6 km.
pub fn district_near(domain: &Domain, lat: f64, lon: f64) -> Option<District> {
    domain
        .classifier
        .gazetteer()
        .places()
        .iter()
        .filter(|p| p.kind == PlaceKind::Village)
        .map(|p| (distance_m(lat, lon, p.lat, p.lon), p.district))
        .filter(|(d, _)| *d < 6000.0)
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, d)| d)
}

/// The district of a report: the named place's when the location came from the
/// text, otherwise that of the nearest village to the given location.
pub fn district_of(domain: &Domain, location: Option<&Location>, c: &Classification) -> Option<District> {
    match (location, &c.location) {
        (Some(l), Some(place)) if l.source == LocationSource::Geocoded => Some(place.district),
        (Some(l), _) => district_near(domain, l.lat, l.lon).or(c.location.as_ref().map(|p| p.district)),
        (None, _) => None,
    }
}

/// Opens a new incident from a classified text and records `IncidentCreated`.
pub(crate) async fn open_incident(
    w: &mut Write<'_>,
    text: &str,
    location: Option<Location>,
    district: Option<District>,
    c: &Classification,
) -> Result<Incident, ApiError> {
    let incident = Incident {
        id: IncidentId(Uuid::now_v7()),
        number: write::next_incident_number(&mut w.conn, w.now).await?,
        category: c.category,
        queue: c.queue,
        priority: c.priority,
        status: IncidentStatus::New,
        summary: text.to_owned(),
        outside_badung: location.as_ref().is_some_and(|l| !is_in_badung(l.lat, l.lon)),
        location,
        district,
        confidence: c.confidence,
        evidence: c.evidence.clone(),
        category_confirmed: false,
        reports: 1,
        units: Vec::new(),
        created_at: w.now,
        updated_at: w.now,
    };
    write::insert_incident(&mut w.conn, &incident).await?;
    w.emit(Event::IncidentCreated {
        incident: incident.clone(),
    })
    .await?;
    Ok(incident)
}

/// Stores a report: joins an open incident nearby of a compatible category, or opens a new one.
pub(crate) async fn ingest(w: &mut Write<'_>, intake: Intake) -> Result<ReportAccepted, ApiError> {
    let Intake {
        sender,
        text,
        location,
        district,
        classification: c,
    } = intake;
    let report_id = ReportId(Uuid::now_v7());
    // Only a precise location can tell two reports of one event from two events.
    let duplicate_of = match &location {
        Some(l) if c.category != Category::General && l.accuracy_m.unwrap_or(0.0) <= 500.0 => {
            find_duplicate(w, c.category, l.lat, l.lon)
        }
        _ => None,
    };
    // A duplicate was found by its location, so it has one already: joining
    // changes only its report count and update time, not its body.
    let joined = match duplicate_of {
        Some(id) => write::join_incident(&mut w.conn, id, w.now).await?,
        None => None,
    };
    let duplicate = joined.is_some();
    let (head, opened) = match joined {
        Some(head) => (head, None),
        None => {
            let incident = open_incident(w, &text, location.clone(), district, &c).await?;
            (IncidentHead::of(&incident), Some(incident))
        }
    };
    let report = Report {
        id: report_id,
        incident_id: head.id,
        channel: sender.channel,
        text,
        location,
        reporter: sender.reporter,
        call_id: sender.call_id,
        received_at: w.now,
    };
    write::insert_report(&mut w.conn, &report).await?;
    w.emit(Event::ReportReceived {
        report,
        duplicate_of_existing: duplicate,
    })
    .await?;
    // A new incident may be dispatched at once, which changes its status.
    let head = match opened {
        Some(incident) => IncidentHead::of(&auto_dispatch(w, incident).await?),
        None => head,
    };
    Ok(ReportAccepted {
        id: head.id,
        number: head.number,
        report_id,
        category: head.category,
        queue: head.queue,
        priority: head.priority,
        status: head.status,
        duplicate,
        outside_badung: head.outside_badung,
    })
}

/// An open incident this report probably duplicates: from the live index, or
/// opened earlier in the same batch (not yet in the index).
fn find_duplicate(w: &Write<'_>, category: Category, lat: f64, lon: f64) -> Option<IncidentId> {
    let policy = &w.domain.duplicates;
    let since = w.now - policy.window;
    let in_batch = w
        .earlier
        .iter()
        .filter_map(|r| match &r.event {
            Event::IncidentCreated { incident } => Some(incident),
            _ => None,
        })
        .filter(|i| {
            i.created_at >= since
                && crate::dispatch::dedupe::compatible(i.category, category)
                && i.category != Category::General
        })
        .filter_map(|i| i.location.as_ref().map(|l| (i.id, distance_m(lat, lon, l.lat, l.lon))))
        .filter(|(_, d)| *d <= policy.radius_m)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(id, _)| id);
    in_batch.or_else(|| {
        w.domain
            .incidents
            .probable_duplicate(category, lat, lon, policy.radius_m, since)
    })
}

/// Sends the recommended units at once where the plan says so (priority 1 only).
async fn auto_dispatch(w: &mut Write<'_>, incident: Incident) -> Result<Incident, ApiError> {
    let plan = w.domain.plans.plan_for(incident.category, incident.priority);
    if !plan.is_some_and(|p| p.auto_dispatch)
        || incident.priority != incident_types::Priority::IMMEDIATE
        || incident.location.is_none()
    {
        return Ok(incident);
    }
    let best = recommend(w.domain, &incident, &[]).best;
    if best.is_empty() {
        return Ok(incident);
    }
    // A failed auto-dispatch (a unit taken meanwhile) must not lose the report:
    // it runs in its own savepoint and the incident stays for a person to dispatch.
    execute_batch(&mut w.conn, "SAVEPOINT auto_dispatch").await?;
    let events_before = w.events.len();
    match assign_units(w, incident.clone(), &best, true).await {
        Ok((dispatched, _)) => {
            execute_batch(&mut w.conn, "RELEASE SAVEPOINT auto_dispatch").await?;
            Ok(dispatched)
        }
        Err(e) => {
            execute_batch(
                &mut w.conn,
                "ROLLBACK TO SAVEPOINT auto_dispatch; RELEASE SAVEPOINT auto_dispatch",
            )
            .await?;
            w.events.truncate(events_before);
            tracing::warn!(incident = %incident.number, error = %e, "auto-dispatch skipped");
            Ok(incident)
        }
    }
}
