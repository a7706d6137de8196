//! `opsroom patterns` on the built binary: the table, `--json` shape and
//! order, stdin, `.gz`, `--top`, `--since`, skipped lines and exit codes.

use flate2::write::GzEncoder;
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

#[path = "common/temp_dir.rs"]
mod temp_dir;
use temp_dir::TempDir;

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

fn patterns(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_opsroom"))
        .arg("patterns")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run opsroom");
    let mut input = child.stdin.take().unwrap();
    // A command refused before it reads stdin closes the pipe first.
    match input.write_all(stdin.unwrap_or_default()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.unwrap(),
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    Output {
        code: out.status.code().expect("exit code"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

const LOG: &str = "\
2024-05-01T10:00:00Z INFO user 17 logged in from 10.0.0.1
2024-05-01T10:00:03Z ERROR payment pi_123 failed: card_declined
2024-05-01T10:00:04Z INFO user 42 logged in from 10.0.0.9
2024-05-01T10:02:00Z ERROR payment pi_456 failed: card_declined
2024-05-01T10:03:00Z INFO user 7 logged in from 10.0.0.3
";

/// Parses `--json` output, checking each line is exactly
/// `{"line": N, "pattern": ID, "template": "…"}`.
fn json_lines(stdout: &str) -> Vec<(u64, u64, String)> {
    stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            let o = v.as_object().unwrap();
            let mut keys: Vec<&str> = o.keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(keys, ["line", "pattern", "template"], "{l}");
            (
                v["line"].as_u64().unwrap(),
                v["pattern"].as_u64().unwrap(),
                v["template"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_table_shows_each_pattern_with_count_level_times_and_an_example() {
    let dir = TempDir::new("opsroom_patterns");
    let file = dir.write("app.log", LOG.as_bytes());
    let out = patterns(&[path(&file)], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[0].contains("COUNT") && lines[0].contains("TEMPLATE"),
        "{}",
        out.stdout
    );
    // Most frequent first: the login pattern (3 lines), then the payment one.
    assert!(
        lines[1].contains("INFO user <*> logged in from <*>"),
        "{}",
        out.stdout
    );
    assert!(lines[1].trim_start().starts_with("3 "), "{}", out.stdout);
    assert!(lines[1].contains("info"), "{}", out.stdout);
    assert!(lines[1].contains("2024-05-01 10:00:00"), "{}", out.stdout);
    assert!(lines[1].contains("2024-05-01 10:03:00"), "{}", out.stdout);
    assert!(
        lines[2].contains("e.g. INFO user 17 logged in from 10.0.0.1"),
        "{}",
        out.stdout
    );
    assert!(lines[3].contains("error"), "{}", out.stdout);
    assert!(
        lines[3].contains("ERROR payment pi_<*> failed: card_declined"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains("5 lines, 5 mined into 2 patterns, 0 skipped"),
        "{}",
        out.stderr
    );
}

#[test]
fn top_limits_the_table() {
    let dir = TempDir::new("opsroom_patterns");
    let file = dir.write("app.log", LOG.as_bytes());
    let out = patterns(&["--top", "1", path(&file)], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("logged in"), "{}", out.stdout);
    assert!(!out.stdout.contains("payment"), "{}", out.stdout);
    assert!(out.stdout.contains("1 more patterns"), "{}", out.stdout);
}

#[test]
fn json_prints_every_line_in_input_order_with_its_final_pattern() {
    let dir = TempDir::new("opsroom_patterns");
    // The third line turns a word of the first two into a value: every line
    // of the group gets the final template.
    let first = "worker alpha finished the nightly export of tables for the reporting team";
    let text = format!(
        "{first}\n{LOG}{first}\n{}\n",
        first.replace("alpha", "beta")
    );
    let file = dir.write("app.log", text.as_bytes());
    let out = patterns(&["--json", path(&file)], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rows = json_lines(&out.stdout);
    assert_eq!(
        rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        (1..=8).collect::<Vec<u64>>()
    );
    let export = "worker <*> finished the nightly export of tables for the reporting team";
    for i in [0, 6, 7] {
        assert_eq!(rows[i].1, rows[0].1);
        assert_eq!(rows[i].2, export);
    }
    assert_eq!(rows[1].1, rows[3].1);
    assert_eq!(rows[1].2, "INFO user <*> logged in from <*>");
    assert_eq!(rows[2].1, rows[4].1);
    assert_ne!(rows[1].1, rows[2].1);
    assert_ne!(rows[0].1, rows[1].1);
}

#[test]
fn stdin_is_read_with_a_dash_or_without_files() {
    for args in [&["--json", "-"][..], &["--json"][..]] {
        let out = patterns(args, Some(LOG.as_bytes()));
        assert_eq!(out.code, 0, "{}", out.stderr);
        let rows = json_lines(&out.stdout);
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[4].2, "INFO user <*> logged in from <*>");
    }
}

#[test]
fn gz_files_are_read_and_lines_are_numbered_across_inputs() {
    let dir = TempDir::new("opsroom_patterns");
    let plain = dir.write("a.log", LOG.as_bytes());
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(LOG.as_bytes()).unwrap();
    let packed = dir.write("b.log.gz", gz.finish().unwrap());
    let out = patterns(&["--json", path(&plain), path(&packed)], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rows = json_lines(&out.stdout);
    assert_eq!(rows.len(), 10);
    assert_eq!(rows[9].0, 10);
    assert_eq!(rows[5].1, rows[0].1, "the same line in both files");
    assert_eq!(rows[5].2, "INFO user <*> logged in from <*>");
}

#[test]
fn a_missing_file_is_bad_input_and_nothing_is_printed() {
    let dir = TempDir::new("opsroom_patterns");
    let file = dir.write("app.log", LOG.as_bytes());
    let missing = dir.0.join("nope.log");
    let out = patterns(&[path(&file), path(&missing)], None);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(
        out.stderr.contains("cannot open") && out.stderr.contains("nope.log"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_flags_are_bad_input() {
    let out = patterns(&["--since", "yesterday-ish", "-"], Some(b""));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("--since `yesterday-ish`"),
        "{}",
        out.stderr
    );
    let out = patterns(&["--top", "many", "-"], Some(b""));
    assert_eq!(out.code, 2, "{}", out.stderr);
}

#[test]
fn invalid_utf8_and_overlong_lines_are_skipped_and_counted() {
    let mut input = Vec::new();
    input.extend_from_slice(b"INFO started worker 1\n");
    input.extend_from_slice(b"INFO bad \xff\xfe bytes\n");
    input.extend(std::iter::repeat_n(b'x', (1 << 20) + 10));
    input.push(b'\n');
    input.extend_from_slice(b"INFO started worker 2\r\n");
    input.extend_from_slice(b"\x00\x01\x02 binary garbage"); // no final newline
    let out = patterns(&["--json", "-"], Some(&input));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rows = json_lines(&out.stdout);
    assert_eq!(
        rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        [1, 4, 5],
        "{}",
        out.stdout
    );
    assert_eq!(rows[0].2, "INFO started worker <*>");
    assert_eq!(rows[0].1, rows[1].1);
    assert!(
        out.stderr
            .contains("5 lines, 3 mined into 2 patterns, 2 skipped (1 not UTF-8, 1 longer than"),
        "{}",
        out.stderr
    );
}

#[test]
fn since_keeps_the_lines_at_or_after_it() {
    let out = patterns(
        &["--json", "--since", "2024-05-01T10:00:04Z", "-"],
        Some(LOG.as_bytes()),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rows = json_lines(&out.stdout);
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [3, 4, 5]);
    assert!(out.stderr.contains("2 before --since"), "{}", out.stderr);
}

#[test]
fn an_empty_input_prints_an_empty_table() {
    let out = patterns(&[], Some(b""));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    assert!(out.stderr.contains("0 lines"), "{}", out.stderr);
}
