//! Custom runbook files on disk: reads a folder's `*.toml` files (the IO
//! half; parsing and checking live in `opsroom_core::catalog`) and builds the
//! catalog a server or worker runs with. A bad file never stops the others.

use opsroom_core::catalog::load_custom_dir_entries;
use opsroom_core::{Catalog, RunbookSpec};
use std::path::Path;

/// Reads every `*.toml` file of `dir` (not its subfolders), in name order.
/// Returns the runbooks that are good and one message per bad file, each
/// `FILE:LINE: what is wrong` (the line when there is one), where FILE is the
/// path as found under `dir`. A folder that cannot be read is one message.
pub fn load_runbooks_dir(dir: &Path) -> (Vec<RunbookSpec>, Vec<String>) {
    let mut errors = Vec::new();
    let listing = match std::fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(e) => {
            return (
                Vec::new(),
                vec![format!(
                    "{}: cannot read the runbooks folder: {e}",
                    dir.display()
                )],
            )
        }
    };
    let mut paths: Vec<_> = listing
        .filter_map(|entry| match entry {
            Ok(entry) => Some(entry.path()),
            Err(e) => {
                errors.push(format!("{}: cannot list a file: {e}", dir.display()));
                None
            }
        })
        .filter(|p| p.extension().is_some_and(|ext| ext == "toml") && p.is_file())
        .collect();
    paths.sort();
    let mut entries = Vec::with_capacity(paths.len());
    for path in paths {
        let label = path.display().to_string();
        match std::fs::read(&path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => entries.push((label, text)),
                Err(e) => {
                    let at = e.utf8_error().valid_up_to();
                    let line = 1 + e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count();
                    errors.push(format!(
                        "{label}:{line}: the file is not UTF-8 text (invalid byte at offset {at}); save it as UTF-8"
                    ))
                }
            },
            Err(e) => errors.push(format!("{label}: cannot read: {e}")),
        }
    }
    let (specs, bad) = load_custom_dir_entries(entries);
    errors.extend(bad.iter().map(ToString::to_string));
    (specs, errors)
}

/// The built-ins plus the good runbooks of `dir`, and a message per file
/// that was left out (see [`load_runbooks_dir`]).
pub fn catalog_from_dir(dir: &Path) -> (Catalog, Vec<String>) {
    let (specs, mut errors) = load_runbooks_dir(dir);
    let mut catalog = Catalog::builtin();
    for spec in specs {
        if let Err(e) = catalog.insert(spec) {
            errors.push(format!("{}: {e}", dir.display()));
        }
    }
    (catalog, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_folder_is_one_error() {
        let (specs, errors) = load_runbooks_dir(Path::new("/nonexistent/opsroom-runbooks"));
        assert!(specs.is_empty());
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].contains("cannot read the runbooks folder"),
            "{errors:?}"
        );
    }
}
