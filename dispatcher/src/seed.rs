//! Seed data: Badung's stations (`data/stations.csv`) turned into units with realistic call signs.

use incident_types::wire::NewUnit;
use incident_types::{District, Position, UnitType};
use serde::Deserialize;

/// The stations shipped with the dispatcher (from the regency's list, approximate positions).
pub const STATIONS_CSV: &str = include_str!("../data/stations.csv");

#[derive(Debug, Clone, Deserialize)]
pub struct Station {
    pub station: String,
    pub agency: String,
    pub unit_type: String,
    pub units: u32,
    pub district: String,
    pub lat: f64,
    pub lon: f64,
}

fn type_code(t: UnitType) -> &'static str {
    match t {
        UnitType::Fire => "DMK",
        UnitType::Ambulance => "AMB",
        UnitType::Police => "POL",
        UnitType::Disaster => "BPBD",
        UnitType::Sar => "SAR",
        UnitType::Lifeguard => "BLW",
        UnitType::Utility => "PLN",
    }
}

fn district_code(d: District) -> &'static str {
    match d {
        District::KutaSelatan => "KSL",
        District::Kuta => "KTA",
        District::KutaUtara => "KTU",
        District::Mengwi => "MGW",
        District::Abiansemal => "ABS",
        District::Petang => "PTG",
    }
}

fn district_name(d: District) -> &'static str {
    match d {
        District::KutaSelatan => "Kuta Selatan",
        District::Kuta => "Kuta",
        District::KutaUtara => "Kuta Utara",
        District::Mengwi => "Mengwi",
        District::Abiansemal => "Abiansemal",
        District::Petang => "Petang",
    }
}

/// Parses a stations CSV; errors name the line.
pub fn parse_stations(csv_text: &str) -> anyhow::Result<Vec<Station>> {
    let mut out = Vec::new();
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    for (i, row) in reader.deserialize::<Station>().enumerate() {
        let s = row.map_err(|e| anyhow::anyhow!("stations line {}: {e}", i + 2))?;
        if UnitType::parse(&s.unit_type).is_none() || District::parse(&s.district).is_none() {
            anyhow::bail!("stations line {}: unknown unit type or district", i + 2);
        }
        out.push(s);
    }
    Ok(out)
}

/// One unit per count of each station, e.g. `DMK-KTA-1` "Damkar Kuta 1", placed at its station.
pub fn units_from_stations(stations: &[Station]) -> Vec<NewUnit> {
    let mut counters = std::collections::HashMap::<(UnitType, District), u32>::new();
    let mut units = Vec::new();
    for s in stations {
        let (Some(t), Some(d)) = (UnitType::parse(&s.unit_type), District::parse(&s.district)) else {
            continue;
        };
        for k in 0..s.units {
            let n = counters.entry((t, d)).or_insert(0);
            *n += 1;
            // Spread a station's vehicles a few metres apart so map markers do not overlap.
            let offset = f64::from(k) * 0.00012;
            units.push(NewUnit {
                id: format!("{}-{}-{}", type_code(t), district_code(d), n),
                call_sign: format!("{} {} {}", s.agency, district_name(d), n),
                unit_type: t,
                capabilities: Vec::new(),
                station: s.station.clone(),
                position: Some(Position {
                    lat: s.lat + offset,
                    lon: s.lon + offset,
                    accuracy_m: Some(10.0),
                    heading_deg: None,
                    speed_mps: None,
                    at: chrono::Utc::now(),
                }),
            });
        }
    }
    units
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_stations_make_unique_units() {
        let stations = parse_stations(STATIONS_CSV).expect("stations parse");
        let units = units_from_stations(&stations);
        let total: u32 = stations.iter().map(|s| s.units).sum();
        assert_eq!(units.len() as u32, total);
        let mut ids: Vec<_> = units.iter().map(|u| u.id.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), units.len());
        assert!(ids.contains(&"DMK-KTA-1".to_owned()));
    }
}
