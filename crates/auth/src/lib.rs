//! Identity primitives of opsroom: the roles and what each allows, password
//! hashes, API token and session secrets, sealed (encrypted) secrets, sign-in
//! throttling and safe redirects after sign-in.
//!
//! Small pure types and functions: no database, no HTTP. The store keeps what
//! these produce (hashes, digests, sealed text); the server decides with them.

pub mod password;
pub mod redirect;
pub mod role;
pub mod secret_box;
pub mod throttle;
pub mod token;

pub use role::{Permission, Role};
pub use secret_box::MasterKey;
