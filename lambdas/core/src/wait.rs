//! How long a wait for an event may last before the state machine looks itself (the fallback
//! timeout of a build or a rollout wait).
//!
//! A fallback timeout is as long as the thing has run so far, within the policy's bounds, and never
//! past a deadline, so with `min_seconds < max_seconds` looks back off geometrically. The defaults
//! are flat 10 minutes: a build or a rollout that ends within them is seen by its event alone, so
//! while events flow nothing polls; one that runs longer is looked at once per 10 minutes, and a
//! lost event costs at most that. The bounds also cap how many history events a wait can write
//! ([`crate::budget`]). The Lambdas read their bounds from the template's
//! parameters (`BUILD_WAIT_*_SECONDS`, `ROLLOUT_WAIT_*_SECONDS`); the defaults below are the
//! template's defaults (a contract test pins the two together).

/// How long to wait between two looks at something that takes minutes: as long as it has been
/// running so far (so looks back off geometrically), within `[min_seconds, max_seconds]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitPolicy {
    /// The shortest wait.
    pub min_seconds: u32,
    /// The longest wait.
    pub max_seconds: u32,
}

impl WaitPolicy {
    /// Builds: a look every 10 minutes. Events end the wait as soon as the build ends, so most
    /// builds see no fallback at all; the fallback only bounds what a lost event costs.
    pub const BUILD: Self = Self { min_seconds: 600, max_seconds: 600 };
    /// Rollouts and rollbacks: a look every 10 minutes, never past the deadline (a canary or
    /// linear rollout with a long bake time is looked at once per 10 minutes of it).
    pub const ROLLOUT: Self = Self { min_seconds: 600, max_seconds: 600 };

    /// A policy, or a message if `min_seconds` is zero or above `max_seconds`, or `max_seconds`
    /// is above the hour (a Wait that long would hide a stuck build or rollout).
    pub fn new(min_seconds: u32, max_seconds: u32) -> Result<Self, String> {
        if min_seconds == 0 || min_seconds > max_seconds || max_seconds > 3600 {
            return Err(format!("wait bounds {min_seconds}..{max_seconds} s: need 1 <= min <= max <= 3600 seconds"));
        }
        Ok(Self { min_seconds, max_seconds })
    }

    /// The wait after `elapsed_seconds` of running.
    pub fn next(self, elapsed_seconds: u64) -> u32 {
        let elapsed = u32::try_from(elapsed_seconds).unwrap_or(u32::MAX);
        elapsed.clamp(self.min_seconds, self.max_seconds)
    }

    /// The wait after `elapsed_seconds`, but no later than `remaining_seconds` from now (at least
    /// one second), so a deadline is noticed when it passes.
    pub fn next_before(self, elapsed_seconds: u64, remaining_seconds: u64) -> u32 {
        let remaining = u32::try_from(remaining_seconds).unwrap_or(u32::MAX).max(1);
        self.next(elapsed_seconds).min(remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_back_off_within_bounds() {
        let policy = WaitPolicy::new(30, 120).unwrap();
        let cases = [(0, 30), (10, 30), (45, 45), (100, 100), (119, 119), (500, 120), (u64::MAX, 120)];
        for (elapsed, wait) in cases {
            assert_eq!(policy.next(elapsed), wait, "after {elapsed} s");
        }
        assert_eq!(policy.next_before(500, 40), 40, "never past the deadline");
        assert_eq!(policy.next_before(500, 0), 1, "at least a second");
        assert_eq!(policy.next_before(10, 1_000), 30);
        for (min, max) in [(0, 10), (20, 10), (1, 3601)] {
            assert!(WaitPolicy::new(min, max).is_err(), "{min}..{max}");
        }
    }
}
