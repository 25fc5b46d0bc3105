//! Evaluation on labelled JSONL (precision/recall/F1, confusion matrix, accuracies) and batch classification of JSONL streams.

use std::fmt;
use std::io::{BufRead, Write};

use incident_types::{Category, District};
use serde::Deserialize;
use serde_json::json;

use super::Classifier;

/// Longest text accepted by [`classify_stream`], in characters.
pub const MAX_TEXT_CHARS: usize = 4000;

/// A labelled line that could not be read.
#[derive(Debug)]
pub enum EvalError {
    Io(std::io::Error),
    /// Line number (1-based) and what is wrong with it.
    Line(usize, String),
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::Io(e) => write!(f, "reading labelled data: {e}"),
            EvalError::Line(n, m) => write!(f, "labelled data line {n}: {m}"),
        }
    }
}

impl std::error::Error for EvalError {}

impl From<std::io::Error> for EvalError {
    fn from(e: std::io::Error) -> Self {
        EvalError::Io(e)
    }
}

#[derive(Debug, Deserialize)]
struct Labelled {
    text: String,
    category: String,
    #[serde(default)]
    emergency: Option<bool>,
    #[serde(default)]
    priority: Option<u8>,
    #[serde(default)]
    district: Option<String>,
}

/// Metrics of a classifier on labelled data.
#[derive(Debug, Clone, Default)]
pub struct EvalReport {
    /// Number of labelled lines.
    pub total: usize,
    /// `confusion[expected][predicted]`, indexed like `Category::ALL`.
    pub confusion: Vec<Vec<usize>>,
    pub emergency_correct: usize,
    /// Lines labelled as emergencies that were classified `general`.
    pub emergencies_to_general: usize,
    pub priority_correct: usize,
    pub priority_total: usize,
    pub district_correct: usize,
    /// Lines with a labelled district.
    pub district_total: usize,
    /// Texts of the misclassified lines: (text, expected, predicted).
    pub errors: Vec<(String, Category, Category)>,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

impl EvalReport {
    fn n() -> usize {
        Category::ALL.len()
    }

    pub fn category_accuracy(&self) -> f64 {
        let correct: usize = (0..Self::n()).map(|i| self.confusion[i][i]).sum();
        ratio(correct, self.total)
    }

    pub fn emergency_accuracy(&self) -> f64 {
        ratio(self.emergency_correct, self.total)
    }

    pub fn district_accuracy(&self) -> f64 {
        ratio(self.district_correct, self.district_total)
    }

    pub fn priority_accuracy(&self) -> f64 {
        ratio(self.priority_correct, self.priority_total)
    }

    pub fn emergencies_sent_to_general(&self) -> usize {
        self.emergencies_to_general
    }

    /// (precision, recall, F1, support) of one category.
    pub fn category_metrics(&self, c: Category) -> (f64, f64, f64, usize) {
        let i = c as usize;
        let tp = self.confusion[i][i];
        let support: usize = self.confusion[i].iter().sum();
        let predicted: usize = (0..Self::n()).map(|r| self.confusion[r][i]).sum();
        let p = ratio(tp, predicted);
        let r = ratio(tp, support);
        let f1 = if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) };
        (p, r, f1, support)
    }
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<18} {:>9} {:>9} {:>9} {:>8}",
            "category", "precision", "recall", "f1", "support"
        )?;
        for c in Category::ALL {
            let (p, r, f1, s) = self.category_metrics(*c);
            writeln!(f, "{:<18} {:>9.3} {:>9.3} {:>9.3} {:>8}", c.as_str(), p, r, f1, s)?;
        }
        writeln!(f)?;
        writeln!(f, "confusion matrix (rows: expected, columns: predicted)")?;
        write!(f, "{:<18}", "")?;
        for i in 0..Self::n() {
            write!(f, "{i:>4}")?;
        }
        writeln!(f)?;
        for (i, c) in Category::ALL.iter().enumerate() {
            write!(f, "{:>2} {:<15}", i, c.as_str())?;
            for v in &self.confusion[i] {
                write!(f, "{v:>4}")?;
            }
            writeln!(f)?;
        }
        writeln!(f)?;
        writeln!(f, "lines:                      {}", self.total)?;
        writeln!(f, "category accuracy:          {:.4}", self.category_accuracy())?;
        writeln!(f, "emergency-flag accuracy:    {:.4}", self.emergency_accuracy())?;
        writeln!(f, "emergencies sent to general: {}", self.emergencies_to_general)?;
        writeln!(
            f,
            "priority accuracy:          {:.4} ({} lines)",
            self.priority_accuracy(),
            self.priority_total
        )?;
        writeln!(
            f,
            "district accuracy:          {:.4} ({} labelled lines)",
            self.district_accuracy(),
            self.district_total
        )
    }
}

/// Reads labelled JSONL (format of `reports-dev.jsonl`) and computes the metrics.
pub fn evaluate(c: &Classifier, input: impl BufRead) -> Result<EvalReport, EvalError> {
    let n = Category::ALL.len();
    let mut report = EvalReport {
        confusion: vec![vec![0; n]; n],
        ..EvalReport::default()
    };
    for (i, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let lineno = i + 1;
        let l: Labelled = serde_json::from_str(&line).map_err(|e| EvalError::Line(lineno, e.to_string()))?;
        let expected = Category::parse(&l.category)
            .ok_or_else(|| EvalError::Line(lineno, format!("unknown category `{}`", l.category)))?;
        let got = c.classify(&l.text);
        report.total += 1;
        report.confusion[expected as usize][got.category as usize] += 1;
        if got.category != expected {
            report.errors.push((l.text.clone(), expected, got.category));
        }
        let emergency = l.emergency.unwrap_or(expected != Category::General);
        let predicted_emergency = got.category != Category::General;
        if emergency == predicted_emergency {
            report.emergency_correct += 1;
        }
        if emergency && !predicted_emergency {
            report.emergencies_to_general += 1;
        }
        if let Some(p) = l.priority {
            report.priority_total += 1;
            if got.priority.level() == p {
                report.priority_correct += 1;
            }
        }
        if let Some(d) = l.district.as_deref() {
            let d = District::parse(d).ok_or_else(|| EvalError::Line(lineno, format!("unknown district `{d}`")))?;
            report.district_total += 1;
            if got.location.as_ref().map(|p| p.district) == Some(d) {
                report.district_correct += 1;
            }
        }
    }
    Ok(report)
}

/// Counts of a batch run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    pub lines: usize,
    pub classified: usize,
    pub errors: usize,
}

/// Classifies each JSONL line's `"text"`; writes one JSON line per input line, in order.
pub fn classify_stream(
    c: &Classifier,
    mut input: impl BufRead,
    mut output: impl Write,
) -> std::io::Result<StreamStats> {
    let mut stats = StreamStats::default();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        stats.lines += 1;
        let mut bytes = buf.as_slice();
        if let Some(b) = bytes.strip_suffix(b"\n") {
            bytes = b;
        }
        if let Some(b) = bytes.strip_suffix(b"\r") {
            bytes = b;
        }
        let result = match text_of(bytes) {
            Ok(text) => {
                stats.classified += 1;
                serde_json::to_string(&c.classify(&text))
            }
            Err((code, message)) => {
                stats.errors += 1;
                let e = json!({"error": {"code": code, "message": message, "line": stats.lines}});
                serde_json::to_string(&e)
            }
        };
        let out = result.map_err(std::io::Error::other)?;
        output.write_all(out.as_bytes())?;
        output.write_all(b"\n")?;
    }
    output.flush()?;
    Ok(stats)
}

/// The text of one batch line, or an error code and message.
fn text_of(bytes: &[u8]) -> Result<String, (&'static str, String)> {
    let line = std::str::from_utf8(bytes).map_err(|e| ("invalid_utf8", format!("line is not valid UTF-8: {e}")))?;
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| ("invalid_json", format!("line is not JSON: {e}")))?;
    let text = value
        .get("text")
        .and_then(|t| t.as_str())
        .ok_or(("missing_text", "line has no string field \"text\"".to_string()))?;
    if text.trim().is_empty() {
        return Err(("empty_text", "\"text\" is empty".to_string()));
    }
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err((
            "text_too_long",
            format!("\"text\" has {chars} characters, more than {MAX_TEXT_CHARS}"),
        ));
    }
    Ok(text.to_string())
}
