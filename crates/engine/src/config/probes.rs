//! The provider kinds of `[[environments.NAME.services]]` (`vercel`,
//! `digitalocean`, `supabase`): settings a service leaves out are taken
//! from the env's deploy table of the same provider, then each is checked.

use super::{DeployConfig, EnvConfig, ProbeConfig, SecretRef};
use opsroom_adapters::supabase::Service as SupabaseService;
use std::collections::BTreeMap;

/// Fills the settings a `vercel` or `digitalocean` service leaves out
/// (project, team, target, token, base URL) from the env's deploy table,
/// when that table is of the same provider: one place to name a project
/// and its credential for both deploys and health checks.
pub(super) fn inherit_from_deploy(env: &mut EnvConfig) {
    let Some(deploy) = env.deploy.clone() else {
        return;
    };
    for service in &mut env.services {
        match (&mut service.probe, &deploy) {
            (
                ProbeConfig::Vercel {
                    project,
                    team_id,
                    target,
                    token_secret,
                    base_url,
                    ..
                },
                DeployConfig::Vercel {
                    project: d_project,
                    team_id: d_team,
                    target: d_target,
                    token_secret: d_token,
                    base_url: d_base,
                    ..
                },
            ) => {
                fill(project, Some(d_project));
                fill(team_id, d_team.as_ref());
                fill(target, d_target.as_ref());
                fill(token_secret, Some(d_token));
                fill(base_url, d_base.as_ref());
            }
            (
                ProbeConfig::Digitalocean {
                    app_id,
                    token_secret,
                    base_url,
                    ..
                },
                DeployConfig::Digitalocean {
                    app_id: d_app,
                    token_secret: d_token,
                    base_url: d_base,
                    ..
                },
            ) => {
                fill(app_id, Some(d_app));
                fill(token_secret, Some(d_token));
                fill(base_url, d_base.as_ref());
            }
            _ => {}
        }
    }
}

fn fill(slot: &mut Option<String>, from: Option<&String>) {
    if slot.is_none() {
        *slot = from.cloned();
    }
}

/// Checks a provider service's settings (after [`inherit_from_deploy`]);
/// the error starts with the key at fault. `env` names the env for hints.
pub(super) fn check(
    env: &str,
    probe: &ProbeConfig,
    secrets: &BTreeMap<String, SecretRef>,
) -> Result<(), String> {
    let (token_secret, base_url) = match probe {
        ProbeConfig::Vercel {
            project,
            token_secret,
            base_url,
            ..
        } => {
            required(project, || {
                format!("project: expected the Vercel project id or name (or a [environments.{env}.deploy] table with provider = \"vercel\" to take it from)")
            })?;
            (token_secret, base_url)
        }
        ProbeConfig::Digitalocean {
            app_id,
            token_secret,
            base_url,
            ..
        } => {
            required(app_id, || {
                format!("app_id: expected the App Platform app id (or a [environments.{env}.deploy] table with provider = \"digitalocean\" to take it from)")
            })?;
            (token_secret, base_url)
        }
        ProbeConfig::Supabase {
            project_ref,
            services,
            token_secret,
            base_url,
            ..
        } => {
            required(project_ref, || {
                "project_ref: expected the Supabase project ref, the id in the project's dashboard URL (https://supabase.com/dashboard/project/<ref>)".to_string()
            })?;
            for (i, name) in services.iter().enumerate() {
                if SupabaseService::from_name(name).is_none() {
                    return Err(format!(
                        "services[{i}]: unknown Supabase service `{name}`; known: {}",
                        SupabaseService::ALL.map(SupabaseService::as_str).join(", ")
                    ));
                }
            }
            (token_secret, base_url)
        }
        ProbeConfig::Http { .. } | ProbeConfig::Postgres { .. } | ProbeConfig::OpsroomDb => {
            return Ok(())
        }
    };
    let provider = probe.kind();
    let token_secret = required(token_secret, || {
        format!("token_secret: expected the [secrets] name of the {provider} token")
    })?;
    if !secrets.contains_key(token_secret) {
        return Err(format!(
            "token_secret: credential `{token_secret}` is not declared; add `{token_secret} = \"env:VARNAME\"` under [secrets]"
        ));
    }
    if base_url.as_deref().is_some_and(|u| !super::is_http_url(u)) {
        return Err("base_url: expected an http:// or https:// URL".into());
    }
    Ok(())
}

/// The value of a required setting, or the error `why` gives.
fn required(value: &Option<String>, why: impl FnOnce() -> String) -> Result<&str, String> {
    value
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(why)
}

#[cfg(test)]
mod tests {
    use crate::config::{OpsConfig, ProbeConfig};

    fn parse(text: &str) -> Result<OpsConfig, String> {
        OpsConfig::parse("t.toml", text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_supabase_service_loads() {
        let c = parse(
            r#"
            [secrets]
            supabase = "env:SUPABASE_ACCESS_TOKEN"
            [[environments.prod.services]]
            name = "backend"
            kind = "supabase"
            project_ref = "abcdefghijklmnopqrst"
            services = ["db", "auth"]
            token_secret = "supabase"
            base_url = "http://127.0.0.1:9"
            "#,
        )
        .unwrap();
        let service = &c.env("prod").unwrap().1.services[0];
        assert_eq!(service.probe.kind(), "supabase");
        assert!(matches!(
            &service.probe,
            ProbeConfig::Supabase { project_ref: Some(r), services, timeout_ms: 5000, .. }
                if r == "abcdefghijklmnopqrst" && services == &["db", "auth"]
        ));
    }

    #[test]
    fn provider_services_take_what_they_leave_out_from_the_deploy_table() {
        let c = parse(
            r#"
            [secrets]
            vercel = "env:VERCEL_TOKEN"
            do = "env:DO_TOKEN"
            [environments.prod.deploy]
            provider = "vercel"
            project = "web"
            team_id = "team_1"
            repo = "acme/web"
            token_secret = "vercel"
            base_url = "http://127.0.0.1:9"
            [[environments.prod.services]]
            name = "web"
            kind = "vercel"
            [[environments.prod.services]]
            name = "docs"
            kind = "vercel"
            project = "docs"
            target = "staging"
            [environments.preview.deploy]
            provider = "digitalocean"
            app_id = "app-1"
            token_secret = "do"
            [[environments.preview.services]]
            name = "shop"
            kind = "digitalocean"
            "#,
        )
        .unwrap();
        let prod = &c.env("prod").unwrap().1.services;
        assert!(matches!(
            &prod[0].probe,
            ProbeConfig::Vercel { project: Some(p), team_id: Some(t), target: None, token_secret: Some(s), base_url: Some(b), .. }
                if p == "web" && t == "team_1" && s == "vercel" && b == "http://127.0.0.1:9"
        ));
        assert!(matches!(
            &prod[1].probe,
            ProbeConfig::Vercel { project: Some(p), target: Some(t), token_secret: Some(s), .. }
                if p == "docs" && t == "staging" && s == "vercel"
        ));
        let preview = &c.env("preview").unwrap().1.services;
        assert!(matches!(
            &preview[0].probe,
            ProbeConfig::Digitalocean { app_id: Some(a), token_secret: Some(s), base_url: None, .. }
                if a == "app-1" && s == "do"
        ));
    }

    #[test]
    fn bad_provider_services_name_the_key() {
        let service = |body: &str| {
            format!("[secrets]\ntok = \"env:TOK\"\n[[environments.prod.services]]\nname = \"p\"\n{body}\n")
        };
        let cases = [
            (
                service("kind = \"supabase\"\ntoken_secret = \"tok\""),
                "environments.prod.services.p.project_ref: expected the Supabase project ref",
            ),
            (
                service("kind = \"supabase\"\nproject_ref = \"r\"\ntoken_secret = \"tok\"\nservices = [\"db\", \"graphql\"]"),
                "environments.prod.services.p.services[1]: unknown Supabase service `graphql`; known: auth, db, pooler, realtime, rest, storage",
            ),
            (
                service("kind = \"supabase\"\nproject_ref = \"r\""),
                "environments.prod.services.p.token_secret: expected the [secrets] name of the supabase token",
            ),
            (
                service("kind = \"supabase\"\nproject_ref = \"r\"\ntoken_secret = \"nope\""),
                "environments.prod.services.p.token_secret: credential `nope` is not declared",
            ),
            (
                service("kind = \"vercel\"\ntoken_secret = \"tok\""),
                "environments.prod.services.p.project: expected the Vercel project id or name (or a [environments.prod.deploy] table",
            ),
            (
                service("kind = \"digitalocean\"\ntoken_secret = \"tok\""),
                "environments.prod.services.p.app_id: expected the App Platform app id",
            ),
            (
                service("kind = \"vercel\"\nproject = \"web\"\ntoken_secret = \"tok\"\nbase_url = \"ftp://x\""),
                "environments.prod.services.p.base_url: expected an http:// or https:// URL",
            ),
            (
                service("kind = \"supabase\"\nproject_ref = \"r\"\ntoken_secret = \"tok\"\nprojct = \"x\""),
                "projct",
            ),
        ];
        for (text, want) in cases {
            let err = parse(&text).unwrap_err();
            assert!(err.contains(want), "{text}\n=> {err}\nwanted {want}");
        }
    }

    #[test]
    fn the_readme_example_has_each_provider_kind() {
        let readme = include_str!("../../../../README.md");
        let example = readme
            .split("## Configuring environments, providers and credentials")
            .nth(1)
            .and_then(|s| s.split("```toml").nth(1))
            .and_then(|s| s.split("```").next())
            .expect("the README's configuration section has a toml example");
        let c = parse(example).unwrap();
        let probe = |env: &str, service: &str| {
            let (_, env) = c.env(env).unwrap();
            env.services
                .iter()
                .find(|s| s.name == service)
                .unwrap_or_else(|| panic!("no service {service}"))
                .probe
                .clone()
        };
        assert!(matches!(
            probe("prod", "vercel"),
            ProbeConfig::Vercel { project: Some(p), token_secret: Some(t), .. } if p == "web" && t == "vercel"
        ));
        assert!(matches!(
            probe("prod", "backend"),
            ProbeConfig::Supabase { project_ref: Some(_), services, .. } if services.len() == 4
        ));
        assert!(matches!(
            probe("preview", "app"),
            ProbeConfig::Digitalocean { app_id: Some(a), .. } if a == "6a7b5c4d-app"
        ));
    }

    #[test]
    fn an_unknown_or_missing_kind_is_named_with_the_known_ones() {
        let err = parse("[environments.prod]\n[[environments.prod.services]]\nname = \"db\"\nkind = \"mysql\"\n")
            .unwrap_err();
        assert!(
            err.contains("line 2") && err.contains("service `db`: kind: unknown kind `mysql`; known kinds: http, postgres, opsroom_db, vercel, digitalocean, supabase"),
            "{err}"
        );
        let err =
            parse("[[environments.prod.services]]\nname = \"db\"\nurl = \"x\"\n").unwrap_err();
        assert!(
            err.contains("service `db`: missing field `kind`; known kinds: http, postgres"),
            "{err}"
        );
        let err = parse("[[environments.prod.services]]\nkind = \"http\"\nurl = \"http://x\"\n")
            .unwrap_err();
        assert!(err.contains("missing field `name`"), "{err}");
    }
}
