//! Text normalisation: SMS prefix, case, accents, punctuation, repeated letters, reduplication, abbreviations.

use std::collections::HashMap;

use serde::Deserialize;

use super::lexicon::{FxMap, FxSet};
use super::ClassifierError;

/// One normalised word of a text, with where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    /// Byte range of the lowercase, accent-free, abbreviation-expanded form in [`Normalized::words`].
    pub word: (u32, u32),
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

/// A normalised text: the words live in one buffer, the tokens point into it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Normalized {
    pub tokens: Vec<Token>,
    /// The normalised words, back to back.
    pub words: String,
    /// Most letters are uppercase, so capitalisation says nothing.
    pub all_caps: bool,
}

impl Normalized {
    /// The normalised form of a token.
    pub fn text(&self, t: &Token) -> &str {
        self.words.get(t.word.0 as usize..t.word.1 as usize).unwrap_or("")
    }

    /// The normalised form of token `i` ("" past the end).
    #[cfg(test)]
    pub fn word(&self, i: usize) -> &str {
        self.tokens.get(i).map_or("", |t| self.text(t))
    }
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
    abbreviations: FxMap<Box<str>, Vec<Box<str>>>,
    pub common: FxSet<String>,
    clause_words: FxSet<String>,
    pub suffixes: Vec<String>,
    pub prefixes: Vec<String>,
}

/// Where the words of the text being normalised are going, and the running clause state.
struct Emitter<'a> {
    out: &'a mut Normalized,
    clause: u32,
    sentence_start: bool,
}

impl Emitter<'_> {
    /// Adds a token whose word is `words[from..]` of the output buffer.
    fn push(&mut self, norm: &Normalizer, from: usize, start: usize, end: usize, capitalised: bool) {
        if norm.clause_words.contains(&self.out.words[from..]) {
            self.clause = self.clause.saturating_add(1);
        }
        let span = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
        let word = (span(from), span(self.out.words.len()));
        self.out.tokens.push(Token {
            word,
            start,
            end,
            capitalised,
            sentence_start: self.sentence_start,
            clause: self.clause,
        });
        self.sentence_start = false;
    }
}

impl Normalizer {
    pub fn from_toml(file: &str, src: &str) -> Result<Self, ClassifierError> {
        let raw: NormalizeFile = toml::from_str(src).map_err(|e| ClassifierError::toml(file, e))?;
        let mut abbreviations = FxMap::default();
        for (k, v) in raw.abbreviations {
            let words: Vec<Box<str>> = v.split_whitespace().map(|w| w.to_lowercase().into()).collect();
            if words.is_empty() || k.trim().is_empty() {
                return Err(ClassifierError::at(file, src, &k, "empty abbreviation or expansion"));
            }
            abbreviations.insert(k.to_lowercase().into(), words);
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
        let n = self.normalize(phrase);
        n.tokens.iter().map(|t| n.text(t).to_string()).collect()
    }

    /// Normalises a text into tokens.
    pub fn normalize(&self, text: &str) -> Normalized {
        let body_start = self.strip_prefix(text);
        let body = text.get(body_start..).unwrap_or("");
        let mut out = Normalized {
            tokens: Vec::with_capacity(body.len() / 5 + 1),
            words: String::with_capacity(body.len() + 16),
            all_caps: false,
        };
        let (mut upper, mut letters) = (0usize, 0usize);
        let mut em = Emitter {
            out: &mut out,
            clause: 0,
            sentence_start: true,
        };
        // The word being read: where its folded form starts in the buffer, its span, its case.
        let mut in_word = false;
        let mut word_from = 0usize;
        let mut word_start = 0usize;
        let mut first_upper = false;
        let mut chars = body.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let abs = body_start + i;
            if c.is_alphanumeric() {
                if c.is_alphabetic() {
                    letters += 1;
                    upper += usize::from(c.is_uppercase());
                }
                if !in_word {
                    in_word = true;
                    word_from = em.out.words.len();
                    word_start = abs;
                    first_upper = c.is_uppercase();
                }
                push_folded(&mut em.out.words, c);
                continue;
            }
            // Apostrophes inside a word are dropped ("can't" -> "cant").
            if (c == '\'' || c == '\u{2019}') && in_word {
                if let Some(&(_, n)) = chars.peek() {
                    if n.is_alphabetic() {
                        continue;
                    }
                }
            }
            if in_word {
                self.emit(&mut em, word_from, word_start, abs, first_upper);
                in_word = false;
            }
            match c {
                '.' | '!' | '?' | '\n' => {
                    em.sentence_start = true;
                    em.clause = em.clause.saturating_add(1);
                }
                ',' | ';' | ':' | '(' | ')' | '/' | '"' | '|' | '&' | '+' => em.clause = em.clause.saturating_add(1),
                _ => {}
            }
        }
        if in_word {
            self.emit(&mut em, word_from, word_start, text.len(), first_upper);
        }
        // Capitalisation says nothing in a shouted text.
        out.all_caps = letters >= 4 && upper * 10 >= letters * 6;
        if out.all_caps {
            for t in &mut out.tokens {
                t.capitalised = false;
            }
        }
        out
    }

    /// Turns the raw word at `words[from..]` of the buffer into tokens (in place).
    fn emit(&self, em: &mut Emitter<'_>, from: usize, start: usize, end: usize, capitalised: bool) {
        let words = &mut em.out.words;
        if has_triple(&words.as_bytes()[from..]) {
            let collapsed = collapse_repeats(&words[from..]);
            words.truncate(from);
            words.push_str(&collapsed);
        }
        // Reduplication written with a 2: "ibu2" -> "ibu ibu", "anak2nya" -> "anak anaknya".
        let split = split_reduplication(&words[from..]).map(|(base, suffix)| (base.len(), suffix.len()));
        match split {
            Some((base, suffix)) => {
                // Buffer: base "2" suffix -> base, then base + suffix appended after it.
                let raw_end = from + base + 1 + suffix;
                let second = format!("{}{}", &words[from..from + base], &words[from + base + 1..raw_end]);
                words.truncate(from + base);
                self.emit_part(em, from, start, end, capitalised);
                let from2 = em.out.words.len();
                em.out.words.push_str(&second);
                self.emit_part(em, from2, start, end, capitalised);
            }
            None => self.emit_part(em, from, start, end, capitalised),
        }
    }

    /// Emits the word at `words[from..]`: dropped if "nya", else expanded if an abbreviation.
    fn emit_part(&self, em: &mut Emitter<'_>, from: usize, start: usize, end: usize, capitalised: bool) {
        let part = &em.out.words[from..];
        if part == "nya" {
            em.out.words.truncate(from);
            return;
        }
        match self.abbreviations.get(part) {
            Some(expansion) => {
                em.out.words.truncate(from);
                for w in expansion {
                    let at = em.out.words.len();
                    em.out.words.push_str(w);
                    em.push(self, at, start, end, capitalised);
                }
            }
            None => em.push(self, from, start, end, capitalised),
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
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
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

/// Three equal bytes in a row somewhere.
fn has_triple(b: &[u8]) -> bool {
    b.windows(3).any(|w| w[0] == w[1] && w[1] == w[2])
}

/// Collapses runs of three or more equal letters to one ("tolonggg" -> "tolong").
fn collapse_repeats(word: &str) -> String {
    if !has_triple(word.as_bytes()) {
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
        norm().words(text)
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
        assert_eq!(n.word(0), "ada");
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
