//! Active incidents in an R-tree, to recognise when many callers report the same event.

use std::collections::HashMap;
use std::sync::RwLock;

use chrono::{DateTime, Utc};
use incident_types::{Category, Event, Incident, IncidentId};
use rstar::{PointDistance, RTree, RTreeObject, AABB};

use super::index::to_xyz;

/// Mean Earth radius in metres (the unit sphere's scale).
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// An incident's point on the unit sphere, with what the duplicate check
/// filters on copied beside it, so a query looks at no map per candidate.
#[derive(Debug, Clone, PartialEq)]
struct IncidentPoint {
    xyz: [f64; 3],
    id: IncidentId,
    category: Category,
    created_at: DateTime<Utc>,
}

impl RTreeObject for IncidentPoint {
    type Envelope = AABB<[f64; 3]>;
    fn envelope(&self) -> Self::Envelope {
        AABB::from_point(self.xyz)
    }
}

impl PointDistance for IncidentPoint {
    fn distance_2(&self, p: &[f64; 3]) -> f64 {
        (0..3).map(|i| (self.xyz[i] - p[i]).powi(2)).sum()
    }
}

#[derive(Debug, Clone)]
struct Entry {
    point: Option<IncidentPoint>,
    category: Category,
    created_at: DateTime<Utc>,
    lat: f64,
    lon: f64,
}

/// Categories that one event can be reported as by different callers
/// (a crash with injuries is called in as an accident and as medical).
const COMPATIBLE: &[&[Category]] = &[
    &[
        Category::Fire,
        Category::Hazmat,
        Category::Electrical,
        Category::Lightning,
    ],
    &[Category::TrafficAccident, Category::Medical],
    &[Category::Flood, Category::Landslide, Category::Storm],
    &[Category::BuildingCollapse, Category::Earthquake],
    &[Category::WaterRescue, Category::MissingPerson],
];

pub fn compatible(a: Category, b: Category) -> bool {
    a == b || COMPATIBLE.iter().any(|g| g.contains(&a) && g.contains(&b))
}

type Inner = (RTree<IncidentPoint>, HashMap<IncidentId, Entry>);

/// Open emergency incidents, those with a location in an R-tree.
#[derive(Debug, Default)]
pub struct ActiveIncidents {
    inner: RwLock<Inner>,
}

impl ActiveIncidents {
    pub fn load(&self, incidents: &[Incident]) {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        *inner = Default::default();
        for i in incidents.iter().filter(|i| i.status.is_active()) {
            Self::set(
                &mut inner,
                i.id,
                i.category,
                i.created_at,
                i.location.as_ref().map(|l| (l.lat, l.lon)),
            );
        }
    }

    fn remove(inner: &mut Inner, id: IncidentId) -> Option<Entry> {
        let old = inner.1.remove(&id)?;
        if let Some(p) = &old.point {
            inner.0.remove(p);
        }
        Some(old)
    }

    fn set(inner: &mut Inner, id: IncidentId, category: Category, created_at: DateTime<Utc>, at: Option<(f64, f64)>) {
        Self::remove(inner, id);
        let (lat, lon) = at.unwrap_or((f64::NAN, f64::NAN));
        let point = at.map(|(lat, lon)| IncidentPoint {
            xyz: to_xyz(lat, lon),
            id,
            category,
            created_at,
        });
        if let Some(p) = &point {
            inner.0.insert(p.clone());
        }
        inner.1.insert(
            id,
            Entry {
                point,
                category,
                created_at,
                lat,
                lon,
            },
        );
    }

    /// Applies a committed event, in sequence order.
    pub fn apply(&self, event: &Event) {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        match event {
            Event::IncidentCreated { incident: i } if i.status.is_active() => {
                Self::set(
                    &mut inner,
                    i.id,
                    i.category,
                    i.created_at,
                    i.location.as_ref().map(|l| (l.lat, l.lon)),
                );
            }
            Event::IncidentStatusChanged { incident_id, to, .. } if !to.is_active() => {
                Self::remove(&mut inner, *incident_id);
            }
            Event::IncidentCorrected {
                incident_id,
                category,
                location,
                ..
            } => {
                if let Some(old) = inner.1.get(incident_id).cloned() {
                    let category = category.as_ref().map_or(old.category, |c| c.to);
                    let at = match location {
                        Some(change) => change.to.as_ref().map(|l| (l.lat, l.lon)),
                        None => old.point.as_ref().map(|_| (old.lat, old.lon)),
                    };
                    Self::set(&mut inner, *incident_id, category, old.created_at, at);
                }
            }
            Event::IncidentReclassified {
                incident_id, category, ..
            } => {
                if let Some(old) = inner.1.get(incident_id).cloned() {
                    let at = old.point.as_ref().map(|_| (old.lat, old.lon));
                    Self::set(&mut inner, *incident_id, *category, old.created_at, at);
                }
            }
            _ => {}
        }
    }

    /// The nearest open incident of a compatible category within `radius_m`
    /// metres that was opened at or after `since`.
    pub fn probable_duplicate(
        &self,
        category: Category,
        lat: f64,
        lon: f64,
        radius_m: f64,
        since: DateTime<Utc>,
    ) -> Option<IncidentId> {
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        let chord = 2.0 * (radius_m / (2.0 * EARTH_RADIUS_M)).sin();
        let here = to_xyz(lat, lon);
        // The chord grows with the distance along the surface: the nearest by
        // one is the nearest by the other.
        inner
            .0
            .locate_within_distance(here, chord * chord)
            .filter(|p| p.created_at >= since && p.category != Category::General && compatible(p.category, category))
            .map(|p| (p.distance_2(&here), p.id))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, id)| id)
    }

    /// Open incidents within `radius_m` of a point (for the console's "possible duplicates").
    pub fn near(&self, lat: f64, lon: f64, radius_m: f64) -> Vec<IncidentId> {
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        let chord = 2.0 * (radius_m / (2.0 * EARTH_RADIUS_M)).sin();
        inner
            .0
            .locate_within_distance(to_xyz(lat, lon), chord * chord)
            .map(|p| p.id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use incident_types::{IncidentStatus, Location, LocationSource, Priority, Queue};

    fn incident(category: Category, lat: f64, lon: f64) -> Incident {
        let now = Utc::now();
        Incident {
            id: IncidentId(uuid::Uuid::now_v7()),
            number: "BDG-2026-000001".into(),
            category,
            queue: Queue::Emergency,
            priority: Priority::URGENT,
            status: IncidentStatus::New,
            summary: String::new(),
            location: Some(Location {
                lat,
                lon,
                accuracy_m: Some(10.0),
                source: LocationSource::Gnss,
                label: None,
            }),
            district: None,
            outside_badung: false,
            confidence: 1.0,
            evidence: vec![],
            category_confirmed: false,
            reports: 1,
            units: vec![],
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn finds_compatible_incidents_within_the_radius_only() {
        let idx = ActiveIncidents::default();
        let fire = incident(Category::Fire, -8.7185, 115.1686);
        let crash = incident(Category::TrafficAccident, -8.7700, 115.1850);
        idx.apply(&Event::IncidentCreated { incident: fire.clone() });
        idx.apply(&Event::IncidentCreated {
            incident: crash.clone(),
        });
        let since = Utc::now() - chrono::Duration::minutes(10);
        assert_eq!(
            idx.probable_duplicate(Category::Hazmat, -8.7190, 115.1690, 300.0, since),
            Some(fire.id)
        );
        assert_eq!(
            idx.probable_duplicate(Category::Medical, -8.7190, 115.1690, 300.0, since),
            None
        );
        assert_eq!(
            idx.probable_duplicate(Category::Fire, -8.7300, 115.1690, 300.0, since),
            None,
            "1.3 km away"
        );
        assert_eq!(idx.near(-8.7780, 115.1870, 1000.0), vec![crash.id]);
        idx.apply(&Event::IncidentStatusChanged {
            incident_id: crash.id,
            from: IncidentStatus::New,
            to: IncidentStatus::Resolved,
            note: None,
        });
        assert!(idx.near(-8.7780, 115.1870, 1000.0).is_empty());
    }

    #[test]
    fn picks_the_nearest_candidate_and_follows_reclassification() {
        let idx = ActiveIncidents::default();
        let far = incident(Category::Fire, -8.7200, 115.1686);
        let near = incident(Category::Fire, -8.7186, 115.1686);
        for i in [&far, &near] {
            idx.apply(&Event::IncidentCreated { incident: i.clone() });
        }
        let since = Utc::now() - chrono::Duration::minutes(10);
        assert_eq!(
            idx.probable_duplicate(Category::Fire, -8.7185, 115.1686, 300.0, since),
            Some(near.id)
        );
        idx.apply(&Event::IncidentReclassified {
            incident_id: near.id,
            category: Category::Medical,
            priority: Priority::URGENT,
            confidence: 1.0,
            evidence: vec![],
        });
        assert_eq!(
            idx.probable_duplicate(Category::Fire, -8.7185, 115.1686, 300.0, since),
            Some(far.id),
            "the nearer one is now medical"
        );
        assert_eq!(
            idx.probable_duplicate(Category::Medical, -8.7185, 115.1686, 300.0, since),
            Some(near.id)
        );
        let later = Utc::now() + chrono::Duration::seconds(1);
        assert_eq!(
            idx.probable_duplicate(Category::Fire, -8.7185, 115.1686, 300.0, later),
            None,
            "both opened before the window"
        );
    }
}
