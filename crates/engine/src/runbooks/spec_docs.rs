//! The four documents of a feature spec, filled from the feature's words
//! and the config: constitution.md (principles), prd.md (problem, goals,
//! non-goals, user stories with acceptance criteria, success measures),
//! plan.md (technical context, phases, risks) and tasks.md (a checklist by
//! phase with dependencies).

use crate::config::{OpsConfig, SpecConfig};
use std::fmt::Write as _;

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

impl SpecInput<'_> {
    fn product(&self) -> &str {
        self.spec.product.as_deref().unwrap_or("the product")
    }

    fn title(&self) -> String {
        sentence_case(self.feature)
    }

    /// The four documents, as (file name, markdown).
    pub fn documents(&self) -> Vec<(&'static str, String)> {
        vec![
            ("constitution.md", self.constitution()),
            ("prd.md", self.prd()),
            ("plan.md", self.plan()),
            ("tasks.md", self.tasks()),
        ]
    }

    fn header(&self, doc: &str) -> String {
        format!(
            "# {doc}: {}\n\n- Product: {}\n- Branch: `spec/{}` (into `{}`)\n- Date: {}\n- Status: draft, written by opsroom for review\n\n",
            self.title(),
            self.product(),
            self.slug,
            self.base_branch,
            self.date
        )
    }

    fn constitution(&self) -> String {
        let mut md = self.header("Constitution");
        md.push_str("The principles every decision about this feature is checked against. When a choice in the PRD, plan or tasks conflicts with one of them, the principle wins or the conflict is written down and approved.\n\n## Principles\n\n");
        let principles: Vec<&str> = if self.spec.principles.is_empty() {
            DEFAULT_PRINCIPLES.to_vec()
        } else {
            self.spec.principles.iter().map(String::as_str).collect()
        };
        for (i, p) in principles.iter().enumerate() {
            let _ = writeln!(md, "{}. {p}", i + 1);
        }
        md.push_str("\n## Applied to this feature\n\n");
        let _ = writeln!(
            md,
            "- {} is delivered in small, independently deployable increments (see plan.md).",
            self.title()
        );
        for c in concerns(self.feature) {
            let _ = writeln!(
                md,
                "- {} ({}): {}",
                sentence_case(c.name),
                c.risk.to_lowercase(),
                c.goal
            );
        }
        md.push_str("- Every release of it can be rolled back with `roll back <env>` in opsroom.\n\n## Governance\n\nChanges to this constitution need a pull request reviewed by the feature's owner and one approver.\n");
        md
    }

    fn prd(&self) -> String {
        let title = self.title();
        let feature = self.feature.trim();
        let mut md = self.header("PRD");
        md.push_str("## Problem\n\n");
        let _ = writeln!(
            md,
            "Users of {} need {feature}. Today they cannot do this, or do it with workarounds that cost time and cause errors. {}\n",
            self.product(),
            self.spec.description.as_deref().unwrap_or("")
        );
        md.push_str("## Goals\n\n");
        let _ = writeln!(
            md,
            "1. Users can use {feature} end to end without help or workarounds."
        );
        md.push_str("2. The feature is reliable: it works for every supported user and fails with a clear message.\n");
        let mut n = 3;
        for c in concerns(feature) {
            let _ = writeln!(md, "{n}. {}", c.goal);
            n += 1;
        }
        let _ = writeln!(
            md,
            "{n}. It ships without downtime and can be rolled back in minutes.\n"
        );
        md.push_str("## Non-goals\n\n");
        let _ = writeln!(
            md,
            "- Redesigning parts of {} that {feature} does not touch.",
            self.product()
        );
        md.push_str("- Migrating historical data beyond what the first release needs.\n- Features for later releases listed under Open questions.\n\n");
        md.push_str("## User stories\n\n");
        let stories = [
            (
                "user",
                format!("use {feature}"),
                "my work is done without a workaround",
                vec![
                    format!("Given a signed-in user, when they start {feature}, then it completes and they see a confirmation."),
                    "Given invalid input, when the user submits it, then they see what is wrong and how to fix it; nothing is saved half-way.".to_string(),
                ],
            ),
            (
                "operator",
                format!("watch and control {feature} in production"),
                "problems are found and fixed before users report them",
                vec![
                    "Given the feature is live, when it fails, then an error with its cause is logged and counted in metrics.".to_string(),
                    "Given a bad release, when the operator runs a rollback, then the previous version serves within five minutes.".to_string(),
                ],
            ),
            (
                "product owner",
                format!("know whether {feature} works for users"),
                "we decide what to improve next from facts",
                vec!["Given the feature is live, when a week has passed, then the success measures below can be read from a dashboard.".to_string()],
            ),
        ];
        for (i, (who, what, why, criteria)) in stories.iter().enumerate() {
            let _ = writeln!(md, "### US{} — {}\n\nAs a {who}, I want to {what}, so that {why}.\n\nAcceptance criteria:\n", i + 1, sentence_case(what));
            for c in criteria {
                let _ = writeln!(md, "- [ ] {c}");
            }
            md.push('\n');
        }
        md.push_str("## Success measures\n\n| measure | target |\n|---|---|\n");
        let _ = writeln!(
            md,
            "| share of attempts at {feature} that succeed | ≥ 99% |"
        );
        md.push_str("| time for a user to complete it (median) | under 1 minute |\n| support requests about it, first month | fewer than before |\n| errors in production per day | 0 unexplained |\n\n");
        let _ = writeln!(md, "## Open questions\n\n- Which users get {title} first (flag rollout order)?\n- What are the limits (rate, size) for the first release?");
        md
    }

    fn plan(&self) -> String {
        let mut md = self.header("Plan");
        md.push_str("## Technical context\n\n");
        let _ = writeln!(
            md,
            "- Stack: {}",
            self.spec
                .stack
                .as_deref()
                .unwrap_or("the existing stack of the repository")
        );
        let envs: Vec<String> = self
            .config
            .environments
            .iter()
            .map(|(name, env)| match &env.deploy {
                Some(d) => format!("{name} (deployed with {})", d.provider()),
                None => name.clone(),
            })
            .collect();
        let _ = writeln!(
            md,
            "- Environments: {}",
            if envs.is_empty() {
                "none configured yet".to_string()
            } else {
                envs.join(", ")
            }
        );
        md.push_str("- Delivery: through opsroom (`deploy <service> to <env>`, `roll back <env>`), with health checks after every deploy.\n- Feature flag: the feature is off by default until phase 3.\n\n## Phases\n\n");
        for (i, (name, what)) in self.phases().iter().enumerate() {
            let _ = writeln!(md, "### Phase {} — {name}\n\n{what}\n", i + 1);
        }
        md.push_str("## Risks\n\n| risk | likelihood | impact | mitigation |\n|---|---|---|---|\n");
        for c in concerns(self.feature) {
            let _ = writeln!(md, "| {} | medium | high | {} |", c.risk, c.mitigation);
        }
        md.push_str("| Scope grows during the build | medium | medium | non-goals in prd.md are enforced in review |\n| The release degrades production | low | high | health checks after deploy, automatic rollback, flag off by default |\n");
        md
    }

    fn phases(&self) -> [(&'static str, String); 4] {
        let feature = self.feature.trim();
        [
            ("Foundations", format!("Data model, interfaces and the flag for {feature}; the threat model and test plan. Nothing user-visible.")),
            ("Build", format!("The main path of {feature} behind the flag, with unit and integration tests for each acceptance criterion.")),
            ("Hardening", "Error cases, observability (logs, metrics, health checks), performance and security review.".to_string()),
            ("Release", "Deploy to staging, verify, enable the flag for a first group, then everyone; measure the success measures.".to_string()),
        ]
    }

    fn tasks(&self) -> String {
        let feature = self.feature.trim();
        let mut md = self.header("Tasks");
        md.push_str("Tasks by phase; a task starts when the tasks it depends on are done. `[P]` marks tasks that can run in parallel with their siblings.\n\n");
        let mut phases: Vec<(&str, Vec<Task>)> = vec![
            (
                "Foundations",
                vec![
                    (
                        format!("Write the data model and interfaces for {feature}"),
                        vec![],
                        false,
                    ),
                    (
                        format!("Add the feature flag for {feature} (off by default)"),
                        vec![],
                        true,
                    ),
                    (
                        "Write the test plan from the acceptance criteria in prd.md".to_string(),
                        vec![1],
                        true,
                    ),
                ],
            ),
            (
                "Build",
                vec![
                    (
                        format!("Implement the main path of {feature}"),
                        vec![1, 2],
                        false,
                    ),
                    (
                        "Validation and clear error messages for bad input".to_string(),
                        vec![4],
                        true,
                    ),
                    (
                        "Integration tests for every acceptance criterion".to_string(),
                        vec![3, 4],
                        false,
                    ),
                ],
            ),
            (
                "Hardening",
                vec![
                    (
                        "Logs, metrics and a health check for the feature".to_string(),
                        vec![4],
                        true,
                    ),
                    ("Security and performance review".to_string(), vec![6], true),
                ],
            ),
            (
                "Release",
                vec![
                    (
                        "Deploy to staging and verify health".to_string(),
                        vec![6, 7],
                        false,
                    ),
                    (
                        "Enable the flag for a first group; watch the success measures".to_string(),
                        vec![9],
                        false,
                    ),
                    (
                        "Enable for everyone; write the release note".to_string(),
                        vec![10],
                        false,
                    ),
                ],
            ),
        ];
        // Concern-specific tasks join Hardening, after the main path exists.
        for c in concerns(feature) {
            phases[2].1.push((c.task.to_string(), vec![4], true));
        }
        let mut n = 0;
        let mut numbered = Vec::new();
        for (phase, tasks) in &phases {
            let mut lines = Vec::new();
            for (task, deps, parallel) in tasks {
                n += 1;
                lines.push((n, task.clone(), deps.clone(), *parallel));
            }
            numbered.push((*phase, lines));
        }
        for (i, (phase, lines)) in numbered.iter().enumerate() {
            let _ = writeln!(md, "## Phase {} — {phase}\n", i + 1);
            for (id, task, deps, parallel) in lines {
                let deps = if deps.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (depends on {})",
                        deps.iter()
                            .map(|d| format!("T{d:03}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                let _ = writeln!(
                    md,
                    "- [ ] T{id:03}{} {task}{deps}",
                    if *parallel { " [P]" } else { "" }
                );
            }
            md.push('\n');
        }
        md
    }
}

/// A task: what to do, the numbers of the tasks it depends on, and
/// whether it can run in parallel with its siblings.
type Task = (String, Vec<usize>, bool);

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
    }
}
