//! Choosing the runbook: scoring each runbook's cues and trigger phrases
//! against the words, refusing destructive text and near ties.

use super::fuzzy::{edit_distance, inflects, typo_budget};
use super::lexicon::RunbookWords;
use super::words::{CONJUNCTIONS, DESTRUCTIVE, DESTRUCTIVE_PHRASES, DETERMINERS, NO_FUZZ};
use crate::catalog::{Catalog, RunbookSpec};

/// Below this score nothing is understood.
const MIN_SCORE: f32 = 2.0;
/// Two runbooks closer than this are a tie.
const TIE_MARGIN: f32 = 1.0;
/// A cue at least this strong is a request in its own right.
const STRONG: f32 = 4.0;

/// Words after a request that introduce its topic ("a spec for ...").
const TOPIC_WORDS: &[&str] = &["for", "about", "regarding", "called", "named"];

/// Words of triggers that do not identify anything.
pub(super) const TRIGGER_STOP: &[&str] = &[
    "is", "the", "a", "an", "on", "in", "to", "of", "for", "from", "at", "with", "and", "or", "me",
    "my", "it", "its",
];

/// How well one runbook matches.
#[derive(Debug, Clone, Copy)]
pub(super) struct Score<'c> {
    pub spec: &'c RunbookSpec,
    pub score: f32,
    /// Position of the strongest cue that reads as a request.
    pub lead: Option<usize>,
    /// How strong that cue is.
    pub lead_weight: f32,
    /// Words used by multi-word cues (bit i = word i), not to be read as names.
    pub consumed: u64,
}

/// What the text asks for.
#[derive(Debug)]
pub(super) enum Decision<'c> {
    /// One runbook, clearly ahead of the rest.
    Runbook { best: Score<'c>, runner_up: f32 },
    /// Several runbooks are asked for, or none is clearly ahead.
    Ambiguous(Vec<&'c RunbookSpec>),
    /// A destructive verb that no runbook performs.
    Destructive(String),
    /// Nothing matched; maybe a typo of a runbook's word.
    Unknown { suggestions: Vec<&'c RunbookSpec> },
}

/// Whether a word belongs to any runbook's vocabulary.
pub(super) fn in_vocabulary(catalog: &Catalog, word: &str) -> bool {
    let lexicon = catalog.lexicon();
    catalog.iter().zip(&lexicon.runbooks).any(|(spec, words)| {
        spec.name == word
            || words
                .cues
                .iter()
                .any(|c| c.words.iter().any(|w| inflects(word, w)))
    })
}

/// Chooses the runbook. `names` marks words that are env or service names
/// (bit i = word i): such a word counts as vocabulary only as a noun
/// ("write a prd" is a spec, "probe api prd" is the prod env).
pub(super) fn decide<'c>(tokens: &[&str], catalog: &'c Catalog, names: u64) -> Decision<'c> {
    let heads = heads_of(tokens);
    let score_all = |objects: u64| -> Vec<Score<'c>> {
        let marks = Marks {
            names,
            objects,
            heads,
        };
        catalog
            .iter()
            .zip(&catalog.lexicon().runbooks)
            .map(|(spec, words)| score(tokens, spec, words, marks))
            .filter(|s| s.score > 0.0)
            .collect()
    };
    let mut scores = score_all(0);
    // "undo web deploy": a request word right after another runbook's
    // request word is its object, not a second request.
    let objects = objects_of_requests(tokens, &scores);
    if objects != 0 {
        scores = score_all(objects);
    }
    if let Some((pos, word)) = find_destructive(tokens) {
        // "spec for password reset" names the verb as a topic.
        let topic = scores
            .iter()
            .filter_map(|s| s.lead)
            .any(|lead| lead < pos && tokens[lead..pos].iter().any(|t| TOPIC_WORDS.contains(t)));
        if !topic {
            // Only a runbook that itself speaks of this verb may take the text.
            scores.retain(|s| {
                s.spec
                    .triggers
                    .iter()
                    .any(|t| t.split(' ').any(|w| w == word))
                    || s.spec
                        .cues
                        .iter()
                        .any(|c| c.phrase.split(' ').any(|w| w == word))
            });
            if scores.is_empty() {
                return Decision::Destructive(word);
            }
        }
    }
    scores.sort_by(|a, b| b.score.total_cmp(&a.score));
    let Some(best) = scores.first().copied() else {
        return Decision::Unknown {
            suggestions: suggestions(tokens, catalog),
        };
    };
    if best.score < MIN_SCORE {
        return Decision::Unknown {
            suggestions: suggestions(tokens, catalog),
        };
    }
    let runner_up = scores.get(1).map(|s| s.score).unwrap_or(0.0);
    if let Some(second) = scores.get(1).filter(|s| s.score >= MIN_SCORE) {
        let tie = best.score - second.score < TIE_MARGIN;
        let two_requests = second.lead_weight >= STRONG
            && best.lead_weight >= STRONG
            && joined(tokens, best.lead, second.lead);
        if tie || two_requests {
            let mut specs = vec![best.spec, second.spec];
            specs.extend(
                scores[2..]
                    .iter()
                    .filter(|s| best.score - s.score < TIE_MARGIN)
                    .map(|s| s.spec),
            );
            return Decision::Ambiguous(specs);
        }
    }
    Decision::Runbook { best, runner_up }
}

/// Positions of request words that follow another runbook's request word
/// closely, with no conjunction between (bit i = word i).
fn objects_of_requests(tokens: &[&str], scores: &[Score<'_>]) -> u64 {
    let mut mask = 0;
    for a in scores.iter().filter(|s| s.lead_weight >= STRONG) {
        for b in scores {
            if let (Some(la), Some(lb)) = (a.lead, b.lead) {
                if a.spec.name != b.spec.name
                    && la < lb
                    && lb - la <= 3
                    && !joined(tokens, a.lead, b.lead)
                {
                    mask |= bit(lb);
                }
            }
        }
    }
    mask
}

/// Whether a conjunction stands between the two positions.
fn joined(tokens: &[&str], a: Option<usize>, b: Option<usize>) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        return false;
    };
    let (lo, hi) = (a.min(b), a.max(b));
    tokens[lo + 1..hi].iter().any(|t| CONJUNCTIONS.contains(t))
}

/// What scoring knows about the words besides the words themselves.
#[derive(Debug, Clone, Copy)]
struct Marks {
    /// Words that are env or service names (bit i = word i).
    names: u64,
    /// Words that read as nouns because another request governs them.
    objects: u64,
    /// [`head_key`]s of the words: a cue whose key is missing cannot match.
    heads: Heads,
}

/// A key from the first two bytes of a word (0 to 1023); inflections keep
/// them, so a cue whose key is not among the text's keys cannot match.
pub(super) fn head_key(word: &str) -> u16 {
    let b = word.as_bytes();
    let first = u16::from(b.first().copied().unwrap_or(0) & 31);
    let second = u16::from(b.get(1).copied().unwrap_or(0) & 31);
    (first << 5) | second
}

/// The set of [`head_key`]s of a text's words.
#[derive(Debug, Clone, Copy)]
pub(super) struct Heads([u64; 16]);

impl Heads {
    fn insert(&mut self, key: u16) {
        self.0[usize::from(key >> 6)] |= 1 << (key & 63);
    }

    pub(super) fn has(&self, key: u16) -> bool {
        self.0[usize::from(key >> 6)] & (1 << (key & 63)) != 0
    }
}

fn heads_of(tokens: &[&str]) -> Heads {
    let mut heads = Heads([0; 16]);
    for t in tokens {
        heads.insert(head_key(t));
        heads.insert(head_key(t.get(..1).unwrap_or("")));
    }
    heads
}

/// Scores one runbook from its compiled words.
fn score<'c>(
    tokens: &[&str],
    spec: &'c RunbookSpec,
    words: &RunbookWords,
    marks: Marks,
) -> Score<'c> {
    let Marks {
        names,
        objects,
        heads,
    } = marks;
    let noun = |pos: usize| objects & bit(pos) != 0 || is_noun_use(tokens, pos);
    let mut out = Score {
        spec,
        score: 0.0,
        lead: None,
        lead_weight: 0.0,
        consumed: 0,
    };
    let note = |out: &mut Score<'c>, pos: usize, weight: f32| {
        out.score += weight;
        if weight > out.lead_weight {
            out.lead_weight = weight;
            out.lead = Some(pos);
        }
    };
    if !words.name_is_cue {
        if let Some(pos) = tokens.iter().position(|t| *t == spec.name) {
            note(&mut out, pos, 5.0);
        }
    }
    for cue in &words.cues {
        if !heads.has(cue.key) {
            continue;
        }
        let Some((first, mask)) = find_phrase(tokens, &cue.words, 2) else {
            continue;
        };
        let mut weight = cue.weight;
        let single = cue.words.len() == 1;
        if single && names & bit(first) != 0 {
            if !noun(first) {
                continue;
            }
            out.consumed |= bit(first);
        } else if single && noun(first) {
            weight /= 2.0;
        }
        if !single {
            out.consumed |= mask;
        }
        note(&mut out, first, weight);
    }
    let mut bonus: f32 = 0.0;
    for trigger in &words.triggers {
        if !trigger.keys.iter().all(|k| heads.has(*k)) {
            continue;
        }
        let mut weight = trigger.content.len();
        // A question trigger ("is {env} up") only fits a question.
        if trigger.question {
            if !tokens.first().is_some_and(|t| *t == "is" || *t == "are") {
                continue;
            }
            weight += 1;
        }
        // A trigger counts when its first word is a request, not a noun
        // ("undo the deploy" is no deploy).
        if let Some((first, _)) = find_in_order(tokens, trigger.content.iter().map(String::as_str))
        {
            if !noun(first) {
                bonus = bonus.max(2.0 + weight as f32);
            }
        }
    }
    out.score += bonus;
    out
}

/// Whether the word at `pos` reads as a noun ("the last deploy").
/// A determiner right after a copula opens a question about the subject
/// ("is the api up"), which leaves the cue a predicate.
fn is_noun_use(tokens: &[&str], pos: usize) -> bool {
    (pos.saturating_sub(2)..pos).any(|i| {
        DETERMINERS.contains(&tokens[i])
            && !i
                .checked_sub(1)
                .is_some_and(|j| ["is", "are", "was", "were", "if"].contains(&tokens[j]))
    })
}

/// Finds the words of `phrase` in order, with at most `gap` other words
/// between two of them. Returns the first word's position and a bit mask
/// of the matched words.
pub(super) fn find_phrase<S: AsRef<str>>(
    tokens: &[&str],
    words: &[S],
    gap: usize,
) -> Option<(usize, u64)> {
    let (head, rest) = words.split_first()?;
    let head = head.as_ref();
    'start: for (start, token) in tokens.iter().enumerate() {
        if !inflects(token, head) {
            continue;
        }
        let mut mask = bit(start);
        let mut at = start;
        for word in rest {
            let window = at + 1..(at + 2 + gap).min(tokens.len());
            match window.clone().find(|&i| inflects(tokens[i], word.as_ref())) {
                Some(i) => {
                    mask |= bit(i);
                    at = i;
                }
                None => continue 'start,
            }
        }
        return Some((start, mask));
    }
    None
}

/// Finds `words` in order anywhere in the text; returns the position of
/// the first and the position after the last.
pub(super) fn find_in_order<'w>(
    tokens: &[&str],
    words: impl Iterator<Item = &'w str>,
) -> Option<(usize, usize)> {
    let mut at = 0;
    let mut first = None;
    for word in words {
        let i = (at..tokens.len()).find(|&i| inflects(tokens[i], word))?;
        first.get_or_insert(i);
        at = i + 1;
    }
    Some((first.unwrap_or(0), at))
}

fn bit(i: usize) -> u64 {
    if i < 64 {
        1 << i
    } else {
        0
    }
}

/// The first destructive verb and its position.
fn find_destructive(tokens: &[&str]) -> Option<(usize, String)> {
    for (i, token) in tokens.iter().enumerate() {
        let base = token.strip_suffix('s').filter(|b| DESTRUCTIVE.contains(b));
        if DESTRUCTIVE.contains(token) || base.is_some() {
            return Some((i, base.unwrap_or(token).to_string()));
        }
        for (a, b) in DESTRUCTIVE_PHRASES {
            if inflects(token, a) && tokens[i + 1..(i + 4).min(tokens.len())].contains(b) {
                return Some((i, format!("{a} {b}")));
            }
        }
    }
    None
}

/// Runbooks whose name or strong words are one typo away from a word.
fn suggestions<'c>(tokens: &[&str], catalog: &'c Catalog) -> Vec<&'c RunbookSpec> {
    let mut out: Vec<&RunbookSpec> = Vec::new();
    for token in tokens {
        if token.len() < 4
            || NO_FUZZ.contains(token)
            || !token.bytes().all(|b| b.is_ascii_lowercase())
        {
            continue;
        }
        for spec in catalog.iter() {
            let words = std::iter::once(spec.name.as_str()).chain(
                spec.cues
                    .iter()
                    .filter(|c| c.weight >= 4 && !c.phrase.contains(' '))
                    .map(|c| c.phrase.as_str()),
            );
            let near = words.into_iter().any(|w| {
                let budget = typo_budget(token, w);
                budget > 0 && edit_distance(token, w, budget) <= budget
            });
            if near && !out.iter().any(|s| s.name == spec.name) {
                out.push(spec);
            }
        }
    }
    out
}
