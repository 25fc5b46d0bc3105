//! Word interning and tolerant lookup: exact, affix-stripped, and edit-distance matches against candidates bucketed by first letter and length.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::normalize::Normalizer;

/// A small fast hasher (FxHash) for short keys; the maps hold only our own vocabulary.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut v = 0u64;
            for (i, b) in rest.iter().enumerate() {
                v |= u64::from(*b) << (8 * i);
            }
            self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(K);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write(&[i]);
    }
    fn write_usize(&mut self, i: usize) {
        self.write(&(i as u64).to_le_bytes());
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;
pub(crate) type FxSet<K> = std::collections::HashSet<K, BuildHasherDefault<FxHasher>>;

/// How a token was resolved to a vocabulary word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub id: u32,
    /// Edit distance (0 for exact or affix-stripped matches).
    pub distance: u8,
}

/// The words of one vocabulary, with a tolerant lookup.
#[derive(Debug, Default)]
pub(crate) struct Lexicon {
    ids: FxMap<Box<str>, u32>,
    words: Vec<Box<str>>,
    /// Tolerant-match candidates bucketed by first letter and length: (word id, letter mask).
    buckets: Vec<Vec<(u32, u32)>>,
    /// Precomputed affix-stripped form of each word ("apinya" -> "api").
    stems: Vec<Option<u32>>,
    /// Minimum word length for distance 1 and for distance 2.
    d1_len: usize,
    d2_len: usize,
    /// Words that must match exactly.
    exact_only: Vec<bool>,
    /// Shapes of all words: a cheap "surely absent" test.
    shapes: ShapeSet,
}

/// A bit set of word shapes (length, first byte, last byte): a cheap "surely absent" test
/// that saves hashing most words before a map lookup that would miss anyway.
#[derive(Debug, Clone, Default)]
pub(crate) struct ShapeSet(Vec<u64>);

impl ShapeSet {
    fn shape_of(b: &[u8]) -> usize {
        let five = |x: usize| x & 31;
        let (first, last) = (b.first().copied().unwrap_or(0), b.last().copied().unwrap_or(0));
        five(b.len().min(31)) << 10 | five(usize::from(first)) << 5 | five(usize::from(last))
    }

    pub fn insert(&mut self, word: &str) {
        if self.0.is_empty() {
            self.0 = vec![0; 32 * 32 * 32 / 64];
        }
        let shape = Self::shape_of(word.as_bytes());
        if let Some(bits) = self.0.get_mut(shape / 64) {
            *bits |= 1 << (shape % 64);
        }
    }

    /// False when no inserted word has the shape of `word`.
    #[inline]
    pub fn may_contain(&self, word: &str) -> bool {
        let shape = Self::shape_of(word.as_bytes());
        self.0.get(shape / 64).is_some_and(|bits| bits >> (shape % 64) & 1 == 1)
    }
}

impl Lexicon {
    pub fn new(d1_len: usize, d2_len: usize) -> Self {
        Self {
            d1_len,
            d2_len,
            ..Self::default()
        }
    }

    /// Interns a word, returning its id.
    pub fn intern(&mut self, word: &str) -> u32 {
        if let Some(&id) = self.ids.get(word) {
            return id;
        }
        let id = u32::try_from(self.words.len()).unwrap_or(u32::MAX);
        self.ids.insert(word.into(), id);
        self.words.push(word.into());
        self.shapes.insert(word);
        self.exact_only.push(false);
        id
    }

    /// Marks a word as exact-match only (an ambiguous place name, say).
    pub fn set_exact_only(&mut self, id: u32) {
        if let Some(slot) = self.exact_only.get_mut(id as usize) {
            *slot = true;
        }
    }

    /// Every interned word.
    pub fn words(&self) -> impl Iterator<Item = &str> {
        self.words.iter().map(|w| &**w)
    }

    pub fn word(&self, id: u32) -> &str {
        self.words.get(id as usize).map_or("", |w| w)
    }

    fn max_distance(&self, len: usize) -> u8 {
        if len >= self.d2_len {
            2
        } else if len >= self.d1_len {
            1
        } else {
            0
        }
    }

    /// Builds the tolerant-match buckets and the stems; call once after all words are interned.
    pub fn build_index(&mut self, norm: &Normalizer) {
        let mut buckets = vec![Vec::new(); 26 * MAX_LEN];
        for (id, w) in self.words.iter().enumerate() {
            let b = w.as_bytes();
            if !b.iter().all(u8::is_ascii_lowercase) || self.exact_only.get(id).copied().unwrap_or(true) {
                continue;
            }
            if self.max_distance(b.len()) == 0 || b.len() >= MAX_LEN {
                continue;
            }
            let id = u32::try_from(id).unwrap_or(u32::MAX);
            if let Some(bucket) = buckets.get_mut(bucket_of(b)) {
                bucket.push((id, letter_mask(b)));
            }
        }
        self.buckets = buckets;
        self.stems = vec![None; self.words.len()];
        let stems: Vec<Option<u32>> = self
            .words
            .iter()
            .map(|w| self.strip_affixes(w, norm, self.exact(w)))
            .collect();
        self.stems = stems;
    }

    pub fn exact(&self, word: &str) -> Option<u32> {
        self.ids.get(word).copied()
    }

    /// Whether some word has the length, first and last byte of `word` (false: surely not a word).
    fn may_contain(&self, word: &str) -> bool {
        self.shapes.may_contain(word)
    }

    /// Exact match, and a match after stripping Indonesian affixes ("apinya" -> "api").
    pub fn exact_and_stem(&self, word: &str, norm: &Normalizer) -> [Option<u32>; 2] {
        match self.exact(word) {
            Some(id) => [Some(id), self.stems.get(id as usize).copied().flatten()],
            None => [self.strip_affixes(word, norm, None), None],
        }
    }

    /// The affix-stripped match of a word known not to be in the lexicon (what
    /// [`Self::exact_and_stem`] gives first for such a word, without the failed lookup).
    pub fn stem_of_unknown(&self, word: &str, norm: &Normalizer) -> Option<u32> {
        self.strip_affixes(word, norm, None)
    }

    fn strip_affixes(&self, word: &str, norm: &Normalizer, exact: Option<u32>) -> Option<u32> {
        if word.len() < 5 || !word.is_ascii() {
            return None;
        }
        let found = |w: &str| {
            if !self.may_contain(w) {
                return None;
            }
            self.exact(w).filter(|id| Some(*id) != exact)
        };
        let stems = |w: &str| -> Option<u32> {
            if let Some(id) = found(w) {
                return Some(id);
            }
            norm.suffixes
                .iter()
                .find_map(|s| strip_suffix(w, s).filter(|stem| stem.len() >= 3).and_then(found))
        };
        stems(word).or_else(|| {
            norm.prefixes
                .iter()
                .find_map(|p| strip_prefix(word, p).filter(|rest| rest.len() >= 3).and_then(stems))
        })
    }

    /// Tolerant match within the allowed edit distance; the first letter must agree.
    pub fn fuzzy(&self, word: &str) -> Option<Resolved> {
        let b = word.as_bytes();
        if b.len() + 2 < self.d1_len || b.len() + 2 >= MAX_LEN || !b.iter().all(u8::is_ascii_lowercase) {
            return None;
        }
        let mask = letter_mask(b);
        let mut best: Option<Resolved> = None;
        let lo = b.len().saturating_sub(2).max(self.d1_len);
        for len in lo..=b.len() + 2 {
            let allowed = usize::from(self.max_distance(len));
            if allowed == 0 || len.abs_diff(b.len()) > allowed {
                continue;
            }
            let Some(bucket) = self.buckets.get(usize::from(b[0] - b'a') * MAX_LEN + len) else {
                continue;
            };
            for &(id, m) in bucket {
                if ((mask ^ m).count_ones() as usize) > 2 * allowed {
                    continue;
                }
                // Only a strictly closer word replaces the best so far; distance 0 never counts.
                let limit = best.map_or(allowed, |r| allowed.min(usize::from(r.distance).saturating_sub(1)));
                if limit == 0 {
                    return best;
                }
                let d = osa_distance_within(b, self.word(id).as_bytes(), limit);
                if d == 0 || d > limit {
                    continue;
                }
                let d = u8::try_from(d).unwrap_or(u8::MAX);
                best = Some(Resolved { id, distance: d });
            }
        }
        best
    }
}

/// `str::strip_suffix` for short affixes, comparing bytes inline rather than calling `memcmp`.
fn strip_suffix<'a>(word: &'a str, suffix: &str) -> Option<&'a str> {
    let (w, s) = (word.as_bytes(), suffix.as_bytes());
    let at = w.len().checked_sub(s.len())?;
    let tail = w.get(at..)?;
    if tail.iter().zip(s).all(|(a, b)| a == b) {
        word.get(..at)
    } else {
        None
    }
}

/// `str::strip_prefix` for short affixes, comparing bytes inline rather than calling `memcmp`.
fn strip_prefix<'a>(word: &'a str, prefix: &str) -> Option<&'a str> {
    let (w, p) = (word.as_bytes(), prefix.as_bytes());
    let head = w.get(..p.len())?;
    if head.iter().zip(p).all(|(a, b)| a == b) {
        word.get(p.len()..)
    } else {
        None
    }
}

/// Longest word (in bytes) considered for tolerant matching.
const MAX_LEN: usize = 32;

fn bucket_of(b: &[u8]) -> usize {
    usize::from(b.first().map_or(0, |c| c - b'a')) * MAX_LEN + b.len()
}

/// Bit i set when letter `a + i` occurs in the word.
fn letter_mask(b: &[u8]) -> u32 {
    b.iter().fold(0u32, |m, c| m | 1u32 << (c.wrapping_sub(b'a') % 32))
}

/// Optimal string alignment distance when it is at most `limit`, else some value above `limit`.
///
/// Only the band of cells with `|i - j| <= limit` is computed (a cell outside it is worth more
/// than `limit`, and an alignment within `limit` never leaves it), and values saturate at
/// `limit + 1`: with `min(x, c) + k` folded to `min(x + k, c)`, each computed cell is exactly
/// `min(true distance, limit + 1)`. Rows live on the stack for words shorter than [`MAX_LEN`];
/// the scan stops as soon as two consecutive rows exceed `limit` (no later cell can come back under it).
fn osa_distance_within(a: &[u8], b: &[u8], limit: usize) -> usize {
    let (n, m) = (a.len(), b.len());
    if n.abs_diff(m) > limit {
        return limit + 1;
    }
    if n == 0 || m == 0 || n >= MAX_LEN + 2 || m >= MAX_LEN + 2 || limit >= usize::from(u8::MAX) - 2 {
        return osa_distance(a, b);
    }
    let cap = u8::try_from(limit + 1).unwrap_or(u8::MAX);
    let at_most_cap = |x: usize| u8::try_from(x).unwrap_or(u8::MAX).min(cap);
    // Everything starts saturated, so a cell just outside the band reads as "over the limit".
    let mut rows = [[cap; MAX_LEN + 2]; 3];
    let (mut p2, mut p1, mut cur) = (0usize, 1usize, 2usize);
    for (j, v) in rows[p1].iter_mut().enumerate().take(m + 1) {
        *v = at_most_cap(j);
    }
    let mut prev_min = 0u8;
    for i in 1..=n {
        let lo = i.saturating_sub(limit).max(1);
        let hi = (i + limit).min(m);
        // The cell left of the band: column 0, or a stale value from three rows up.
        rows[cur][lo - 1] = if lo == 1 { at_most_cap(i) } else { cap };
        let mut row_min = rows[cur][lo - 1];
        for j in lo..=hi {
            let cost = u8::from(a[i - 1] != b[j - 1]);
            let mut v = (rows[p1][j] + 1).min(rows[cur][j - 1] + 1).min(rows[p1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(rows[p2][j - 2] + 1);
            }
            let v = v.min(cap);
            rows[cur][j] = v;
            row_min = row_min.min(v);
        }
        if row_min >= cap && prev_min >= cap {
            return limit + 1;
        }
        prev_min = row_min;
        (p2, p1, cur) = (p1, cur, p2);
    }
    usize::from(rows[p1][m])
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
pub(crate) fn osa_distance(a: &[u8], b: &[u8]) -> usize {
    let (n, m) = (a.len(), b.len());
    if n == 0 {
        return m;
    }
    if m == 0 {
        return n;
    }
    let mut prev2 = vec![0usize; m + 1];
    let mut prev: Vec<usize> = (0..=m).collect();
    let mut cur = vec![0usize; m + 1];
    for i in 1..=n {
        cur[0] = i;
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[m]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_basics() {
        assert_eq!(osa_distance(b"kebakaran", b"kbakaran"), 1);
        assert_eq!(osa_distance(b"tabrakan", b"tabrkaan"), 1);
        assert_eq!(osa_distance(b"", b"abc"), 3);
    }

    #[test]
    fn banded_distance_agrees_with_the_full_one() {
        let words: [&[u8]; 12] = [
            b"kebakaran",
            b"kbakaran",
            b"kebakarn",
            b"tabrakan",
            b"tabrkaan",
            b"banjir",
            b"banjr",
            b"ab",
            b"ba",
            b"abcdefghijklmnopqrstuvwxyzabcdef",
            b"a",
            b"kebkaarann",
        ];
        for a in words {
            for b in words {
                let full = osa_distance(a, b);
                for limit in 0..4 {
                    let d = osa_distance_within(a, b, limit);
                    if full <= limit {
                        assert_eq!(d, full, "{a:?} {b:?} {limit}");
                    } else {
                        assert!(d > limit, "{a:?} {b:?} {limit}");
                    }
                }
            }
        }
    }

    #[test]
    fn fuzzy_lookup_respects_length_bands() {
        let mut lex = Lexicon::new(5, 8);
        for w in ["kebakaran", "banjir", "api", "tenggelam"] {
            lex.intern(w);
        }
        let norm = Normalizer::from_toml("normalize.toml", include_str!("../../data/classifier/normalize.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        lex.build_index(&norm);
        let id = |w: &str| lex.fuzzy(w).map(|r| lex.word(r.id).to_string());
        assert_eq!(id("kebakarn").as_deref(), Some("kebakaran"));
        assert_eq!(id("kbakarn").as_deref(), Some("kebakaran"));
        assert_eq!(id("tengelam").as_deref(), Some("tenggelam"));
        assert_eq!(id("banjr").as_deref(), Some("banjir"));
        assert_eq!(id("apu"), None);
        assert_eq!(id("ganjir"), None);
    }
}
