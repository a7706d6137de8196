//! The one shape every provider's deployment list is read into: what went
//! live, when, built from which commit, whoever started it (opsroom, a git
//! push, a CI job). The incident runbook lines these up with the first
//! line of an error pattern.

use chrono::{DateTime, Utc};

/// A deployment its provider says went live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveDeployment {
    /// The provider's id: Vercel `dpl_…`, a DigitalOcean deployment id, a
    /// GitHub deployment id.
    pub id: String,
    /// Where to see it, when the provider gives a page or URL.
    pub url: Option<String>,
    /// The branch or tag it was built from, when known.
    pub git_ref: Option<String>,
    /// The commit it was built from, when known.
    pub commit: Option<String>,
    /// When it became live: Vercel's `ready`, the time DigitalOcean's
    /// deployment finished its last step, GitHub's `success` status.
    pub live_at: DateTime<Utc>,
}

/// Newest first by the time each went live, then by id.
pub fn newest_first(list: &mut [LiveDeployment]) {
    list.sort_by(|a, b| b.live_at.cmp(&a.live_at).then_with(|| b.id.cmp(&a.id)));
}
