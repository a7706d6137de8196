//! Probes of one service: HTTP(S) (status, latency, expected body, TLS days
//! left), PostgreSQL (connect, `select 1`, latency), opsroom's own store,
//! and a provider's own view of it (Vercel, DigitalOcean, Supabase; see
//! [`providers`]).

mod providers;

use crate::config::ProbeConfig;
use crate::Engine;
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
    let mut builder = reqwest::Client::builder()
        .timeout(p.timeout)
        .tls_info(true)
        .redirect(reqwest::redirect::Policy::limited(5))
        .user_agent(concat!("opsroom-healthcheck/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = p.ca_file {
        let cert = std::fs::read(path)
            .map_err(|e| format!("cannot read ca_file {path}: {e}"))
            .and_then(|pem| {
                reqwest::Certificate::from_pem(&pem)
                    .map_err(|e| format!("ca_file {path} is not a PEM certificate: {e}"))
            });
        match cert {
            Ok(c) => builder = builder.add_root_certificate(c),
            Err(e) => return Outcome::failed(e),
        }
    }
    let client = match builder.build() {
        Ok(c) => c,
        Err(e) => return Outcome::failed(format!("cannot build HTTP client: {e}")),
    };
    let response = match client.get(p.url).send().await {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            return Outcome::failed(format!("no answer within {} ms", p.timeout.as_millis()))
        }
        Err(e) => {
            return Outcome::failed(format!(
                "request failed: {}",
                opsroom_adapters::http::request_error_text(e)
            ))
        }
    };
    let status = response.status().as_u16();
    let tls_days_left = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .and_then(cert_days_left);
    let body = response.text().await.unwrap_or_default();
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

/// Days until a DER certificate's notAfter.
pub fn cert_days_left(der: &[u8]) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let not_after = cert.validity().not_after.timestamp();
    let now = chrono::Utc::now().timestamp();
    Some((not_after - now).div_euclid(86_400))
}

async fn probe_postgres(url: &str, timeout: Duration) -> Outcome {
    use sqlx::Connection;
    let attempt = async {
        let mut conn = sqlx::PgConnection::connect(url)
            .await
            .map_err(|e| format!("connect failed: {e}"))?;
        let one: i32 = sqlx::query_scalar("select 1")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| format!("select 1 failed: {e}"))?;
        let _ = conn.close().await;
        Ok::<_, String>(one)
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(1)) => Outcome::ok("connected, select 1 returned 1".into()),
        Ok(Ok(n)) => Outcome::failed(format!("select 1 returned {n}")),
        // sqlx errors do not include the URL, so no password leaks here.
        Ok(Err(e)) => Outcome::failed(e),
        Err(_) => Outcome::failed(format!("no answer within {} ms", timeout.as_millis())),
    }
}
