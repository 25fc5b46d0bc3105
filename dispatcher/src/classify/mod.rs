//! Rule-and-vocabulary classifier for free-text reports: category, queue, priority, place, and the evidence behind them.
//!
//! Everything language-specific lives in the data files under `data/classifier/`
//! (vocabularies with weights, negators, harmless idioms, priority cues, precedence
//! rules, abbreviations) and in `data/gazetteer.csv`; they are embedded at build time
//! and validated by [`Classifier::embedded`]. Classification is allocation-light and
//! runs in microseconds: every known word is resolved once at load time into one table,
//! tolerant matching compares only candidates of the same first letter and similar length
//! (with a bounded edit distance), and phrases are found in one pass over the tokens.

mod decide;
pub mod eval;
mod gazetteer;
mod lexicon;
mod normalize;
mod vocab;

#[cfg(test)]
mod dev_set_tests;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use incident_types::{Category, Classification, Evidence, EvidenceKind};

pub use gazetteer::{Gazetteer, Place};
use lexicon::FxMap;
use normalize::Normalizer;
use vocab::Vocabulary;

/// The shipped data files.
const NORMALIZE_TOML: &str = include_str!("../../data/classifier/normalize.toml");
const CATEGORIES_TOML: &str = include_str!("../../data/classifier/categories.toml");
const RULES_TOML: &str = include_str!("../../data/classifier/rules.toml");
const PLACES_TOML: &str = include_str!("../../data/classifier/places.toml");
const GAZETTEER_CSV: &str = include_str!("../../data/gazetteer.csv");

/// The data a classifier is built from (the text of each data file).
#[derive(Debug, Clone, Copy)]
pub struct DataSources<'a> {
    pub normalize_toml: &'a str,
    pub categories_toml: &'a str,
    pub rules_toml: &'a str,
    pub places_toml: &'a str,
    pub gazetteer_csv: &'a str,
}

impl DataSources<'static> {
    /// The data files shipped with the dispatcher.
    pub fn embedded() -> Self {
        Self {
            normalize_toml: NORMALIZE_TOML,
            categories_toml: CATEGORIES_TOML,
            rules_toml: RULES_TOML,
            places_toml: PLACES_TOML,
            gazetteer_csv: GAZETTEER_CSV,
        }
    }
}

/// A data file that could not be loaded: which file, which line, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassifierError {
    file: String,
    line: Option<usize>,
    message: String,
}

impl ClassifierError {
    pub fn file(&self) -> &str {
        &self.file
    }
    pub fn line(&self) -> Option<usize> {
        self.line
    }
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn plain(file: &str, message: &str) -> Self {
        Self {
            file: file.to_string(),
            line: None,
            message: message.to_string(),
        }
    }

    pub(crate) fn line_at(file: &str, line: usize, message: &str) -> Self {
        Self {
            file: file.to_string(),
            line: Some(line),
            message: message.to_string(),
        }
    }

    /// An error about `needle`, located at the first line of `src` that contains it.
    pub(crate) fn at(file: &str, src: &str, needle: &str, message: &str) -> Self {
        let line = src.lines().position(|l| l.contains(needle)).map(|i| i + 1);
        Self {
            file: file.to_string(),
            line,
            message: format!("`{needle}`: {message}"),
        }
    }

    pub(crate) fn toml(file: &str, e: toml::de::Error) -> Self {
        Self {
            file: file.to_string(),
            line: None,
            message: e.to_string().trim().replace('\n', " "),
        }
    }
}

impl fmt::Display for ClassifierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ClassifierError {}

/// What one normalised word resolves to: vocabulary word ids (exact or tolerant, then
/// affix-stripped) and gazetteer word id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Resolution {
    vocab: [Option<u32>; 2],
    place: Option<u32>,
}

/// The classifier: immutable after loading, cheap to share in an `Arc`.
#[derive(Debug)]
pub struct Classifier {
    norm: Arc<Normalizer>,
    vocab: Vocabulary,
    gazetteer: Gazetteer,
    /// The resolution of every vocabulary, gazetteer and common word, computed at load time:
    /// most words of a text are one of these and cost one lookup instead of several lookups,
    /// affix stripping and tolerant matching.
    known: FxMap<Box<str>, Resolution>,
}

impl Classifier {
    /// Loads the data files shipped with the dispatcher.
    pub fn embedded() -> Result<Classifier, ClassifierError> {
        Self::from_sources(DataSources::embedded())
    }

    /// Builds a classifier from data file contents (the embedded ones or replacements).
    pub fn from_sources(src: DataSources<'_>) -> Result<Classifier, ClassifierError> {
        let norm = Arc::new(Normalizer::from_toml(
            "data/classifier/normalize.toml",
            src.normalize_toml,
        )?);
        let vocab = Vocabulary::load(&norm, src.categories_toml, src.rules_toml)?;
        let gazetteer = Gazetteer::load(Arc::clone(&norm), src.places_toml, src.gazetteer_csv)?;
        let mut c = Classifier {
            norm,
            vocab,
            gazetteer,
            known: FxMap::default(),
        };
        let words: Vec<Box<str>> = c
            .vocab
            .lexicon
            .words()
            .chain(c.gazetteer.words())
            .chain(c.norm.common.iter().map(String::as_str))
            .map(Box::from)
            .collect();
        let known = words
            .into_iter()
            .map(|w| {
                let r = c.resolve_uncached(&w);
                (w, r)
            })
            .collect();
        c.known = known;
        Ok(c)
    }

    /// Resolves one normalised word (same answer as [`Self::resolve_uncached`], faster).
    fn resolve(&self, word: &str) -> Resolution {
        if let Some(r) = self.known.get(word) {
            return *r;
        }
        // Not a vocabulary, gazetteer or common word (those are all in `known`), so neither
        // exact lookup can match: only affix stripping and tolerant matching can find it.
        let mut vocab = [self.vocab.lexicon.stem_of_unknown(word, &self.norm), None];
        let mut place = None;
        if vocab[0].is_none() {
            vocab[0] = self.vocab.lexicon.fuzzy(word).map(|r| r.id);
            place = self.gazetteer.fuzzy(word);
        }
        Resolution { vocab, place }
    }

    /// Resolves one normalised word from scratch: exact and affix-stripped vocabulary match,
    /// exact place word, and tolerant matches for a word that is none of these nor common.
    fn resolve_uncached(&self, word: &str) -> Resolution {
        let mut vocab = self.vocab.lexicon.exact_and_stem(word, &self.norm);
        let mut place = self.gazetteer.exact(word);
        if vocab[0].is_none() && place.is_none() && !self.norm.common.contains(word) {
            vocab[0] = self.vocab.lexicon.fuzzy(word).map(|r| r.id);
            place = self.gazetteer.fuzzy(word);
        }
        Resolution { vocab, place }
    }

    pub fn gazetteer(&self) -> &Gazetteer {
        &self.gazetteer
    }

    /// Every category phrase of the vocabulary as written in the data (for baselines and tooling).
    pub fn vocabulary_terms(&self) -> Vec<&str> {
        self.vocab.category_terms().collect()
    }

    /// Classifies one text. Never fails: an empty or meaningless text is `general`.
    pub fn classify(&self, text: &str) -> Classification {
        let normalized = self.norm.normalize(text);
        let tokens = &normalized.tokens;
        let mut vocab_ids = Vec::with_capacity(tokens.len());
        let mut place_ids = Vec::with_capacity(tokens.len());
        for t in tokens {
            let r = self.resolve(normalized.text(t));
            vocab_ids.push(r.vocab);
            place_ids.push(r.place);
        }
        let verdict = decide::decide(&self.vocab, text, tokens, &vocab_ids);
        let mut evidence = verdict.evidence;
        let location = self.gazetteer.find_in_tokens(&normalized, &place_ids).map(|found| {
            evidence.push(Evidence {
                kind: EvidenceKind::Place,
                text: text.get(found.start..found.end).unwrap_or_default().to_string(),
                matched: found.place.name.clone(),
                category: None,
            });
            found.place
        });
        Classification {
            category: verdict.category,
            queue: verdict.category.queue(),
            priority: verdict.priority,
            confidence: verdict.confidence,
            evidence,
            location,
        }
    }
}

/// Whether a category is an emergency (anything but `general`).
pub(crate) fn is_emergency(c: Category) -> bool {
    c != Category::General
}
