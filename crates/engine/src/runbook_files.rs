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
    // A file here that is a link to somewhere else (`x.toml -> /etc/...` or
    // `-> ../other/x.toml`) is not read: runbooks come from this folder only.
    let inside = std::fs::canonicalize(dir).ok();
    paths.retain(|path| {
        let resolved = std::fs::canonicalize(path).ok();
        let escapes = match (&inside, &resolved) {
            (Some(inside), Some(resolved)) => resolved.parent() != Some(inside.as_path()),
            _ => true,
        };
        if escapes {
            errors.push(format!(
                "{}: not read: it links to a file outside the runbooks folder {}; copy the file into the folder instead",
                path.display(),
                dir.display()
            ));
        }
        !escapes
    });
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

    #[cfg(unix)]
    #[test]
    fn links_out_of_the_folder_are_not_read() {
        let base = std::env::temp_dir().join(format!("opsroom-rb-links-{}", std::process::id()));
        let (dir, outside) = (base.join("runbooks"), base.join("outside"));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let runbook = |name: &str| {
            format!("name = \"{name}\"\ndescription = \"d\"\nrisk = \"read\"\ntriggers = [\"{name} on {{env}}\"]\n\n[[steps.action]]\nwait = {{ seconds = 1 }}\n")
        };
        std::fs::write(dir.join("good.toml"), runbook("good")).unwrap();
        std::fs::write(outside.join("secret.toml"), runbook("stolen")).unwrap();
        std::fs::write(dir.join("sub/deeper.toml"), runbook("deeper")).unwrap();
        std::os::unix::fs::symlink(outside.join("secret.toml"), dir.join("escape.toml")).unwrap();
        std::os::unix::fs::symlink("../outside/secret.toml", dir.join("relative.toml")).unwrap();
        std::os::unix::fs::symlink("sub/deeper.toml", dir.join("down.toml")).unwrap();
        std::os::unix::fs::symlink("good.toml", dir.join("same.toml")).unwrap();
        let (specs, errors) = load_runbooks_dir(&dir);
        std::fs::remove_dir_all(&base).unwrap();
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert!(
            !names.contains(&"stolen") && !names.contains(&"deeper"),
            "{names:?}"
        );
        assert!(names.contains(&"good"), "{names:?} {errors:?}");
        for file in ["escape.toml", "relative.toml", "down.toml"] {
            assert!(
                errors
                    .iter()
                    .any(|e| e.contains(file) && e.contains("outside the runbooks folder")),
                "{file}: {errors:?}"
            );
        }
        // A link to a file of the folder itself is that file (its name is
        // then taken twice, which is the usual error).
        assert!(
            errors
                .iter()
                .all(|e| !e.contains("same.toml") || e.contains("already taken")),
            "{errors:?}"
        );
    }

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
