//! Scoring and decision: harmless idioms, longest match, negation, category scores, precedence rules, priority, evidence.

use incident_types::{Category, Evidence, EvidenceKind, Priority};

use super::normalize::Token;
use super::vocab::{PhraseMatch, Target, Vocabulary};

/// The verdict on a text, before the place is added.
#[derive(Debug, Clone)]
pub(crate) struct Verdict {
    pub category: Category,
    pub priority: Priority,
    pub confidence: f32,
    pub evidence: Vec<Evidence>,
}

fn slice(text: &str, tokens: &[Token], m: &PhraseMatch) -> String {
    let (Some(a), Some(b)) = (tokens.get(m.start), tokens.get(m.end)) else {
        return String::new();
    };
    text.get(a.start..b.end.max(a.start)).unwrap_or_default().to_string()
}

fn span_text(text: &str, tokens: &[Token], start: usize, end: usize) -> String {
    slice(text, tokens, &PhraseMatch { phrase: 0, start, end })
}

/// Decides category, priority and evidence from the resolved tokens.
pub(crate) fn decide(v: &Vocabulary, text: &str, tokens: &[Token], ids: &[[Option<u32>; 2]]) -> Verdict {
    let clauses: Vec<u32> = tokens.iter().map(|t| t.clause).collect();
    // Sized once: growing these vectors push by push was a good part of the allocation cost.
    let mut matches = Vec::with_capacity(ids.len());
    v.find(ids, &clauses, &mut matches);

    let target = |m: &PhraseMatch| v.phrases.get(m.phrase as usize).map(|p| p.target);
    let phrase_text = |m: &PhraseMatch| v.phrases.get(m.phrase as usize).map_or("", |p| p.text.as_str());

    let mut negators = Vec::new();
    let mut not_negators = Vec::new();
    let mut harmless = Vec::new();
    let mut cats: Vec<(PhraseMatch, Category, f32)> = Vec::with_capacity(matches.len());
    let mut cues: Vec<(PhraseMatch, Option<Category>, u8)> = Vec::new();
    for m in &matches {
        match target(m) {
            Some(Target::Negator) => negators.push(*m),
            Some(Target::NotNegator) => not_negators.push(*m),
            Some(Target::Harmless { group }) => harmless.push((*m, group)),
            Some(Target::Category { cat, weight }) => cats.push((*m, cat, weight)),
            Some(Target::CategoryPriority { cat, level }) => cues.push((*m, Some(cat), level)),
            Some(Target::Priority { level }) => cues.push((*m, None, level)),
            None => {}
        }
    }

    let mut evidence_other = Vec::new();

    // Harmless idioms cancel the hazard words inside them.
    let suppressed_by = |m: &PhraseMatch, cat: Option<Category>| {
        harmless.iter().find(|(h, group)| {
            h.overlaps(m)
                && v.harmless
                    .get(*group)
                    .is_some_and(|s| s.is_empty() || cat.is_none_or(|c| s.contains(&c)))
        })
    };
    let mut used_harmless: Vec<PhraseMatch> = Vec::new();
    cats.retain(|(m, cat, _)| match suppressed_by(m, Some(*cat)) {
        Some((h, group)) => {
            if !used_harmless.contains(h) {
                used_harmless.push(*h);
                let suppress = v.harmless.get(*group).and_then(|s| s.first().copied());
                evidence_other.push((
                    3u8,
                    Evidence {
                        kind: EvidenceKind::Harmless,
                        text: slice(text, tokens, h),
                        matched: phrase_text(h).to_string(),
                        category: suppress,
                    },
                ));
            }
            false
        }
        None => true,
    });
    cues.retain(|(m, _, _)| suppressed_by(m, None).is_none());

    // Longest match wins where category phrases overlap.
    cats.sort_by(|a, b| {
        b.0.len()
            .cmp(&a.0.len())
            .then(b.2.total_cmp(&a.2))
            .then(a.0.start.cmp(&b.0.start))
    });
    let mut kept: Vec<(PhraseMatch, Category, f32)> = Vec::with_capacity(cats.len());
    for c in cats {
        if !kept.iter().any(|k| k.0.overlaps(&c.0)) {
            kept.push(c);
        }
    }

    // Negators inside a longer hazard phrase ("tidak sadar") or inside a "not a negator"
    // phrase ("bukan cuma") negate nothing.
    negators.retain(|n| {
        !kept.iter().any(|k| k.0.overlaps(n) && k.0.len() > n.len())
            // A not-negator as long as the negator wins too: "sepertinya" ("it
            // seems") is read as itself, not as the negator "seperti" plus "-nya".
            && !not_negators.iter().any(|x| x.overlaps(n) && x.len() >= n.len())
    });
    let window = v.decision.negation_window;
    let negated_by = |m: &PhraseMatch| {
        negators
            .iter()
            .find(|n| n.end < m.start && m.start - n.end - 1 <= window && clauses.get(n.end) == clauses.get(m.start))
    };

    let mut scores = vec![0f32; Category::ALL.len()];
    let mut counted: Vec<u32> = Vec::with_capacity(kept.len());
    let mut live: Vec<(PhraseMatch, Category, f32)> = Vec::with_capacity(kept.len());
    let mut negated_cats: Vec<Category> = Vec::new();
    for (m, cat, w) in kept {
        if let Some(n) = negated_by(&m) {
            negated_cats.push(cat);
            evidence_other.push((
                2,
                Evidence {
                    kind: EvidenceKind::Negation,
                    text: span_text(text, tokens, n.start, m.end),
                    matched: format!("{} + {}", phrase_text(n), phrase_text(&m)),
                    category: Some(cat),
                },
            ));
            continue;
        }
        if !counted.contains(&m.phrase) {
            counted.push(m.phrase);
            scores[cat as usize] += w;
        }
        live.push((m, cat, w));
    }

    // A hazard the reporter denies ("no fire") counts for less everywhere in the text.
    for c in &negated_cats {
        scores[*c as usize] *= v.decision.negated_category_factor;
    }

    // The leading emergency category, then the taxonomy's precedence rules.
    let mut best = Category::General;
    let mut best_score = 0f32;
    for c in Category::ALL {
        let s = scores[*c as usize];
        if super::is_emergency(*c) && s > best_score {
            best = *c;
            best_score = s;
        }
    }
    let mut rule_evidence = None;
    if best != Category::General {
        for r in &v.rules {
            if r.prefer != best && r.over.contains(&best) && scores[r.prefer as usize] >= r.min_score {
                let loser = best;
                best = r.prefer;
                let loser_text = live
                    .iter()
                    .filter(|(_, c, _)| *c == loser)
                    .max_by(|a, b| a.2.total_cmp(&b.2))
                    .map(|(m, _, _)| slice(text, tokens, m))
                    .unwrap_or_default();
                rule_evidence = Some(Evidence {
                    kind: EvidenceKind::Rule,
                    text: loser_text,
                    matched: format!("{} over {}: {}", r.prefer, loser, r.reason),
                    category: Some(r.prefer),
                });
            }
        }
    }
    let general_score = scores[Category::General as usize];
    let emergency_score = scores[best as usize];
    let category = if best == Category::General
        || emergency_score < v.decision.min_emergency_score
        || general_score > emergency_score * v.decision.general_factor
    {
        rule_evidence = None;
        Category::General
    } else {
        best
    };

    // Priority: explicit cues (not negated) override the category's default.
    let mut priority_evidence = Vec::new();
    let priority = if category == Category::General {
        Priority::ROUTINE
    } else {
        let mut level = 0u8;
        let applicable: Vec<&(PhraseMatch, Option<Category>, u8)> = cues
            .iter()
            .filter(|(m, cat, _)| !cat.is_some_and(|c| c != category) && negated_by(m).is_none())
            .collect();
        // A longer cue decides over one inside it: "anjing terjepit" (a dog
        // caught, priority 3) is not "terjepit" (a person trapped, 1).
        for (m, _, l) in applicable.iter().copied() {
            if applicable.iter().any(|(o, _, _)| m.is_inside(o)) {
                continue;
            }
            if level == 0 || *l < level {
                level = *l;
                priority_evidence.clear();
            }
            if *l == level {
                priority_evidence.push(Evidence {
                    kind: EvidenceKind::Priority,
                    text: slice(text, tokens, m),
                    matched: format!("priority {l}: {}", phrase_text(m)),
                    category: None,
                });
            }
        }
        if level == 0 {
            level = v.base_priority.get(category as usize).copied().unwrap_or(2);
        }
        Priority::new(level.clamp(1, 3)).unwrap_or(Priority::URGENT)
    };

    // Confidence from the margin over the runner-up.
    let top = scores[category as usize];
    let runner_up = Category::ALL
        .iter()
        .filter(|c| **c != category)
        .map(|c| scores[*c as usize])
        .fold(0f32, f32::max);
    let confidence = if top <= 0.0 {
        if runner_up > 0.0 {
            0.4
        } else {
            0.5
        }
    } else {
        (0.3 + 0.7 * (top - runner_up).max(0.0) / (top + 2.0)).clamp(0.05, 0.99)
    };

    // Evidence, strongest first.
    let mut mine: Vec<&(PhraseMatch, Category, f32)> = live.iter().filter(|(_, c, _)| *c == category).collect();
    mine.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.start.cmp(&b.0.start)));
    let mut evidence: Vec<Evidence> =
        Vec::with_capacity(mine.len() + priority_evidence.len() + evidence_other.len() + 2);
    let mut seen: Vec<u32> = Vec::with_capacity(mine.len());
    for (m, c, _) in mine {
        if seen.contains(&m.phrase) {
            continue;
        }
        seen.push(m.phrase);
        evidence.push(Evidence {
            kind: EvidenceKind::Category,
            text: slice(text, tokens, m),
            matched: phrase_text(m).to_string(),
            category: Some(*c),
        });
    }
    evidence.extend(rule_evidence);
    evidence.extend(priority_evidence);
    evidence_other.sort_by_key(|(rank, _)| std::cmp::Reverse(*rank));
    evidence.extend(evidence_other.into_iter().map(|(_, e)| e));
    Verdict {
        category,
        priority,
        confidence,
        evidence,
    }
}
