//! The live unit index: every unit's latest state, and an R-tree per unit type of the sendable ones.
//!
//! Only units that can be sent (available with a position; returning too when
//! the plans allow it) are in the trees, so a nearest-unit query never wades
//! through busy units. Points are stored on the unit sphere (x, y, z), where
//! straight-line order equals great-circle order, so the R-tree's exact
//! nearest-neighbour search is exact on the globe too.

use std::collections::HashMap;
use std::sync::RwLock;

use geo::{Distance, Haversine, Point};
use incident_types::{Event, Unit, UnitId, UnitStatus, UnitType};
use rstar::{PointDistance, RTree, RTreeObject, AABB};

/// A sendable unit in the R-tree.
#[derive(Debug, Clone, PartialEq)]
struct UnitPoint {
    xyz: [f64; 3],
    id: UnitId,
}

impl RTreeObject for UnitPoint {
    type Envelope = AABB<[f64; 3]>;
    fn envelope(&self) -> Self::Envelope {
        AABB::from_point(self.xyz)
    }
}

impl PointDistance for UnitPoint {
    fn distance_2(&self, p: &[f64; 3]) -> f64 {
        let d = [self.xyz[0] - p[0], self.xyz[1] - p[1], self.xyz[2] - p[2]];
        d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
    }
}

/// Latitude/longitude in degrees to a point on the unit sphere.
pub fn to_xyz(lat: f64, lon: f64) -> [f64; 3] {
    let (lat, lon) = (lat.to_radians(), lon.to_radians());
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

/// Great-circle distance in metres.
pub fn distance_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    Haversine.distance(Point::new(lon1, lat1), Point::new(lon2, lat2))
}

#[derive(Debug, Default)]
struct Inner {
    units: HashMap<UnitId, Unit>,
    trees: HashMap<UnitType, RTree<UnitPoint>>,
    /// Where each unit sits in a tree, so it can be removed exactly.
    placed: HashMap<UnitId, (UnitType, UnitPoint)>,
}

/// Thread-safe; reads (recommendations) run in parallel, event application takes the write lock briefly.
#[derive(Debug, Default)]
pub struct UnitIndex {
    inner: RwLock<Inner>,
    dispatch_returning: bool,
}

/// A unit near a point.
#[derive(Debug, Clone)]
pub struct Nearby {
    pub unit: Unit,
    pub distance_m: f64,
}

impl UnitIndex {
    pub fn new(dispatch_returning: bool) -> Self {
        UnitIndex {
            inner: RwLock::default(),
            dispatch_returning,
        }
    }

    /// May this unit be sent to a new incident?
    pub fn is_sendable(&self, u: &Unit) -> bool {
        u.position.is_some()
            && (u.status == UnitStatus::Available
                || (self.dispatch_returning && u.status == UnitStatus::Returning && u.incident_id.is_none()))
    }

    /// Replaces the whole index (at start, from the store). Bulk-loads the trees.
    pub fn load(&self, units: Vec<Unit>) {
        let mut per_type: HashMap<UnitType, Vec<UnitPoint>> = HashMap::new();
        let mut inner = Inner::default();
        for u in units {
            if self.is_sendable(&u) {
                if let Some(p) = &u.position {
                    let point = UnitPoint {
                        xyz: to_xyz(p.lat, p.lon),
                        id: u.id.clone(),
                    };
                    inner.placed.insert(u.id.clone(), (u.unit_type, point.clone()));
                    per_type.entry(u.unit_type).or_default().push(point);
                }
            }
            inner.units.insert(u.id.clone(), u);
        }
        inner.trees = per_type
            .into_iter()
            .map(|(t, pts)| (t, RTree::bulk_load(pts)))
            .collect();
        *self.inner.write().unwrap_or_else(|p| p.into_inner()) = inner;
    }

    /// Applies a committed event (called in sequence order by the hub).
    pub fn apply(&self, event: &Event) {
        let Some(id) = event.unit_id() else { return };
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let updated = match event {
            Event::UnitRegistered { unit } => Some(unit.clone()),
            _ => inner.units.get(id).cloned().map(|mut u| {
                match event {
                    Event::UnitStatusChanged { to, .. } => u.status = *to,
                    Event::UnitMoved { position, .. } => u.position = Some(position.clone()),
                    Event::UnitAssigned { incident_id, .. } => {
                        u.status = UnitStatus::Dispatched;
                        u.incident_id = Some(*incident_id);
                    }
                    Event::AssignmentReleased { incident_id, .. } if u.incident_id == Some(*incident_id) => {
                        u.incident_id = None;
                    }
                    _ => {}
                }
                u
            }),
        };
        if let Some(u) = updated {
            self.place(&mut inner, u);
        }
    }

    fn place(&self, inner: &mut Inner, u: Unit) {
        if let Some((t, old)) = inner.placed.remove(&u.id) {
            if let Some(tree) = inner.trees.get_mut(&t) {
                tree.remove(&old);
            }
        }
        if self.is_sendable(&u) {
            if let Some(p) = &u.position {
                let point = UnitPoint {
                    xyz: to_xyz(p.lat, p.lon),
                    id: u.id.clone(),
                };
                inner.trees.entry(u.unit_type).or_default().insert(point.clone());
                inner.placed.insert(u.id.clone(), (u.unit_type, point));
            }
        }
        inner.units.insert(u.id.clone(), u);
    }

    /// The `k` nearest sendable units of a type, nearest first, skipping `exclude`.
    pub fn nearest(&self, unit_type: UnitType, lat: f64, lon: f64, k: usize, exclude: &[UnitId]) -> Vec<Nearby> {
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        let Some(tree) = inner.trees.get(&unit_type) else {
            return Vec::new();
        };
        let target = to_xyz(lat, lon);
        let found: Vec<&Unit> = if k == 1 && exclude.is_empty() {
            // The common question ("the nearest one") without the iterator's heap.
            tree.nearest_neighbor(&target)
                .and_then(|p| inner.units.get(&p.id))
                .into_iter()
                .collect()
        } else {
            tree.nearest_neighbor_iter(&target)
                .filter(|p| !exclude.contains(&p.id))
                .filter_map(|p| inner.units.get(&p.id))
                .take(k)
                .collect()
        };
        found
            .into_iter()
            .filter_map(|u| {
                let pos = u.position.as_ref()?;
                Some(Nearby {
                    unit: u.clone(),
                    distance_m: distance_m(lat, lon, pos.lat, pos.lon),
                })
            })
            .collect()
    }

    pub fn unit(&self, id: &UnitId) -> Option<Unit> {
        self.inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .units
            .get(id)
            .cloned()
    }

    pub fn units(&self) -> Vec<Unit> {
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<Unit> = inner.units.values().cloned().collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// How many units are in the trees (sendable).
    pub fn sendable_count(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .trees
            .values()
            .map(RTree::size)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use incident_types::Position;

    fn unit(id: &str, t: UnitType, lat: f64, lon: f64, status: UnitStatus) -> Unit {
        Unit {
            id: UnitId(id.into()),
            call_sign: id.into(),
            unit_type: t,
            capabilities: vec![],
            station: "s".into(),
            status,
            position: Some(Position {
                lat,
                lon,
                accuracy_m: None,
                heading_deg: None,
                speed_mps: None,
                at: Utc::now(),
            }),
            incident_id: None,
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn nearest_skips_busy_units_and_orders_by_distance() {
        let idx = UnitIndex::new(false);
        idx.load(vec![
            unit("far", UnitType::Fire, -8.60, 115.18, UnitStatus::Available),
            unit("near", UnitType::Fire, -8.72, 115.17, UnitStatus::Available),
            unit("busy", UnitType::Fire, -8.718, 115.169, UnitStatus::OnScene),
            unit("amb", UnitType::Ambulance, -8.718, 115.169, UnitStatus::Available),
        ]);
        let got: Vec<_> = idx
            .nearest(UnitType::Fire, -8.718, 115.169, 5, &[])
            .into_iter()
            .map(|n| n.unit.id.0)
            .collect();
        assert_eq!(got, vec!["near", "far"]);
        assert_eq!(idx.sendable_count(), 3);
    }

    #[test]
    fn events_move_units_in_and_out_of_the_tree() {
        let idx = UnitIndex::new(false);
        idx.load(vec![unit("a", UnitType::Police, -8.72, 115.17, UnitStatus::Available)]);
        let id = UnitId("a".into());
        let incident = incident_types::IncidentId(uuid::Uuid::nil());
        idx.apply(&Event::UnitAssigned {
            unit_id: id.clone(),
            incident_id: incident,
            ack_deadline: Utc::now(),
            automatic: false,
        });
        assert!(idx.nearest(UnitType::Police, -8.72, 115.17, 1, &[]).is_empty());
        idx.apply(&Event::AssignmentReleased {
            unit_id: id.clone(),
            incident_id: incident,
        });
        idx.apply(&Event::UnitStatusChanged {
            unit_id: id.clone(),
            from: UnitStatus::Returning,
            to: UnitStatus::Available,
            incident_id: None,
        });
        assert_eq!(idx.nearest(UnitType::Police, -8.72, 115.17, 1, &[]).len(), 1);
    }

    #[test]
    fn sphere_order_matches_great_circle_order() {
        let (lat, lon) = (-8.7, 115.2);
        let a = (-8.70, 115.25);
        let b = (-8.74, 115.2);
        let da = distance_m(lat, lon, a.0, a.1);
        let db = distance_m(lat, lon, b.0, b.1);
        let t = to_xyz(lat, lon);
        let chord = |p: (f64, f64)| {
            let x = to_xyz(p.0, p.1);
            (x[0] - t[0]).powi(2) + (x[1] - t[1]).powi(2) + (x[2] - t[2]).powi(2)
        };
        assert_eq!(da < db, chord(a) < chord(b));
    }
}
