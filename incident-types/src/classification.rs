//! What the classifier says about a text: category, queue, priority, place, and why.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::taxonomy::{wire_enum, Category, District, Priority, Queue};

/// The classifier's verdict on one text, with the evidence a call-taker needs to overrule it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Classification {
    pub category: Category,
    pub queue: Queue,
    pub priority: Priority,
    /// 0 to 1: how sure the classifier is (low values deserve a human look).
    pub confidence: f32,
    /// The words or phrases that decided it, strongest first.
    pub evidence: Vec<Evidence>,
    /// A place named in the text, if any (the most specific one).
    pub location: Option<PlaceMatch>,
}

wire_enum!(
    /// What a piece of evidence did to the verdict.
    EvidenceKind {
        /// Points to a category.
        Category = "category",
        /// Raised or lowered the priority.
        Priority = "priority",
        /// Cancelled a nearby hazard word ("bukan kebakaran").
        Negation = "negation",
        /// A harmless idiom that only looks alarming ("banjir diskon").
        Harmless = "harmless",
        /// A rule of the taxonomy that chose between two hazards.
        Rule = "rule",
        /// A place name.
        Place = "place",
    }
);

/// One reason behind a classification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Evidence {
    pub kind: EvidenceKind,
    /// The words as they stand in the text.
    pub text: String,
    /// The vocabulary entry or rule they matched.
    pub matched: String,
    /// The category this evidence speaks for, where it speaks for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
}

wire_enum!(
    /// Kind of a gazetteer place, from least to most specific in preference order
    /// handled by the classifier.
    PlaceKind {
        District = "district",
        Village = "village",
        Road = "road",
        River = "river",
        Beach = "beach",
        Landmark = "landmark",
        Banjar = "banjar",
    }
);

/// A gazetteer place found in a text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlaceMatch {
    pub name: String,
    pub kind: PlaceKind,
    pub district: District,
    pub lat: f64,
    pub lon: f64,
}
