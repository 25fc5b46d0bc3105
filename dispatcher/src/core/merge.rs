//! Duplicates by hand: merge an incident into another, or unlink a report into an incident of its own.

use async_trait::async_trait;
use incident_types::{Event, Incident, IncidentId, IncidentStatus, ReportId};

use super::units::release_all;
use super::{Command, Write};
use crate::error::ApiError;
use crate::store::write;

/// Moves every report of `incident_id` into `into`; `incident_id` ends as a duplicate.
#[derive(Debug)]
pub struct Merge {
    pub incident_id: IncidentId,
    pub into: IncidentId,
}

#[async_trait]
impl Command for Merge {
    type Output = Incident;
    async fn apply(self, w: &mut Write<'_>) -> Result<Incident, ApiError> {
        if self.incident_id == self.into {
            return Err(ApiError::bad_field("into", "an incident cannot be merged into itself"));
        }
        let mut from = write::load_incident(&mut w.conn, self.incident_id)
            .await?
            .ok_or(ApiError::NotFound("incident"))?;
        let mut into = write::load_incident(&mut w.conn, self.into)
            .await?
            .ok_or_else(|| ApiError::bad_field("into", "no such incident"))?;
        if !into.status.is_active() {
            return Err(ApiError::Conflict {
                code: "incident_closed",
                message: format!("incident {} is {}", into.number, into.status),
            });
        }
        if !from.status.can_move_to(IncidentStatus::Duplicate) {
            return Err(ApiError::IllegalTransition {
                message: format!(
                    "incident {} is {} and cannot be marked a duplicate",
                    from.number, from.status
                ),
                allowed: from
                    .status
                    .allowed_next()
                    .iter()
                    .map(|s| s.as_str().to_owned())
                    .collect(),
            });
        }
        release_all(w, &from).await?;
        for mut report in write::reports_of(&mut w.conn, from.id).await? {
            report.incident_id = into.id;
            write::move_report(&mut w.conn, &report).await?;
            w.emit(Event::ReportMoved {
                report_id: report.id,
                from: from.id,
                to: into.id,
            })
            .await?;
            into.reports += 1;
        }
        let status = from.status;
        from.status = IncidentStatus::Duplicate;
        from.reports = 0;
        from.units.clear();
        from.updated_at = w.now;
        write::update_incident(&mut w.conn, &from).await?;
        w.emit(Event::IncidentStatusChanged {
            incident_id: from.id,
            from: status,
            to: IncidentStatus::Duplicate,
            note: Some(format!("merged into {}", into.number)),
        })
        .await?;
        into.updated_at = w.now;
        write::update_incident(&mut w.conn, &into).await?;
        Ok(into)
    }
}

/// Takes a report out of its incident (it was not the same event) into a new incident.
#[derive(Debug)]
pub struct Unlink {
    pub report_id: ReportId,
}

#[async_trait]
impl Command for Unlink {
    type Output = Incident;
    async fn apply(self, w: &mut Write<'_>) -> Result<Incident, ApiError> {
        let mut report = write::load_report(&mut w.conn, self.report_id)
            .await?
            .ok_or(ApiError::NotFound("report"))?;
        let mut old = write::load_incident(&mut w.conn, report.incident_id)
            .await?
            .ok_or(ApiError::NotFound("incident"))?;
        if old.reports <= 1 {
            return Err(ApiError::Conflict {
                code: "only_report",
                message: "the incident's only report cannot be unlinked from it".into(),
            });
        }
        let c = w.domain.classifier.classify(&report.text);
        let location = super::intake::choose_location(report.location.clone(), &c);
        let district = super::intake::district_of(w.domain, location.as_ref(), &c);
        let incident = super::intake::open_incident(w, &report.text, location, district, &c).await?;
        let from = report.incident_id;
        report.incident_id = incident.id;
        write::move_report(&mut w.conn, &report).await?;
        w.emit(Event::ReportMoved {
            report_id: report.id,
            from,
            to: incident.id,
        })
        .await?;
        old.reports -= 1;
        old.updated_at = w.now;
        write::update_incident(&mut w.conn, &old).await?;
        Ok(incident)
    }
}
