//! Log pattern mining: groups log lines into templates (`connected to <*> in
//! <*> ms`) online, in one pass, with one configuration for every input.
//!
//! How it works, in the spirit of Drain (He et al., ICWS 2017) and Brain (Yu
//! et al., TSC 2023) but written for opsroom:
//!
//! 1. Tokens are masked by their shape: anything with a digit, the value of a
//!    `key=value` pair with a digit, paths and URLs (see `token`).
//! 2. A message joins the template of its token count whose constant words it
//!    shares most, when it shares at least half of them; the places where it
//!    differs become `<*>`. A cache of exact token sequences skips that
//!    search for the lines seen before, which are most lines.
//! 3. Templates whose constant words are the same in the same order are one
//!    pattern, whatever the number of tokens their values take (`sent 5
//!    bytes` and `sent 5 bytes (5 KB)` … once the words agree).
//!
//! Memory grows with the number of templates, never with the number of lines.
//!
//! [`lines`] cuts the lines out of files, `.gz` files and streams, skipping
//! (and counting) the ones too long to hold, for every reader of logs.

pub mod eval;
pub mod lines;
mod meta;
mod miner;
mod token;

pub use meta::{sniff, Level, LineMeta};
pub use miner::{Miner, Pattern, PatternId};
