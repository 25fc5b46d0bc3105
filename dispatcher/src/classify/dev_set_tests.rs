//! Runs `evaluate` on the shared labelled dev set and asserts the quality bars.

use super::eval::evaluate;
use super::Classifier;

/// `shared/data/reports-dev.jsonl`, relative to the repository root
/// (`CLASSIFIER_DEV_SET` at build time overrides it, for builds outside the workspace).
const DEV_SET: &str = match option_env!("CLASSIFIER_DEV_SET") {
    Some(p) => p,
    None => concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/reports-dev.jsonl"),
};

#[test]
fn dev_set_meets_the_quality_bars() {
    let c = Classifier::embedded().unwrap_or_else(|e| panic!("embedded data: {e}"));
    let file = std::fs::File::open(DEV_SET).unwrap_or_else(|e| panic!("{DEV_SET}: {e}"));
    let report = evaluate(&c, std::io::BufReader::new(file)).unwrap_or_else(|e| panic!("{e}"));
    println!("{report}");
    for (text, expected, got) in &report.errors {
        println!("MISS expected {expected} got {got}: {text}");
    }
    assert!(report.total >= 200, "dev set has {} lines", report.total);
    assert!(
        report.category_accuracy() >= 0.92,
        "category accuracy {}",
        report.category_accuracy()
    );
    assert!(
        report.district_accuracy() >= 0.92,
        "district accuracy {}",
        report.district_accuracy()
    );
    assert!(
        report.emergencies_sent_to_general() <= 1,
        "{} emergencies sent to general",
        report.emergencies_sent_to_general()
    );
}
