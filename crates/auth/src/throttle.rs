//! Slows down password guessing: after a few failed sign-ins for the same
//! key (a user name, or a client address) within a window, further attempts
//! are refused for a lockout that doubles with each further failure.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How many failures are allowed and how long a lockout lasts.
#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    /// Failures allowed within `window` before the key is locked.
    pub max_failures: u32,
    pub window: Duration,
    /// First lockout; each further failure doubles it, up to `max_lockout`.
    pub lockout: Duration,
    pub max_lockout: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            max_failures: 5,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(30),
            max_lockout: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    first: Instant,
    locked_until: Option<Instant>,
}

/// Failed sign-ins per key. Time is passed in, so tests need no sleeps.
#[derive(Debug, Default)]
pub struct SignInThrottle {
    policy: ThrottlePolicy,
    failures: HashMap<String, Failures>,
}

/// Entries kept before old ones are pruned, so a flood of made-up names
/// cannot grow memory without bound.
const MAX_KEYS: usize = 10_000;

impl SignInThrottle {
    pub fn new(policy: ThrottlePolicy) -> SignInThrottle {
        SignInThrottle {
            policy,
            failures: HashMap::new(),
        }
    }

    /// `Err(retry_after)` while `key` is locked out.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        match self.failures.get(key).and_then(|f| f.locked_until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Counts a failed attempt; returns the lockout it starts, if any.
    pub fn record_failure(&mut self, key: &str, now: Instant) -> Option<Duration> {
        if self.failures.len() >= MAX_KEYS {
            let window = self.policy.window;
            self.failures.retain(|_, f| {
                now.duration_since(f.first) < window || f.locked_until.is_some_and(|u| u > now)
            });
        }
        let policy = self.policy;
        let entry = self.failures.entry(key.to_string()).or_insert(Failures {
            count: 0,
            first: now,
            locked_until: None,
        });
        let locked = entry.locked_until.is_some_and(|u| u > now);
        if !locked && now.duration_since(entry.first) >= policy.window {
            *entry = Failures {
                count: 0,
                first: now,
                locked_until: None,
            };
        }
        entry.count += 1;
        if entry.count < policy.max_failures {
            return None;
        }
        let doublings = (entry.count - policy.max_failures).min(16);
        let lockout = policy
            .lockout
            .saturating_mul(1 << doublings)
            .min(policy.max_lockout);
        entry.locked_until = Some(now + lockout);
        Some(lockout)
    }

    /// A successful sign-in clears the key's failures.
    pub fn record_success(&mut self, key: &str) {
        self.failures.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn the_fifth_failure_locks_and_each_next_one_doubles_the_lockout() {
        let mut t = SignInThrottle::new(ThrottlePolicy::default());
        let start = Instant::now();
        for i in 0..4 {
            assert_eq!(t.record_failure("alice", start + secs(i)), None);
            assert_eq!(t.check("alice", start + secs(i)), Ok(()));
        }
        assert_eq!(t.record_failure("alice", start + secs(4)), Some(secs(30)));
        assert_eq!(t.check("alice", start + secs(14)), Err(secs(20)));
        assert_eq!(t.check("bob", start + secs(14)), Ok(()), "per key");
        assert_eq!(t.check("alice", start + secs(34)), Ok(()), "lockout ends");
        assert_eq!(t.record_failure("alice", start + secs(35)), Some(secs(60)));
        assert_eq!(t.record_failure("alice", start + secs(36)), Some(secs(120)));
        for i in 0..10 {
            t.record_failure("alice", start + secs(40 + i));
        }
        assert_eq!(
            t.check("alice", start + secs(49)),
            Err(secs(15 * 60)),
            "capped"
        );
    }

    #[test]
    fn success_clears_and_old_failures_expire() {
        let mut t = SignInThrottle::new(ThrottlePolicy::default());
        let start = Instant::now();
        for i in 0..4 {
            t.record_failure("carol", start + secs(i));
        }
        t.record_success("carol");
        assert_eq!(t.record_failure("carol", start + secs(5)), None);
        for i in 0..3 {
            t.record_failure("dave", start + secs(i));
        }
        let later = start + secs(16 * 60);
        assert_eq!(
            t.record_failure("dave", later),
            None,
            "the window restarted"
        );
    }
}
