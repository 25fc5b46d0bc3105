//! Text normalisation: SMS prefix, case, accents, punctuation, repeated letters, reduplication, abbreviations.

use std::collections::HashMap;

use serde::Deserialize;

use super::lexicon::{FxMap, FxSet, ShapeSet};
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

/// What normalisation does with a word of the text, looked up once per word.
#[derive(Debug)]
enum WordRule {
    /// An abbreviation: the words it stands for, each with whether it opens a clause.
    Expand(Vec<(Box<str>, bool)>),
    /// A clause word ("tapi"): opens a new clause.
    Clause,
}

/// The normalisation tables (from `normalize.toml`).
#[derive(Debug)]
pub(crate) struct Normalizer {
    sms_prefixes: Vec<String>,
    /// Abbreviations and clause words in one map, so a word costs one lookup.
    rules: FxMap<Box<str>, WordRule>,
    /// Shapes of the keys of `rules`: most words skip the hash lookup.
    rule_shapes: ShapeSet,
    pub common: FxSet<String>,
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
    /// Adds a token whose word is `words[from..]` of the output buffer; `opens_clause` if it is a clause word.
    fn push(&mut self, from: usize, start: usize, end: usize, capitalised: bool, opens_clause: bool) {
        if opens_clause {
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
        let mut abbreviations: FxMap<Box<str>, Vec<Box<str>>> = FxMap::default();
        for (k, v) in raw.abbreviations {
            let words: Vec<Box<str>> = v.split_whitespace().map(|w| w.to_lowercase().into()).collect();
            if words.is_empty() || k.trim().is_empty() {
                return Err(ClassifierError::at(file, src, &k, "empty abbreviation or expansion"));
            }
            abbreviations.insert(k.to_lowercase().into(), words);
        }
        let clause_words: FxSet<String> = raw.clause_words.into_iter().collect();
        // An abbreviation is expanded first and its words are then checked as clause words.
        let mut rules: FxMap<Box<str>, WordRule> = FxMap::default();
        for w in &clause_words {
            rules.insert(w.as_str().into(), WordRule::Clause);
        }
        for (k, words) in abbreviations {
            let words = words
                .into_iter()
                .map(|w| {
                    let clause = clause_words.contains(&*w);
                    (w, clause)
                })
                .collect();
            rules.insert(k, WordRule::Expand(words));
        }
        let mut rule_shapes = ShapeSet::default();
        for k in rules.keys() {
            rule_shapes.insert(k);
        }
        Ok(Self {
            sms_prefixes: raw.sms_prefixes.iter().map(|s| s.to_lowercase()).collect(),
            rules,
            rule_shapes,
            common: raw.common_words.split_whitespace().map(str::to_lowercase).collect(),
            suffixes: raw.suffixes,
            prefixes: raw.prefixes,
        })
    }

    /// Normalises a vocabulary phrase or place name into its words (no spans
    /// needed). Unlike a message, a phrase has no SMS keyword to strip: the
    /// river "Badung River" must not become "river".
    pub fn words(&self, phrase: &str) -> Vec<String> {
        let n = self.normalize_from(phrase, 0);
        n.tokens.iter().map(|t| n.text(t).to_string()).collect()
    }

    /// Normalises a message into tokens, after its SMS keyword if it has one.
    pub fn normalize(&self, text: &str) -> Normalized {
        self.normalize_from(text, self.strip_prefix(text))
    }

    /// Normalises `text` from byte `body_start` on (spans stay relative to all of `text`).
    fn normalize_from(&self, text: &str, body_start: usize) -> Normalized {
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
        // Bytes rather than chars: almost every character is ASCII and takes the short path.
        let bytes = body.as_bytes();
        let char_at = |i: usize| body.get(i..).and_then(|s| s.chars().next());
        let mut i = 0usize;
        while let Some(&b) = bytes.get(i) {
            let abs = body_start + i;
            if ascii_class(b) & ALNUM != 0 {
                // A run of ASCII letters and digits: counted, copied and lowercased in one go.
                if !in_word {
                    in_word = true;
                    word_from = em.out.words.len();
                    word_start = abs;
                    first_upper = b.is_ascii_uppercase();
                }
                let run_start = i;
                while let Some(&b) = bytes.get(i) {
                    let class = ascii_class(b);
                    if class & ALNUM == 0 {
                        break;
                    }
                    letters += usize::from(class & ALPHA != 0);
                    upper += usize::from(class & UPPER != 0);
                    i += 1;
                }
                let at = em.out.words.len();
                em.out.words.push_str(body.get(run_start..i).unwrap_or(""));
                if let Some(run) = em.out.words.get_mut(at..) {
                    run.make_ascii_lowercase();
                }
                continue;
            }
            // ASCII here is punctuation or space; anything else is decoded and may be a letter.
            let c = if b.is_ascii() {
                i += 1;
                char::from(b)
            } else {
                let c = char_at(i).unwrap_or(char::REPLACEMENT_CHARACTER);
                i += c.len_utf8();
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
                c
            };
            // Apostrophes inside a word are dropped ("can't" -> "cant").
            if (c == '\'' || c == '\u{2019}') && in_word && char_at(i).is_some_and(char::is_alphabetic) {
                continue;
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
        let rule = if self.rule_shapes.may_contain(part) {
            self.rules.get(part)
        } else {
            None
        };
        match rule {
            Some(WordRule::Expand(expansion)) => {
                em.out.words.truncate(from);
                for (w, clause) in expansion {
                    let at = em.out.words.len();
                    em.out.words.push_str(w);
                    em.push(at, start, end, capitalised, *clause);
                }
            }
            Some(WordRule::Clause) => em.push(from, start, end, capitalised, true),
            None => em.push(from, start, end, capitalised, false),
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

/// Bits of [`ascii_class`].
const ALNUM: u8 = 1;
const ALPHA: u8 = 2;
const UPPER: u8 = 4;

/// ASCII letter/digit/uppercase bits of each byte (0 for non-ASCII), one table lookup per byte.
const ASCII_CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_uppercase() {
            ALNUM | ALPHA | UPPER
        } else if c.is_ascii_lowercase() {
            ALNUM | ALPHA
        } else if c.is_ascii_digit() {
            ALNUM
        } else {
            0
        };
        b += 1;
    }
    t
};

#[inline]
fn ascii_class(b: u8) -> u8 {
    ASCII_CLASSES[usize::from(b)]
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
    // A byte scan: words are short, and `str::find` sets up a searcher for each call.
    let pos = word.bytes().position(|b| b == b'2')?;
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

    /// The words of a message (after its SMS keyword).
    fn words(text: &str) -> Vec<String> {
        let n = norm().normalize(text);
        n.tokens.iter().map(|t| n.text(t).to_string()).collect()
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
        // A vocabulary phrase or place name has no SMS keyword.
        assert_eq!(norm().words("Badung River"), vec!["badung", "river"]);
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
