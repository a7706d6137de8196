//! Parser behaviour beyond the corpus: bad input, questions instead of
//! guesses, defaults, custom trigger slots and the JSON shape.

use opsroom_core::catalog::{parse_custom_runbook, Catalog};
use opsroom_core::parser::{parse, EnvInfo, ParseContext, ParseInputError, Parsed, MAX_TEXT_CHARS};
use serde_json::json;

struct World {
    catalog: Catalog,
    envs: Vec<EnvInfo>,
    services: Vec<String>,
}

impl World {
    fn new() -> World {
        World::with_catalog(Catalog::builtin())
    }

    fn with_catalog(catalog: Catalog) -> World {
        World {
            catalog,
            envs: EnvInfo::defaults(),
            services: ["web", "api", "worker", "payments", "auth", "db"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }

    fn ctx(&self, default_env: Option<&'static str>) -> ParseContext<'_> {
        ParseContext {
            catalog: &self.catalog,
            envs: &self.envs,
            services: &self.services,
            default_env,
        }
    }

    fn parse(&self, text: &str) -> Parsed {
        parse(text, &self.ctx(None)).expect("valid input")
    }
}

#[test]
fn empty_text_is_refused() {
    let w = World::new();
    for text in ["", "   ", "\n\t"] {
        let err = parse(text, &w.ctx(None)).unwrap_err();
        assert_eq!(err, ParseInputError::Empty);
        assert!(err.to_string().contains("empty"), "{err}");
    }
}

#[test]
fn long_text_is_refused_with_its_length() {
    let w = World::new();
    let text = "deploy web to prod ".repeat(540); // about 10 KB
    let err = parse(&text, &w.ctx(None)).unwrap_err();
    assert!(
        matches!(err, ParseInputError::TooLong { chars, max } if chars == text.chars().count() && max == MAX_TEXT_CHARS)
    );
    let message = err.to_string();
    assert!(
        message.contains("10260 characters") && message.contains("2000"),
        "{message}"
    );

    let at_limit = "a".repeat(MAX_TEXT_CHARS);
    assert!(parse(&at_limit, &w.ctx(None)).is_ok());
    let over = "é".repeat(MAX_TEXT_CHARS + 1);
    assert!(matches!(
        parse(&over, &w.ctx(None)),
        Err(ParseInputError::TooLong { .. })
    ));
}

#[test]
fn control_characters_are_refused_with_their_place() {
    let w = World::new();
    for (text, code, index) in [
        ("deploy web\u{0007} to prod", 0x07, 10),
        ("\u{001b}[31mcheck prod", 0x1b, 0),
        ("check prod\u{0000}", 0, 10),
        ("status\u{007f}", 0x7f, 6),
    ] {
        let err = parse(text, &w.ctx(None)).unwrap_err();
        assert_eq!(
            err,
            ParseInputError::ControlCharacter { code, index },
            "{text:?}"
        );
        assert!(err.to_string().contains("control character"), "{err}");
    }
    // Line breaks and tabs are ordinary whitespace.
    assert_eq!(w.parse("deploy web\nto prod").intent, "deploy");
    assert_eq!(w.parse("check\tprod").env.as_deref(), Some("prod"));
}

#[test]
fn missing_env_gets_a_question_unless_there_is_a_default() {
    let w = World::new();
    let p = w.parse("deploy web");
    assert_eq!((p.intent.as_str(), p.env.as_deref()), ("deploy", None));
    assert_eq!(p.questions.len(), 1);
    assert!(
        p.questions[0].contains("dev, staging, prod, preview"),
        "{:?}",
        p.questions
    );

    let p = parse("deploy web", &w.ctx(Some("staging"))).unwrap();
    assert_eq!(p.env.as_deref(), Some("staging"));
    assert!(p.questions.is_empty(), "{:?}", p.questions);
    let explicit = parse("deploy web to prod", &w.ctx(Some("staging"))).unwrap();
    assert_eq!(explicit.env.as_deref(), Some("prod"));

    // Runbooks that need no env ask nothing.
    assert!(w.parse("spec for dark mode").questions.is_empty());
}

#[test]
fn unknown_names_get_questions_listing_the_known_ones() {
    let w = World::new();
    let p = w.parse("deploy web to qa");
    assert_eq!(p.env, None);
    assert!(
        p.questions
            .iter()
            .any(|q| q.contains("`qa`") && q.contains("staging")),
        "{:?}",
        p.questions
    );

    let p = w.parse("deploy billing to prod");
    assert_eq!(p.target, None);
    assert!(
        p.questions
            .iter()
            .any(|q| q.contains("`billing`") && q.contains("payments")),
        "{:?}",
        p.questions
    );
    assert!(p.confidence < w.parse("deploy web to prod").confidence);
}

#[test]
fn destructive_text_never_maps_to_a_runbook() {
    let w = World::new();
    for text in [
        "delete everything",
        "drop the prod db",
        "DROP DATABASE prod;",
        "please wipe staging and redeploy web",
        "deploy web then delete the old db",
        "truncate users on prod and check status",
        "kill the api on prod",
        "shut down production",
    ] {
        let p = w.parse(text);
        assert_eq!(p.intent, "none", "{text}");
        assert!(p.alternatives.is_empty(), "{text}: {:?}", p.alternatives);
        assert!(
            p.questions[0].contains("destructive"),
            "{text}: {:?}",
            p.questions
        );
    }
}

#[test]
fn unclear_text_gets_did_you_mean_or_a_question() {
    let w = World::new();
    let p = w.parse("deplyo web to prod");
    assert_eq!(p.intent, "none");
    assert_eq!(p.alternatives, ["deploy"]);
    assert!(
        p.questions[0].contains("Did you mean `deploy`"),
        "{:?}",
        p.questions
    );

    let p = w.parse("deploy or roll back api on staging");
    assert_eq!(p.intent, "none");
    assert!(p.alternatives.contains(&"deploy".to_string()));
    assert!(p.alternatives.contains(&"rollback".to_string()));

    let p = w.parse("what's for lunch");
    assert_eq!(p.intent, "none");
    assert!(p.alternatives.is_empty());
    assert!(p.questions[0].contains("Runbooks:"), "{:?}", p.questions);
}

#[test]
fn refs_features_and_schema_envs_become_params() {
    let w = World::new();
    let p = w.parse("ship sha 1a2b3c4 to staging");
    assert_eq!(p.params["ref"], json!("1a2b3c4"));
    assert_eq!(p.target.as_deref(), Some("1a2b3c4"));
    // A version with a `v` is a ref however short ("a second release").
    for text in [
        "roll out v2 of web to staging",
        "deploy web v2 to staging",
        "deploy web@v2 to staging",
    ] {
        let p = w.parse(text);
        assert_eq!(p.params["ref"], json!("v2"), "{text}");
        assert_eq!(p.target.as_deref(), Some("web"), "{text}");
        assert_eq!(p.env.as_deref(), Some("staging"), "{text}");
    }

    let p = w.parse("generate spec for user authentication");
    assert_eq!(p.params["feature"], json!("user authentication"));
    let p = w.parse("generate spec");
    assert!(
        p.questions[0].contains("Which feature"),
        "{:?}",
        p.questions
    );

    let p = w.parse("sync schema from dev to prod");
    assert_eq!(p.params["source_env"], json!("dev"));
    assert_eq!(p.params["target_env"], json!("prod"));
    assert_eq!(p.env.as_deref(), Some("prod"));
    assert!(p.params.get("apply").is_none());
    let p = w.parse("sync db schema dev to prod and apply");
    assert_eq!(p.params["apply"], json!(true));
    // "with" names the source: prod is changed to match dev.
    let p = w.parse("sync prod schema with dev");
    assert_eq!(p.intent, "schema_sync");
    assert_eq!(p.params["source_env"], json!("dev"));
    assert_eq!(p.params["target_env"], json!("prod"));
    assert_eq!(p.env.as_deref(), Some("prod"));
}

#[test]
fn parsed_params_pass_their_runbook_validation_and_plan() {
    let w = World::new();
    for text in [
        "deploy v2.3.1 of web to prod",
        "rollback api to v1.0.0 on staging",
        "spec for audit logs",
        "compare schemas staging vs prod",
        "triage payments on prod",
        "check prod status",
        "noop",
    ] {
        let p = w.parse(text);
        let spec = w
            .catalog
            .get(&p.intent)
            .unwrap_or_else(|| panic!("{text}: {p:?}"));
        spec.validate_params(&p.params)
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        let plan = spec.plan(p.env.as_deref(), p.target.as_deref());
        assert_eq!(plan.len(), 5);
    }
}

#[test]
fn custom_triggers_fill_typed_slots() {
    let toml = r#"
name = "scale_service"
description = "Scales a service."
risk = "write"
triggers = ["scale {service} to {replicas} on {env}"]

[[params]]
name = "replicas"
type = "integer"
min = 1
max = 20
required = true

[[steps.action]]
shell = { argv = ["kubectl", "scale", "deployment/{target}", "--replicas={replicas}"] }
"#;
    let spec = parse_custom_runbook("scale.toml", toml).unwrap();
    let w = World::with_catalog(Catalog::with_custom(vec![spec]).unwrap());
    let p = w.parse("hubot scale api to 3 on prod");
    assert_eq!(p.intent, "scale_service");
    assert_eq!(p.env.as_deref(), Some("prod"));
    assert_eq!(p.target.as_deref(), Some("api"));
    assert_eq!(p.params["replicas"], json!(3));
    let p = w.parse("scale api to lots on prod");
    assert!(
        p.questions.iter().any(|q| q.contains("`lots`")),
        "{:?}",
        p.questions
    );
}

#[test]
fn json_shape_skips_empty_lists() {
    let w = World::new();
    let v = serde_json::to_value(w.parse("check prod status")).unwrap();
    assert_eq!(v["intent"], "healthcheck");
    assert_eq!(v["env"], "prod");
    assert!(v["target"].is_null());
    assert!(v.get("questions").is_none() && v.get("alternatives").is_none());
    let c = v["confidence"].as_f64().unwrap();
    assert!(c > 0.7 && c <= 1.0, "{c}");
    let v = serde_json::to_value(w.parse("hello there")).unwrap();
    assert_eq!(v["intent"], "none");
    assert!(v["questions"].is_array());
}

#[test]
fn every_builtin_trigger_reads_as_its_runbook() {
    let w = World::new();
    for spec in w.catalog.iter() {
        for trigger in &spec.triggers {
            let text = trigger
                .replace("{env}", "staging")
                .replace("{service}", "web")
                .replace("{ref}", "v1.2.3")
                .replace("{feature}", "dark mode")
                .replace("{source_env}", "dev")
                .replace("{target_env}", "prod");
            let p = w.parse(&text);
            assert_eq!(p.intent, spec.name, "{text:?}: {p:?}");
        }
    }
}

#[test]
fn builtin_catalog_is_complete_and_consistent() {
    let w = World::new();
    let names = w.catalog.names();
    for name in [
        "noop",
        "healthcheck",
        "deploy",
        "rollback",
        "spec",
        "incident",
        "schema_sync",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    for spec in w.catalog.iter() {
        assert!(
            !spec.description.is_empty() && !spec.triggers.is_empty(),
            "{}",
            spec.name
        );
        assert!(
            spec.phases.iter().all(|p| !p.is_empty()),
            "{} has an empty phase",
            spec.name
        );
        assert!(spec.actions.is_none() && !spec.custom);
        for p in &spec.params {
            if let Some(d) = &p.default {
                let one = serde_json::Map::from_iter([(p.name.clone(), d.clone())]);
                let required_missing = spec.params.iter().any(|q| q.required);
                if !required_missing {
                    spec.validate_params(&one)
                        .unwrap_or_else(|e| panic!("{}: {e}", spec.name));
                }
            }
        }
    }
    let mut catalog = Catalog::builtin();
    let deploy = catalog.get("deploy").unwrap().clone();
    let err = catalog.insert(deploy).unwrap_err();
    assert!(
        err.to_string().contains("`deploy` is already defined"),
        "{err}"
    );
}
