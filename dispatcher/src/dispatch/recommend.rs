//! Recommendations: for each unit type an incident's plan needs, the nearest sendable units.

use incident_types::wire::{Candidate, Recommendation, RequiredType};
use incident_types::{Incident, UnitId};

use crate::domain::Domain;
use crate::store::write::Assignment;

/// Builds the recommendation for an incident given its open assignments.
///
/// Units already on the incident count toward what the plan needs, except
/// those that missed their acknowledgement deadline: for those the next-best
/// unit is recommended.
pub fn recommend(domain: &Domain, incident: &Incident, assignments: &[Assignment]) -> Recommendation {
    let mut rec = Recommendation {
        incident_id: incident.id,
        best: Vec::new(),
        types: Vec::new(),
        already_assigned: assignments.iter().map(|a| a.unit_id.clone()).collect(),
    };
    let (Some(plan), Some(loc)) = (
        domain.plans.plan_for(incident.category, incident.priority),
        &incident.location,
    ) else {
        return rec;
    };
    let exclude: Vec<UnitId> = rec.already_assigned.clone();
    for &(unit_type, needed) in &plan.units {
        let covered = assignments
            .iter()
            .filter(|a| !a.overdue)
            .filter(|a| domain.units.unit(&a.unit_id).is_some_and(|u| u.unit_type == unit_type))
            .count();
        let missing = (needed as usize).saturating_sub(covered);
        let k = domain.plans.candidates_per_type.max(missing);
        let candidates: Vec<Candidate> = domain
            .units
            .nearest(unit_type, loc.lat, loc.lon, k, &exclude)
            .into_iter()
            .map(|n| Candidate {
                eta_s: domain.plans.eta_seconds(unit_type, n.distance_m).round(),
                distance_m: n.distance_m.round(),
                unit_id: n.unit.id,
                call_sign: n.unit.call_sign,
                unit_type,
            })
            .collect();
        rec.best
            .extend(candidates.iter().take(missing).map(|c| c.unit_id.clone()));
        rec.types.push(RequiredType {
            unit_type,
            needed,
            candidates,
        });
    }
    rec
}
