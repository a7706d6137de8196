//! Adapters from opsroom to the systems it operates.
//!
//! Provider HTTP clients ([`vercel`], [`github`], [`digitalocean`], [`supabase`])
//! share one transport ([`http`]: base URL, bearer token, timeouts, retries
//! honouring `Retry-After`, [`ApiError`]). Local adapters run processes
//! ([`shell`], [`git`]) and talk to PostgreSQL ([`postgres`]). [`follow`] polls a
//! long-running operation until it settles, reporting each status change.

pub mod digitalocean;
pub mod follow;
pub mod git;
pub mod github;
pub mod http;
pub mod postgres;
pub mod secret;
pub mod shell;
pub mod supabase;
pub mod vercel;

pub use http::{ApiError, HttpOptions, RetryPolicy, Sleeper};
pub use secret::Secret;
