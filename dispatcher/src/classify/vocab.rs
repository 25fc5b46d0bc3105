//! The vocabulary and rules loaded from `data/classifier/*.toml`, compiled into one phrase matcher.

use std::collections::BTreeMap;

use incident_types::Category;
use serde::Deserialize;

use super::lexicon::Lexicon;
use super::normalize::Normalizer;
use super::ClassifierError;

/// What a vocabulary phrase does when it is found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Target {
    /// Points to a category with a weight.
    Category { cat: Category, weight: f32 },
    /// Sets the priority when the verdict is this category.
    CategoryPriority { cat: Category, level: u8 },
    /// Sets the priority whatever the category.
    Priority { level: u8 },
    /// Cancels a hazard word that follows.
    Negator,
    /// Looks like a negator but is not ("bukan cuma").
    NotNegator,
    /// A harmless idiom (index into `Vocabulary::harmless`).
    Harmless { group: usize },
}

/// One phrase of the vocabulary, as word ids.
#[derive(Debug, Clone)]
pub(crate) struct Phrase {
    pub words: Vec<u32>,
    /// Words allowed between word k-1 and word k.
    pub gaps: Vec<u8>,
    pub target: Target,
    /// The phrase as written in the data file.
    pub text: String,
}

/// A phrase found in a text: token indices `start..=end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PhraseMatch {
    pub phrase: u32,
    pub start: usize,
    pub end: usize,
}

impl PhraseMatch {
    pub fn overlaps(&self, other: &PhraseMatch) -> bool {
        self.start <= other.end && other.start <= self.end
    }
    pub fn len(&self) -> usize {
        self.end + 1 - self.start
    }
    /// Lies within `other`, which is longer.
    pub fn is_inside(&self, other: &PhraseMatch) -> bool {
        other.start <= self.start && self.end <= other.end && other.len() > self.len()
    }
}

/// A precedence rule between two hazards.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub prefer: Category,
    pub over: Vec<Category>,
    pub min_score: f32,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Decision {
    pub min_emergency_score: f32,
    pub general_factor: f32,
    pub negation_window: usize,
    pub negated_category_factor: f32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoriesFile {
    category: BTreeMap<String, CategoryDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryDef {
    priority: u8,
    terms: BTreeMap<String, f32>,
    #[serde(default)]
    priority_cues: BTreeMap<String, u8>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    decision: Decision,
    negation: NegationDef,
    harmless: Vec<HarmlessDef>,
    priority_cues: BTreeMap<String, u8>,
    rule: Vec<RuleDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NegationDef {
    negators: Vec<String>,
    not_negators: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HarmlessDef {
    phrases: Vec<String>,
    suppress: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDef {
    prefer: String,
    over: Vec<String>,
    min_score: f32,
    reason: String,
}

/// The compiled vocabulary.
#[derive(Debug)]
pub(crate) struct Vocabulary {
    pub lexicon: Lexicon,
    pub phrases: Vec<Phrase>,
    /// Phrases by their first word id.
    by_first: Vec<Vec<u32>>,
    /// Default priority per category (indexed by `Category as usize`).
    pub base_priority: Vec<u8>,
    /// Categories each harmless group suppresses (empty: all).
    pub harmless: Vec<Vec<Category>>,
    pub rules: Vec<Rule>,
    pub decision: Decision,
}

const CATEGORIES_FILE: &str = "data/classifier/categories.toml";
const RULES_FILE: &str = "data/classifier/rules.toml";

fn parse_category(file: &str, src: &str, name: &str) -> Result<Category, ClassifierError> {
    Category::parse(name).ok_or_else(|| ClassifierError::at(file, src, name, &format!("unknown category `{name}`")))
}

fn check_level(file: &str, src: &str, key: &str, level: u8) -> Result<u8, ClassifierError> {
    if (1..=4).contains(&level) {
        Ok(level)
    } else {
        Err(ClassifierError::at(
            file,
            src,
            key,
            &format!("priority {level} is not 1 to 4"),
        ))
    }
}

impl Vocabulary {
    pub fn load(norm: &Normalizer, categories_src: &str, rules_src: &str) -> Result<Self, ClassifierError> {
        let cats: CategoriesFile =
            toml::from_str(categories_src).map_err(|e| ClassifierError::toml(CATEGORIES_FILE, e))?;
        let rules: RulesFile = toml::from_str(rules_src).map_err(|e| ClassifierError::toml(RULES_FILE, e))?;
        let mut v = Vocabulary {
            lexicon: Lexicon::new(6, 9),
            phrases: Vec::new(),
            by_first: Vec::new(),
            base_priority: vec![2; Category::ALL.len()],
            harmless: Vec::new(),
            rules: Vec::new(),
            decision: rules.decision,
        };
        let (cf, rf) = (CATEGORIES_FILE, RULES_FILE);
        for (name, def) in &cats.category {
            let cat = parse_category(cf, categories_src, name)?;
            let level = check_level(cf, categories_src, name, def.priority)?;
            v.base_priority[cat as usize] = if cat == Category::General { 4 } else { level };
            for (term, &weight) in &def.terms {
                if !weight.is_finite() || weight <= 0.0 {
                    return Err(ClassifierError::at(
                        cf,
                        categories_src,
                        term,
                        "weight must be a positive number",
                    ));
                }
                v.add(norm, cf, categories_src, term, Target::Category { cat, weight })?;
            }
            for (term, &level) in &def.priority_cues {
                let level = check_level(cf, categories_src, term, level)?;
                v.add(norm, cf, categories_src, term, Target::CategoryPriority { cat, level })?;
            }
        }
        for c in Category::ALL {
            if !cats.category.contains_key(c.as_str()) {
                return Err(ClassifierError::plain(cf, &format!("category `{c}` has no vocabulary")));
            }
        }
        for n in &rules.negation.negators {
            v.add(norm, rf, rules_src, n, Target::Negator)?;
        }
        for n in &rules.negation.not_negators {
            v.add(norm, rf, rules_src, n, Target::NotNegator)?;
        }
        for (group, h) in rules.harmless.iter().enumerate() {
            let mut suppress = Vec::new();
            for s in &h.suppress {
                suppress.push(parse_category(rf, rules_src, s)?);
            }
            v.harmless.push(suppress);
            for p in &h.phrases {
                v.add(norm, rf, rules_src, p, Target::Harmless { group })?;
            }
        }
        for (term, &level) in &rules.priority_cues {
            let level = check_level(rf, rules_src, term, level)?;
            v.add(norm, rf, rules_src, term, Target::Priority { level })?;
        }
        for r in &rules.rule {
            let prefer = parse_category(rf, rules_src, &r.prefer)?;
            let mut over = Vec::new();
            for o in &r.over {
                over.push(parse_category(rf, rules_src, o)?);
            }
            v.rules.push(Rule {
                prefer,
                over,
                min_score: r.min_score,
                reason: r.reason.clone(),
            });
        }
        v.lexicon.build_index(norm);
        Ok(v)
    }

    fn add(
        &mut self,
        norm: &Normalizer,
        file: &str,
        src: &str,
        text: &str,
        target: Target,
    ) -> Result<(), ClassifierError> {
        let mut words = Vec::new();
        let mut gaps = Vec::new();
        for (k, segment) in text.split("..").enumerate() {
            for (i, w) in norm.words(segment).into_iter().enumerate() {
                gaps.push(if k > 0 && i == 0 { 3 } else { 0 });
                words.push(self.lexicon.intern(&w));
            }
        }
        let Some(&first) = words.first() else {
            return Err(ClassifierError::at(file, src, text, "phrase has no words"));
        };
        let idx = u32::try_from(self.phrases.len()).unwrap_or(u32::MAX);
        let slot = first as usize;
        if self.by_first.len() <= slot {
            self.by_first.resize_with(slot + 1, Vec::new);
        }
        if let Some(list) = self.by_first.get_mut(slot) {
            list.push(idx);
        }
        self.phrases.push(Phrase {
            words,
            gaps,
            target,
            text: text.to_string(),
        });
        Ok(())
    }

    /// Every category phrase as written (for the benchmark's baseline scan).
    pub fn category_terms(&self) -> impl Iterator<Item = &str> {
        self.phrases
            .iter()
            .filter(|p| matches!(p.target, Target::Category { .. }))
            .map(|p| p.text.as_str())
    }

    /// Finds every phrase in the resolved tokens (`ids[i]` holds token i's word ids).
    pub fn find(&self, ids: &[[Option<u32>; 2]], clauses: &[u32], out: &mut Vec<PhraseMatch>) {
        let n = ids.len();
        for i in 0..n {
            for w in ids[i].iter().flatten() {
                self.find_from(*w, i, ids, clauses, out);
            }
        }
    }

    fn find_from(&self, w: u32, i: usize, ids: &[[Option<u32>; 2]], clauses: &[u32], out: &mut Vec<PhraseMatch>) {
        let n = ids.len();
        {
            let Some(cands) = self.by_first.get(w as usize) else {
                return;
            };
            'phrase: for &pi in cands {
                let Some(p) = self.phrases.get(pi as usize) else {
                    continue;
                };
                let mut pos = i;
                for k in 1..p.words.len() {
                    let gap = usize::from(p.gaps[k]);
                    let mut found = None;
                    for j in pos + 1..=(pos + 1 + gap).min(n.saturating_sub(1)) {
                        if clauses[j] != clauses[i] {
                            break;
                        }
                        if ids[j].contains(&Some(p.words[k])) {
                            found = Some(j);
                            break;
                        }
                    }
                    match found {
                        Some(j) => pos = j,
                        None => continue 'phrase,
                    }
                }
                out.push(PhraseMatch {
                    phrase: pi,
                    start: i,
                    end: pos,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// Two entries that normalise to the same words for the same purpose
    /// ("sesak napas" and "sesak nafas", "kesetrum" and "tersetrum") are one
    /// phrase written twice: the second adds nothing and hides which one matched.
    #[test]
    fn no_phrase_is_listed_twice_under_another_spelling() {
        let c = super::super::Classifier::embedded().expect("embedded data");
        let mut seen = std::collections::HashMap::new();
        let mut twice = Vec::new();
        for p in &c.vocab.phrases {
            let key = (p.words.clone(), p.gaps.clone(), format!("{:?}", p.target));
            if let Some(first) = seen.insert(key, p.text.clone()) {
                twice.push(format!("{first:?} and {:?} ({:?})", p.text, p.target));
            }
        }
        assert!(twice.is_empty(), "listed twice: {twice:#?}");
    }
}
