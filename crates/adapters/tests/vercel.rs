//! The Vercel client against a fake Vercel API speaking its documented endpoints.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opsroom_adapters::follow::FollowOptions;
use opsroom_adapters::testing::vercel::{FakeDeployment, FakeVercel};
use opsroom_adapters::testing::{assert_error_text, test_http, Fault, TOKEN};
use opsroom_adapters::vercel::{
    CreateDeployment, GitSource, ListDeployments, ReadyState, RuntimeLogWindow, VercelClient,
    VercelConfig,
};
use opsroom_adapters::{ApiError, Secret};

struct Harness {
    fake: FakeVercel,
    client: VercelClient,
    slept: Arc<Mutex<Vec<Duration>>>,
}

async fn harness() -> Harness {
    let fake = FakeVercel::start().await;
    let (http, slept) = test_http();
    let client = VercelClient::new(VercelConfig {
        base_url: fake.url.clone(),
        token: Secret::new(TOKEN),
        team_id: Some("team_1".to_owned()),
        http,
    })
    .unwrap();
    Harness {
        fake,
        client,
        slept,
    }
}

fn deploy_request(git_ref: &str) -> CreateDeployment {
    CreateDeployment {
        name: "web".to_owned(),
        project: Some("prj_web".to_owned()),
        target: Some("production".to_owned()),
        git_source: GitSource::GitHub {
            org: "acme".to_owned(),
            repo: "web".to_owned(),
            git_ref: git_ref.to_owned(),
            sha: None,
        },
    }
}

#[tokio::test]
async fn deploys_from_git_ref_and_follows_to_ready() {
    let h = harness().await;
    let dep = h
        .client
        .create_deployment(&deploy_request("main"))
        .await
        .unwrap();
    assert_eq!(dep.ready_state, ReadyState::Queued);
    let create = &h.fake.gate.requests()[0];
    assert_eq!(create.method, "POST");
    assert_eq!(create.path, "/v13/deployments");
    assert_eq!(create.query, "teamId=team_1");

    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let opts = FollowOptions::new(Duration::from_millis(1), Duration::from_secs(5));
    let done = h
        .client
        .follow_deployment(&dep.id, &opts, Some(&tx))
        .await
        .unwrap();
    assert_eq!(done.ready_state, ReadyState::Ready);
    drop(tx);
    let mut seen = Vec::new();
    while let Some(m) = rx.recv().await {
        seen.push(m);
    }
    assert_eq!(
        seen,
        [
            "vercel deployment dpl_new1: QUEUED",
            "vercel deployment dpl_new1: BUILDING",
            "vercel deployment dpl_new1: READY"
        ]
    );
    assert!(h
        .fake
        .gate
        .requests()
        .iter()
        .all(|r| r.query.contains("teamId=team_1")));
}

#[tokio::test]
async fn failed_build_is_terminal_with_its_message() {
    let h = harness().await;
    let dep = h
        .client
        .create_deployment(&deploy_request("broken"))
        .await
        .unwrap();
    let opts = FollowOptions::new(Duration::from_millis(1), Duration::from_secs(5));
    let done = h
        .client
        .follow_deployment(&dep.id, &opts, None)
        .await
        .unwrap();
    assert_eq!(done.ready_state, ReadyState::Error);
    assert!(done.error_message.unwrap().contains("npm run build"));
}

#[tokio::test]
async fn build_events_read_both_event_shapes() {
    let h = harness().await;
    let dep = h
        .client
        .create_deployment(&deploy_request("broken"))
        .await
        .unwrap();
    let opts = FollowOptions::new(Duration::from_millis(1), Duration::from_secs(5));
    h.client
        .follow_deployment(&dep.id, &opts, None)
        .await
        .unwrap();
    let events = h.client.deployment_events(&dep.id).await.unwrap();
    let texts: Vec<&str> = events.iter().map(|e| e.text()).collect();
    // The fake writes stderr lines in the older shape, text at the top.
    assert_eq!(
        texts,
        [
            "Cloning github.com/acme/web (Branch: broken)",
            "Running \"npm run build\"",
            "Error: Cannot find module 'left-pad'",
            "Error: Command \"npm run build\" exited with 1"
        ]
    );
    assert_eq!(events[2].kind, "stderr");
}

#[tokio::test]
async fn follows_a_deployment_passing_each_build_line_on_once() {
    let h = harness().await;
    let dep = h
        .client
        .create_deployment(&deploy_request("broken"))
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let (log_tx, mut log_rx) = tokio::sync::mpsc::channel(16);
    let opts = FollowOptions::new(Duration::from_millis(1), Duration::from_secs(5));
    let done = h
        .client
        .follow_deployment_with_build_log(&dep.id, &opts, Some(&tx), &log_tx)
        .await
        .unwrap();
    assert_eq!(done.ready_state, ReadyState::Error);
    drop((tx, log_tx));
    let mut lines = Vec::new();
    while let Some(event) = log_rx.recv().await {
        lines.push((
            event.kind.clone(),
            event.text().to_owned(),
            event.is_error(),
        ));
    }
    let line = |kind: &str, text: &str, error: bool| (kind.to_owned(), text.to_owned(), error);
    assert_eq!(
        lines,
        [
            line(
                "command",
                "Cloning github.com/acme/web (Branch: broken)",
                false
            ),
            line("stdout", "Running \"npm run build\"", false),
            line("stderr", "Error: Cannot find module 'left-pad'", true),
            line(
                "stderr",
                "Error: Command \"npm run build\" exited with 1",
                true
            ),
        ]
    );
    let mut statuses = Vec::new();
    while let Some(m) = rx.recv().await {
        statuses.push(m);
    }
    assert_eq!(statuses.len(), 3, "{statuses:?}");
    // Read at every poll and once more at the end; after the first read,
    // from the newest line seen on (the fake writes one per poll, at times
    // 1, 2 and 3).
    let reads: Vec<String> = h
        .fake
        .gate
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/events"))
        .map(|r| r.query.clone())
        .collect();
    assert_eq!(reads.len(), 4, "{reads:?}");
    assert!(!reads[0].contains("since="), "{reads:?}");
    for (i, query) in reads.iter().enumerate().skip(1) {
        assert!(query.contains(&format!("since={i}")), "{reads:?}");
    }
}

#[tokio::test]
async fn an_unreadable_build_log_does_not_stop_following() {
    let h = harness().await;
    let dep = h
        .client
        .create_deployment(&deploy_request("main"))
        .await
        .unwrap();
    // The first poll reads the deployment, then its log: a 403 for the log.
    h.fake.gate.push_faults([
        Fault::Delay(Duration::ZERO),
        Fault::status(403, "no logs for you"),
    ]);
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let (log_tx, _log_rx) = tokio::sync::mpsc::channel(16);
    let opts = FollowOptions::new(Duration::from_millis(1), Duration::from_secs(5));
    let follow = h
        .client
        .follow_deployment_with_build_log(&dep.id, &opts, Some(&tx), &log_tx);
    let done = follow.await.unwrap();
    assert_eq!(done.ready_state, ReadyState::Ready);
    drop(tx);
    let mut statuses = Vec::new();
    while let Some(m) = rx.recv().await {
        statuses.push(m);
    }
    assert!(
        statuses
            .iter()
            .any(|m| m.contains("build log not readable") && m.contains("HTTP 403")),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn reads_what_production_serves_and_waits_for_a_promotion() {
    let h = harness().await;
    h.fake.slow_promotions(2);
    let project = h.client.get_project("web").await.unwrap();
    assert_eq!(project.id, "prj_web");
    let live = project.production().unwrap();
    assert_eq!(live.id, "dpl_old2");
    assert_eq!(live.created_at, Some(2000));
    assert_eq!(live.meta["githubCommitRef"], "v2");
    assert!(project.alias_request_in_progress().is_none());

    h.client.promote("prj_web", "dpl_old1").await.unwrap();
    let moving = h.client.get_project("prj_web").await.unwrap();
    let request = moving.alias_request_in_progress().unwrap();
    assert_eq!(
        (request.kind.as_str(), request.to_deployment_id.as_deref()),
        ("promote", Some("dpl_old1"))
    );
    assert_eq!(moving.production().unwrap().id, "dpl_old2");

    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let opts = FollowOptions::new(Duration::from_millis(1), Duration::from_secs(5));
    let served = h
        .client
        .wait_for_production("prj_web", "dpl_old1", &opts, Some(&tx))
        .await
        .unwrap();
    assert_eq!(served.production().unwrap().id, "dpl_old1");
    drop(tx);
    let mut seen = Vec::new();
    while let Some(m) = rx.recv().await {
        seen.push(m);
    }
    assert_eq!(
        seen,
        ["vercel project prj_web: production serves dpl_old1 (promote succeeded)"]
    );
    let read = h
        .fake
        .gate
        .requests()
        .into_iter()
        .find(|r| r.path == "/v9/projects/web")
        .unwrap();
    assert_eq!(read.query, "teamId=team_1");
}

#[tokio::test]
async fn lists_deployments_across_pages_with_until() {
    let h = harness().await;
    for n in 3..=7 {
        h.fake.add(FakeDeployment::seeded(
            &format!("dpl_old{n}"),
            &format!("v{n}"),
            n * 1000,
        ));
    }
    let query = ListDeployments {
        project_id: Some("prj_web".to_owned()),
        limit: Some(3),
        ..Default::default()
    };
    let first = h.client.list_deployments(&query).await.unwrap();
    assert_eq!(first.deployments.len(), 3);
    assert_eq!(first.next, Some(5000));
    let all = h.client.list_all_deployments(&query, 100).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|d| d.uid.as_str()).collect();
    assert_eq!(
        ids,
        ["dpl_old7", "dpl_old6", "dpl_old5", "dpl_old4", "dpl_old3", "dpl_old2", "dpl_old1"]
    );
    assert_eq!(all[0].status(), Some(&ReadyState::Ready));
    assert_eq!(all[0].meta["githubCommitRef"], "v7");
    let untils: Vec<String> = h
        .fake
        .gate
        .requests()
        .iter()
        .filter(|r| r.path == "/v6/deployments")
        .map(|r| r.query.clone())
        .collect();
    assert!(untils[2].contains("until=5000"), "{untils:?}");
    assert!(untils[3].contains("until=2000"), "{untils:?}");
    let capped = h.client.list_all_deployments(&query, 4).await.unwrap();
    assert_eq!(capped.len(), 4);
}

#[tokio::test]
async fn promotes_and_rolls_back() {
    let h = harness().await;
    h.client.promote("prj_web", "dpl_old1").await.unwrap();
    assert_eq!(h.fake.live(), "dpl_old1");
    h.client
        .rollback("prj_web", "dpl_old2", Some("verify failed"))
        .await
        .unwrap();
    assert_eq!(h.fake.live(), "dpl_old2");
    assert_eq!(h.fake.promotions(), ["dpl_old1"]);
    let promote = &h.fake.gate.requests()[0];
    assert_eq!(
        (promote.method.as_str(), promote.path.as_str()),
        ("POST", "/v10/projects/prj_web/promote/dpl_old1")
    );
    assert_eq!(
        h.fake.rollback_requests(),
        [(
            "prj_web".to_owned(),
            "dpl_old2".to_owned(),
            Some("verify failed".to_owned())
        )]
    );
}

#[tokio::test]
async fn rollback_refused_names_the_call_and_the_reason() {
    let h = harness().await;
    let err = h
        .client
        .rollback("prj_web", "dpl_preview", None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_error_text(&err, "vercel.rollback", Some(400));
    assert!(err.to_string().contains("served production"), "{err}");
}

#[tokio::test]
async fn runtime_logs_parse_the_json_line_stream() {
    let h = harness().await;
    let logs = h
        .client
        .runtime_logs("prj_1", "dpl_1", &RuntimeLogWindow::default())
        .await
        .unwrap();
    assert_eq!(logs.len(), 3);
    assert_eq!(logs[1].level, "error");
    assert_eq!(logs[1].message, "TypeError: x is undefined");
    assert_eq!(logs[1].response_status_code, Some(500));
    let window = RuntimeLogWindow {
        max_lines: 2,
        max_duration: Duration::from_secs(5),
    };
    assert_eq!(
        h.client
            .runtime_logs("prj_1", "dpl_1", &window)
            .await
            .unwrap()
            .len(),
        2
    );
}

/// A live log stream as Vercel serves it while a deployment runs: chunked
/// JSON lines, then the connection stays open. Written on a raw socket so the
/// test controls exactly what is sent and when.
async fn serve_endless_log_stream() -> (String, tokio::task::JoinHandle<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            request.extend_from_slice(&buf[..n]);
        }
        let mut response = String::from(
            "HTTP/1.1 200 OK\r\ncontent-type: application/stream+json\r\ntransfer-encoding: chunked\r\n\r\n",
        );
        for line in [
            "{\"level\":\"info\",\"message\":\"boot\",\"rowId\":\"1\",\"source\":\"serverless\",\"timestampInMs\":1}\n",
            "{\"level\":\"warning\",\"message\":\"slow\",\"rowId\":\"2\",\"source\":\"serverless\",\"timestampInMs\":2}\n",
        ] {
            response.push_str(&format!("{:x}\r\n{line}\r\n", line.len()));
        }
        socket.write_all(response.as_bytes()).await.unwrap();
        // Keep the stream open until the client goes away.
        let _ = socket.read(&mut buf).await;
        String::from_utf8_lossy(&request).into_owned()
    });
    (base, task)
}

#[tokio::test]
async fn runtime_logs_stop_reading_an_open_stream_at_the_window() {
    let (base_url, server) = serve_endless_log_stream().await;
    let (http, _) = test_http();
    let client = VercelClient::new(VercelConfig {
        base_url,
        token: Secret::new(TOKEN),
        team_id: Some("team_1".into()),
        http,
    })
    .unwrap();
    let window = RuntimeLogWindow {
        max_lines: 100,
        max_duration: Duration::from_millis(300),
    };
    let started = std::time::Instant::now();
    let logs = client
        .runtime_logs("prj_1", "dpl_1", &window)
        .await
        .unwrap();
    assert_eq!(
        logs.iter().map(|l| l.message.as_str()).collect::<Vec<_>>(),
        ["boot", "slow"]
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    drop(client);
    let request = server.await.unwrap().to_lowercase();
    assert!(
        request.starts_with("get /v1/projects/prj_1/deployments/dpl_1/runtime-logs?teamid=team_1 "),
        "{request}"
    );
    assert!(
        request.contains(&format!("authorization: bearer {}", TOKEN.to_lowercase())),
        "{request}"
    );
}

#[tokio::test]
async fn unreachable_api_is_retried_then_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let (http, slept) = test_http();
    let client = VercelClient::new(VercelConfig {
        base_url: closed,
        token: Secret::new(TOKEN),
        team_id: None,
        http,
    })
    .unwrap();
    let err = client.get_deployment("dpl_1").await.unwrap_err();
    assert!(
        matches!(err, ApiError::Transport { attempts: 3, .. }),
        "{err:?}"
    );
    assert_error_text(&err, "vercel.get_deployment", None);
    assert_eq!(slept.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_deployment_is_not_created_twice_after_an_ambiguous_500() {
    let h = harness().await;
    h.fake.gate.push_faults([Fault::status(500, "internal")]);
    let err = h
        .client
        .create_deployment(&deploy_request("main"))
        .await
        .unwrap_err();
    assert_error_text(&err, "vercel.create_deployment", Some(500));
    assert_eq!(
        h.fake.gate.requests().len(),
        1,
        "a create is not repeated after a 500"
    );
    h.fake.gate.push_faults([Fault::status(503, "maintenance")]);
    h.client
        .create_deployment(&deploy_request("main"))
        .await
        .unwrap();
    assert_eq!(
        h.fake.world.lock().unwrap().created,
        1,
        "503 means not processed: retried once"
    );
}

#[tokio::test]
async fn unknown_deployment_is_404_with_provider_message() {
    let h = harness().await;
    let err = h.client.get_deployment("dpl_missing").await.unwrap_err();
    assert!(err.is_not_found());
    assert_error_text(&err, "vercel.get_deployment", Some(404));
    assert!(
        err.to_string().contains("The deployment was not found."),
        "{err}"
    );
    assert_eq!(h.fake.gate.requests().len(), 1, "a 404 is not retried");
}

#[tokio::test]
async fn wrong_token_is_refused_without_the_token_in_the_error() {
    let h = harness().await;
    let client = VercelClient::new(VercelConfig {
        base_url: h.fake.url.clone(),
        token: Secret::new("tok_wrong_999"),
        team_id: None,
        http: test_http().0,
    })
    .unwrap();
    let err = client.get_deployment("dpl_1").await.unwrap_err();
    assert!(err.is_auth());
    assert_error_text(&err, "vercel.get_deployment", Some(403));
    assert!(!err.to_string().contains("tok_wrong_999"));
}

#[tokio::test]
async fn rate_limit_honours_retry_after_then_succeeds() {
    let h = harness().await;
    h.fake.gate.push_faults([Fault::rate_limited("7")]);
    let page = h
        .client
        .list_deployments(&ListDeployments::default())
        .await
        .unwrap();
    assert_eq!(page.deployments.len(), 2);
    assert_eq!(*h.slept.lock().unwrap(), [Duration::from_secs(7)]);
    assert_eq!(h.fake.gate.requests().len(), 2);
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let h = harness().await;
    h.fake.gate.push_faults([
        Fault::status(500, "internal"),
        Fault::status(502, "bad gateway"),
    ]);
    assert!(h
        .client
        .list_deployments(&ListDeployments::default())
        .await
        .is_ok());
    h.fake.gate.clear_requests();
    h.fake.gate.push_faults([
        Fault::status(500, "a"),
        Fault::status(500, "b"),
        Fault::status(503, "still down"),
    ]);
    let err = h
        .client
        .list_deployments(&ListDeployments::default())
        .await
        .unwrap_err();
    assert_eq!(h.fake.gate.requests().len(), 3, "bounded attempts");
    assert!(
        matches!(
            err,
            ApiError::Status {
                status: 503,
                attempts: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_error_text(&err, "vercel.list_deployments", Some(503));
    assert!(err.to_string().contains("still down"));
}

#[tokio::test]
async fn slow_answer_is_a_timeout_error() {
    let h = harness().await;
    h.fake
        .gate
        .push_faults([Fault::Delay(Duration::from_secs(3))]);
    let err = h.client.get_deployment("dpl_1").await.unwrap_err();
    assert!(matches!(err, ApiError::Timeout { .. }), "{err:?}");
    assert_error_text(&err, "vercel.get_deployment", None);
    assert!(err.to_string().contains("timed out"));
}

#[tokio::test]
async fn a_token_echoed_by_the_provider_is_scrubbed_from_the_error() {
    let h = harness().await;
    h.fake.gate.push_faults([Fault::status(
        400,
        "token tok_SECRET_abc123 is not allowed for this team",
    )]);
    let err = h.client.get_deployment("dpl_1").await.unwrap_err();
    assert_error_text(&err, "vercel.get_deployment", Some(400));
    assert!(
        err.to_string().contains("token *** is not allowed"),
        "{err}"
    );
}

#[tokio::test]
async fn lists_what_went_live_with_its_ready_time_commit_and_ref() {
    let h = harness().await;
    // A git push opsroom never saw, and a build still under way.
    h.fake
        .push("dpl_push", "main", "abc1234", 1_764_000_000_000);
    h.client
        .create_deployment(&deploy_request("feature"))
        .await
        .unwrap();
    let live = h
        .client
        .live_deployments("prj_web", Some("production"), 10)
        .await
        .unwrap();
    let ids: Vec<&str> = live.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["dpl_push", "dpl_old2", "dpl_old1"], "READY ones only");
    let push = &live[0];
    assert_eq!(
        push.live_at,
        chrono::DateTime::from_timestamp_millis(1_764_000_000_000).unwrap(),
        "`ready`, not `created`"
    );
    assert_eq!(push.commit.as_deref(), Some("abc1234"));
    assert_eq!(push.git_ref.as_deref(), Some("main"));
    assert_eq!(push.url.as_deref(), Some("https://web-dpl_push.vercel.app"));
    assert_eq!(live[1].commit, None, "no githubCommitSha in its meta");
    let list = h
        .fake
        .gate
        .requests()
        .into_iter()
        .find(|r| r.path == "/v6/deployments")
        .unwrap();
    for want in [
        "projectId=prj_web",
        "target=production",
        "state=READY",
        "teamId=team_1",
    ] {
        assert!(list.query.contains(want), "{}", list.query);
    }
}

#[test]
fn a_deployment_that_never_became_ready_did_not_go_live() {
    let summary = |v: serde_json::Value| {
        serde_json::from_value::<opsroom_adapters::vercel::DeploymentSummary>(v).unwrap()
    };
    let ready = summary(serde_json::json!({"uid": "dpl_1", "created": 1, "ready": 5,
        "readyState": "READY", "meta": {"githubCommitSha": "abc", "githubCommitRef": "main"}}));
    assert_eq!(ready.went_live().unwrap().live_at.timestamp_millis(), 5);
    let failed = summary(serde_json::json!({"uid": "dpl_2", "created": 1, "ready": 5,
        "readyState": "ERROR"}));
    assert!(failed.went_live().is_none());
    let untimed = summary(serde_json::json!({"uid": "dpl_3", "created": 1, "readyState": "READY"}));
    assert!(
        untimed.went_live().is_none(),
        "no `ready`, no time to correlate with"
    );
}
