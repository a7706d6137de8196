//! The command parser: plain text to intent, env, target and params.
//! (Issue 3 grows this into the full parser; for now it reads simple forms.)
