//! Small string measures: edit distance and inflection-tolerant word matching.

/// Optimal-string-alignment distance (Levenshtein plus adjacent
/// transpositions), stopping early once it must exceed `limit`.
/// Works on bytes: the parser only fuzzes ASCII words.
pub(super) fn edit_distance(a: &str, b: &str, limit: usize) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len().abs_diff(b.len()) > limit {
        return limit + 1;
    }
    if a.len() > 32 || b.len() > 32 {
        return if a == b { 0 } else { limit + 1 };
    }
    // Three rolling rows are enough for transpositions.
    let mut prev2 = [0usize; 33];
    let mut prev: [usize; 33] = std::array::from_fn(|j| j);
    let mut cur = [0usize; 33];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            cur[j] = d;
            row_min = row_min.min(d);
        }
        if row_min > limit {
            return limit + 1;
        }
        prev2 = prev;
        prev = cur;
    }
    prev[b.len()]
}

/// The largest edit distance tolerated between a typed word and a known
/// one: none for short words, where a typo is as likely another word.
pub(super) fn typo_budget(word: &str, known: &str) -> usize {
    match word.len().min(known.len()) {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// Whether `token` is `word` or a simple inflection of it
/// ("deploys", "deployed", "deploying", "shipping", "healthy", "failure").
#[inline]
pub(super) fn inflects(token: &str, word: &str) -> bool {
    let (t, w) = (token.as_bytes(), word.as_bytes());
    // Cheap rejections first: this runs for every cue against every word.
    if t.is_empty() || w.is_empty() || t[0] != w[0] || t.len() + 1 < w.len() {
        return false;
    }
    let Some(rest) = token.strip_prefix(word) else {
        // "release" -> "releasing": the final e drops before -ing/-ed.
        return word.len() > 3
            && word.ends_with('e')
            && token.len() > word.len() - 1
            && token.starts_with(&word[..word.len() - 1])
            && matches!(&token[word.len() - 1..], "ing" | "ed" | "es");
    };
    match rest {
        "" | "s" | "es" | "ed" | "d" | "ing" | "y" | "ment" | "ments" | "ure" | "er" => true,
        _ => {
            // A doubled final consonant: ship -> shipping, shipped.
            let last = word.as_bytes().last().copied();
            rest.len() > 1
                && rest.as_bytes()[0] == last.unwrap_or(0)
                && matches!(&rest[1..], "ing" | "ed" | "er")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_transpositions_once() {
        assert_eq!(edit_distance("prod", "prod", 2), 0);
        assert_eq!(edit_distance("prdo", "prod", 2), 1);
        assert_eq!(edit_distance("stagign", "staging", 2), 1);
        assert_eq!(edit_distance("productoin", "production", 2), 1);
        assert_eq!(edit_distance("dev", "preview", 1), 2);
        assert_eq!(edit_distance("kitten", "sitting", 5), 3);
    }

    #[test]
    fn inflections() {
        assert!(inflects("deploying", "deploy"));
        assert!(inflects("shipping", "ship"));
        assert!(inflects("releasing", "release"));
        assert!(inflects("released", "release"));
        assert!(inflects("healthy", "health"));
        assert!(inflects("errors", "error"));
        assert!(!inflects("deployable", "deploy"));
        assert!(!inflects("upstream", "up"));
    }
}
