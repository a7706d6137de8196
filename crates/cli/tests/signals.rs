//! `opsroom serve` stops on SIGTERM even when nobody reads its output any
//! more (`opsroom serve 2>&1 | head -1`): logging must never be able to stop
//! shutdown.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn serve_stops_on_sigterm_after_its_output_pipe_is_closed() {
    let dir = std::env::temp_dir().join(format!("opsroom-sigterm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}", dir.join("opsroom.db").display());
    // One pipe for stdout and stderr, as a shell's `2>&1 |` makes.
    let (reader, writer) = std::io::pipe().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_opsroom"))
        .args(["serve", "--bind", "127.0.0.1:0", "--database-url", &db])
        .env("RUST_LOG", "info")
        .env_remove("OPSROOM_CONFIG")
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .spawn()
        .expect("start opsroom serve");
    // Read lines until the server says it listens, then close the pipe like `head -1`.
    let mut lines = BufReader::new(reader);
    let mut line = String::new();
    loop {
        line.clear();
        let n = lines.read_line(&mut line).unwrap();
        assert!(n > 0, "serve ended before it listened");
        if line.contains("opsroom listening on") {
            break;
        }
    }
    drop(lines);

    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
    let status = status.expect("serve still running a minute after SIGTERM");
    assert!(status.success(), "serve exited with {status}");
}
