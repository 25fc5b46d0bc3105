//! Stable-toolchain mutational fuzzer for the AML parsers: `cargo run --release --example fuzz_aml -- [CORPUS_DIR] [--runs N] [--seed S] [--save-new]`.
//!
//! No coverage feedback (cargo-fuzz needs nightly): it loads every file of
//! the corpus (default `fuzz-corpus/aml` beside the crate's Cargo.toml),
//! mutates with a seeded RNG (bit flips, byte insert/delete, splices,
//! truncation, field duplication/deletion/swap, extreme numbers, `ml`
//! fix-up so mutants get past the length check), and runs each input through
//! `parse_sms` and, split into fields, `parse_https` (with and without a
//! valid HMAC), under `catch_unwind`. Panicking inputs are written to the
//! corpus as `crash-*`; with `--save-new`, inputs giving a never-seen
//! outcome (error code + field) are kept as `new-*`. Exits 1 on any panic.

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use chrono::{DateTime, TimeZone, Utc};
use dispatcher::gateways::aml;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const EXTREMES: &[&str] = &[
    "0",
    "-0",
    "+0.00000",
    "1",
    "-1",
    "90",
    "-90",
    "90.00001",
    "-90.00001",
    "180",
    "-180.00001",
    "181",
    "100000",
    "100000.1",
    "255",
    "256",
    "65535",
    "65536",
    "4294967296",
    "1e308",
    "-1e-308",
    "NaN",
    "inf",
    "-inf",
    "",
    "+",
    "-",
    ".",
    "9999999999999999999999999",
    "00000000000000",
    "20991231235959",
    "19700101000000",
    "20261203095930",
    "20260229120000",
    "1796291970250",
    "1796291970",
    "-9223372036854775808",
    "18446744073709551616",
    "0.6827",
    "N",
    "G",
    "x",
];
const INTERESTING_BYTES: &[u8] = b";=,.+-0123456789\"ANMLlgtrd \r\n\x00\x1b\x7f\xff";
const HTTPS_NAMES: &[(&str, &str)] = &[
    ("A\"ML", "v"),
    ("lt", "location_latitude"),
    ("lg", "location_longitude"),
    ("rd", "location_accuracy"),
    ("top", "location_time"),
    ("lc", "location_confidence"),
    ("pm", "location_source"),
    ("si", "device_imsi"),
    ("ei", "device_imei"),
    ("mcc", "cell_network_mcc"),
    ("mnc", "cell_network_mnc"),
    ("en", "emergency_number"),
];
const KEY: &[u8] = b"fuzz-key";

struct Args {
    corpus: PathBuf,
    runs: u64,
    seed: u64,
    save_new: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        corpus: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz-corpus/aml")),
        runs: 1_000_000,
        seed: 1,
        save_new: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => args.runs = number(it.next())?,
            "--seed" => args.seed = number(it.next())?,
            "--save-new" => args.save_new = true,
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            s => args.corpus = PathBuf::from(s),
        }
    }
    Ok(args)
}

fn number(v: Option<String>) -> Result<u64, String> {
    let v = v.ok_or("missing value")?;
    v.replace(['_', ','], "")
        .parse()
        .map_err(|_| format!("not a number: {v}"))
}

fn load(dir: &PathBuf) -> Result<Vec<Vec<u8>>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    let inputs: Vec<Vec<u8>> = paths
        .iter()
        .filter(|p| p.is_file())
        .filter_map(|p| std::fs::read(p).ok())
        .collect();
    if inputs.is_empty() {
        return Err(format!("{}: no corpus files", dir.display()));
    }
    Ok(inputs)
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> Option<&'a T> {
    if items.is_empty() {
        None
    } else {
        items.get(rng.gen_range(0..items.len()))
    }
}

/// Splits on `;` into fields (without the separators).
fn fields(input: &[u8]) -> Vec<Vec<u8>> {
    input.split(|b| *b == b';').map(<[u8]>::to_vec).collect()
}

fn mutate(rng: &mut StdRng, input: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut data = input.to_vec();
    for _ in 0..rng.gen_range(1..=4) {
        let len = data.len();
        match rng.gen_range(0..10) {
            0 if len > 0 => {
                let i = rng.gen_range(0..len);
                if let Some(b) = data.get_mut(i) {
                    *b ^= 1 << rng.gen_range(0..8);
                }
            }
            1 => {
                let b = if rng.gen_bool(0.5) {
                    pick(rng, INTERESTING_BYTES).copied().unwrap_or(0)
                } else {
                    rng.gen()
                };
                data.insert(rng.gen_range(0..=len), b);
            }
            2 if len > 0 => {
                data.remove(rng.gen_range(0..len));
            }
            3 => {
                if let Some(other) = pick(rng, corpus) {
                    let cut_a = rng.gen_range(0..=len);
                    let cut_b = rng.gen_range(0..=other.len());
                    data.truncate(cut_a);
                    data.extend_from_slice(other.get(cut_b..).unwrap_or_default());
                }
            }
            4 => data.truncate(rng.gen_range(0..=len)),
            5 | 6 => {
                let mut f = fields(&data);
                let i = rng.gen_range(0..f.len());
                let j = rng.gen_range(0..f.len());
                match rng.gen_range(0..3) {
                    0 => {
                        let dup = f.get(i).cloned().unwrap_or_default();
                        f.insert(j, dup);
                    }
                    1 if f.len() > 1 => {
                        f.remove(i);
                    }
                    _ => f.swap(i, j),
                }
                data = f.join(&b';');
            }
            _ => {
                // Replace the value of one field with an extreme.
                let mut f = fields(&data);
                let i = rng.gen_range(0..f.len());
                let extreme = pick(rng, EXTREMES).copied().unwrap_or("0");
                if let Some(field) = f.get_mut(i) {
                    let eq = field.iter().position(|b| *b == b'=').map_or(0, |p| p + 1);
                    field.truncate(eq);
                    field.extend_from_slice(extreme.as_bytes());
                }
                data = f.join(&b';');
            }
        }
    }
    if rng.gen_bool(0.5) {
        fix_ml(&mut data);
    }
    data
}

/// Rewrites a trailing `ml=...` to the input's actual length.
fn fix_ml(data: &mut Vec<u8>) {
    let Some(pos) = data.windows(4).rposition(|w| w == b";ml=") else {
        return;
    };
    data.truncate(pos + 4);
    let base = data.len();
    let ml = (1..=5).map(|d| base + d).find(|t| t.to_string().len() == t - base);
    data.extend_from_slice(ml.unwrap_or(base).to_string().as_bytes());
}

/// The input as HTTPS form fields: split on `;` or `&`, then on the first
/// `=`; half the time SMS keys are renamed to their HTTPS counterparts.
fn https_fields(rng: &mut StdRng, input: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(input);
    let rename = rng.gen_bool(0.5);
    text.split([';', '&'])
        .map(|f| {
            let (k, v) = f.split_once('=').unwrap_or((f, ""));
            let k = HTTPS_NAMES
                .iter()
                .find(|(sms, _)| rename && *sms == k)
                .map_or(k, |(_, https)| https);
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("fuzz_aml: {e}\nusage: fuzz_aml [CORPUS_DIR] [--runs N] [--seed S] [--save-new]");
            std::process::exit(2);
        }
    };
    let corpus = match load(&args.corpus) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fuzz_aml: {e}");
            std::process::exit(2);
        }
    };
    std::panic::set_hook(Box::new(|_| {}));
    let nows: Vec<DateTime<Utc>> = [
        (2022, 2, 10, 14, 0, 0),
        (2022, 1, 31, 17, 40, 0),
        (2026, 12, 3, 10, 0, 0),
    ]
    .iter()
    .filter_map(|&(y, mo, d, h, mi, s)| Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single())
    .collect();
    let mut rng = StdRng::seed_from_u64(args.seed);
    let (mut executions, mut panics, mut ok, mut rejected) = (0u64, 0u64, 0u64, 0u64);
    let (mut https_ok, mut https_rejected) = (0u64, 0u64);
    let mut outcomes: HashSet<String> = HashSet::new();
    let mut saved = 0u64;
    println!(
        "fuzz_aml: {} corpus inputs from {}, seed {}, runs {}",
        corpus.len(),
        args.corpus.display(),
        args.seed,
        args.runs
    );

    while executions < args.runs {
        let input = if let Some(seed_input) = corpus.get(usize::try_from(executions).unwrap_or(usize::MAX)) {
            seed_input.clone()
        } else {
            let base = pick(&mut rng, &corpus).cloned().unwrap_or_default();
            mutate(&mut rng, &base, &corpus)
        };
        let now = pick(&mut rng, &nows).copied().unwrap_or_default();
        let fields = https_fields(&mut rng, &input);
        let key_mode = rng.gen_range(0..3);
        executions += 1;
        let result = catch_unwind(AssertUnwindSafe(|| {
            let sms = aml::parse_sms(&input, now);
            let mut fields = fields.clone();
            let key = match key_mode {
                0 => None,
                1 => Some(KEY),
                _ => {
                    fields.retain(|(k, _)| k != "hmac");
                    let mac = aml::sign_https(&fields, KEY);
                    fields.push(("hmac".to_string(), mac));
                    Some(KEY)
                }
            };
            let https = aml::parse_https(&fields, key, now);
            if let Ok(fix) = &sms {
                let _ = aml::format_sms(fix);
                let _ = fix.to_location();
            }
            (sms, https)
        }));
        match result {
            Err(_) => {
                panics += 1;
                let name = format!("crash-{}-{executions}", args.seed);
                let path = args.corpus.join(&name);
                eprintln!(
                    "PANIC on input {:?} (saved as {})",
                    String::from_utf8_lossy(&input),
                    path.display()
                );
                let _ = std::fs::write(path, &input);
            }
            Ok((sms, https)) => {
                let outcome = match &sms {
                    Ok(fix) => {
                        ok += 1;
                        format!("ok v{}", fix.version)
                    }
                    Err(e) => {
                        rejected += 1;
                        format!("{} {}", e.code(), e.field())
                    }
                };
                match https {
                    Ok(_) => https_ok += 1,
                    Err(_) => https_rejected += 1,
                }
                let mutated = executions > corpus.len() as u64;
                if outcomes.insert(outcome.clone()) && mutated && args.save_new && saved < 50 {
                    saved += 1;
                    let name = format!("new-{}-{saved}", args.seed);
                    let _ = std::fs::write(args.corpus.join(name), &input);
                }
            }
        }
    }
    println!(
        "distinct parse_sms outcomes: {}; parse_https ok: {https_ok}, rejected: {https_rejected}; saved: {saved}",
        outcomes.len()
    );
    println!("executions: {executions}, panics: {panics}, ok: {ok}, rejected: {rejected}");
    if panics > 0 {
        std::process::exit(1);
    }
}
