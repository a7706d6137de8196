//! Recognising environments, services and git refs among the words.

use super::fuzzy::{edit_distance, typo_budget};
use super::words::{BARE_REFS, NO_FUZZ, REF_MARKERS, SERVICE_NOUNS};
use super::ParseContext;

/// What a word names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EntityKind<'a> {
    /// An environment, by its canonical name.
    Env(&'a str),
    /// A service, by its configured name.
    Service(&'a str),
    /// A git branch, tag, version or commit.
    Ref(&'a str),
    /// A word that introduces a ref ("sha", "branch").
    RefMarker,
}

/// One recognised word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Entity<'a> {
    pub pos: usize,
    pub kind: EntityKind<'a>,
    /// Recognised through a typo correction.
    pub corrected: bool,
}

/// Finds every entity in `tokens`. `is_vocabulary` tells words that belong
/// to a runbook's vocabulary, which are never typo-corrected into names.
pub(super) fn recognise<'a>(
    tokens: &[&'a str],
    ctx: &ParseContext<'a>,
    is_vocabulary: &dyn Fn(&str) -> bool,
) -> Vec<Entity<'a>> {
    let mut out: Vec<Entity<'a>> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i];
        let push = |out: &mut Vec<Entity<'a>>, kind, corrected| {
            out.push(Entity {
                pos: i,
                kind,
                corrected,
            })
        };
        if REF_MARKERS.contains(&token) {
            if let Some(next) = tokens.get(i + 1).copied().filter(|n| marked_ref(token, n)) {
                push(&mut out, EntityKind::RefMarker, false);
                out.push(Entity {
                    pos: i + 1,
                    kind: EntityKind::Ref(next),
                    corrected: false,
                });
                i += 2;
                continue;
            }
        }
        if let Some(kind) = exact(token, ctx) {
            push(&mut out, kind, false);
        } else if looks_like_ref(token) {
            push(&mut out, EntityKind::Ref(token), false);
        } else if token.contains(['-', '_', '@']) {
            // "prod-db", "payments-service", "web@3c4d5e6f": names joined.
            for part in token.split(['-', '_', '@']) {
                if let Some(kind) = exact(part, ctx) {
                    push(&mut out, kind, false);
                } else if token.contains('@') && looks_like_ref(part) {
                    push(&mut out, EntityKind::Ref(part), false);
                }
            }
        } else if let Some(kind) = corrected(token, ctx, is_vocabulary) {
            push(&mut out, kind, true);
        }
        i += 1;
    }
    // "payments api", "auth db": a service name followed by a noun that
    // happens to be another service's name describes the first one.
    let mut k = 1;
    while k < out.len() {
        let (a, b) = (out[k - 1], out[k]);
        if let (EntityKind::Service(_), EntityKind::Service(_)) = (a.kind, b.kind) {
            if b.pos == a.pos + 1 && SERVICE_NOUNS.contains(&tokens[b.pos]) {
                out.remove(k);
                continue;
            }
        }
        k += 1;
    }
    out
}

fn exact<'a>(token: &str, ctx: &ParseContext<'a>) -> Option<EntityKind<'a>> {
    for env in ctx.envs {
        if env.name == token || env.aliases.iter().any(|a| a == token) {
            return Some(EntityKind::Env(env.name.as_str()));
        }
    }
    for service in ctx.services {
        let s = service.as_str();
        let plural_of = |a: &str, b: &str| {
            a.len() > 3 && (a.strip_suffix('s') == Some(b) || a.strip_suffix("es") == Some(b))
        };
        if s == token || plural_of(token, s) || plural_of(s, token) {
            return Some(EntityKind::Service(s));
        }
    }
    None
}

fn corrected<'a>(
    token: &str,
    ctx: &ParseContext<'a>,
    is_vocabulary: &dyn Fn(&str) -> bool,
) -> Option<EntityKind<'a>> {
    if token.len() < 4 || !token.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    let mut best: Option<(usize, EntityKind<'a>)> = None;
    let mut tie = false;
    let letters = letter_set(token);
    let mut consider = |known: &str, kind: EntityKind<'a>| {
        let budget = typo_budget(token, known);
        // Each letter the known word lacks costs at least one edit.
        if budget == 0 || (letters & !letter_set(known)).count_ones() as usize > budget {
            return;
        }
        let d = edit_distance(token, known, budget);
        if d > budget {
            return;
        }
        match best {
            Some((bd, bk)) if bd == d && bk != kind => tie = true,
            Some((bd, _)) if bd <= d => {}
            _ => {
                best = Some((d, kind));
                tie = false;
            }
        }
    };
    for env in ctx.envs {
        consider(&env.name, EntityKind::Env(env.name.as_str()));
        for alias in env.aliases.iter().filter(|a| a.len() >= 6) {
            consider(alias, EntityKind::Env(env.name.as_str()));
        }
    }
    for service in ctx.services {
        consider(service, EntityKind::Service(service.as_str()));
    }
    // The word lists are checked last: most words are near no name at all.
    match best {
        Some((_, kind)) if !tie && !NO_FUZZ.contains(&token) && !is_vocabulary(token) => Some(kind),
        _ => None,
    }
}

/// The set of ASCII letters in a word, one bit each.
fn letter_set(word: &str) -> u32 {
    word.bytes()
        .filter(u8::is_ascii_lowercase)
        .fold(0, |m, b| m | 1 << (b - b'a'))
}

/// Whether `next` is the ref that marker `marker` introduces.
fn marked_ref(marker: &str, next: &str) -> bool {
    let hex = (4..=40).contains(&next.len()) && next.bytes().all(|b| b.is_ascii_hexdigit());
    match marker {
        "branch" | "tag" | "ref" => {
            next.bytes().any(|b| b.is_ascii_alphanumeric()) && !super::words::is_filler(next)
        }
        _ => hex,
    }
}

/// Branches with a slash, `main`, versions (`v2.3.1`, `1.4.0`, `v2`) and commit
/// hashes (7 to 40 hex digits with at least one digit and one letter).
pub(super) fn looks_like_ref(token: &str) -> bool {
    if BARE_REFS.contains(&token) {
        return true;
    }
    let bytes = token.as_bytes();
    if token.contains('/') {
        return token.len() > 2
            && !token.starts_with('/')
            && !token.ends_with('/')
            && !token.contains("//")
            && !token.contains(':')
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"/._-+".contains(b))
            && bytes.iter().any(|b| b.is_ascii_alphabetic());
    }
    let version = token.strip_prefix('v').unwrap_or(token);
    let core = version.split('-').next().unwrap_or("");
    let numeric = core
        .split('.')
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let parts = core.split('.').count();
    // "1.4.0", and with a `v` also "v1.4" and "v2" ("roll out v2 of web"):
    // a bare "2" or "1.4" is more often a count or a number than a release.
    if numeric && (parts == 3 || (parts <= 2 && version.len() < token.len())) {
        return true;
    }
    (7..=40).contains(&token.len())
        && bytes.iter().all(|b| b.is_ascii_hexdigit())
        && bytes.iter().any(|b| b.is_ascii_digit())
        && bytes.iter().any(|b| b.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs() {
        for r in [
            "feature/login-page",
            "main",
            "v2.3.1",
            "1.4.0",
            "v1.4",
            "1a2b3c4",
            "v2.0.0-rc.1",
            "v2",
            "v10",
        ] {
            assert!(looks_like_ref(r), "{r}");
        }
        for r in [
            "/",
            "500s",
            "1.4",
            "deadbee",
            "prod",
            "http://x/y",
            "2024",
            "v",
            "vx2",
        ] {
            assert!(!looks_like_ref(r), "{r}");
        }
    }
}
