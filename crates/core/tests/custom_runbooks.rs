//! Custom runbook files: the examples load, bad files say where and what.

use opsroom_core::catalog::{load_custom_dir_entries, parse_custom_runbook, Catalog, StepAction};
use opsroom_core::Risk;
use serde_json::json;

fn fixture_entries() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/runbooks");
    let mut entries: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("fixtures dir")
        .map(|e| {
            let path = e.expect("dir entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).expect("fixture text"))
        })
        .collect();
    entries.sort();
    entries
}

#[test]
fn example_files_load_with_their_actions() {
    let (specs, errors) = load_custom_dir_entries(fixture_entries());
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(specs.len(), 2);
    let restart = specs.iter().find(|s| s.name == "restart_service").unwrap();
    assert_eq!(restart.risk, Risk::Write);
    assert!(restart.needs_env && restart.takes_target && restart.custom);
    let actions = restart.actions.as_ref().unwrap();
    assert_eq!(actions[2].len(), restart.phases[2].len());
    match &actions[2][0] {
        StepAction::Shell { argv, .. } => assert_eq!(argv[0], "ssh"),
        other => panic!("expected a shell action, got {other:?}"),
    }
    assert_eq!(restart.phases[2][1], "wait 5s");
    let defaults = restart.validate_params(&Default::default()).unwrap();
    assert_eq!(defaults["grace_seconds"], json!(10));
    let bad = json!({"mode": "explode"});
    assert!(restart.validate_params(bad.as_object().unwrap()).is_err());

    let smoke = specs.iter().find(|s| s.name == "smoke_test").unwrap();
    assert_eq!(smoke.risk, Risk::Read);
    assert!(!smoke.takes_target);
    let plan = smoke.plan(Some("staging"), None);
    assert!(plan[2].steps[1].contains("staging"), "{plan:?}");

    let catalog = Catalog::with_custom(specs).unwrap();
    assert!(catalog.get("restart_service").is_some());
    assert!(catalog.get("deploy").is_some());
    let json = serde_json::to_value(catalog.get("smoke_test").unwrap()).unwrap();
    assert_eq!(json["actions"][2][0]["type"], "http");
}

fn error_of(text: &str) -> String {
    parse_custom_runbook("bad.toml", text)
        .unwrap_err()
        .to_string()
}

const HEAD: &str =
    "name = \"x\"\ndescription = \"d\"\nrisk = \"read\"\ntriggers = [\"do x on {env}\"]\n";

#[test]
fn syntax_errors_name_file_and_line() {
    let err = error_of("name = \"x\"\ndescription = \"d\"\nrisk = \n");
    assert!(err.starts_with("bad.toml:3:"), "{err}");
}

#[test]
fn shell_steps_refuse_command_strings_and_shells() {
    let err = error_of(&format!(
        "{HEAD}\n[[steps.action]]\nshell = {{ command = \"rm -rf /tmp/x\" }}\n"
    ));
    assert!(err.starts_with("bad.toml:6:"), "{err}");
    assert!(err.contains("argv"), "{err}");
    let err = error_of(&format!(
        "{HEAD}\n[[steps.action]]\nshell = {{ argv = [\"bash\", \"-c\", \"echo hi\"] }}\n"
    ));
    assert!(err.contains("bash -c"), "{err}");
    let err = error_of(&format!(
        "{HEAD}\n[[steps.action]]\nshell = {{ argv = \"echo hi\" }}\n"
    ));
    assert!(err.starts_with("bad.toml:7:"), "{err}");
}

#[test]
fn shell_steps_declare_their_variables() {
    let spec = parse_custom_runbook(
        "env.toml",
        &format!(
            "{HEAD}[[steps.action]]\nshell = {{ argv = [\"notify\"], env = {{ TOKEN = \"secret:status\", REGION = \"{{env}}\" }} }}\n"
        ),
    )
    .unwrap();
    match &spec.actions.as_ref().unwrap()[2][0] {
        StepAction::Shell { env, .. } => {
            assert_eq!(env["TOKEN"], "secret:status");
            assert_eq!(env["REGION"], "{env}");
        }
        other => panic!("expected a shell action, got {other:?}"),
    }
    let cases = [
        ("{ \"1X\" = \"a\" }", "env variable name `1X`"),
        ("{ OPSROOM_ADMIN_TOKEN = \"a\" }", "the run's own"),
        ("{ T = \"secret:\" }", "`secret:` needs the name"),
        ("{ T = \"{nope}\" }", "placeholder `{nope}`"),
    ];
    for (env, expected) in cases {
        let err = error_of(&format!(
            "{HEAD}[[steps.action]]\nshell = {{ argv = [\"notify\"], env = {env} }}\n"
        ));
        assert!(err.contains(expected), "expected `{expected}` in `{err}`");
    }
}

#[test]
fn semantic_errors_say_what_is_wrong() {
    let cases = [
        (
            HEAD.replace("read", "dangerous") + "[[steps.action]]\nwait = { seconds = 1 }\n",
            "bad.toml:3: unknown risk `dangerous`",
        ),
        (
            HEAD.replace("{env}", "{cluster}") + "[[steps.action]]\nwait = { seconds = 1 }\n",
            "bad.toml:4: trigger slot `{cluster}`",
        ),
        (HEAD.to_string(), "the action phase has no steps"),
        (
            format!("{HEAD}[[steps.action]]\nhttp = {{ url = \"ftp://x\" }}\n"),
            "bad.toml:5: action step: url `ftp://x`",
        ),
        (
            format!("{HEAD}[[steps.action]]\nhttp = {{ url = \"https://{{host}}/\" }}\n"),
            "placeholder `{host}`",
        ),
        (
            format!("{HEAD}[[steps.action]]\nwait = {{ seconds = 1 }}\nsql = {{ database = \"a\", query = \"b\" }}\n"),
            "exactly one action",
        ),
        (
            format!("{HEAD}[[params]]\nname = \"n\"\ntype = \"integer\"\nmin = 5\nmax = 1\n[[steps.action]]\nwait = {{ seconds = 1 }}\n"),
            "bad.toml:5: param `n`: min 5 is greater than max 1",
        ),
        (
            format!("{HEAD}[[params]]\nname = \"n\"\ntype = \"enum\"\nvalues = [\"a\"]\ndefault = \"b\"\n[[steps.action]]\nwait = {{ seconds = 1 }}\n"),
            "param `n`: default: parameter `n` must be one of a",
        ),
        (
            format!("{HEAD}colour = \"red\"\n[[steps.action]]\nwait = {{ seconds = 1 }}\n"),
            "bad.toml:5: unknown field `colour`",
        ),
    ];
    for (text, expected) in cases {
        let err = error_of(&text);
        assert!(err.contains(expected), "expected `{expected}` in `{err}`");
    }
}

#[test]
fn a_bad_file_does_not_stop_the_others() {
    let mut entries = fixture_entries();
    entries.push(("broken.toml".into(), "name = ".into()));
    entries.push((
        "deploy.toml".into(),
        HEAD.replace("\"x\"", "\"deploy\"") + "[[steps.action]]\nwait = { seconds = 1 }\n",
    ));
    entries.push(("README.md".into(), "not a runbook".into()));
    let (specs, errors) = load_custom_dir_entries(entries);
    assert_eq!(specs.len(), 2);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].to_string().starts_with("broken.toml:1:"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].to_string().contains("`deploy` is already taken"),
        "{}",
        errors[1]
    );
}
