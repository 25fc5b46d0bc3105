//! WGS84 locations and unit positions, with the range checks every input goes through.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::taxonomy::wire_enum;
use crate::FieldError;

wire_enum!(
    /// Where a location came from: Advanced Mobile Location, the device's GNSS,
    /// the cell network, a call-taker's click, or a place named in the text.
    LocationSource {
        Aml = "aml",
        Gnss = "gnss",
        Cell = "cell",
        Manual = "manual",
        Geocoded = "geocoded",
    }
);

/// A point on the WGS84 ellipsoid with its uncertainty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Location {
    /// Latitude in degrees, -90 to 90.
    pub lat: f64,
    /// Longitude in degrees, -180 to 180.
    pub lon: f64,
    /// Radius of uncertainty in metres (68% confidence where the source says so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<f64>,
    pub source: LocationSource,
    /// A human description: a place name, an address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// Longest accepted location label, in characters.
pub const MAX_LABEL_CHARS: usize = 200;

impl Location {
    /// Checks ranges; field names are relative (`lat`, `lon`, ...).
    pub fn validate(&self) -> Result<(), FieldError> {
        check_lat_lon(self.lat, self.lon)?;
        if let Some(acc) = self.accuracy_m {
            if !acc.is_finite() || !(0.0..=100_000.0).contains(&acc) {
                return Err(FieldError::new("accuracy_m", "must be 0 to 100000 metres"));
            }
        }
        if let Some(label) = &self.label {
            if label.chars().count() > MAX_LABEL_CHARS {
                return Err(FieldError::new(
                    "label",
                    format!("must be at most {MAX_LABEL_CHARS} characters"),
                ));
            }
        }
        Ok(())
    }
}

/// Checks that a coordinate pair is finite and within WGS84 ranges.
pub fn check_lat_lon(lat: f64, lon: f64) -> Result<(), FieldError> {
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        return Err(FieldError::new("lat", "must be a finite number from -90 to 90"));
    }
    if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
        return Err(FieldError::new("lon", "must be a finite number from -180 to 180"));
    }
    Ok(())
}

/// Rough bounding box of Kabupaten Badung with a small margin; a location
/// outside it is accepted but flagged (the caller may be across a border).
pub fn is_in_badung(lat: f64, lon: f64) -> bool {
    (-8.90..=-8.25).contains(&lat) && (115.05..=115.30).contains(&lon)
}

/// A unit's last reported position (AVL).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Position {
    pub lat: f64,
    pub lon: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<f64>,
    /// Degrees clockwise from north, 0 to 360.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading_deg: Option<f64>,
    /// Metres per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed_mps: Option<f64>,
    pub at: DateTime<Utc>,
}

impl Position {
    pub fn validate(&self) -> Result<(), FieldError> {
        check_lat_lon(self.lat, self.lon)?;
        let checks = [
            ("accuracy_m", self.accuracy_m, 0.0, 100_000.0),
            ("heading_deg", self.heading_deg, 0.0, 360.0),
            ("speed_mps", self.speed_mps, 0.0, 150.0),
        ];
        for (field, value, lo, hi) in checks {
            if let Some(v) = value {
                if !v.is_finite() || !(lo..=hi).contains(&v) {
                    return Err(FieldError::new(
                        field,
                        format!("must be a finite number from {lo} to {hi}"),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_finite_and_out_of_range() {
        assert_eq!(check_lat_lon(f64::NAN, 0.0).map_err(|e| e.field), Err("lat".into()));
        assert_eq!(check_lat_lon(0.0, 181.0).map_err(|e| e.field), Err("lon".into()));
        assert!(check_lat_lon(-8.7, 115.17).is_ok());
    }

    #[test]
    fn badung_box_contains_kuta_and_not_denpasar_airport_far_east() {
        assert!(is_in_badung(-8.7185, 115.1686));
        assert!(!is_in_badung(-8.65, 115.40));
    }
}
