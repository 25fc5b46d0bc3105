//! Text normalisation: SMS prefix, case, accents, punctuation, repeated letters, reduplication, abbreviations.

use std::collections::HashMap;

use serde::Deserialize;

use super::lexicon::FxSet;
use super::ClassifierError;

/// One normalised word of a text, with where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    /// Lowercase, accent-free, abbreviation-expanded form.
    pub text: String,
    /// Byte span of the original word in the text.
    pub start: usize,
    pub end: usize,
    /// The original word starts with an uppercase letter (and the text is not shouted).
    pub capitalised: bool,
    /// First word of a sentence.
    pub sentence_start: bool,
    /// Clause number: punctuation and words like "tapi" open a new clause.
    pub clause: u32,
}

/// A normalised text.
#[derive(Debug, Clone, Default)]
pub(crate) struct Normalized {
    pub tokens: Vec<Token>,
    /// Most letters are uppercase, so capitalisation says nothing.
    pub all_caps: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NormalizeFile {
    sms_prefixes: Vec<String>,
    common_words: String,
    clause_words: Vec<String>,
    suffixes: Vec<String>,
    prefixes: Vec<String>,
    abbreviations: HashMap<String, String>,
}

/// The normalisation tables (from `normalize.toml`).
#[derive(Debug)]
pub(crate) struct Normalizer {
    sms_prefixes: Vec<String>,
    abbreviations: HashMap<String, Vec<String>>,
    pub common: FxSet<String>,
    clause_words: FxSet<String>,
    pub suffixes: Vec<String>,
    pub prefixes: Vec<String>,
}

impl Normalizer {
    pub fn from_toml(file: &str, src: &str) -> Result<Self, ClassifierError> {
        let raw: NormalizeFile = toml::from_str(src).map_err(|e| ClassifierError::toml(file, e))?;
        let mut abbreviations = HashMap::new();
        for (k, v) in raw.abbreviations {
            let words: Vec<String> = v.split_whitespace().map(str::to_lowercase).collect();
            if words.is_empty() || k.trim().is_empty() {
                return Err(ClassifierError::at(file, src, &k, "empty abbreviation or expansion"));
            }
            abbreviations.insert(k.to_lowercase(), words);
        }
        Ok(Self {
            sms_prefixes: raw.sms_prefixes.iter().map(|s| s.to_lowercase()).collect(),
            abbreviations,
            common: raw.common_words.split_whitespace().map(str::to_lowercase).collect(),
            clause_words: raw.clause_words.into_iter().collect(),
            suffixes: raw.suffixes,
            prefixes: raw.prefixes,
        })
    }

    /// Normalises a vocabulary phrase into its words (no spans needed).
    pub fn words(&self, phrase: &str) -> Vec<String> {
        self.normalize(phrase).tokens.into_iter().map(|t| t.text).collect()
    }

    /// Normalises a text into tokens.
    pub fn normalize(&self, text: &str) -> Normalized {
        let body_start = self.strip_prefix(text);
        let body = text.get(body_start..).unwrap_or("");
        let (upper, letters) = body
            .chars()
            .filter(|c| c.is_alphabetic())
            .fold((0, 0), |(u, l), c| (u + usize::from(c.is_uppercase()), l + 1));
        let all_caps = letters >= 4 && upper * 10 >= letters * 6;
        let mut out = Normalized {
            tokens: Vec::with_capacity(body.len() / 5 + 1),
            all_caps,
        };
        let mut clause = 0u32;
        let mut sentence_start = true;
        let mut word = String::new();
        let mut word_start = 0usize;
        let mut first_upper = false;
        let mut pending_break = false;
        let mut chars = body.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let abs = body_start + i;
            if c.is_alphanumeric() {
                if word.is_empty() {
                    word_start = abs;
                    first_upper = c.is_uppercase();
                }
                push_folded(&mut word, c);
                continue;
            }
            // Apostrophes inside a word are dropped ("can't" -> "cant").
            if (c == '\'' || c == '\u{2019}') && !word.is_empty() {
                if let Some(&(_, n)) = chars.peek() {
                    if n.is_alphabetic() {
                        continue;
                    }
                }
            }
            if !word.is_empty() {
                let end = abs;
                self.emit(
                    &mut out,
                    &word,
                    word_start,
                    end,
                    first_upper && !all_caps,
                    &mut clause,
                    &mut sentence_start,
                );
                word.clear();
            }
            match c {
                '.' | '!' | '?' | '\n' => {
                    pending_break = true;
                    sentence_start = true;
                }
                ',' | ';' | ':' | '(' | ')' | '/' | '"' | '|' | '&' | '+' => pending_break = true,
                _ => {}
            }
            if pending_break {
                clause = clause.saturating_add(1);
                pending_break = false;
            }
        }
        if !word.is_empty() {
            let end = text.len();
            self.emit(
                &mut out,
                &word,
                word_start,
                end,
                first_upper && !all_caps,
                &mut clause,
                &mut sentence_start,
            );
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &self,
        out: &mut Normalized,
        raw: &str,
        start: usize,
        end: usize,
        capitalised: bool,
        clause: &mut u32,
        sentence_start: &mut bool,
    ) {
        let collapsed = collapse_repeats(raw);
        // Reduplication written with a 2: "ibu2" -> "ibu ibu", "anak2nya" -> "anak anaknya".
        let mut parts: [Option<String>; 2] = [None, None];
        match split_reduplication(&collapsed) {
            Some((base, suffix)) => {
                parts[0] = Some(base.to_string());
                parts[1] = Some(format!("{base}{suffix}"));
            }
            None => parts[0] = Some(collapsed),
        }
        for part in parts.into_iter().flatten() {
            if part == "nya" {
                continue;
            }
            let expanded: &[String] = match self.abbreviations.get(&part) {
                Some(words) => words,
                None => std::slice::from_ref(&part),
            };
            for w in expanded {
                if self.clause_words.contains(w) {
                    *clause = clause.saturating_add(1);
                }
                out.tokens.push(Token {
                    text: w.clone(),
                    start,
                    end,
                    capitalised,
                    sentence_start: *sentence_start,
                    clause: *clause,
                });
                *sentence_start = false;
            }
        }
    }

    /// Byte offset where the text proper starts, after an optional SMS keyword.
    fn strip_prefix(&self, text: &str) -> usize {
        let lead = text.len() - text.trim_start_matches(|c: char| !c.is_alphanumeric()).len();
        let rest = text.get(lead..).unwrap_or("");
        for p in &self.sms_prefixes {
            let Some(head) = rest.get(..p.len()) else {
                continue;
            };
            if !head.eq_ignore_ascii_case(p) {
                continue;
            }
            let after = rest.get(p.len()..).unwrap_or("");
            if after.chars().next().is_some_and(char::is_alphanumeric) {
                continue;
            }
            let skip = after.len() - after.trim_start_matches(|c: char| !c.is_alphanumeric()).len();
            return lead + p.len() + skip;
        }
        0
    }
}

/// Lowercases and folds common accented Latin letters to ASCII.
fn push_folded(out: &mut String, c: char) {
    let folded = match c {
        'à'..='å' | 'À'..='Å' => 'a',
        'è'..='ë' | 'È'..='Ë' => 'e',
        'ì'..='ï' | 'Ì'..='Ï' => 'i',
        'ò'..='ö' | 'Ò'..='Ö' | 'ø' | 'Ø' => 'o',
        'ù'..='ü' | 'Ù'..='Ü' => 'u',
        'ç' | 'Ç' => 'c',
        'ñ' | 'Ñ' => 'n',
        'ý' | 'ÿ' | 'Ý' => 'y',
        _ => {
            for l in c.to_lowercase() {
                out.push(l);
            }
            return;
        }
    };
    out.push(folded);
}

/// Collapses runs of three or more equal letters to one ("tolonggg" -> "tolong").
fn collapse_repeats(word: &str) -> String {
    let b = word.as_bytes();
    if !b.windows(3).any(|w| w[0] == w[1] && w[1] == w[2]) {
        return word.to_string();
    }
    let mut out = String::with_capacity(word.len());
    let chars: Vec<char> = word.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut j = i;
        while j < chars.len() && chars[j] == c {
            j += 1;
        }
        let run = j - i;
        let keep = if run >= 3 && c.is_alphabetic() { 1 } else { run };
        for _ in 0..keep {
            out.push(c);
        }
        i = j;
    }
    out
}

/// "ibu2" -> ("ibu", ""), "anak2nya" -> ("anak", "nya"); None for anything else.
fn split_reduplication(word: &str) -> Option<(&str, &str)> {
    let pos = word.find('2')?;
    let base = &word[..pos];
    let suffix = &word[pos + 1..];
    let letters = |s: &str| s.chars().all(char::is_alphabetic);
    (base.chars().count() >= 2 && letters(base) && letters(suffix)).then_some((base, suffix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm() -> Normalizer {
        Normalizer::from_toml("normalize.toml", include_str!("../../data/classifier/normalize.toml"))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn words(text: &str) -> Vec<String> {
        norm().normalize(text).tokens.into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn strips_sms_prefix_variants() {
        for t in [
            "BADUNG tolong",
            "badung: tolong",
            "BADUNG, tolong",
            "  Badung-tolong",
            "badung.tolong",
        ] {
            assert_eq!(words(t), vec!["tolong"], "{t}");
        }
        assert_eq!(words("badungan tolong"), vec!["badungan", "tolong"]);
    }

    #[test]
    fn expands_shorthand_and_reduplication() {
        assert_eq!(words("tlg ibu2 yg sdh"), vec!["tolong", "ibu", "ibu", "yang", "sudah"]);
        assert_eq!(words("Tolonggg!!!"), vec!["tolong"]);
        assert_eq!(words("anak-anak"), vec!["anak", "anak"]);
        assert_eq!(words("Café can't"), vec!["cafe", "cant"]);
        assert_eq!(words("Jl. Legian"), vec!["jalan", "legian"]);
    }

    #[test]
    fn keeps_spans_and_clauses() {
        let n = norm().normalize("BADUNG Ada api, tapi kecil");
        assert_eq!(n.tokens[0].text, "ada");
        assert_eq!(n.tokens[0].start, 7);
        assert!(n.tokens[0].capitalised);
        assert!(n.tokens[2].clause > n.tokens[1].clause);
        assert!(norm().normalize("KEBAKARAN DI LEGIAN").all_caps);
    }

    #[test]
    fn never_panics_on_odd_input() {
        for t in [
            "",
            "2",
            "22",
            "é2",
            "\u{0}",
            "ßßß",
            "x2y2",
            "İstanbul",
            "🔥🔥",
            "'",
            "a'",
        ] {
            let _ = norm().normalize(t);
        }
    }
}
