//! Benchmark of the text classifier against a plain lowercase + substring scan of the same vocabulary.
//!
//! `cargo bench -p dispatcher --bench classify`: builds ~1000 messages of ~300 characters
//! from the dev set, times each classification after a warm-up, and prints p50/p99/max
//! per message for the classifier and for the baseline, with their ratio.

use std::hint::black_box;
use std::time::{Duration, Instant};

use dispatcher::classify::Classifier;

const DEV_SET: &str = match option_env!("CLASSIFIER_DEV_SET") {
    Some(p) => p,
    None => concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/reports-dev.jsonl"),
};
const MESSAGES: usize = 1000;
const ROUNDS: usize = 5;

fn messages() -> Vec<String> {
    let raw = std::fs::read_to_string(DEV_SET).unwrap_or_else(|e| panic!("{DEV_SET}: {e}"));
    let texts: Vec<String> = raw
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("text").and_then(|t| t.as_str()).map(str::to_string))
        .collect();
    assert!(!texts.is_empty(), "no texts in {DEV_SET}");
    (0..MESSAGES)
        .map(|k| {
            let mut m = texts[k % texts.len()].clone();
            let mut j = k;
            while m.chars().count() < 300 {
                j = (j * 7 + 3) % texts.len();
                m.push_str(". ");
                m.push_str(&texts[j]);
            }
            m.chars().take(300).collect()
        })
        .collect()
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration, Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    (at(0.5), at(0.99), at(1.0), mean)
}

fn time_each(msgs: &[String], mut f: impl FnMut(&str)) -> Vec<Duration> {
    for m in msgs {
        f(m); // warm-up
    }
    let mut samples = Vec::with_capacity(msgs.len() * ROUNDS);
    for _ in 0..ROUNDS {
        for m in msgs {
            let t = Instant::now();
            f(m);
            samples.push(t.elapsed());
        }
    }
    samples
}

fn main() {
    let c = Classifier::embedded().unwrap_or_else(|e| panic!("classifier data: {e}"));
    let msgs = messages();
    let avg_len = msgs.iter().map(|m| m.chars().count()).sum::<usize>() / msgs.len();
    let terms: Vec<String> = c
        .vocabulary_terms()
        .iter()
        .map(|t| {
            t.replace("..", " ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        })
        .collect();

    let ours = time_each(&msgs, |m| {
        black_box(c.classify(black_box(m)));
    });
    let base = time_each(&msgs, |m| {
        let lower = black_box(m).to_lowercase();
        black_box(terms.iter().filter(|t| lower.contains(t.as_str())).count());
    });

    let (o50, o99, omax, omean) = percentiles(ours);
    let (b50, b99, bmax, bmean) = percentiles(base);
    println!(
        "{} messages x {ROUNDS} rounds, {avg_len} chars each, {} vocabulary terms",
        msgs.len(),
        terms.len()
    );
    println!("classifier: p50 {o50:>10.2?}  p99 {o99:>10.2?}  max {omax:>10.2?}  mean {omean:>10.2?}");
    println!("baseline:   p50 {b50:>10.2?}  p99 {b99:>10.2?}  max {bmax:>10.2?}  mean {bmean:>10.2?}");
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-12);
    println!(
        "ratio (classifier / baseline): p50 {:.2}  p99 {:.2}  mean {:.2}",
        ratio(o50, b50),
        ratio(o99, b99),
        ratio(omean, bmean)
    );
    let verdict = if o99 < Duration::from_micros(50) {
        "met"
    } else {
        "NOT met"
    };
    println!("p99 budget of 50µs per message: {verdict}");
}
