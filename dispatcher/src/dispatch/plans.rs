//! Response plans ("run cards"): which unit types go to which category and priority.
//!
//! Loaded from `config/response-plans.toml` (embedded; a file given with
//! `--response-plans` overrides it) and validated at start, so a typo in a
//! category or unit type stops the dispatcher with the line named instead of
//! silently sending nobody.

use std::collections::BTreeMap;

use incident_types::{Category, Priority, UnitType};
use serde::Deserialize;

/// The plans shipped with the dispatcher.
pub const EMBEDDED: &str = include_str!("../../config/response-plans.toml");

/// A validated set of response plans plus the ETA model.
#[derive(Debug, Clone)]
pub struct ResponsePlans {
    pub road_factor: f64,
    pub ack_timeout: chrono::Duration,
    pub candidates_per_type: usize,
    pub dispatch_returning: bool,
    speeds_mps: BTreeMap<UnitType, f64>,
    plans: Vec<Plan>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub category: Category,
    pub priorities: Vec<Priority>,
    /// Unit types and counts, in the order they are listed.
    pub units: Vec<(UnitType, u32)>,
    pub auto_dispatch: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlans {
    road_factor: f64,
    ack_timeout_s: u64,
    candidates_per_type: usize,
    #[serde(default)]
    dispatch_returning: bool,
    speeds_kmh: BTreeMap<toml::Spanned<String>, f64>,
    plan: Vec<RawPlan>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    category: toml::Spanned<String>,
    #[serde(default)]
    priorities: Vec<u8>,
    units: BTreeMap<toml::Spanned<String>, u32>,
    #[serde(default)]
    auto_dispatch: bool,
}

/// Line number (1-based) of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(0, |s| s.matches('\n').count()) + 1
}

impl ResponsePlans {
    pub fn embedded() -> anyhow::Result<ResponsePlans> {
        Self::parse(EMBEDDED, "response-plans.toml (embedded)")
    }

    /// Parses and validates; errors name the file and line.
    pub fn parse(text: &str, source: &str) -> anyhow::Result<ResponsePlans> {
        let raw: RawPlans = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| line_of(text, s.start));
            anyhow::anyhow!("{source}:{line}: {}", e.message())
        })?;
        let at = |span: std::ops::Range<usize>| format!("{source}:{}", line_of(text, span.start));
        if !(1.0..=3.0).contains(&raw.road_factor) {
            anyhow::bail!("{source}: road_factor must be 1.0 to 3.0");
        }
        let mut speeds_mps = BTreeMap::new();
        for (name, kmh) in &raw.speeds_kmh {
            let t = UnitType::parse(name.get_ref())
                .ok_or_else(|| anyhow::anyhow!("{}: unknown unit type `{}`", at(name.span()), name.get_ref()))?;
            if !(kmh.is_finite() && *kmh > 1.0 && *kmh < 200.0) {
                anyhow::bail!("{}: speed of {} must be 1 to 200 km/h", at(name.span()), name.get_ref());
            }
            speeds_mps.insert(t, kmh / 3.6);
        }
        for t in UnitType::ALL {
            if !speeds_mps.contains_key(t) {
                anyhow::bail!("{source}: speeds_kmh has no speed for `{t}`");
            }
        }
        let mut plans = Vec::new();
        for p in raw.plan {
            let category = Category::parse(p.category.get_ref()).ok_or_else(|| {
                anyhow::anyhow!("{}: unknown category `{}`", at(p.category.span()), p.category.get_ref())
            })?;
            let priorities = p
                .priorities
                .iter()
                .map(|&n| {
                    Priority::new(n)
                        .ok_or_else(|| anyhow::anyhow!("{}: priority {n} is not 1 to 4", at(p.category.span())))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let mut units = Vec::new();
            for (name, count) in &p.units {
                let t = UnitType::parse(name.get_ref())
                    .ok_or_else(|| anyhow::anyhow!("{}: unknown unit type `{}`", at(name.span()), name.get_ref()))?;
                if *count == 0 || *count > 10 {
                    anyhow::bail!("{}: count of {} must be 1 to 10", at(name.span()), name.get_ref());
                }
                units.push((t, *count));
            }
            plans.push(Plan {
                category,
                priorities,
                units,
                auto_dispatch: p.auto_dispatch,
            });
        }
        Ok(ResponsePlans {
            road_factor: raw.road_factor,
            ack_timeout: chrono::Duration::seconds(i64::try_from(raw.ack_timeout_s.clamp(1, 3600)).unwrap_or(30)),
            candidates_per_type: raw.candidates_per_type.clamp(1, 20),
            dispatch_returning: raw.dispatch_returning,
            speeds_mps,
            plans,
        })
    }

    /// The plan for a category and priority, if any (general items have none).
    pub fn plan_for(&self, category: Category, priority: Priority) -> Option<&Plan> {
        self.plans
            .iter()
            .find(|p| p.category == category && (p.priorities.is_empty() || p.priorities.contains(&priority)))
    }

    /// Estimated driving time for a great-circle distance.
    pub fn eta_seconds(&self, unit_type: UnitType, distance_m: f64) -> f64 {
        let speed = self.speeds_mps.get(&unit_type).copied().unwrap_or(10.0);
        distance_m * self.road_factor / speed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_plans_are_valid_and_cover_every_emergency_category() {
        let plans = ResponsePlans::embedded().expect("embedded plans parse");
        for c in Category::ALL.iter().filter(|c| **c != Category::General) {
            assert!(plans.plan_for(*c, Priority::NEEDS_UNIT).is_some(), "no plan for {c}");
        }
        let fire = plans.plan_for(Category::Fire, Priority::IMMEDIATE).expect("fire p1");
        assert_eq!(fire.units, vec![(UnitType::Ambulance, 1), (UnitType::Fire, 2)]);
    }

    #[test]
    fn unknown_category_names_the_line() {
        let text = EMBEDDED.replacen("category = \"lightning\"", "category = \"lightnin\"", 1);
        let err = ResponsePlans::parse(&text, "plans.toml")
            .expect_err("must fail")
            .to_string();
        let line = text.lines().position(|l| l.contains("lightnin")).expect("line") + 1;
        assert!(err.contains(&format!("plans.toml:{line}")), "{err}");
        assert!(err.contains("lightnin"), "{err}");
    }

    #[test]
    fn unknown_unit_type_names_the_line() {
        let text = EMBEDDED.replacen("units = { police = 1 }", "units = { polise = 1 }", 1);
        let err = ResponsePlans::parse(&text, "plans.toml")
            .expect_err("must fail")
            .to_string();
        assert!(err.contains("polise"), "{err}");
    }
}
