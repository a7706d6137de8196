//! NUL characters in what programs print: PostgreSQL text and jsonb cannot
//! hold them, so both stores keep events, artifacts and run errors with each
//! NUL shown as `␀` (and the write succeeds instead of failing the run).

use chrono::{TimeZone, Utc};
use opsroom_core::{EventLevel, Phase, RunStatus};
use opsroom_store::*;
use serde_json::json;

async fn program_output_with_nul_is_stored_with_nul_shown(store: DynStore) {
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
    let (run, _) = store
        .run_insert(RunInsertParams::new("noop", now))
        .await
        .unwrap();
    let claimed = store
        .run_claim(RunClaimParams {
            worker_id: "w".into(),
            limit: 1,
            now,
        })
        .await
        .unwrap()
        .remove(0);
    let fence = Some(claimed.fence());
    let printed = NewEvent::new(now, EventLevel::Info, Some(Phase::Action), "before\0after")
        .with_data(json!({"stream": "stdout", "line": "a\0b", "nested": [{"k\0": "\0"}]}));
    let seq = store
        .events_append(EventsAppendParams {
            workspace_id: run.workspace_id.clone(),
            run_id: run.id,
            fence,
            events: vec![printed],
            phases: None,
        })
        .await
        .expect("an event with NUL is stored");
    assert_eq!(seq, Seq(3), "created, claimed, then the printed line");
    let artifact = store
        .artifact_insert(ArtifactInsertParams {
            workspace_id: run.workspace_id.clone(),
            run_id: run.id,
            fence,
            kind: ArtifactKind::File,
            name: "out\0.txt".into(),
            content: "x\0y".into(),
            now,
        })
        .await
        .expect("an artifact with NUL is stored");
    assert_eq!(
        (artifact.name.as_str(), artifact.content.as_str()),
        ("out␀.txt", "x␀y")
    );
    let done = store
        .run_complete(RunCompleteParams {
            workspace_id: run.workspace_id.clone(),
            run_id: run.id,
            fence: claimed.fence(),
            status: RunStatus::Failed,
            error: Some("step printed \0 and failed".into()),
            retry_at: None,
            events: vec![NewEvent::new(
                now,
                EventLevel::Error,
                Some(Phase::Summarize),
                "last\0line",
            )
            .with_data(json!("\0"))],
            phases: None,
            now,
        })
        .await
        .expect("a completion with NUL is stored");
    assert_eq!(done.status, RunStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("step printed ␀ and failed"));

    let events = store
        .events_list(EventsListParams::new(DEFAULT_WORKSPACE, run.id, 100))
        .await
        .unwrap();
    let seqs: Vec<i64> = events.iter().map(|e| e.seq.0).collect();
    assert_eq!(seqs, [1, 2, 3, 4], "contiguous: nothing was lost");
    assert_eq!(events[2].message, "before␀after");
    assert_eq!(
        events[2].data,
        json!({"stream": "stdout", "line": "a␀b", "nested": [{"k␀": "␀"}]})
    );
    assert_eq!(
        (events[3].message.as_str(), &events[3].data),
        ("last␀line", &json!("␀"))
    );
    let listed = store
        .artifacts_list(DEFAULT_WORKSPACE, run.id)
        .await
        .unwrap();
    assert_eq!(listed[0].content, "x␀y");
    let read = store.run_get(DEFAULT_WORKSPACE, run.id).await.unwrap();
    assert_eq!(read.error, done.error);
}

opsroom_store::on_both_stores!(program_output_with_nul_is_stored_with_nul_shown);
