//! `secret:NAME` references in `opsroom.toml`: secrets set through the API,
//! stored sealed in a workspace. A run reads those its configuration names
//! from its own workspace when it starts, opens them with the master key and
//! hides them like every other credential. One that cannot be read (not set,
//! no master key, sealed with another key) is kept as the reason, so the
//! runbook that needs it fails naming the secret, never its value.

use crate::config::SecretSource;
use crate::Engine;
use opsroom_adapters::Secret;
use opsroom_store::{SecretName, StoreError};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How to configure the master key, for messages.
pub const KEY_HELP: &str =
    "set OPSROOM_SECRET_KEY (or OPSROOM_SECRET_KEY_FILE, a file holding it) \
     on the server and workers; `opsroom secrets new-key` prints a new key";

/// `engine` for one run of `workspace_id`: its configuration's `secret:NAME`
/// values read (or why not), and hidden from what the run writes. The same
/// engine when the configuration names no stored secret.
pub async fn for_run(engine: &Engine, workspace_id: &str) -> Engine {
    let names: Vec<String> = engine
        .config
        .secrets
        .values()
        .filter_map(|r| match r.source() {
            Some(SecretSource::Stored(name)) => Some(name),
            _ => None,
        })
        .collect();
    if names.is_empty() {
        return engine.clone();
    }
    let mut stored = BTreeMap::new();
    for name in names {
        let value = read(engine, workspace_id, &name).await;
        stored.insert(name, value);
    }
    let mut engine = engine.clone();
    let redactor = Arc::make_mut(&mut engine.redactor);
    for secret in stored.values().flatten() {
        redactor.add(secret);
    }
    let mut config = (*engine.config).clone();
    config.stored_secrets = stored;
    engine.config = Arc::new(config);
    engine
}

async fn read(engine: &Engine, workspace_id: &str, name: &str) -> Result<Secret, String> {
    let parsed = SecretName::parse(name).map_err(|e| e.to_string())?;
    let Some(key) = &engine.secret_key else {
        return Err(format!(
            "secret {name} cannot be opened: no master key is configured; {KEY_HELP}"
        ));
    };
    let sealed = match engine.store.secret_get(workspace_id, &parsed).await {
        Ok(sealed) => sealed,
        Err(StoreError::NotFound { .. }) => {
            return Err(format!(
                "secret {name} is not set in workspace {workspace_id}; set it with `opsroom secrets set {name}`"
            ))
        }
        Err(e) => return Err(format!("secret {name} could not be read: {e}")),
    };
    let plain = key
        .open(&context(workspace_id, name), &sealed.sealed)
        .map_err(|e| format!("secret {name} of workspace {workspace_id} does not open: {e}"))?;
    String::from_utf8(plain)
        .map(Secret::new)
        .map_err(|_| format!("secret {name} is not UTF-8 text"))
}

/// What a secret's sealed text is bound to: its workspace and name, so a
/// sealed value copied onto another secret's row does not open.
pub fn context(workspace_id: &str, name: &str) -> String {
    format!("{workspace_id}/{name}")
}
