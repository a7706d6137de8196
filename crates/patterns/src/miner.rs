//! The online miner: each message joins the most similar template of its
//! length or starts a new one; templates whose constant words are the same
//! (values of any length in between) are one pattern.

use crate::meta::{Level, LineMeta};
use crate::token::{shape_eq, shape_text, tokenize, Kind, ShapeParts, Token};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

/// The one configuration. A message joins a template when at least this
/// share of the template's constant words are at the same place in it: one
/// word in ten may differ. Values are found by their shape first, so a word
/// that differs is more often another event (`VM Paused` / `VM Resumed`)
/// than a value.
const SIMILARITY: f64 = 0.9;
/// Distinct token sequences remembered to skip the similarity search; the
/// cache is emptied when full, so memory does not grow with the input.
const CACHE_CAPACITY: usize = 1 << 16;
/// An example line is cut to this many bytes.
const EXAMPLE_MAX: usize = 1000;
/// A value may take up to this many extra words (`<1 sec` beside `00:02`).
const VALUE_EXTRA_WORDS: usize = 2;
/// … in templates of at least this many constant words.
const VALUE_EXTRA_MIN_WORDS: usize = 3;

/// A template's constant words, each marked when a value is next to it.
#[derive(Debug)]
struct SkeletonWords {
    words: Vec<String>,
    near_value: Vec<bool>,
    cluster: u32,
}

/// A pattern's id: stable for the whole input (a pattern that absorbs
/// another keeps the older, smaller id), 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct PatternId(pub u32);

impl fmt::Display for PatternId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One place of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    Const(Box<str>),
    /// A word whose digit runs are values (the first word seen is kept).
    Shape(Box<str>),
    /// `key=` followed by a masked value.
    KeyVar(Box<str>),
    Var,
}

/// What a pattern has seen so far; kept on the pattern's root cluster.
#[derive(Debug, Clone)]
struct Stats {
    count: u64,
    first_line: u64,
    last_line: u64,
    first_seen: Option<DateTime<Utc>>,
    last_seen: Option<DateTime<Utc>>,
    level: Option<Level>,
    example: Box<str>,
    /// The member cluster with the most lines: its template is shown.
    shown: u32,
}

impl Stats {
    fn absorb(&mut self, other: &Stats) {
        self.count += other.count;
        if other.first_line < self.first_line {
            self.first_line = other.first_line;
            self.example = other.example.clone();
        }
        self.last_line = self.last_line.max(other.last_line);
        self.first_seen = min_time(self.first_seen, other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
        self.level = self.level.max(other.level);
    }
}

fn min_time(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[derive(Debug)]
struct Cluster {
    slots: Vec<Slot>,
    /// Union-find parent (itself for a root).
    parent: u32,
    /// Lines that joined this very cluster.
    own_count: u64,
    stats: Stats,
}

/// A pattern as reported: its final template and what it has seen.
#[derive(Debug, Clone, Serialize)]
pub struct Pattern {
    pub id: PatternId,
    /// Words kept, values masked as `<*>`, single spaces between tokens.
    pub template: String,
    pub count: u64,
    /// The most severe level among its lines, when the lines had levels.
    pub level: Option<Level>,
    /// 1-based numbers, among the lines given to the miner, of its first and last line.
    pub first_line: u64,
    pub last_line: u64,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    /// Its first line (cut to 1,000 bytes).
    pub example: String,
}

/// Groups log messages into patterns, online and in one pass. Memory grows
/// with the number of templates, not of lines.
///
/// ```
/// use opsroom_patterns::{LineMeta, Miner};
/// let mut miner = Miner::new();
/// let a = miner.add("connected to 10.0.0.1 in 35 ms", LineMeta::default());
/// let b = miner.add("connected to 10.0.0.7 in 4 ms", LineMeta::default());
/// assert_eq!(a, b);
/// assert_eq!(miner.template(a), "connected to <*> in <*> ms");
/// ```
#[derive(Debug, Default)]
pub struct Miner {
    clusters: Vec<Cluster>,
    by_len: HashMap<usize, Vec<u32>>,
    cache: HashMap<u64, u32, BuildHasherDefault<PassThrough>>,
    skeletons: HashMap<Box<str>, u32>,
    /// Skeletons by word count and first word, to find the ones that differ
    /// by a value's extra words.
    skeleton_words: HashMap<(usize, Box<str>), Vec<SkeletonWords>>,
    tokens: Vec<Token>,
    lines: u64,
}

impl Miner {
    /// A miner with the one configuration used for every input.
    pub fn new() -> Miner {
        Miner::default()
    }

    /// Adds one message (a log line, or its text after the header) and
    /// returns the id of the pattern it belongs to now. A later merge may
    /// fold that pattern into an older one: [`Miner::resolve`] gives the
    /// final id.
    pub fn add(&mut self, message: &str, meta: LineMeta) -> PatternId {
        self.lines += 1;
        let mut tokens = std::mem::take(&mut self.tokens);
        tokenize(message, &mut tokens);
        let key = sequence_hash(message, &tokens);
        let cached = self
            .cache
            .get(&key)
            .copied()
            .filter(|&c| matches(&self.clusters[c as usize].slots, message, &tokens));
        let cluster = match cached {
            Some(c) => c,
            None => {
                let c = self.place(message, &tokens, meta);
                if self.cache.len() >= CACHE_CAPACITY {
                    self.cache.clear();
                }
                self.cache.insert(key, c);
                c
            }
        };
        self.tokens = tokens;
        self.record(cluster, message, meta)
    }

    /// The id a pattern has now: the same id, or the older pattern it was
    /// merged into.
    pub fn resolve(&self, id: PatternId) -> PatternId {
        PatternId(self.root(id.0 - 1) + 1)
    }

    /// The current template of a pattern (of the pattern it was merged into).
    pub fn template(&self, id: PatternId) -> String {
        let root = self.root(id.0 - 1);
        render(&self.clusters[self.clusters[root as usize].stats.shown as usize].slots)
    }

    /// How many patterns there are now.
    pub fn pattern_count(&self) -> usize {
        (0..self.clusters.len() as u32)
            .filter(|&c| self.clusters[c as usize].parent == c)
            .count()
    }

    /// How many messages were added.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Every pattern with its final template, most frequent first (then by id).
    pub fn patterns(&self) -> Vec<Pattern> {
        let mut out: Vec<Pattern> = (0..self.clusters.len() as u32)
            .filter(|&c| self.clusters[c as usize].parent == c)
            .map(|c| {
                let stats = &self.clusters[c as usize].stats;
                Pattern {
                    id: PatternId(c + 1),
                    template: render(&self.clusters[stats.shown as usize].slots),
                    count: stats.count,
                    level: stats.level,
                    first_line: stats.first_line,
                    last_line: stats.last_line,
                    first_seen: stats.first_seen,
                    last_seen: stats.last_seen,
                    example: stats.example.to_string(),
                }
            })
            .collect();
        out.sort_by(|a, b| b.count.cmp(&a.count).then(a.id.cmp(&b.id)));
        out
    }

    fn root(&self, mut c: u32) -> u32 {
        while self.clusters[c as usize].parent != c {
            c = self.clusters[c as usize].parent;
        }
        c
    }

    /// Finds the cluster for a message the cache did not know: the most
    /// similar template of its length, generalised to cover it, or a new one.
    fn place(&mut self, message: &str, tokens: &[Token], meta: LineMeta) -> u32 {
        let mut best: Option<(f64, usize, u32)> = None;
        for &c in self.by_len.get(&tokens.len()).into_iter().flatten() {
            let slots = &self.clusters[c as usize].slots;
            let Some(score) = similarity(slots, message, tokens) else {
                continue;
            };
            let consts = slots.iter().filter(|s| **s != Slot::Var).count();
            if best.is_none_or(|(s, k, _)| score > s || (score == s && consts > k)) {
                best = Some((score, consts, c));
            }
        }
        if let Some((_, _, c)) = best.filter(|(s, _, _)| *s >= SIMILARITY) {
            if generalize(&mut self.clusters[c as usize].slots, message, tokens) {
                self.register_skeleton(c);
            }
            return c;
        }
        let c = self.clusters.len() as u32;
        let slots = tokens
            .iter()
            .map(|t| match t.kind {
                Kind::Const => Slot::Const(t.kept(message).into()),
                Kind::Shape => Slot::Shape(t.kept(message).into()),
                Kind::KeyVar => Slot::KeyVar(t.kept(message).into()),
                Kind::Var => Slot::Var,
            })
            .collect();
        self.clusters.push(Cluster {
            slots,
            parent: c,
            own_count: 0,
            stats: Stats {
                count: 0,
                first_line: self.lines,
                last_line: self.lines,
                first_seen: meta.time,
                last_seen: meta.time,
                level: meta.level,
                example: cut(message, EXAMPLE_MAX).into(),
                shown: c,
            },
        });
        self.by_len.entry(tokens.len()).or_default().push(c);
        self.register_skeleton(c);
        c
    }

    /// Templates with the same constant words in the same order are one
    /// pattern, however many tokens their values take.
    fn register_skeleton(&mut self, c: u32) {
        let skeleton = skeleton(&self.clusters[c as usize].slots);
        if skeleton.is_empty() {
            return;
        }
        if let Some(&other) = self.skeletons.get(skeleton.as_str()) {
            self.union(c, other);
            return;
        }
        self.skeletons.insert(skeleton.into(), c);
        let words = skeleton_words(&self.clusters[c as usize].slots, c);
        let n = words.words.len();
        let mut same_event = Vec::new();
        for other_len in n.saturating_sub(VALUE_EXTRA_WORDS)..=n + VALUE_EXTRA_WORDS {
            if other_len == n || other_len.min(n) < VALUE_EXTRA_MIN_WORDS {
                continue;
            }
            let key = (other_len, words.words[0].as_str().into());
            for other in self.skeleton_words.get(&key).into_iter().flatten() {
                let (short, long) = if other_len < n {
                    (other, &words)
                } else {
                    (&words, other)
                };
                if extra_words_are_values(short, long) {
                    same_event.push(other.cluster);
                }
            }
        }
        for other in same_event {
            self.union(c, other);
        }
        self.skeleton_words
            .entry((n, words.words[0].as_str().into()))
            .or_default()
            .push(words);
    }

    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.root(a), self.root(b));
        if ra == rb {
            return;
        }
        let (keep, fold) = (ra.min(rb), ra.max(rb));
        let folded = self.clusters[fold as usize].stats.clone();
        self.clusters[fold as usize].parent = keep;
        let shown_count = |m: &Miner, s: u32| m.clusters[s as usize].own_count;
        let keep_shown = self.clusters[keep as usize].stats.shown;
        let stats = &mut self.clusters[keep as usize].stats;
        stats.absorb(&folded);
        if shown_count(self, folded.shown) > shown_count(self, keep_shown) {
            self.clusters[keep as usize].stats.shown = folded.shown;
        }
    }

    fn record(&mut self, c: u32, message: &str, meta: LineMeta) -> PatternId {
        let line = self.lines;
        self.clusters[c as usize].own_count += 1;
        let own = self.clusters[c as usize].own_count;
        let root = self.root(c);
        let shown_own = {
            let shown = self.clusters[root as usize].stats.shown;
            self.clusters[shown as usize].own_count
        };
        let stats = &mut self.clusters[root as usize].stats;
        stats.count += 1;
        if stats.count == 1 {
            stats.first_line = line;
            stats.example = cut(message, EXAMPLE_MAX).into();
        }
        stats.last_line = line;
        stats.first_seen = min_time(stats.first_seen, meta.time);
        stats.last_seen = stats.last_seen.max(meta.time);
        stats.level = stats.level.max(meta.level);
        if own > shown_own {
            stats.shown = c;
        }
        PatternId(root + 1)
    }
}

/// The share of the template's constant words found at their place in the
/// message, or `None` when the template has no constant word and the
/// message has some (a template of values only must not swallow words).
fn similarity(slots: &[Slot], message: &str, tokens: &[Token]) -> Option<f64> {
    let (mut same, mut differ) = (0u32, 0u32);
    for (slot, token) in slots.iter().zip(tokens) {
        match slot {
            Slot::Var => {}
            _ if slot_matches(slot, message, token) => same += 1,
            _ => differ += 1,
        }
    }
    if same + differ == 0 {
        return tokens.iter().all(|t| t.kind == Kind::Var).then_some(1.0);
    }
    Some(f64::from(same) / f64::from(same + differ))
}

fn slot_matches(slot: &Slot, message: &str, token: &Token) -> bool {
    match slot {
        Slot::Var => true,
        Slot::Const(word) => token.kind == Kind::Const && **word == *token.kept(message),
        Slot::Shape(word) => token.kind == Kind::Shape && shape_eq(word, token.kept(message)),
        Slot::KeyVar(key) => token.kind == Kind::KeyVar && **key == *token.kept(message),
    }
}

fn matches(slots: &[Slot], message: &str, tokens: &[Token]) -> bool {
    slots.len() == tokens.len()
        && slots
            .iter()
            .zip(tokens)
            .all(|(s, t)| slot_matches(s, message, t))
}

/// Masks every place where the message differs; true when the template changed.
fn generalize(slots: &mut [Slot], message: &str, tokens: &[Token]) -> bool {
    let mut changed = false;
    for (slot, token) in slots.iter_mut().zip(tokens) {
        if !slot_matches(slot, message, token) {
            *slot = Slot::Var;
            changed = true;
        }
    }
    changed
}

fn render(slots: &[Slot]) -> String {
    let mut out = String::new();
    for (i, slot) in slots.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match slot {
            Slot::Const(word) => out.push_str(word),
            Slot::Shape(word) => shape_text(word, &mut out),
            Slot::KeyVar(key) => {
                out.push_str(key);
                out.push_str("<*>");
            }
            Slot::Var => out.push_str("<*>"),
        }
    }
    out
}

fn skeleton(slots: &[Slot]) -> String {
    let mut out = String::new();
    for slot in slots {
        match slot {
            Slot::Const(word) | Slot::KeyVar(word) => {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(word);
            }
            Slot::Shape(word) => {
                if !out.is_empty() {
                    out.push(' ');
                }
                shape_text(word, &mut out);
            }
            Slot::Var => {}
        }
    }
    out
}

fn skeleton_words(slots: &[Slot], cluster: u32) -> SkeletonWords {
    let is_var = |i: Option<usize>| i.and_then(|i| slots.get(i)) == Some(&Slot::Var);
    let mut out = SkeletonWords {
        words: Vec::new(),
        near_value: Vec::new(),
        cluster,
    };
    for (i, slot) in slots.iter().enumerate() {
        let mut word = String::new();
        match slot {
            Slot::Var => continue,
            Slot::Const(w) | Slot::KeyVar(w) => word.push_str(w),
            Slot::Shape(w) => shape_text(w, &mut word),
        }
        out.words.push(word);
        out.near_value
            .push(is_var(i.checked_sub(1)) || is_var(Some(i + 1)));
    }
    out
}

/// Whether `long` is `short` with a few more words, each next to a value:
/// the same event with a value that took more words.
fn extra_words_are_values(short: &SkeletonWords, long: &SkeletonWords) -> bool {
    let mut i = 0;
    for (j, word) in long.words.iter().enumerate() {
        if i < short.words.len() && short.words[i] == *word {
            i += 1;
        } else if !long.near_value[j] {
            return false;
        }
    }
    i == short.words.len()
}

fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// FNV-1a over the masked token sequence: kinds and kept words.
fn sequence_hash(message: &str, tokens: &[Token]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    for t in tokens {
        feed(t.kind as u8 + 1);
        if t.kind == Kind::Shape {
            // Digit runs hash as one mark, as they compare.
            for part in ShapeParts::new(t.kept(message)) {
                feed(part.unwrap_or(0xff));
            }
        } else {
            for &b in t.kept(message).as_bytes() {
                feed(b);
            }
        }
        feed(0);
    }
    h
}

/// The cache's keys are hashes already.
#[derive(Debug, Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::sniff;

    fn add(miner: &mut Miner, line: &str) -> PatternId {
        let (meta, message) = sniff(line, 2024);
        miner.add(message, meta)
    }

    #[test]
    fn lines_of_one_event_share_a_pattern_and_its_stats() {
        let mut miner = Miner::new();
        let a = add(
            &mut miner,
            "2024-05-01T10:00:00Z INFO user 17 logged in from 10.0.0.1",
        );
        let b = add(
            &mut miner,
            "2024-05-01T10:00:05Z ERROR payment pi_123 failed: card_declined",
        );
        let c = add(
            &mut miner,
            "2024-05-01T10:01:00Z INFO user 42 logged in from 10.0.0.9",
        );
        assert_eq!(a, c);
        assert_ne!(a, b);
        let patterns = miner.patterns();
        assert_eq!(patterns.len(), 2);
        let login = &patterns[0];
        assert_eq!(login.id, a);
        assert_eq!(login.template, "INFO user <*> logged in from <*>");
        assert_eq!(login.count, 2);
        assert_eq!((login.first_line, login.last_line), (1, 3));
        assert_eq!(login.level, Some(Level::Info));
        assert_eq!(login.example, "INFO user 17 logged in from 10.0.0.1");
        assert_eq!(
            login.first_seen.map(|t| t.to_rfc3339()).as_deref(),
            Some("2024-05-01T10:00:00+00:00")
        );
        assert_eq!(
            login.last_seen.map(|t| t.to_rfc3339()).as_deref(),
            Some("2024-05-01T10:01:00+00:00")
        );
        assert_eq!(patterns[1].level, Some(Level::Error));
        assert_eq!(
            patterns[1].template,
            "ERROR payment pi_<*> failed: card_declined"
        );
    }

    #[test]
    fn one_word_in_ten_may_differ_but_not_one_in_four() {
        let mut miner = Miner::new();
        let paused = miner.add(
            "[instance: 96abccce-8d1f] VM Paused (Lifecycle Event)",
            LineMeta::default(),
        );
        let resumed = miner.add(
            "[instance: 96abccce-8d1f] VM Resumed (Lifecycle Event)",
            LineMeta::default(),
        );
        assert_ne!(paused, resumed);
        let long = "the quick brown fox jumps over the lazy dog again today";
        let a = miner.add(long, LineMeta::default());
        let b = miner.add(&long.replace("lazy", "sleepy"), LineMeta::default());
        assert_eq!(a, b);
        assert_eq!(
            miner.template(a),
            "the quick brown fox jumps over the <*> dog again today"
        );
    }

    #[test]
    fn a_value_that_takes_more_words_keeps_the_pattern() {
        let mut miner = Miner::new();
        let a = miner.add(
            "host:443 close, 474 bytes sent, 4042 bytes (3.94 KB) received, lifetime 00:02",
            LineMeta::default(),
        );
        let b = miner.add(
            "host:443 close, 0 bytes sent, 0 bytes received, lifetime <1 sec",
            LineMeta::default(),
        );
        assert_eq!(miner.resolve(a), miner.resolve(b));
        assert_eq!(miner.patterns().len(), 1);
        // The id handed out first stays the group's id.
        assert_eq!(miner.resolve(b), a);
    }

    #[test]
    fn the_cache_does_not_change_the_grouping() {
        // Each line has a word of its own, so each is a new token sequence
        // and the cache fills up and is emptied on the way.
        let word = |mut i: u64| {
            let mut w = String::new();
            loop {
                w.push(char::from(b'a' + (i % 26) as u8));
                i /= 26;
                if i == 0 {
                    return w;
                }
            }
        };
        let mut miner = Miner::new();
        let lines = CACHE_CAPACITY as u64 + 10;
        for i in 0..lines {
            miner.add(
                &format!(
                    "the quick brown fox jumps over the lazy dog again today {}",
                    word(i)
                ),
                LineMeta::default(),
            );
        }
        let patterns = miner.patterns();
        assert_eq!(patterns.len(), 1);
        assert_eq!(patterns[0].count, lines);
        assert_eq!(miner.lines(), lines);
    }
}
