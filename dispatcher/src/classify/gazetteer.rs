//! The gazetteer of Badung places: loading `data/gazetteer.csv`, finding place names in text, and the console's place search.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use incident_types::{District, PlaceKind, PlaceMatch};
use serde::Deserialize;

use super::lexicon::{osa_distance, FxMap, Lexicon};
use super::normalize::{Normalized, Normalizer};
use super::ClassifierError;

const GAZETTEER_FILE: &str = "data/gazetteer.csv";
const PLACES_FILE: &str = "data/classifier/places.toml";

/// A place of the gazetteer.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub name: String,
    pub kind: PlaceKind,
    pub district: District,
    pub lat: f64,
    pub lon: f64,
    pub aliases: Vec<String>,
}

impl Place {
    pub fn to_match(&self) -> PlaceMatch {
        PlaceMatch {
            name: self.name.clone(),
            kind: self.kind,
            district: self.district,
            lat: self.lat,
            lon: self.lon,
        }
    }
}

/// How specific a kind of place is (higher is preferred).
fn specificity(kind: PlaceKind) -> u8 {
    match kind {
        PlaceKind::District => 0,
        PlaceKind::Village => 1,
        _ => 2,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlacesFile {
    ambiguous_names: Vec<String>,
    strong_context: Vec<String>,
    weak_context: Vec<String>,
    variants: HashMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct Row {
    name: String,
    kind: String,
    district: String,
    lat: f64,
    lon: f64,
    #[serde(default)]
    aliases: String,
}

/// One way of writing a place's name, as word ids.
#[derive(Debug)]
struct Form {
    place: u32,
    words: Vec<u32>,
    /// A single common word: needs context to count as a place.
    ambiguous: bool,
}

/// A candidate place: ((specificity, words, reversed start), place, first token, last token).
type Candidate = ((u8, usize, usize), u32, usize, usize);

/// A place found in a text.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub place: PlaceMatch,
    /// Byte span in the text.
    pub start: usize,
    pub end: usize,
}

/// The gazetteer: places, and a matcher for their names and aliases.
#[derive(Debug)]
pub struct Gazetteer {
    places: Vec<Place>,
    norm: Arc<Normalizer>,
    lexicon: Lexicon,
    forms: Vec<Form>,
    by_first: FxMap<u32, Vec<u32>>,
    strong: HashSet<String>,
    weak: HashSet<String>,
    /// Normalised name forms for search: (place, key).
    search_keys: Vec<(u32, String)>,
}

impl Gazetteer {
    pub(crate) fn load(norm: Arc<Normalizer>, places_src: &str, csv_src: &str) -> Result<Self, ClassifierError> {
        let cfg: PlacesFile = toml::from_str(places_src).map_err(|e| ClassifierError::toml(PLACES_FILE, e))?;
        let ambiguous: HashSet<String> = cfg.ambiguous_names.iter().map(|s| norm.words(s).join(" ")).collect();
        let mut places = Vec::new();
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(csv_src.as_bytes());
        for (i, row) in reader.deserialize::<Row>().enumerate() {
            let line = i + 2;
            let row = row.map_err(|e| ClassifierError::line_at(GAZETTEER_FILE, line, &e.to_string()))?;
            let kind = PlaceKind::parse(&row.kind).ok_or_else(|| {
                ClassifierError::line_at(GAZETTEER_FILE, line, &format!("unknown kind `{}`", row.kind))
            })?;
            let district = District::parse(&row.district).ok_or_else(|| {
                ClassifierError::line_at(GAZETTEER_FILE, line, &format!("unknown district `{}`", row.district))
            })?;
            if !(-9.0..=-8.0).contains(&row.lat) || !(114.9..=115.5).contains(&row.lon) {
                return Err(ClassifierError::line_at(
                    GAZETTEER_FILE,
                    line,
                    "coordinates outside Badung",
                ));
            }
            if row.name.trim().is_empty() {
                return Err(ClassifierError::line_at(GAZETTEER_FILE, line, "empty name"));
            }
            let aliases = row
                .aliases
                .split(';')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect();
            places.push(Place {
                name: row.name,
                kind,
                district,
                lat: row.lat,
                lon: row.lon,
                aliases,
            });
        }
        if places.is_empty() {
            return Err(ClassifierError::plain(GAZETTEER_FILE, "no places"));
        }
        let mut g = Gazetteer {
            places: Vec::new(),
            norm,
            lexicon: Lexicon::new(6, 9),
            forms: Vec::new(),
            by_first: FxMap::default(),
            strong: cfg.strong_context.into_iter().collect(),
            weak: cfg.weak_context.into_iter().collect(),
            search_keys: Vec::new(),
        };
        for (pi, place) in places.iter().enumerate() {
            let pi = u32::try_from(pi).unwrap_or(u32::MAX);
            let mut keys: Vec<Vec<String>> = Vec::new();
            for written in std::iter::once(&place.name).chain(place.aliases.iter()) {
                let words = g.norm.words(written);
                if words.is_empty() {
                    continue;
                }
                let kind_word = match place.kind {
                    PlaceKind::Beach => Some(["pantai", "beach"]),
                    PlaceKind::River => Some(["tukad", "sungai"]),
                    PlaceKind::Road => Some(["jalan", "road"]),
                    PlaceKind::Banjar => Some(["banjar", "banjar"]),
                    _ => None,
                };
                // The bare name without its kind word ("Kuta" of "Pantai Kuta"), in generated variants.
                let bare: Option<Vec<String>> = kind_word.and_then(|kw| {
                    let mut w = words.clone();
                    if w.first().is_some_and(|f| kw.contains(&f.as_str())) {
                        w.remove(0);
                        if w.first().is_some_and(|f| f == "raya") && place.kind == PlaceKind::Road {
                            w.remove(0);
                        }
                    } else if w.last().is_some_and(|l| kw.contains(&l.as_str())) {
                        w.pop();
                    } else {
                        return None;
                    }
                    (!w.is_empty()).then_some(w)
                });
                keys.push(words);
                if let (Some(bare), Some(templates)) = (bare, cfg.variants.get(place.kind.as_str())) {
                    for t in templates {
                        let filled = t.replace("{}", &bare.join(" "));
                        keys.push(g.norm.words(&filled));
                    }
                }
            }
            // Village and district names of two or three words are often
            // written as one ("Sibangkaja", "Kerobokankelod").
            if matches!(place.kind, PlaceKind::Village | PlaceKind::District) {
                let joined: Vec<Vec<String>> = keys
                    .iter()
                    .filter(|k| (2..=3).contains(&k.len()))
                    .map(|k| vec![k.concat()])
                    .collect();
                keys.extend(joined);
            }
            keys.sort();
            keys.dedup();
            for words in keys {
                let joined = words.join(" ");
                let is_ambiguous = ambiguous.contains(&joined);
                let ids: Vec<u32> = words.iter().map(|w| g.lexicon.intern(w)).collect();
                if is_ambiguous {
                    for &id in &ids {
                        g.lexicon.set_exact_only(id);
                    }
                }
                let fi = u32::try_from(g.forms.len()).unwrap_or(u32::MAX);
                if let Some(&first) = ids.first() {
                    g.by_first.entry(first).or_default().push(fi);
                }
                g.forms.push(Form {
                    place: pi,
                    words: ids,
                    ambiguous: is_ambiguous,
                });
                g.search_keys.push((pi, joined));
            }
        }
        g.lexicon.build_index(&g.norm);
        g.places = places;
        Ok(g)
    }

    /// Every place, in file order.
    pub fn places(&self) -> &[Place] {
        &self.places
    }

    /// Every word of every place name form.
    pub(crate) fn words(&self) -> impl Iterator<Item = &str> {
        self.lexicon.words()
    }

    pub(crate) fn exact(&self, word: &str) -> Option<u32> {
        self.lexicon.exact(word)
    }

    pub(crate) fn fuzzy(&self, word: &str) -> Option<u32> {
        self.lexicon.fuzzy(word).map(|r| r.id)
    }

    /// The most specific place named in a text.
    pub fn find_in_text(&self, text: &str) -> Option<PlaceMatch> {
        let normalized = self.norm.normalize(text);
        let ids: Vec<Option<u32>> = normalized
            .tokens
            .iter()
            .map(|t| {
                let w = normalized.text(t);
                self.exact(w).or_else(|| {
                    if self.norm.common.contains(w) {
                        None
                    } else {
                        self.fuzzy(w)
                    }
                })
            })
            .collect();
        self.find_in_tokens(&normalized, &ids).map(|f| f.place)
    }

    /// The most specific place among resolved tokens (`ids[i]` is token i's gazetteer word id).
    ///
    /// A name inside a longer one is not a mention of its own: "Kuta" in
    /// "Kuta Utara" names the district, not the village of Kuta, although a
    /// village would otherwise be preferred to a district.
    pub(crate) fn find_in_tokens(&self, text: &Normalized, ids: &[Option<u32>]) -> Option<Found> {
        let tokens = &text.tokens;
        let mut candidates: Vec<Candidate> = Vec::new();
        for i in 0..ids.len() {
            let Some(w) = ids[i] else { continue };
            let Some(forms) = self.by_first.get(&w) else {
                continue;
            };
            for &fi in forms {
                let Some(form) = self.forms.get(fi as usize) else {
                    continue;
                };
                let n = form.words.len();
                if i + n > ids.len() || (0..n).any(|k| ids[i + k] != Some(form.words[k])) {
                    continue;
                }
                if form.ambiguous && !self.in_place_context(text, i) {
                    continue;
                }
                let Some(place) = self.places.get(form.place as usize) else {
                    continue;
                };
                candidates.push(((specificity(place.kind), n, usize::MAX - i), form.place, i, i + n - 1));
            }
        }
        let inside_longer = |c: &Candidate| {
            candidates
                .iter()
                .any(|o| o.2 <= c.2 && c.3 <= o.3 && o.3 - o.2 > c.3 - c.2)
        };
        let (_, pi, s, e) = candidates
            .iter()
            .filter(|c| !inside_longer(c))
            // Reversed so that of equal keys the first found wins (`max_by_key` keeps the last).
            .rev()
            .max_by_key(|c| c.0)
            .copied()?;
        let place = self.places.get(pi as usize)?;
        Some(Found {
            place: place.to_match(),
            start: tokens.get(s)?.start,
            end: tokens.get(e)?.end,
        })
    }

    /// Whether the single word at `i` reads as a place name in its context.
    fn in_place_context(&self, text: &Normalized, i: usize) -> bool {
        let Some(tok) = text.tokens.get(i) else {
            return false;
        };
        let prev = i.checked_sub(1).and_then(|p| text.tokens.get(p));
        let prev_word = prev.map(|p| text.text(p));
        if prev_word.is_some_and(|w| self.strong.contains(w)) {
            return true;
        }
        let after_context = prev_word.is_some_and(|w| self.weak.contains(w));
        if text.all_caps {
            return after_context;
        }
        tok.capitalised && (after_context || !tok.sentence_start)
    }

    /// Places whose name or alias matches a search box query, best first.
    pub fn search(&self, query: &str, limit: usize) -> Vec<&Place> {
        let q = self.norm.words(query).join(" ");
        if q.is_empty() || limit == 0 {
            return Vec::new();
        }
        let allowed = match q.len() {
            0..=3 => 0,
            4..=7 => 1,
            _ => 2,
        };
        let mut best: HashMap<u32, u32> = HashMap::new();
        for (pi, key) in &self.search_keys {
            let score = if *key == q {
                1000
            } else if key.starts_with(&q) {
                800
            } else if key.split(' ').any(|w| w.starts_with(&q)) || key.contains(&format!(" {q}")) {
                600
            } else if key.contains(&q) {
                400
            } else {
                let d_full = osa_distance(q.as_bytes(), key.as_bytes());
                let d_word = key
                    .split(' ')
                    .map(|w| osa_distance(q.as_bytes(), w.as_bytes()))
                    .min()
                    .unwrap_or(usize::MAX);
                let prefix_d = key
                    .get(..q.len())
                    .map_or(usize::MAX, |p| osa_distance(q.as_bytes(), p.as_bytes()));
                let d = d_full.min(d_word).min(prefix_d);
                if d <= allowed {
                    200 - u32::try_from(d).unwrap_or(0) * 50
                } else {
                    continue;
                }
            };
            let e = best.entry(*pi).or_insert(0);
            *e = (*e).max(score);
        }
        let mut ranked: Vec<(u32, u32)> = best.into_iter().collect();
        ranked.sort_by(|a, b| {
            let pa = self.places.get(a.0 as usize);
            let pb = self.places.get(b.0 as usize);
            b.1.cmp(&a.1)
                .then_with(|| pa.map_or(0, |p| p.name.len()).cmp(&pb.map_or(0, |p| p.name.len())))
                .then_with(|| {
                    let sa = pa.map_or(0, |p| specificity(p.kind));
                    let sb = pb.map_or(0, |p| specificity(p.kind));
                    sb.cmp(&sa)
                })
                .then(a.0.cmp(&b.0))
        });
        ranked
            .into_iter()
            .take(limit)
            .filter_map(|(pi, _)| self.places.get(pi as usize))
            .collect()
    }
}
