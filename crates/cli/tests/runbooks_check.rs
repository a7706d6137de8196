//! `opsroom runbooks check DIR` on the built binary: output and exit codes.

use std::path::PathBuf;
use std::process::Command;

#[path = "common/temp_dir.rs"]
mod temp_dir;
use temp_dir::TempDir;

const GOOD: &str = r#"name = "flush_cache"
description = "Flushes a service's cache."
risk = "write"
triggers = ["flush cache of {service} on {env}"]

[[steps.action]]
title = "flush {target}"
http = { method = "POST", url = "https://{target}.{env}.internal/cache/flush", expect_status = 204 }

[[steps.verify]]
wait = { seconds = 2 }
"#;

const BAD: &str = r#"name = "bad_shell"
description = "Runs a string through a shell."
risk = "write"
triggers = ["bad shell on {env}"]

[[steps.action]]
shell = { argv = ["sh", "-c", "rm -rf /tmp/x"] }
"#;

fn check(dir: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_opsroom"))
        .args(["runbooks", "check"])
        .arg(dir)
        .output()
        .expect("run opsroom");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn all_good_files_print_ok_and_exit_0() {
    let dir = TempDir::new("opsroom_check");
    dir.write("flush_cache.toml", GOOD);
    dir.write("README.md", "not a runbook");
    let (code, stdout, stderr) = check(&dir.0);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.contains("OK flush_cache (write risk, 1 trigger, 2 steps)"),
        "{stdout}"
    );
    assert!(stdout.contains("1 runbook OK, 0 errors"), "{stdout}");
}

#[test]
fn a_bad_file_prints_file_line_and_message_and_exits_2() {
    let dir = TempDir::new("opsroom_check");
    dir.write("flush_cache.toml", GOOD);
    dir.write("bad_shell.toml", BAD);
    let (code, stdout, stderr) = check(&dir.0);
    assert_eq!(code, 2, "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.contains("OK flush_cache"),
        "good files still pass: {stdout}"
    );
    let bad = dir.0.join("bad_shell.toml").display().to_string();
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&bad))
        .unwrap_or_else(|| panic!("no error line for {bad}: {stdout}"));
    assert!(
        line.starts_with(&format!("{bad}:6: ")) && line.contains("sh -c"),
        "{line}"
    );
    assert!(stdout.contains("1 runbook OK, 1 error"), "{stdout}");
}

#[test]
fn a_toml_syntax_error_names_its_line() {
    let dir = TempDir::new("opsroom_check");
    dir.write(
        "broken.toml",
        "name = \"x\"\ndescription = \"y\"\nrisk = \n",
    );
    let (code, stdout, _) = check(&dir.0);
    assert_eq!(code, 2);
    let bad = dir.0.join("broken.toml").display().to_string();
    assert!(stdout.contains(&format!("{bad}:3: ")), "{stdout}");
}

#[test]
fn a_missing_or_empty_folder_exits_2() {
    let dir = TempDir::new("opsroom_check");
    let (code, stdout, _) = check(&dir.0);
    assert_eq!(code, 2);
    assert!(stdout.contains("no runbook files"), "{stdout}");
    let (code, stdout, _) = check(&dir.0.join("nope"));
    assert_eq!(code, 2);
    assert!(
        stdout.contains("cannot read the runbooks folder"),
        "{stdout}"
    );
}

#[test]
fn the_example_runbooks_pass() {
    let fixtures =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/runbooks");
    let (code, stdout, stderr) = check(&fixtures);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("OK restart_service"), "{stdout}");
    assert!(stdout.contains("OK smoke_test"), "{stdout}");
}

/// `opsroom serve` with a config naming `runbooks_dir` relative to the config
/// file: the good runbook is served with `custom: true`, the bad one is a
/// warning naming its file and line.
#[test]
fn serve_loads_the_config_runbooks_dir_and_warns_about_bad_files() {
    use std::io::{BufRead, BufReader, Read, Write};

    let dir = TempDir::new("opsroom_check");
    std::fs::create_dir_all(dir.0.join("runbooks")).unwrap();
    dir.write("runbooks/flush_cache.toml", GOOD);
    dir.write("runbooks/bad_shell.toml", BAD);
    dir.write(
        "opsroom.toml",
        "runbooks_dir = \"runbooks\"\n\n[environments.dev]\nrequires_approval = false\n",
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_opsroom"))
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "0",
            "--config",
        ])
        .arg(dir.0.join("opsroom.toml"))
        .arg("--database-url")
        .arg(format!("sqlite://{}", dir.0.join("opsroom.db").display()))
        .env("RUST_LOG", "info")
        .env_remove("OPSROOM_ADMIN_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start opsroom serve");
    // Killed even when an assertion fails first.
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    // The server prints its address once it listens: no sleeping.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let child = KillOnDrop(child);
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();

    let mut socket = std::net::TcpStream::connect(&addr).unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        socket,
        "GET /api/v1/runbooks HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    socket.read_to_string(&mut response).unwrap();
    drop(child);
    let logs = logs.join().unwrap();

    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    let body = if body.trim_start().starts_with('[') {
        body.to_string()
    } else {
        // Chunked: take the JSON between the first '[' and the last ']'.
        body[body.find('[').unwrap_or(0)..=body.rfind(']').unwrap_or(0)].to_string()
    };
    let list: serde_json::Value = serde_json::from_str(&body).expect("runbooks JSON");
    let custom = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "flush_cache")
        .unwrap_or_else(|| panic!("flush_cache not served: {body}"));
    assert_eq!(custom["custom"], true);
    assert_eq!(custom["available"], true);
    assert!(
        !list
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "bad_shell"),
        "the bad runbook is left out"
    );
    let bad = dir.0.join("runbooks").join("bad_shell.toml");
    assert!(
        logs.lines()
            .any(|l| l.contains("WARN") && l.contains(&format!("{}:6: ", bad.display()))),
        "{logs}"
    );
}
