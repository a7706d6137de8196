//! What the multi-process tests share: `opsroom worker` processes and every
//! run of the store.

#![allow(dead_code)]

use opsroom_store::{DynStore, Run, RunListParams, DEFAULT_WORKSPACE};
use std::process::{Child, Command, Stdio};

/// Starts `opsroom worker` on `url` with extra flags, logging at `log`.
pub fn spawn_worker(url: &str, log: &str, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_opsroom"))
        .args(["worker", "--database-url", url])
        .args(extra)
        .env("RUST_LOG", log)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start opsroom worker")
}

/// SIGTERM, then waits for the process to end.
pub fn terminate(child: &mut Child) {
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let _ = child.wait();
}

/// Every run of the default workspace, newest first.
pub async fn all_runs(store: &DynStore) -> Vec<Run> {
    let mut runs = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .run_list(RunListParams {
                workspace_id: DEFAULT_WORKSPACE.into(),
                before,
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        if page.is_empty() {
            return runs;
        }
        before = page.last().map(|r| r.id);
        runs.extend(page);
    }
}
pub mod cli;
