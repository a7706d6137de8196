//! Secrets sealed with XChaCha20-Poly1305 under a master key that never
//! enters the database (`OPSROOM_SECRET_KEY` or `OPSROOM_SECRET_KEY_FILE`).
//!
//! Sealed text: `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`. The key
//! id (8 hex digits of a digest of the key) says which key sealed a value,
//! so a rotation can tell what is left to re-seal and a wrong key is named
//! as such. The secret's context (workspace and name) is bound as associated
//! data: a sealed value copied onto another secret's row does not open.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

const VERSION: &str = "v1";
const NONCE_LEN: usize = 24;

/// The 256-bit key that seals every stored secret.
#[derive(Clone)]
pub struct MasterKey {
    key: [u8; 32],
    id: String,
}

/// Why a master key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "the master key must be 32 bytes written as 64 hex digits or in base64 \
         (`opsroom secrets new-key` prints one); this one is {0}"
    )]
    BadFormat(String),
}

/// Why a sealed value could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("sealed secret is malformed")]
    Malformed,
    #[error("secret was sealed with key {sealed_with}, not with the current key {current}")]
    OtherKey {
        sealed_with: String,
        current: String,
    },
    #[error("sealed secret does not open with this key (altered, or moved to another secret)")]
    Tampered,
}

impl MasterKey {
    /// Reads a key written as 64 hex digits or as base64 (standard or URL
    /// alphabet, padded or not) of 32 bytes. Surrounding whitespace (a file's
    /// final newline) is ignored.
    pub fn parse(text: &str) -> Result<MasterKey, KeyError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| KeyError::BadFormat("not valid hex".into()))?
        } else {
            STANDARD
                .decode(text)
                .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
                .map_err(|_| KeyError::BadFormat("neither hex nor base64".into()))?
        };
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::BadFormat(format!("{} bytes long", bytes.len())))?;
        Ok(MasterKey::from_bytes(key))
    }

    /// A new random key and its text form (base64) to store outside the
    /// database.
    pub fn generate() -> (MasterKey, String) {
        let key: [u8; 32] = XChaCha20Poly1305::generate_key(&mut OsRng).into();
        (MasterKey::from_bytes(key), STANDARD.encode(key))
    }

    fn from_bytes(key: [u8; 32]) -> MasterKey {
        let mut hasher = Sha256::new();
        hasher.update(b"opsroom master key id\0");
        hasher.update(key);
        let id = hasher.finalize()[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        MasterKey { key, id }
    }

    /// Names the key without revealing it.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(&self.key))
    }

    /// Seals `plaintext` for `context` (e.g. `workspace/secret-name`).
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher()
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any length a secret has");
        let mut body = nonce.to_vec();
        body.extend_from_slice(&sealed);
        format!("{VERSION}.{}.{}", self.id, URL_SAFE_NO_PAD.encode(body))
    }

    /// Opens a value sealed for `context`.
    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, OpenError> {
        let (key_id, body) = split_sealed(sealed).ok_or(OpenError::Malformed)?;
        if key_id != self.id {
            return Err(OpenError::OtherKey {
                sealed_with: key_id.to_string(),
                current: self.id.clone(),
            });
        }
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| OpenError::Malformed)?;
        if body.len() < NONCE_LEN {
            return Err(OpenError::Malformed);
        }
        let (nonce, ciphertext) = body.split_at(NONCE_LEN);
        self.cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| OpenError::Tampered)
    }
}

/// The id of the key that sealed this value, if it is sealed text at all.
pub fn sealed_key_id(sealed: &str) -> Option<&str> {
    split_sealed(sealed).map(|(id, _)| id)
}

fn split_sealed(sealed: &str) -> Option<(&str, &str)> {
    let rest = sealed.strip_prefix(VERSION)?.strip_prefix('.')?;
    rest.split_once('.')
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::parse(&"ab".repeat(32)).unwrap()
    }

    #[test]
    fn sealed_values_open_with_their_key_and_context_only() {
        let k = key();
        let sealed = k.seal("default/db-password", b"hunter2-hunter2");
        assert!(sealed.starts_with(&format!("v1.{}.", k.id())));
        assert!(!sealed.contains("hunter2"));
        assert_eq!(
            k.open("default/db-password", &sealed).unwrap(),
            b"hunter2-hunter2"
        );
        assert_ne!(
            sealed,
            k.seal("default/db-password", b"hunter2-hunter2"),
            "fresh nonce"
        );
        assert_eq!(
            k.open("default/other", &sealed),
            Err(OpenError::Tampered),
            "bound to its secret"
        );
        let (other, _) = MasterKey::generate();
        assert!(matches!(
            other.open("default/db-password", &sealed),
            Err(OpenError::OtherKey { .. })
        ));
        assert_eq!(sealed_key_id(&sealed), Some(k.id()));
    }

    #[test]
    fn altered_or_malformed_values_do_not_open() {
        let k = key();
        let sealed = k.seal("ws/name", b"value");
        let mut flipped = sealed.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(k.open("ws/name", &flipped), Err(OpenError::Tampered));
        for bad in [
            "",
            "v1",
            "v1.",
            "v2.x.y",
            "plain text",
            &format!("v1.{}.%%%", k.id()),
        ] {
            assert!(k.open("ws/name", bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            k.open("ws/name", &format!("v1.{}.AAAA", k.id())),
            Err(OpenError::Malformed)
        );
    }

    #[test]
    fn keys_parse_from_hex_or_base64_and_bad_ones_say_why() {
        let (k, text) = MasterKey::generate();
        assert_eq!(MasterKey::parse(&format!("{text}\n")).unwrap().id(), k.id());
        let hex = "0f".repeat(32);
        let from_hex = MasterKey::parse(&hex).unwrap();
        let from_b64 = MasterKey::parse(&STANDARD.encode([0x0f_u8; 32])).unwrap();
        assert_eq!(from_hex.id(), from_b64.id());
        let short = MasterKey::parse(&STANDARD.encode([1u8; 16])).unwrap_err();
        assert!(short.to_string().contains("16 bytes long"), "{short}");
        assert!(MasterKey::parse("not a key!").is_err());
        assert!(!format!("{k:?}").contains(&text), "Debug hides the key");
    }
}
