//! Probes of one service: HTTP(S) (status, latency, expected body, TLS days
//! left), PostgreSQL (connect, `select 1`, latency), opsroom's own store,
//! and a provider's own view of it (Vercel, DigitalOcean, Supabase; see
//! [`providers`]).

mod providers;

use crate::config::ProbeConfig;
use crate::Engine;
use opsroom_adapters::http::{get_url, UrlAnswer, UrlProbe};
use opsroom_adapters::postgres::{PgConfig, Postgres};
use opsroom_adapters::Secret;
use serde::Serialize;
use std::time::{Duration, Instant};

/// The result of probing one service.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    pub service: String,
    pub kind: &'static str,
    pub ok: bool,
    /// Passing, but not fully: a deployment is still rolling out, a
    /// service is coming up. A degraded probe does not fail the run.
    pub degraded: bool,
    pub latency_ms: u64,
    /// The provider's own word for the state (`READY`, `ACTIVE`,
    /// `ACTIVE_HEALTHY`, …), for provider kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_days_left: Option<i64>,
    /// What was seen, or what went wrong; never a credential.
    pub detail: String,
}

/// Probes one service. The engine gives opsroom's own store and the
/// credentials (`[secrets]`) provider kinds read their token from.
pub async fn probe(service: &str, config: &ProbeConfig, engine: &Engine) -> ProbeResult {
    let started = Instant::now();
    let store = &engine.store;
    let (kind, outcome) = match config {
        ProbeConfig::Http {
            url,
            expect_status,
            expect_body,
            timeout_ms,
            ca_file,
            tls_min_days,
        } => (
            "http",
            probe_http(HttpProbe {
                url,
                expect_status: *expect_status,
                expect_body: expect_body.as_deref(),
                timeout: Duration::from_millis(*timeout_ms),
                ca_file: ca_file.as_deref(),
                tls_min_days: *tls_min_days,
            })
            .await,
        ),
        ProbeConfig::Postgres {
            url,
            url_env,
            timeout_ms,
        } => {
            let url = match (url, url_env) {
                (Some(u), _) => Ok(u.clone()),
                (None, Some(var)) => {
                    std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))
                }
                (None, None) => Err("no url configured".to_string()),
            };
            let outcome = match url {
                Ok(u) => probe_postgres(&u, Duration::from_millis(*timeout_ms)).await,
                Err(e) => Outcome::failed(e),
            };
            ("postgres", outcome)
        }
        ProbeConfig::OpsroomDb => {
            let outcome = match store.runs_count_by_status().await {
                Ok(_) => Outcome::ok(format!("{} store answers", store.backend())),
                Err(e) => Outcome::failed(format!("{} store: {e}", store.backend())),
            };
            ("opsroom_db", outcome)
        }
        ProbeConfig::Vercel { .. }
        | ProbeConfig::Digitalocean { .. }
        | ProbeConfig::Supabase { .. } => (
            config.kind(),
            providers::probe(config, &engine.config).await,
        ),
    };
    ProbeResult {
        service: service.to_string(),
        kind,
        ok: outcome.ok,
        degraded: outcome.degraded,
        latency_ms: started.elapsed().as_millis() as u64,
        state: outcome.state,
        status: outcome.status,
        tls_days_left: outcome.tls_days_left,
        detail: outcome.detail,
    }
}

struct Outcome {
    ok: bool,
    degraded: bool,
    state: Option<String>,
    status: Option<u16>,
    tls_days_left: Option<i64>,
    detail: String,
}

impl Outcome {
    fn ok(detail: String) -> Self {
        Outcome {
            ok: true,
            degraded: false,
            state: None,
            status: None,
            tls_days_left: None,
            detail,
        }
    }

    fn failed(detail: String) -> Self {
        Outcome {
            ok: false,
            ..Outcome::ok(detail)
        }
    }

    /// Passing, with something to watch.
    fn degraded(detail: String) -> Self {
        Outcome {
            degraded: true,
            ..Outcome::ok(detail)
        }
    }

    fn with_state(mut self, state: impl Into<String>) -> Self {
        self.state = Some(state.into());
        self
    }
}

struct HttpProbe<'a> {
    url: &'a str,
    expect_status: u16,
    expect_body: Option<&'a str>,
    timeout: Duration,
    ca_file: Option<&'a str>,
    tls_min_days: i64,
}

async fn probe_http(p: HttpProbe<'_>) -> Outcome {
    let answer = get_url(&UrlProbe {
        url: p.url,
        timeout: p.timeout,
        ca_file: p.ca_file,
        user_agent: concat!("opsroom-healthcheck/", env!("CARGO_PKG_VERSION")),
    })
    .await;
    let UrlAnswer {
        status,
        body,
        tls_days_left,
    } = match answer {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    let mut problems = Vec::new();
    if status != p.expect_status {
        problems.push(format!("status {status}, expected {}", p.expect_status));
    }
    if let Some(want) = p.expect_body {
        if !body.contains(want) {
            problems.push(format!("body does not contain {want:?}"));
        }
    }
    if let Some(days) = tls_days_left {
        if days < p.tls_min_days {
            problems.push(format!(
                "TLS certificate expires in {days} days (minimum {})",
                p.tls_min_days
            ));
        }
    }
    let mut detail = format!("HTTP {status}");
    if let Some(days) = tls_days_left {
        detail.push_str(&format!(", TLS certificate valid {days} more days"));
    }
    if !problems.is_empty() {
        detail = format!("{detail}: {}", problems.join("; "));
    }
    Outcome {
        ok: problems.is_empty(),
        status: Some(status),
        tls_days_left,
        ..Outcome::ok(detail)
    }
}

/// Connects, runs `select 1`, and closes, all within `timeout`.
async fn probe_postgres(url: &str, timeout: Duration) -> Outcome {
    let config = PgConfig {
        max_connections: 1,
        connect_timeout: timeout,
        query_timeout: timeout,
        ..PgConfig::new(Secret::new(url))
    };
    let attempt = async {
        let db = Postgres::connect(&config).await?;
        let health = db.health().await;
        db.close().await;
        health
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(_)) => Outcome::ok("connected, select 1 returned 1".into()),
        // PgError never holds the URL, so no password leaks here.
        Ok(Err(e)) => Outcome::failed(e.to_string()),
        Err(_) => Outcome::failed(format!("no answer within {} ms", timeout.as_millis())),
    }
}
