//! Identity primitives of opsroom: the roles and what each allows, password
//! hashes, API token and session secrets, sealed (encrypted) secrets, sign-in
//! throttling, safe redirects after sign-in, and HMAC request signatures.
//!
//! Small pure types and functions: no database, no HTTP. The store keeps what
//! these produce (hashes, digests, sealed text); the server decides with them.

pub mod password;
pub mod redirect;
pub mod role;
pub mod secret_box;
pub mod signature;
pub mod throttle;
pub mod token;

pub use role::{Permission, Role};
pub use secret_box::MasterKey;
