//! A plain GET of any URL, as a health check makes it: no token, a few
//! redirects followed, the body read, and the days left on the server's
//! TLS certificate.

use std::time::Duration;

use super::request_error_text;

/// What to fetch and how.
#[derive(Clone, Debug)]
pub struct UrlProbe<'a> {
    /// The URL (it may hold a credential: it is never part of an error).
    pub url: &'a str,
    /// Time allowed for the whole request, body included.
    pub timeout: Duration,
    /// A PEM certificate file trusted besides the system roots.
    pub ca_file: Option<&'a str>,
    /// The `User-Agent` header.
    pub user_agent: &'a str,
}

/// What the URL answered.
#[derive(Clone, Debug)]
pub struct UrlAnswer {
    /// The HTTP status, after redirects.
    pub status: u16,
    /// The body as text (empty when it could not be read).
    pub body: String,
    /// Days until the server's certificate expires (HTTPS only).
    pub tls_days_left: Option<i64>,
}

/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 5;

/// GETs `probe.url`. The error says what went wrong on one line, without
/// the URL.
pub async fn get_url(probe: &UrlProbe<'_>) -> Result<UrlAnswer, String> {
    let mut builder = reqwest::Client::builder()
        .timeout(probe.timeout)
        .tls_info(true)
        .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
        .user_agent(probe.user_agent);
    if let Some(path) = probe.ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("cannot read ca_file {path}: {e}"))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| format!("ca_file {path} is not a PEM certificate: {e}"))?;
        builder = builder.add_root_certificate(cert);
    }
    let client = builder
        .build()
        .map_err(|e| format!("cannot build HTTP client: {e}"))?;
    let response = client.get(probe.url).send().await.map_err(|e| {
        if e.is_timeout() {
            format!("no answer within {} ms", probe.timeout.as_millis())
        } else {
            format!("request failed: {}", request_error_text(e))
        }
    })?;
    let status = response.status().as_u16();
    let tls_days_left = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .and_then(cert_days_left);
    let body = response.text().await.unwrap_or_default();
    Ok(UrlAnswer {
        status,
        body,
        tls_days_left,
    })
}

/// Days until a DER certificate's notAfter.
pub fn cert_days_left(der: &[u8]) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let not_after = cert.validity().not_after.timestamp();
    let now = chrono::Utc::now().timestamp();
    Some((not_after - now).div_euclid(86_400))
}
