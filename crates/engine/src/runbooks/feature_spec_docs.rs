//! The four documents of a feature spec, filled from the feature's words
//! and the config: constitution.md (principles), prd.md (problem, goals,
//! non-goals, user stories with acceptance criteria, success measures),
//! plan.md (technical context, phases, risks) and tasks.md (a checklist by
//! phase with dependencies).

use crate::config::{OpsConfig, SpecConfig};
use minijinja::value::Serde;
use serde::Serialize;

/// What the documents are written from.
pub struct SpecInput<'a> {
    /// The feature, as the operator typed it ("user authentication").
    pub feature: &'a str,
    /// The branch name's slug (`user-authentication`).
    pub slug: &'a str,
    /// The branch the change will be merged into.
    pub base_branch: &'a str,
    /// `[spec]` of opsroom.toml.
    pub spec: &'a SpecConfig,
    /// The whole config (environments and their providers).
    pub config: &'a OpsConfig,
    /// The date written in the documents (`2026-01-31`).
    pub date: String,
}

/// A concern the feature's words point at, with what it adds to the docs.
struct Concern {
    words: &'static [&'static str],
    name: &'static str,
    goal: &'static str,
    risk: &'static str,
    mitigation: &'static str,
    task: &'static str,
}

const CONCERNS: &[Concern] = &[
    Concern {
        words: &["auth", "login", "sign in", "signin", "password", "session", "sso", "oauth", "token", "permission", "role"],
        name: "security",
        goal: "Credentials and sessions are handled to current security practice (hashed secrets, expiring sessions, no secret in logs).",
        risk: "A flaw exposes accounts or data",
        mitigation: "threat-model review before the build phase; security tests for every acceptance criterion that touches identity",
        task: "Write the threat model and security test cases",
    },
    Concern {
        words: &["payment", "billing", "invoice", "checkout", "subscription", "refund"],
        name: "money",
        goal: "Every amount is exact, auditable and idempotent under retries.",
        risk: "Double charges or lost payments on retries and timeouts",
        mitigation: "idempotency keys on every provider call; reconciliation report",
        task: "Add idempotency keys and a reconciliation check",
    },
    Concern {
        words: &["database", "schema", "migration", "table", "data model", "storage"],
        name: "data",
        goal: "Schema changes are backward compatible and reversible.",
        risk: "A migration locks tables or cannot be rolled back",
        mitigation: "expand/contract migrations, tested on a copy of production data",
        task: "Write expand/contract migrations and their rollback",
    },
    Concern {
        words: &["api", "endpoint", "webhook", "integration", "sdk"],
        name: "interface",
        goal: "The interface is versioned, documented and backward compatible.",
        risk: "Existing clients break",
        mitigation: "contract tests against the current clients; versioned routes",
        task: "Write the API contract and contract tests",
    },
    Concern {
        words: &["ui", "page", "dashboard", "screen", "form", "button", "view"],
        name: "experience",
        goal: "The UI is accessible (WCAG 2.1 AA) and works on small screens.",
        risk: "Users cannot find or use the feature",
        mitigation: "usability check with three users; accessibility audit",
        task: "Accessibility audit and usability check",
    },
    Concern {
        words: &["notification", "email", "sms", "alert", "message"],
        name: "delivery",
        goal: "Messages are delivered once, on time, and users can opt out.",
        risk: "Spam or missed messages",
        mitigation: "rate limits, deduplication and delivery metrics",
        task: "Add delivery metrics, rate limits and opt-out",
    },
    Concern {
        words: &["search", "report", "export", "analytics", "performance", "cache"],
        name: "performance",
        goal: "Answers stay fast at ten times today's data.",
        risk: "Slow queries under real data volumes",
        mitigation: "load test with production-sized data; query plans reviewed",
        task: "Load test with production-sized data",
    },
];

fn concerns(feature: &str) -> Vec<&'static Concern> {
    let lower = feature.to_lowercase();
    CONCERNS
        .iter()
        .filter(|c| c.words.iter().any(|w| lower.contains(w)))
        .collect()
}

/// `user authentication` → `User authentication`.
fn sentence_case(s: &str) -> String {
    let mut chars = s.trim().chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

const DEFAULT_PRINCIPLES: &[&str] = &[
    "Users first: every change starts from a user problem and is judged by its effect on users.",
    "Small, reversible steps: ship behind flags, deploy often, keep every release one rollback away.",
    "Tests before trust: each acceptance criterion has an automated test; main is always releasable.",
    "Secure by default: least privilege, no secret in code, logs or artifacts.",
    "Observable: every feature ships with the logs, metrics and health checks needed to run it.",
    "Simple over clever: the plainest design that meets the goals wins; complexity needs a written reason.",
];

/// The document templates, rendered with [`minijinja`]. Prose lives in the
/// templates; what depends on the feature (its concerns, the numbering of
/// tasks) is worked out here.
fn templates() -> &'static minijinja::Environment<'static> {
    static ENV: std::sync::OnceLock<minijinja::Environment<'static>> = std::sync::OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = minijinja::Environment::new();
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .keep_trailing_newline(true)
                .build()
                .expect("the default delimiters are valid"),
        );
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .expect("the built-in spec templates parse");
        }
        env
    })
}

const TEMPLATES: &[(&str, &str)] = &[
    ("header.md", include_str!("../../templates/spec/header.md")),
    (
        "constitution.md",
        include_str!("../../templates/spec/constitution.md"),
    ),
    ("prd.md", include_str!("../../templates/spec/prd.md")),
    ("plan.md", include_str!("../../templates/spec/plan.md")),
    ("tasks.md", include_str!("../../templates/spec/tasks.md")),
];

/// The documents, in the order they are written, with the title of each.
const DOCUMENTS: &[(&str, &str)] = &[
    ("constitution.md", "Constitution"),
    ("prd.md", "PRD"),
    ("plan.md", "Plan"),
    ("tasks.md", "Tasks"),
];

#[derive(Serialize)]
struct ConcernView {
    title: String,
    goal: &'static str,
    risk: &'static str,
    mitigation: &'static str,
}

#[derive(Serialize)]
struct PhaseTasks {
    name: &'static str,
    tasks: Vec<TaskView>,
}

#[derive(Serialize)]
struct TaskView {
    id: String,
    text: String,
    parallel: bool,
    depends_on: Vec<String>,
}

impl SpecInput<'_> {
    /// The four documents, as (file name, markdown).
    pub fn documents(&self) -> Vec<(&'static str, String)> {
        let feature = self.feature.trim();
        let concerns = concerns(feature);
        let principles: Vec<String> = if self.spec.principles.is_empty() {
            DEFAULT_PRINCIPLES.iter().map(|p| p.to_string()).collect()
        } else {
            self.spec.principles.clone()
        };
        let environments: Vec<String> = self
            .config
            .environments
            .iter()
            .map(|(name, env)| match &env.deploy {
                Some(d) => format!("{name} (deployed with {})", d.provider()),
                None => name.clone(),
            })
            .collect();
        let context = minijinja::context! {
            title => sentence_case(feature),
            feature => feature.to_string(),
            product => self.spec.product.clone().unwrap_or_else(|| "the product".into()),
            slug => self.slug.to_string(),
            base_branch => self.base_branch.to_string(),
            date => self.date.clone(),
            description => self.spec.description.as_deref().map(str::trim).filter(|d| !d.is_empty()).map(String::from),
            stack => self.spec.stack.clone(),
            principles => principles,
            environments => environments,
            concerns => Serde(concerns.iter().map(|c| ConcernView {
                title: sentence_case(c.name),
                goal: c.goal,
                risk: c.risk,
                mitigation: c.mitigation,
            }).collect::<Vec<_>>()),
            phases => Serde(task_phases(feature, &concerns)),
        };
        DOCUMENTS
            .iter()
            .map(|&(name, doc)| {
                let md = templates()
                    .get_template(name)
                    .and_then(|t| t.render(minijinja::context! { doc => doc, ..context.clone() }))
                    .unwrap_or_else(|e| panic!("the built-in template {name} renders: {e:#}"));
                (name, md)
            })
            .collect()
    }
}

/// The tasks by phase, numbered in order, each depending on tasks named by
/// key; a concern's task joins Hardening, after the main path exists.
fn task_phases(feature: &str, concerns: &[&Concern]) -> Vec<PhaseTasks> {
    // (key, text, depends on (keys), can run in parallel with siblings)
    type Task = (&'static str, String, &'static [&'static str], bool);
    let mut phases: Vec<(&'static str, Vec<Task>)> = vec![
        (
            "Foundations",
            vec![
                (
                    "model",
                    format!("Write the data model and interfaces for {feature}"),
                    &[],
                    false,
                ),
                (
                    "flag",
                    format!("Add the feature flag for {feature} (off by default)"),
                    &[],
                    true,
                ),
                (
                    "test-plan",
                    "Write the test plan from the acceptance criteria in prd.md".into(),
                    &["model"],
                    true,
                ),
            ],
        ),
        (
            "Build",
            vec![
                (
                    "main-path",
                    format!("Implement the main path of {feature}"),
                    &["model", "flag"],
                    false,
                ),
                (
                    "validation",
                    "Validation and clear error messages for bad input".into(),
                    &["main-path"],
                    true,
                ),
                (
                    "integration",
                    "Integration tests for every acceptance criterion".into(),
                    &["test-plan", "main-path"],
                    false,
                ),
            ],
        ),
        (
            "Hardening",
            vec![
                (
                    "observability",
                    "Logs, metrics and a health check for the feature".into(),
                    &["main-path"],
                    true,
                ),
                (
                    "review",
                    "Security and performance review".into(),
                    &["integration"],
                    true,
                ),
            ],
        ),
        (
            "Release",
            vec![
                (
                    "staging",
                    "Deploy to staging and verify health".into(),
                    &["integration", "observability"],
                    false,
                ),
                (
                    "first-group",
                    "Enable the flag for a first group; watch the success measures".into(),
                    &["staging"],
                    false,
                ),
                (
                    "everyone",
                    "Enable for everyone; write the release note".into(),
                    &["first-group"],
                    false,
                ),
            ],
        ),
    ];
    for c in concerns {
        phases[2]
            .1
            .push(("concern", c.task.to_string(), &["main-path"], true));
    }
    let mut ids = std::collections::HashMap::new();
    let mut n = 0;
    for (_, tasks) in &phases {
        for (key, ..) in tasks {
            n += 1;
            ids.entry(*key).or_insert(format!("T{n:03}"));
        }
    }
    let mut n = 0;
    phases
        .into_iter()
        .map(|(name, tasks)| PhaseTasks {
            name,
            tasks: tasks
                .into_iter()
                .map(|(_, text, deps, parallel)| {
                    n += 1;
                    TaskView {
                        id: format!("T{n:03}"),
                        text,
                        parallel,
                        depends_on: deps.iter().map(|d| ids[d].clone()).collect(),
                    }
                })
                .collect(),
        })
        .collect()
}

/// The branch slug of a feature: lower-case words joined by `-`, at most
/// 50 characters; empty when the feature has no letters or digits.
pub fn slugify(feature: &str) -> String {
    let mut slug = String::new();
    for word in feature
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if slug.len() + word.len() + 1 > 50 {
            break;
        }
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(word);
    }
    slug
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_config() -> SpecConfig {
        toml::from_str("remote = \"file:///x\"\nproduct = \"Acme\"").unwrap()
    }

    #[test]
    fn slugs_are_branch_safe() {
        assert_eq!(slugify("User Authentication!"), "user-authentication");
        assert_eq!(slugify("  ünïcode & stuff "), "n-code-stuff");
        assert_eq!(slugify("!!!"), "");
    }

    #[test]
    fn documents_have_their_sections_and_the_feature() {
        let spec = spec_config();
        let config = OpsConfig::default();
        let input = SpecInput {
            feature: "user authentication with SSO",
            slug: "user-authentication-with-sso",
            base_branch: "main",
            spec: &spec,
            config: &config,
            date: "2026-01-01".into(),
        };
        let docs = input.documents();
        let get = |n: &str| &docs.iter().find(|(name, _)| *name == n).unwrap().1;
        for heading in [
            "## Problem",
            "## Goals",
            "## Non-goals",
            "## User stories",
            "Acceptance criteria",
            "## Success measures",
        ] {
            assert!(get("prd.md").contains(heading), "prd.md lacks {heading}");
        }
        for heading in ["## Technical context", "## Phases", "## Risks"] {
            assert!(get("plan.md").contains(heading), "plan.md lacks {heading}");
        }
        assert!(get("constitution.md").contains("## Principles"));
        assert!(get("tasks.md").contains("- [ ] T001"));
        assert!(get("tasks.md").contains("(depends on T001, T002)"));
        assert!(get("prd.md").contains("user authentication with SSO"));
        assert!(
            get("plan.md").contains("A flaw exposes accounts"),
            "security concern detected"
        );
        assert!(get("tasks.md").contains("threat model"));
        assert!(
            !get("prd.md").contains("errors. \n"),
            "no trailing space without a description"
        );
    }

    /// Concerns add tasks to Hardening, which shifts the numbers of the
    /// Release tasks; each still depends on the task before it.
    #[test]
    fn dependencies_follow_the_numbering() {
        let spec = spec_config();
        let config = OpsConfig::default();
        for feature in ["plain thing", "payments dashboard export api with login"] {
            let input = SpecInput {
                feature,
                slug: "x",
                base_branch: "main",
                spec: &spec,
                config: &config,
                date: "2026-01-01".into(),
            };
            let tasks = input.documents().remove(3).1;
            let id_of = |text: &str| {
                let line = tasks
                    .lines()
                    .find(|l| l.contains(text))
                    .unwrap_or_else(|| panic!("{text} in {tasks}"));
                line[6..10].to_string()
            };
            let line_of = |text: &str| tasks.lines().find(|l| l.contains(text)).unwrap();
            let staging = id_of("Deploy to staging");
            let first = id_of("Enable the flag for a first group");
            assert!(
                line_of("Enable the flag for a first group")
                    .ends_with(&format!("(depends on {staging})")),
                "{tasks}"
            );
            assert!(
                line_of("Enable for everyone").ends_with(&format!("(depends on {first})")),
                "{tasks}"
            );
        }
    }
}
