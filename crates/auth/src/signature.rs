//! HMAC-SHA256 request signatures, in one place for everything opsroom signs
//! or verifies: outgoing webhooks and incoming signed hooks carry
//! `X-Opsroom-Signature: t=UNIX_SECONDS,v1=HEX` where HEX is
//! HMAC-SHA256(secret, "UNIX_SECONDS." + body); Slack's `v0` signatures are
//! built on [`hmac_sha256_hex`] and [`hex_digest_eq`] too.

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
}
