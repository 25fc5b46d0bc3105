//! The canonical taxonomy of `shared/taxonomy.md`: categories, queues, priorities, districts.

use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

#[doc(hidden)]
#[macro_export]
macro_rules! __wire_enum_impl {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable wire id (what the API, the database and the corpora use).
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            /// Parses a wire id; `None` for anything else.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($wire => Some($name::$variant),)+ _ => None }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use crate::__wire_enum_impl as wire_enum;

/// `wire_enum!` for other crates: a snake_case wire enum with `ALL`, `as_str`, `parse`, `Display`.
#[macro_export]
macro_rules! taxonomy_enum {
    ($($t:tt)*) => { $crate::__wire_enum_impl!($($t)*); };
}

wire_enum!(
    /// Incident category: exactly the ids of `shared/taxonomy.md`.
    Category {
        Fire = "fire",
        Lightning = "lightning",
        Flood = "flood",
        Landslide = "landslide",
        Earthquake = "earthquake",
        Tsunami = "tsunami",
        Storm = "storm",
        TrafficAccident = "traffic_accident",
        Medical = "medical",
        Crime = "crime",
        WaterRescue = "water_rescue",
        BuildingCollapse = "building_collapse",
        Hazmat = "hazmat",
        Electrical = "electrical",
        Animal = "animal",
        MissingPerson = "missing_person",
        General = "general",
    }
);

impl Category {
    /// Where items of this category go: only `general` is not an emergency.
    pub fn queue(self) -> Queue {
        if self == Category::General {
            Queue::General
        } else {
            Queue::Emergency
        }
    }
}

wire_enum!(
    /// `emergency` items are dispatched by 112; `general` ones go to the complaint queue.
    Queue {
        Emergency = "emergency",
        General = "general",
    }
);

wire_enum!(
    /// A kecamatan of Kabupaten Badung.
    District {
        KutaSelatan = "kuta_selatan",
        Kuta = "kuta",
        KutaUtara = "kuta_utara",
        Mengwi = "mengwi",
        Abiansemal = "abiansemal",
        Petang = "petang",
    }
);

/// Priority 1 (life at immediate risk) to 4 (general, not urgent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "u8", into = "u8")]
#[schema(value_type = u8)]
pub struct Priority(u8);

impl Priority {
    pub const IMMEDIATE: Priority = Priority(1);
    pub const URGENT: Priority = Priority(2);
    pub const NEEDS_UNIT: Priority = Priority(3);
    pub const ROUTINE: Priority = Priority(4);

    pub fn new(level: u8) -> Option<Self> {
        (1..=4).contains(&level).then_some(Priority(level))
    }

    pub fn level(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Priority {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, Self::Error> {
        Priority::new(v).ok_or_else(|| format!("priority must be 1 to 4, got {v}"))
    }
}

impl From<Priority> for u8 {
    fn from(p: Priority) -> u8 {
        p.0
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_ids_round_trip_through_json() {
        for c in Category::ALL {
            let json = serde_json::to_string(c).expect("serialise");
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            assert_eq!(Category::parse(c.as_str()), Some(*c));
        }
        assert_eq!(Category::ALL.len(), 17);
    }

    #[test]
    fn priority_rejects_out_of_range() {
        assert!(serde_json::from_str::<Priority>("0").is_err());
        assert!(serde_json::from_str::<Priority>("5").is_err());
        assert_eq!(serde_json::from_str::<Priority>("2").ok(), Priority::new(2));
    }

    #[test]
    fn only_general_goes_to_the_general_queue() {
        for c in Category::ALL {
            assert_eq!(c.queue() == Queue::General, *c == Category::General);
        }
    }
}
