//! Measuring a grouping against labelled logs: grouping accuracy (GA) and a
//! reader for the Loghub `<System>_2k.log_structured.csv` files.

use std::collections::HashMap;
use std::hash::Hash;
use std::path::{Path, PathBuf};

/// Grouping accuracy: the share of lines whose predicted group holds exactly
/// the lines of their true group (Zhu et al., ICSE-SEIP 2019).
pub fn grouping_accuracy<P: Eq + Hash, T: Eq + Hash>(predicted: &[P], truth: &[T]) -> f64 {
    assert_eq!(predicted.len(), truth.len(), "one prediction per line");
    if truth.is_empty() {
        return 1.0;
    }
    let mut true_sizes: HashMap<&T, usize> = HashMap::new();
    for t in truth {
        *true_sizes.entry(t).or_default() += 1;
    }
    // For each predicted group: its size and the one true group of all its
    // lines (None once two differ).
    let mut groups: HashMap<&P, (usize, Option<&T>, bool)> = HashMap::new();
    for (p, t) in predicted.iter().zip(truth) {
        let g = groups.entry(p).or_insert((0, Some(t), true));
        g.0 += 1;
        if g.1 != Some(t) {
            g.2 = false;
        }
    }
    let correct: usize = groups
        .values()
        .filter(|(size, t, pure)| *pure && t.is_some_and(|t| true_sizes[t] == *size))
        .map(|(size, _, _)| size)
        .sum();
    correct as f64 / truth.len() as f64
}

/// Where the Loghub samples are in this project: `../shared/data/loghub`
/// next to the repository. Fails loudly when they are missing.
pub fn loghub_dir() -> Result<PathBuf, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/loghub");
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(format!(
            "the Loghub samples are missing: expected them in {} (../shared/data/loghub next to the repository)",
            dir.display()
        ))
    }
}

/// One labelled line: the message (`Content`) and its true event id.
#[derive(Debug, Clone)]
pub struct LabelledLine {
    pub content: String,
    pub event: String,
}

/// Reads `DIR/<system>/<system>_2k.log_structured.csv`.
pub fn read_loghub(dir: &Path, system: &str) -> Result<Vec<LabelledLine>, String> {
    let path = dir
        .join(system)
        .join(format!("{system}_2k.log_structured.csv"));
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut rows = csv_rows(&text).into_iter();
    let header = rows
        .next()
        .ok_or_else(|| format!("{} is empty", path.display()))?;
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("{} has no {name} column", path.display()))
    };
    let (content, event) = (column("Content")?, column("EventId")?);
    rows.map(|row| match (row.get(content), row.get(event)) {
        (Some(c), Some(e)) => Ok(LabelledLine {
            content: c.clone(),
            event: e.clone(),
        }),
        _ => Err(format!("{}: a row is short: {row:?}", path.display())),
    })
    .collect()
}

/// RFC 4180 rows: fields in double quotes may hold commas, newlines and `""`.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut field) = (Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_correct_only_when_its_whole_group_is() {
        // Truth: {0,1} {2} {3}. Predicted: {0,1} right, {2,3} merged: both wrong.
        assert_eq!(grouping_accuracy(&[1, 1, 2, 2], &["a", "a", "b", "c"]), 0.5);
        // Splitting a true group makes all its lines wrong.
        assert_eq!(grouping_accuracy(&[1, 2, 3], &["a", "a", "b"]), 1.0 / 3.0);
        assert_eq!(grouping_accuracy(&[7, 7, 9], &["a", "a", "b"]), 1.0);
    }

    #[test]
    fn csv_fields_may_be_quoted() {
        let rows = csv_rows("a,b\n1,\"x, \"\"y\"\"\"\n");
        assert_eq!(rows, vec![vec!["a", "b"], vec!["1", "x, \"y\""]]);
    }
}
