//! API tokens, session ids and CSRF tokens: 256 random bits, shown once,
//! stored only as a SHA-256 digest. (A slow hash is not needed: the secret
//! is random, not chosen by a person.)

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Every API token starts with this, so a leaked one is easy to recognise
/// (secret scanners, logs).
pub const API_TOKEN_PREFIX: &str = "opsroom_";

/// A newly made secret: `plain` goes to its owner once, `digest` is stored.
#[derive(Clone)]
pub struct NewSecret {
    pub plain: String,
    pub digest: String,
}

impl std::fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSecret")
            .field("digest", &self.digest)
            .finish_non_exhaustive()
    }
}

/// 32 random bytes, base64url without padding (43 characters).
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new API token (`opsroom_…`).
pub fn new_api_token() -> NewSecret {
    let plain = format!("{API_TOKEN_PREFIX}{}", random_secret());
    NewSecret {
        digest: digest(&plain),
        plain,
    }
}

/// A new session id for the sign-in cookie.
pub fn new_session_id() -> NewSecret {
    let plain = random_secret();
    NewSecret {
        digest: digest(&plain),
        plain,
    }
}

/// The stored form of a token or session id: SHA-256, lower-case hex.
pub fn digest(plain: &str) -> String {
    Sha256::digest(plain.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_stored_as_digests() {
        let a = new_api_token();
        let b = new_api_token();
        assert!(a.plain.starts_with(API_TOKEN_PREFIX));
        assert_eq!(a.plain.len(), API_TOKEN_PREFIX.len() + 43);
        assert_ne!(a.plain, b.plain);
        assert_eq!(a.digest, digest(&a.plain));
        assert_eq!(a.digest.len(), 64);
        assert!(!a.digest.contains(&a.plain[API_TOKEN_PREFIX.len()..]));
        assert!(
            !format!("{a:?}").contains(&a.plain),
            "Debug hides the token"
        );
    }

    #[test]
    fn digest_is_sha256_hex() {
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn same_secret_compares_whole_values() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
        assert!(!same_secret("", "a"));
    }
}
