//! Schedules through the HTTP API, on both stores, with an injected clock:
//! create (with the next five fires), list, pause, resume, delete; roles;
//! bad input refused with 422 and nothing stored; each fire enqueues one run
//! carrying `schedule_id` and `scheduled_for`; fires missed while no server
//! ran are skipped and recorded; two servers on one PostgreSQL enqueue each
//! fire once.

use chrono::{DateTime, Duration, TimeZone, Utc};
use opsroom_engine::{ManualClock, OpsConfig};
use opsroom_server::client::ApiClient;
use opsroom_server::scheduler::Scheduler;
use opsroom_server::testing::{TestApp, TestAppOptions};
use opsroom_server::views::{CreateSchedule, RunView, RunsQuery, ScheduleView};
use opsroom_store::testing::TestStore;
use opsroom_store::{DynStore, DEFAULT_WORKSPACE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

const ADMIN: &str = "schedules-test-admin-token";

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 30).unwrap()
}

async fn spawn(store: &DynStore, clock: &Arc<ManualClock>) -> TestApp {
    TestApp::spawn(
        store.clone(),
        TestAppOptions {
            config: Some(OpsConfig::demo("http://127.0.0.1:9")),
            // No workers: scheduled runs stay queued where the test sees them.
            workers: 0,
            clock: Some(clock.clone() as Arc<dyn opsroom_engine::Clock>),
            admin_token: Some(ADMIN.into()),
            ..Default::default()
        },
    )
    .await
}

async fn as_role(app: &TestApp, user: &str, role: &str) -> ApiClient {
    ApiClient::new(&app.url)
        .unwrap()
        .with_token(Some(ADMIN.into()))
        .member_with_token(DEFAULT_WORKSPACE, user, role)
        .await
        .unwrap()
}

fn noop_every_five_minutes() -> CreateSchedule {
    CreateSchedule {
        cron: "*/5 * * * *".into(),
        runbook: Some("noop".into()),
        ..Default::default()
    }
}

async fn scheduled_runs(api: &ApiClient) -> Vec<RunView> {
    let mut runs: Vec<RunView> = api
        .runs(&RunsQuery::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.schedule_id.is_some())
        .collect();
    runs.sort_by_key(|r| r.scheduled_for);
    runs
}

async fn schedules_are_created_listed_paused_resumed_and_deleted(store: DynStore) {
    let clock = Arc::new(ManualClock::new(start()));
    let app = spawn(&store, &clock).await;
    let op = as_role(&app, "olivia", "operator").await;
    let viewer = as_role(&app, "victor", "viewer").await;

    let created = op
        .schedule_create(&CreateSchedule {
            cron: "0 9 * * 1-5".into(),
            timezone: Some("Europe/Paris".into()),
            text: Some("check prod status".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(created.cron, "0 9 * * 1-5");
    assert_eq!(created.timezone, "Europe/Paris");
    assert_eq!(created.request, json!({"text": "check prod status"}));
    assert_eq!(created.created_by, "olivia");
    // Tuesday 2026-12-01, 12:00 UTC: the next five weekdays at 09:00 Paris (08:00 UTC).
    let next: Vec<String> = created.next_runs.iter().map(|t| t.to_rfc3339()).collect();
    assert_eq!(
        next,
        [
            "2026-12-02T08:00:00+00:00",
            "2026-12-03T08:00:00+00:00",
            "2026-12-04T08:00:00+00:00",
            "2026-12-07T08:00:00+00:00",
            "2026-12-08T08:00:00+00:00"
        ]
    );

    // Raw shape of the answer: 201 with `next_runs`.
    let (status, body) = op
        .send_json(
            Method::POST,
            "/api/v1/schedules",
            Some(&json!({"cron": "0 */6 * * * *", "runbook": "noop"})),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["next_runs"].as_array().unwrap().len(), 5, "{body}");
    assert_eq!(body["timezone"], "UTC");
    let second = body["id"].as_i64().unwrap();

    // A viewer reads but cannot create, pause or delete.
    let listed = viewer.schedules().await.unwrap();
    assert_eq!(
        listed.iter().map(|s| s.id).collect::<Vec<_>>(),
        [created.id, second]
    );
    for (method, path) in [
        (Method::POST, "/api/v1/schedules".to_string()),
        (
            Method::POST,
            format!("/api/v1/schedules/{}/pause", created.id),
        ),
        (Method::DELETE, format!("/api/v1/schedules/{}", created.id)),
    ] {
        let (status, err) = viewer
            .send_json(
                method,
                &path,
                Some(&json!({"cron": "* * * * *", "runbook": "noop"})),
            )
            .await
            .unwrap();
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {err}");
    }
    assert_eq!(
        viewer.schedules().await.unwrap(),
        listed,
        "refusals change nothing"
    );

    let paused = op.schedule_set_paused(created.id, true).await.unwrap();
    assert!(paused.paused);
    assert!(
        paused.next_runs.is_empty(),
        "a paused schedule has no fires to come"
    );
    // While paused, its fire time passes: nothing is owed on resume.
    clock.advance(Duration::days(1));
    let resumed = op.schedule_set_paused(created.id, false).await.unwrap();
    assert!(!resumed.paused);
    assert_eq!(
        resumed.next_runs[0].to_rfc3339(),
        "2026-12-03T08:00:00+00:00"
    );
    Scheduler::new(app.engine.clone()).tick().await.unwrap();
    // Only the other schedule fired: once, its day of missed fires skipped.
    let runs = scheduled_runs(&op).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].schedule_id, Some(second));
    assert_eq!(
        runs[0].scheduled_for.unwrap().to_rfc3339(),
        "2026-12-02T12:00:00+00:00"
    );
    let other = op.schedules().await.unwrap();
    let other = other.iter().find(|s| s.id == second).unwrap();
    assert_eq!(
        other.skipped_count, 239,
        "a day of fires every six minutes, less the one run"
    );

    op.schedule_delete(created.id).await.unwrap();
    let (status, err) = op
        .send_json(
            Method::DELETE,
            &format!("/api/v1/schedules/{}", created.id),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND, "{err}");
    let (status, err) = op
        .send_json(Method::POST, "/api/v1/schedules/abc/pause", None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let left: Vec<i64> = op.schedules().await.unwrap().iter().map(|s| s.id).collect();
    assert_eq!(left, [second]);
    app.stop().await;
}

async fn bad_schedules_are_refused_naming_what_is_wrong(store: DynStore) {
    let clock = Arc::new(ManualClock::new(start()));
    let app = spawn(&store, &clock).await;
    let op = as_role(&app, "olivia", "operator").await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"cron": "* * *", "runbook": "noop"}),
            "invalid_cron",
            "3 fields",
        ),
        (
            json!({"cron": "* * * * * * *", "runbook": "noop"}),
            "invalid_cron",
            "7 fields",
        ),
        (
            json!({"cron": "61 * * * *", "runbook": "noop"}),
            "invalid_cron",
            "61",
        ),
        (
            json!({"cron": "0 0 31 2 *", "runbook": "noop"}),
            "invalid_cron",
            "never fires",
        ),
        (
            json!({"cron": "*/5 * * * *", "timezone": "Mars/Olympus", "runbook": "noop"}),
            "invalid_timezone",
            "Mars/Olympus",
        ),
        (json!({"cron": "*/5 * * * *"}), "invalid_body", "text"),
        (
            json!({"cron": "*/5 * * * *", "text": "make it so"}),
            "not_understood",
            "make it so",
        ),
        (
            json!({"cron": "*/5 * * * *", "runbook": "no_such_runbook"}),
            "unknown_runbook",
            "no_such_runbook",
        ),
        (
            json!({"cron": "*/5 * * * *", "runbook": "deploy", "env": "mars"}),
            "unknown_env",
            "mars",
        ),
    ];
    for (body, code, names) in cases {
        let (status, err) = op
            .send_json(Method::POST, "/api/v1/schedules", Some(&body))
            .await
            .unwrap();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {err}");
        assert_eq!(err["error"]["code"], code, "{body}: {err}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(names), "{body}: {message}");
    }
    // Not JSON of the right shape: 4xx naming the field.
    let (status, err) = op
        .send_json(
            Method::POST,
            "/api/v1/schedules",
            Some(&json!({"cron": 5, "runbook": "noop"})),
        )
        .await
        .unwrap();
    assert!(status.is_client_error(), "{err}");
    assert!(
        err["error"]["message"].as_str().unwrap().contains("cron"),
        "{err}"
    );
    assert!(
        op.schedules().await.unwrap().is_empty(),
        "nothing was stored"
    );
    app.stop().await;
}

async fn each_fire_enqueues_one_run_and_missed_fires_are_skipped(store: DynStore) {
    let clock = Arc::new(ManualClock::new(start()));
    let app = spawn(&store, &clock).await;
    let op = as_role(&app, "olivia", "operator").await;
    let s = op
        .schedule_create(&noop_every_five_minutes())
        .await
        .unwrap();
    assert_eq!(s.next_runs[0].to_rfc3339(), "2026-12-01T12:05:00+00:00");
    let scheduler = Scheduler::new(app.engine.clone());

    // Not due yet.
    clock.advance(Duration::seconds(269)); // 12:04:59
    scheduler.tick().await.unwrap();
    assert!(scheduled_runs(&op).await.is_empty());

    // Due: ticking again (here and on the server's own scheduler) adds nothing.
    clock.advance(Duration::seconds(2)); // 12:05:01
    for _ in 0..3 {
        scheduler.tick().await.unwrap();
    }
    let runs = scheduled_runs(&op).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    let fire = Utc.with_ymd_and_hms(2026, 12, 1, 12, 5, 0).unwrap();
    assert_eq!(runs[0].schedule_id, Some(s.id));
    assert_eq!(runs[0].scheduled_for, Some(fire));
    assert_eq!(
        runs[0].idempotency_key.as_deref(),
        Some(format!("schedule:{}:2026-12-01T12:05:00Z", s.id).as_str())
    );
    assert_eq!(runs[0].created_by, "olivia");
    assert_eq!(runs[0].runbook, "noop");
    // The run's JSON says so too.
    let (_, raw) = op
        .send_json(Method::GET, &format!("/api/v1/runs/{}", runs[0].id), None)
        .await
        .unwrap();
    assert_eq!(raw["schedule_id"], json!(s.id));
    assert_eq!(raw["scheduled_for"], json!("2026-12-01T12:05:00Z"));
    let after = &op.schedules().await.unwrap()[0];
    assert_eq!(after.last_fire_at, Some(fire));
    assert_eq!(after.last_run_id, Some(runs[0].id.0));
    assert_eq!(after.next_runs[0].to_rfc3339(), "2026-12-01T12:10:00+00:00");
    assert_eq!(after.skipped_count, 0);

    // Downtime from 12:06 to 12:27: 12:10, 12:15, 12:20 and 12:25 are
    // missed (12:25 is two minutes late); none runs, all are recorded.
    clock.advance(Duration::minutes(22)); // 12:27:01
    scheduler.tick().await.unwrap();
    assert_eq!(scheduled_runs(&op).await.len(), 1, "no backlog runs");
    let after = &op.schedules().await.unwrap()[0];
    assert_eq!(after.skipped_count, 4);
    assert_eq!(after.skipped.len(), 1);
    assert_eq!(
        after.skipped[0].first.to_rfc3339(),
        "2026-12-01T12:10:00+00:00"
    );
    assert_eq!(
        after.skipped[0].last.to_rfc3339(),
        "2026-12-01T12:25:00+00:00"
    );
    assert_eq!(after.skipped[0].count, 4);
    assert_eq!(after.next_runs[0].to_rfc3339(), "2026-12-01T12:30:00+00:00");

    // The next fire runs as usual.
    clock.advance(Duration::minutes(3)); // 12:30:01
    scheduler.tick().await.unwrap();
    let runs = scheduled_runs(&op).await;
    assert_eq!(runs.len(), 2);
    assert_eq!(
        runs[1].scheduled_for.unwrap().to_rfc3339(),
        "2026-12-01T12:30:00+00:00"
    );
    app.stop().await;
}

async fn a_late_but_recent_fire_runs_and_older_ones_are_skipped(store: DynStore) {
    let clock = Arc::new(ManualClock::new(start()));
    let app = spawn(&store, &clock).await;
    let op = as_role(&app, "olivia", "operator").await;
    let s = op
        .schedule_create(&CreateSchedule {
            cron: "*/10 * * * * *".into(),
            runbook: Some("noop".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    // Down for 45 s: fires at :40, :50, 01:00, :10 are due; :10 is 5 s late.
    clock.advance(Duration::seconds(45)); // 12:01:15
    Scheduler::new(app.engine.clone()).tick().await.unwrap();
    let runs = scheduled_runs(&op).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(
        runs[0].scheduled_for.unwrap().to_rfc3339(),
        "2026-12-01T12:01:10+00:00"
    );
    let after = op.schedules().await.unwrap().remove(0);
    assert_eq!(after.id, s.id);
    assert_eq!(after.skipped_count, 3);
    app.stop().await;
}

opsroom_store::on_both_stores!(
    schedules_are_created_listed_paused_resumed_and_deleted,
    bad_schedules_are_refused_naming_what_is_wrong,
    each_fire_enqueues_one_run_and_missed_fires_are_skipped,
    a_late_but_recent_fire_runs_and_older_ones_are_skipped,
);

/// Two servers, each with its own connection pool, on one PostgreSQL
/// database, ticking their schedulers at the same moments: every fire is
/// enqueued exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_on_one_postgres_enqueue_each_fire_once() {
    let t = TestStore::postgres().await;
    let clock = Arc::new(ManualClock::new(start()));
    let first = spawn(&t.store, &clock).await;
    let other_store = opsroom_store::connect(&t.url).await.unwrap();
    let second = spawn(&other_store, &clock).await;
    let op = as_role(&first, "olivia", "operator").await;
    let s: ScheduleView = op
        .schedule_create(&CreateSchedule {
            cron: "* * * * * *".into(),
            runbook: Some("noop".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let a = Scheduler::new(first.engine.clone());
    let b = Scheduler::new(second.engine.clone());
    let fires = 30;
    for _ in 0..fires {
        clock.advance(Duration::seconds(1));
        let (ra, rb, ra2, rb2) = tokio::join!(a.tick(), b.tick(), a.tick(), b.tick());
        for r in [ra, rb, ra2, rb2] {
            r.unwrap();
        }
    }
    let runs = scheduled_runs(&op).await;
    let times: Vec<DateTime<Utc>> = runs.iter().map(|r| r.scheduled_for.unwrap()).collect();
    let expected: Vec<DateTime<Utc>> = (1..=fires)
        .map(|i| Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 30).unwrap() + Duration::seconds(i))
        .collect();
    assert_eq!(
        times, expected,
        "one run per fire, none twice, none missing"
    );
    assert!(runs.iter().all(|r| r.schedule_id == Some(s.id)));
    let after = op.schedules().await.unwrap().remove(0);
    assert_eq!(after.skipped_count, 0);
    first.stop().await;
    second.stop().await;
    drop(other_store);
    t.cleanup().await;
}
