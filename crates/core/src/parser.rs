//! The command parser: plain text to intent, env, target and params.
