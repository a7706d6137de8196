//! The deploys a pattern can be tied to: opsroom's deploy runs and the
//! deployments the env's provider lists as gone live (a git push, a CI
//! job), merged into one list without counting a deploy twice, and the
//! one that went live last before a pattern's first line.

use chrono::{DateTime, Utc};
use opsroom_adapters::LiveDeployment;
use opsroom_store::RunId;
use serde::Serialize;

/// Where a suspect is known from when opsroom ran it.
pub const FROM_OPSROOM: &str = "opsroom";

/// A deploy that made something live, as a suspect: a deploy run opsroom
/// finished (which the provider's list may also have), or a deployment only
/// the provider's list knows (a git push, a CI job, the provider's CLI).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suspect {
    /// The opsroom deploy run; null for a deploy made outside opsroom.
    pub run_id: Option<RunId>,
    /// The provider's deployment id, when known.
    pub deployment: Option<String>,
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// When it went live: the provider's time where its list has it (ready,
    /// finished, `success`), else when the opsroom run finished.
    pub finished_at: DateTime<Utc>,
    /// Where it is known from: [`FROM_OPSROOM`] for a deploy run, else
    /// the provider whose deployment list alone has it (`vercel`,
    /// `digitalocean`, `github_actions`).
    pub source: String,
    /// The commit it made live, when known.
    pub commit: Option<String>,
    /// Where to see it, when known.
    pub url: Option<String>,
    /// The target the run deployed (none: the env's whole project, as for
    /// every deployment of the provider's list).
    #[serde(skip)]
    pub target: Option<String>,
    /// When the opsroom run started (a listed deployment that went live
    /// between its start and end with its commit is its own).
    #[serde(skip)]
    pub started_at: Option<DateTime<Utc>>,
}

impl Suspect {
    /// A deployment of `provider`'s list that opsroom did not make.
    pub fn listed(provider: &str, d: LiveDeployment) -> Suspect {
        Suspect {
            run_id: None,
            git_ref: d.git_ref.or_else(|| d.commit.clone()),
            deployment: Some(d.id),
            finished_at: d.live_at,
            source: provider.to_string(),
            commit: d.commit,
            url: d.url,
            target: None,
            started_at: None,
        }
    }

    /// What it deployed, as git can name it: the commit, else the ref.
    pub(super) fn revision(&self) -> Option<&str> {
        self.commit.as_deref().or(self.git_ref.as_deref())
    }

    /// `deploy run 41 (dpl_1)` or `vercel deployment dpl_9 (main)`.
    pub fn label(&self) -> String {
        let what = self
            .deployment
            .as_deref()
            .or(self.git_ref.as_deref())
            .unwrap_or("-");
        match self.run_id {
            Some(run) => format!("deploy run {run} ({what})"),
            None => match (&self.deployment, &self.git_ref) {
                (Some(id), Some(r)) if id != r => format!("{} deployment {id} ({r})", self.source),
                _ => format!("{} deployment {what}", self.source),
            },
        }
    }

    /// Whether `other` is this very deploy.
    pub fn is_same(&self, other: &Suspect) -> bool {
        self.run_id == other.run_id
            && self.deployment == other.deployment
            && self.finished_at == other.finished_at
    }

    /// Whether the listed deployment `d` is this opsroom run's: the run
    /// recorded its id, or it went live while the run deployed, from the
    /// commit the run recorded (GitHub's deployment ids are not the
    /// workflow run ids opsroom records).
    fn made(&self, d: &LiveDeployment) -> bool {
        if self.run_id.is_none() {
            return false;
        }
        if self.deployment.as_deref() == Some(d.id.as_str()) {
            return true;
        }
        self.commit.is_some()
            && self.commit == d.commit
            && self.started_at.is_some_and(|s| s <= d.live_at)
            && d.live_at <= self.finished_at
    }
}

/// opsroom's deploy runs and the deployments `provider`'s list says went
/// live, as one list: a listed deployment an opsroom run made
/// ([`Suspect::made`]) stays that run's, which then takes the provider's
/// time it went live when earlier than the run's end (the run also waited
/// for health checks); every other listed deployment is a suspect of its
/// own.
pub fn merge_deploys(
    mut ours: Vec<Suspect>,
    provider: &str,
    listed: Vec<LiveDeployment>,
) -> Vec<Suspect> {
    let mut claimed = vec![false; ours.len()];
    let mut theirs = Vec::new();
    for d in listed {
        let mine = ours
            .iter()
            .enumerate()
            .position(|(i, o)| !claimed[i] && o.made(&d));
        match mine {
            Some(i) => {
                claimed[i] = true;
                let o = &mut ours[i];
                o.finished_at = o.finished_at.min(d.live_at);
                o.deployment.get_or_insert(d.id);
                if o.commit.is_none() {
                    o.commit = d.commit;
                }
                if o.url.is_none() {
                    o.url = d.url;
                }
            }
            None => theirs.push(Suspect::listed(provider, d)),
        }
    }
    ours.extend(theirs);
    ours
}

/// Whether two deploys are of the same thing: the same target, or one of
/// them the env's whole project.
pub(super) fn same_target(a: &Option<String>, b: &Option<String>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => true,
    }
}

/// The deploy that finished last at or before `at`, among `deploys` of the
/// pattern's service (runs without a target deploy the whole env).
pub fn suspect_for(
    deploys: &[Suspect],
    service: &str,
    at: Option<DateTime<Utc>>,
) -> Option<Suspect> {
    let at = at?;
    deploys
        .iter()
        .filter(|d| same_target(&d.target, &Some(service.to_string())))
        .filter(|d| d.finished_at <= at)
        .max_by_key(|d| (d.finished_at, d.run_id))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runbooks::incident::triage::tests::{at, deploy, feed};
    use crate::runbooks::incident::triage::{remediation, Intake, Window};
    use serde_json::{json, Value};

    fn listed(id: &str, commit: &str, min: i64) -> LiveDeployment {
        LiveDeployment {
            id: id.into(),
            url: Some(format!("https://{id}.example")),
            git_ref: Some("main".into()),
            commit: Some(commit.into()),
            live_at: at(min),
        }
    }

    #[test]
    fn the_provider_list_adds_deploys_made_outside_opsroom_once() {
        let ours = vec![deploy(3, -200), deploy(7, 30)];
        let merged = merge_deploys(
            ours,
            "vercel",
            vec![
                // Run 7's own deployment, ready a minute before the run ended.
                listed("dpl_7", "c0ffee7", 29),
                // Run 3's, by its commit, under another id (GitHub's).
                listed("1003", "c0ffee3", -201),
                // A git push nobody ran through opsroom.
                listed("dpl_push", "abc1234", 40),
                // The same commit as run 7 again, but after it: a redeploy.
                listed("dpl_again", "c0ffee7", 50),
            ],
        );
        let ids: Vec<(Option<i64>, &str, &str)> = merged
            .iter()
            .map(|d| {
                (
                    d.run_id.map(|r| r.0),
                    d.deployment.as_deref().unwrap(),
                    d.source.as_str(),
                )
            })
            .collect();
        assert_eq!(
            ids,
            [
                (Some(3), "dpl_3", "opsroom"),
                (Some(7), "dpl_7", "opsroom"),
                (None, "dpl_push", "vercel"),
                (None, "dpl_again", "vercel"),
            ]
        );
        assert_eq!(merged[1].finished_at, at(29), "the provider's ready time");
        assert_eq!(merged[1].url.as_deref(), Some("https://dpl_7.example"));
        assert_eq!(merged[0].finished_at, at(-201));
        // A line after the push is the push's; its remediation rolls back
        // the incident's target to the one before it.
        let suspect = suspect_for(&merged, "payments", Some(at(41))).unwrap();
        assert_eq!(suspect.deployment.as_deref(), Some("dpl_push"));
        assert_eq!(suspect.label(), "vercel deployment dpl_push (main)");
        let json = serde_json::to_value(&suspect).unwrap();
        assert_eq!(json["run_id"], Value::Null);
        assert_eq!(json["source"], "vercel");
        assert_eq!(json["commit"], "abc1234");
        let window = Window::last(at(60), 60);
        let mut intake = Intake::new(window, window.from, 100);
        feed(
            &mut intake,
            &format!("{} ERROR charge failed: boom", at(41).to_rfc3339()),
        );
        let (mut patterns, _) = intake.patterns("payments", 0);
        patterns[0].suspect = Some(suspect);
        let body = remediation("prod", Some("payments"), &patterns, &merged);
        assert_eq!(body["target"], "payments");
        assert_eq!(
            body["params"],
            json!({"ref": "dpl_7"}),
            "dpl_again came after it"
        );
    }
}
