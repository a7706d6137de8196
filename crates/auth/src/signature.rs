//! HMAC-SHA256 request signatures, in one place for everything opsroom signs
//! or verifies: outgoing webhooks and incoming signed hooks carry
//! `X-Opsroom-Signature: t=UNIX_SECONDS,v1=HEX` where HEX is
//! HMAC-SHA256(secret, "UNIX_SECONDS." + body); Slack's `v0` signatures are
//! built on [`hmac_sha256_hex`] and [`hex_digest_eq`] too ([`slack_verify`]).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The header that carries an opsroom signature.
pub const SIGNATURE_HEADER: &str = "X-Opsroom-Signature";

/// How old (or how far ahead) a signature's timestamp may be: 5 minutes.
pub const MAX_SIGNATURE_AGE_SECS: i64 = 300;

/// HMAC-SHA256 of `msg` with `key`, as lowercase hex.
pub fn hmac_sha256_hex(key: &[u8], msg: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(msg);
    hex::encode(mac.finalize().into_bytes())
}

/// Whether two hex digests are equal, in constant time (case-insensitive:
/// senders may write upper-case hex).
pub fn hex_digest_eq(expected: &str, given: &str) -> bool {
    let given = given.to_ascii_lowercase();
    expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// The `X-Opsroom-Signature` value for `body` sent at `timestamp` (unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", digest(secret, timestamp, body))
}

fn digest(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut msg = Vec::with_capacity(body.len() + 21);
    msg.extend_from_slice(timestamp.to_string().as_bytes());
    msg.push(b'.');
    msg.extend_from_slice(body);
    hmac_sha256_hex(secret, &msg)
}

/// Why a signature was refused. The messages say what to fix, never the
/// expected digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the {SIGNATURE_HEADER} header is missing")]
    Missing,
    #[error("the {SIGNATURE_HEADER} header must read `t=UNIX_SECONDS,v1=HEX`")]
    Malformed,
    #[error("the signature's timestamp is more than {MAX_SIGNATURE_AGE_SECS} seconds away from the server's time")]
    Expired,
    #[error("the signature does not match the body (HMAC-SHA256 of \"t.\" + body with the hook's secret)")]
    Mismatch,
}

/// A signature that checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The signed timestamp (unix seconds).
    pub timestamp: i64,
    /// The matching `v1` digest, lowercase: the same request sent again has
    /// the same one, so it names the request for replay checks.
    pub digest: String,
}

/// Checks an `X-Opsroom-Signature` header against `body` at `now` (unix
/// seconds). Several `v1=` entries are allowed (a sender rotating secrets);
/// one matching is enough.
pub fn verify(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<Verified, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut given = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match key {
            "t" if timestamp.is_none() => {
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| SignatureError::Malformed)?,
                )
            }
            "v1" if !value.is_empty() => given.push(value),
            "t" | "v1" => return Err(SignatureError::Malformed),
            // Other schemes (v0, future ones) are not ours to check.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if given.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now.abs_diff(timestamp) > MAX_SIGNATURE_AGE_SECS as u64 {
        return Err(SignatureError::Expired);
    }
    let expected = digest(secret, timestamp, body);
    if given.iter().any(|g| hex_digest_eq(&expected, g)) {
        Ok(Verified {
            timestamp,
            digest: expected,
        })
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The header that carries Slack's signature (`v0=HEX`).
pub const SLACK_SIGNATURE_HEADER: &str = "X-Slack-Signature";
/// The header that carries the timestamp Slack signed (unix seconds).
pub const SLACK_TIMESTAMP_HEADER: &str = "X-Slack-Request-Timestamp";

/// Slack's `X-Slack-Signature` value for `body` sent at `timestamp`:
/// `v0=` + HMAC-SHA256(signing secret, "v0:" + timestamp + ":" + body).
pub fn slack_sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!("v0={}", slack_digest(secret, timestamp, body))
}

fn slack_digest(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut msg = Vec::with_capacity(body.len() + 24);
    msg.extend_from_slice(b"v0:");
    msg.extend_from_slice(timestamp.to_string().as_bytes());
    msg.push(b':');
    msg.extend_from_slice(body);
    hmac_sha256_hex(secret, &msg)
}

/// Why a Slack request's signature was refused; the messages name the
/// header to fix, never the expected digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackSignatureError {
    #[error("the {SLACK_SIGNATURE_HEADER} or {SLACK_TIMESTAMP_HEADER} header is missing")]
    Missing,
    #[error("{SLACK_TIMESTAMP_HEADER} must be unix seconds and {SLACK_SIGNATURE_HEADER} must read `v0=HEX`")]
    Malformed,
    #[error("{SLACK_TIMESTAMP_HEADER} is more than {MAX_SIGNATURE_AGE_SECS} seconds away from the server's time")]
    Expired,
    #[error("{SLACK_SIGNATURE_HEADER} does not match the body (HMAC-SHA256 of \"v0:timestamp:\" + body with the app's signing secret)")]
    Mismatch,
}

/// Checks a request from Slack: its `X-Slack-Signature` (`signature`) and
/// `X-Slack-Request-Timestamp` (`timestamp`) headers against `body` at
/// `now` (unix seconds). A timestamp more than 5 minutes away either way is
/// refused, so a captured request cannot be replayed later.
pub fn slack_verify(
    secret: &[u8],
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<Verified, SlackSignatureError> {
    let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
        return Err(SlackSignatureError::Missing);
    };
    let timestamp: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SlackSignatureError::Malformed)?;
    let given = signature
        .trim()
        .strip_prefix("v0=")
        .filter(|hex| !hex.is_empty())
        .ok_or(SlackSignatureError::Malformed)?;
    if now.abs_diff(timestamp) > MAX_SIGNATURE_AGE_SECS as u64 {
        return Err(SlackSignatureError::Expired);
    }
    let expected = slack_digest(secret, timestamp, body);
    if hex_digest_eq(&expected, given) {
        Ok(Verified {
            timestamp,
            digest: expected,
        })
    } else {
        Err(SlackSignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_signed_body_verifies_and_a_changed_one_does_not() {
        let header = sign(b"s3cret", 1_700_000_000, b"{\"a\":1}");
        let ok = verify(b"s3cret", Some(&header), b"{\"a\":1}", 1_700_000_100).unwrap();
        assert_eq!(ok.timestamp, 1_700_000_000);
        assert_eq!(
            verify(b"s3cret", Some(&header), b"{\"a\":2}", 1_700_000_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", Some(&header), b"{\"a\":1}", 1_700_000_100),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn old_missing_and_malformed_signatures_are_refused() {
        let header = sign(b"k", 1_000, b"x");
        assert_eq!(
            verify(b"k", Some(&header), b"x", 1_000 + 301),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            verify(b"k", Some(&header), b"x", 1_000 - 301),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            verify(b"k", None, b"x", 1_000),
            Err(SignatureError::Missing)
        );
        for bad in [
            "",
            "t=abc,v1=00",
            "v1=00",
            "t=1000",
            "t=1000,v1=",
            "nonsense",
        ] {
            assert_eq!(
                verify(b"k", Some(bad), b"x", 1_000),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn upper_case_hex_and_extra_schemes_are_accepted() {
        let header = sign(b"k", 1_000, b"x")
            .to_ascii_uppercase()
            .replace("T=", "t=")
            .replace("V1=", "v1=");
        assert!(verify(b"k", Some(&format!("{header},v0=zz")), b"x", 1_000).is_ok());
    }
    #[test]
    fn slack_v0_signatures_verify_as_slack_documents() {
        // Slack's documented example: secret, timestamp, body and signature.
        let secret = b"8f742231b10e8888abcd99yyyzzz85a5";
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let header = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert_eq!(slack_sign(secret, 1531420618, body), header);
        let ok = slack_verify(
            secret,
            Some(header),
            Some("1531420618"),
            body,
            1531420618 + 10,
        );
        assert_eq!(ok.unwrap().timestamp, 1531420618);
        assert_eq!(
            slack_verify(secret, Some(header), Some("1531420618"), b"x", 1531420618),
            Err(SlackSignatureError::Mismatch)
        );
    }

    #[test]
    fn slack_old_missing_and_malformed_signatures_are_refused() {
        let header = slack_sign(b"k", 1_000, b"x");
        for now in [1_000 + 301, 1_000 - 301] {
            assert_eq!(
                slack_verify(b"k", Some(&header), Some("1000"), b"x", now),
                Err(SlackSignatureError::Expired)
            );
        }
        assert_eq!(
            slack_verify(b"k", None, Some("1000"), b"x", 1_000),
            Err(SlackSignatureError::Missing)
        );
        assert_eq!(
            slack_verify(b"k", Some(&header), None, b"x", 1_000),
            Err(SlackSignatureError::Missing)
        );
        for (signature, timestamp) in [
            (header.as_str(), "soon"),
            ("v0=", "1000"),
            ("v1=00", "1000"),
            ("t=1000,v1=00", "1000"),
        ] {
            assert_eq!(
                slack_verify(b"k", Some(signature), Some(timestamp), b"x", 1_000),
                Err(SlackSignatureError::Malformed),
                "{signature} {timestamp}"
            );
        }
        // A signature for another timestamp does not match this one.
        assert_eq!(
            slack_verify(b"k", Some(&header), Some("1001"), b"x", 1_000),
            Err(SlackSignatureError::Mismatch)
        );
    }
}
