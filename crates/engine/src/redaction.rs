//! What an engine hides from runs' events, artifacts and errors: every
//! credential the configuration can reach, read once when the engine is
//! built, plus the process's own (see [`crate::Engine::with_process_secrets`]).
//! A run adds the secrets it reads later ([`crate::pipeline::RunContext::add_secret`]),
//! so a credential rotated since start-up is hidden too.

use crate::config::{OpsConfig, ProbeConfig};
use opsroom_adapters::secret::Redactor;
use opsroom_adapters::Secret;

/// A redactor for every credential `config` names: each `[secrets]` entry
/// that can be read now, each `[databases.NAME]` URL and each PostgreSQL
/// service's URL (their passwords included, see [`Redactor`]).
pub fn config_redactor(config: &OpsConfig) -> Redactor {
    let mut secrets: Vec<Secret> = config
        .secrets
        .keys()
        .filter_map(|name| config.secret(name).ok())
        .collect();
    secrets.extend(
        config
            .databases
            .values()
            .filter_map(|db| db.resolve_url_with(config).ok())
            .map(Secret::new),
    );
    // Channel URLs given inline are credentials too (Slack's and Discord's
    // carry their token in the path).
    secrets.extend(
        config
            .notifications
            .iter()
            .filter_map(|c| c.url.as_deref())
            .map(Secret::new),
    );
    for env in config.environments.values() {
        for service in &env.services {
            if let ProbeConfig::Postgres { url, url_env, .. } = &service.probe {
                let url = url
                    .clone()
                    .or_else(|| url_env.as_ref().and_then(|var| std::env::var(var).ok()));
                secrets.extend(url.map(Secret::new));
            }
        }
    }
    Redactor::new(&secrets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_credential_of_the_config_is_hidden() {
        let dir = std::env::temp_dir().join(format!("opsroom_redaction_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let token_file = dir.join("token");
        std::fs::write(&token_file, "tok_from_a_file_123\n").unwrap();
        let config = OpsConfig::parse(
            "t.toml",
            &format!(
                r#"
                [secrets]
                api = "file:{}"
                unset = "env:OPSROOM_REDACTION_TEST_UNSET"
                [databases.main]
                url = "postgres://app:db-pass-456@db/app"
                [[environments.prod.services]]
                name = "db"
                kind = "postgres"
                url = "postgres://probe:probe-pass-789@db/app"
                "#,
                token_file.display()
            ),
        )
        .unwrap();
        let r = config_redactor(&config);
        assert_eq!(
            r.redact("tok_from_a_file_123 db-pass-456 probe-pass-789"),
            "*** *** ***"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
