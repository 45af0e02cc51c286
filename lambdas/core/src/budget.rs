//! How many execution history events a plan can write, at worst, and how many services one
//! execution may therefore hold.
//!
//! Step Functions stops an execution at 25,000 history events, and `States.ALL` does not catch
//! it: every iteration stops with no outcome and no rollback. So detect-changes never starts an
//! execution whose *worst case* could pass [`HISTORY_BUDGET`]; a larger plan is split into
//! parts, each its own execution ([`crate::pipeline::PipelineInput::into_parts`]).
//!
//! The counts follow `state-machine/pipeline.asl.json` (`deltaship cost` walks the same file, and a
//! test of the cost model, in `cli/src/cost`, pins these constants to its walk):
//!
//! | path of one service | events |
//! |---------------------|--------|
//! | a normal deploy, events flowing: Map iteration 2, Built already? 2, Start build 5, Wait for build 6, Deploy 5, Wait for rollout 6, Deployed 2, Record environment 2, Record the first environment 2, Next environment? 2, Service done 2 | [`NORMAL_SERVICE_EVENTS`] = 36 |
//! | each fallback: the wait times out (6), the look (5), the choice (2) | [`FALLBACK_EVENTS`] = 13 |
//! | deltaship's rollback: Roll back 5, the choice 2, Wait for rollback 6, its fallbacks | [`ROLLBACK_EVENTS`] + fallbacks |
//! | each later environment: Next environment 2, Approval needed? 2, Promote 2, Deploy 5, Wait for rollout 6, Deployed 2, Record environment 2, Record a later environment 2, Next environment? 2 | [`PROMOTION_EVENTS`] = 25 |
//! | its approval, when it has a gate: Wait for approval (one task-token wait, no fallback: its timeout ends it) | [`APPROVAL_EVENTS`] = 6 |
//!
//! A service's worst case ([`worst_case_service`]) is every event lost: the build waits out its
//! whole deadline (`build.timeout_minutes`) and the rollout its own (`deploy.timeout_minutes`),
//! each fallback timing out, then the rollback waits out the rollout's deadline again. The
//! fallback timeouts back off ([`WaitPolicy`]), so their number grows with the deadline divided
//! by the policy's longest wait. The bound is a little above the longest walk (by 22 events): it
//! counts, for the build, the rollout and the rollback, a last wait ended by its event (6 each),
//! and a choice after the rollout's and the rollback's last looks (2 each), where a walk with
//! every event lost ends each wait by a look, and the last two looks fail. Each later environment
//! ([`ServiceJob::promotions`]) adds its own rollout and rollback the same way, and its approval's
//! wait; a failed rollout in one environment ends the service, so counting a rollback in every
//! environment is above any walk.

use crate::payloads::ServiceJob;
use crate::wait::WaitPolicy;

/// Step Functions' limit of history events in one execution.
pub const HISTORY_LIMIT: u64 = 25_000;
/// What one execution may use at worst: the limit with a tenth to spare (retries of throttled
/// calls write events too).
pub const HISTORY_BUDGET: u64 = HISTORY_LIMIT - HISTORY_LIMIT / 10;
/// The events of a normal deploy of one service (see the module's table).
pub const NORMAL_SERVICE_EVENTS: u64 = 36;
/// The events of one fallback: a wait that times out, a look, and the choice after it.
pub const FALLBACK_EVENTS: u64 = 13;
/// The events of deltaship's rollback before its fallbacks: Roll back, the choice, the wait and
/// the outcome that ends it differently.
pub const ROLLBACK_EVENTS: u64 = 5 + 2 + 6;
/// The events of a normal promotion into one later environment (see the module's table).
pub const PROMOTION_EVENTS: u64 = 25;
/// The events of an approval's wait: one task-token wait, ended by the answer or its timeout.
pub const APPROVAL_EVENTS: u64 = 6;
/// The events of the execution around its services: started, the Map state's four, the summary,
/// the tally, the choice and the end state (two each), succeeded or failed.
pub const EXECUTION_EVENTS: u64 = 1 + 4 + 2 + 2 + 2 + 2 + 1;

/// The wait policies a worst case is computed with: the Lambdas' own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waits {
    /// Fallback timeouts while waiting for a build.
    pub build: WaitPolicy,
    /// Fallback timeouts while waiting for a rollout or a rollback.
    pub rollout: WaitPolicy,
}

/// How many fallback timeouts a wait of `seconds` can take at most, when no event ever comes: the
/// first wait is the policy's shortest, each next one as long as the wait has lasted so far.
pub fn fallbacks(seconds: u64, policy: WaitPolicy) -> u64 {
    let mut elapsed: u64 = 0;
    let mut count = 0;
    while elapsed < seconds {
        elapsed += u64::from(policy.next(elapsed).max(1));
        count += 1;
    }
    count
}

/// The most history events one service's iteration can write.
pub fn worst_case_service(job: &ServiceJob, waits: Waits) -> u64 {
    let build = fallbacks(u64::from(job.build_timeout_minutes) * 60, waits.build);
    let rollout = fallbacks(u64::from(job.timeout_minutes) * 60, waits.rollout);
    let promotions: u64 = job
        .promotions
        .iter()
        .map(|promotion| {
            let rollout = fallbacks(u64::from(promotion.timeout_minutes) * 60, waits.rollout);
            PROMOTION_EVENTS
                + if promotion.approval { APPROVAL_EVENTS } else { 0 }
                + FALLBACK_EVENTS * 2 * rollout
                + ROLLBACK_EVENTS
        })
        .sum();
    NORMAL_SERVICE_EVENTS + FALLBACK_EVENTS * (build + 2 * rollout) + ROLLBACK_EVENTS + promotions
}

/// The most history events an execution of `jobs` can write.
pub fn worst_case_execution<'a>(jobs: impl IntoIterator<Item = &'a ServiceJob>, waits: Waits) -> u64 {
    EXECUTION_EVENTS + jobs.into_iter().map(|job| worst_case_service(job, waits)).sum::<u64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(build_minutes: u32, rollout_minutes: u32) -> ServiceJob {
        ServiceJob {
            name: "users".into(),
            repository: "shop".into(),
            branch: "main".into(),
            commit: "c".repeat(40),
            execution: "x".into(),
            pushed_at: 0,
            project: "users".into(),
            cluster: "shop".into(),
            service: "users".into(),
            container: "app".into(),
            image_repository: "shop/users".into(),
            timeout_minutes: rollout_minutes,
            build_timeout_minutes: build_minutes,
            reasons: Vec::new(),
            more_reasons: 0,
            environment: "staging".into(),
            pushed_by: None,
            promotions: Vec::new(),
            answer: None,
            image: None,
        }
    }

    const WAITS: Waits = Waits { build: WaitPolicy::BUILD, rollout: WaitPolicy::ROLLOUT };

    #[test]
    fn fallbacks_back_off_to_the_longest_wait() {
        let policy = WaitPolicy { min_seconds: 30, max_seconds: 120 };
        // Timeouts at 30, 60, 120, 240 s, then every 120 s.
        let table = [(0, 0), (1, 1), (30, 1), (31, 2), (60, 2), (61, 3), (240, 4), (241, 5), (1800, 17)];
        for (seconds, count) in table {
            assert_eq!(fallbacks(seconds, policy), count, "{seconds} s");
        }
        let one_second = WaitPolicy { min_seconds: 1, max_seconds: 1 };
        assert_eq!(fallbacks(3600, one_second), 3600, "no back-off: one fallback a second");
    }

    #[test]
    fn a_service_worst_case_grows_with_its_deadlines() {
        let default = worst_case_service(&job(60, 30), WAITS);
        // Builds time out every 600 s to the hour: 6 fallbacks. Rollouts every 600 s to the half
        // hour: 3, each way.
        assert_eq!((fallbacks(3600, WaitPolicy::BUILD), fallbacks(1800, WaitPolicy::ROLLOUT)), (6, 3));
        assert_eq!(default, NORMAL_SERVICE_EVENTS + FALLBACK_EVENTS * (6 + 2 * 3) + ROLLBACK_EVENTS);
        assert_eq!(default, 205);
        assert!(worst_case_service(&job(60, 60), WAITS) > default);
        assert!(worst_case_service(&job(120, 30), WAITS) > default);
        // The longest deadlines a manifest may set still fit one execution on their own.
        assert!(EXECUTION_EVENTS + worst_case_service(&job(2160, 1440), WAITS) < HISTORY_BUDGET);
    }

    #[test]
    fn each_later_environment_adds_its_rollout_rollback_and_approval() {
        let promotion = |approval: bool, timeout_minutes: u32| crate::environments::Promotion {
            environment: "production".into(),
            approval,
            approval_timeout_seconds: 86_400,
            cluster: "prod".into(),
            service: "users".into(),
            container: "app".into(),
            timeout_minutes,
            answer: None,
        };
        let alone = worst_case_service(&job(60, 30), WAITS);
        let mut promoted = job(60, 30);
        promoted.promotions = vec![promotion(false, 30)];
        let one = PROMOTION_EVENTS + FALLBACK_EVENTS * 2 * 3 + ROLLBACK_EVENTS;
        assert_eq!(worst_case_service(&promoted, WAITS), alone + one);
        promoted.promotions.push(promotion(true, 60));
        let gated = PROMOTION_EVENTS + APPROVAL_EVENTS + FALLBACK_EVENTS * 2 * 6 + ROLLBACK_EVENTS;
        assert_eq!(worst_case_service(&promoted, WAITS), alone + one + gated);
    }

    #[test]
    fn an_execution_adds_its_services() {
        let jobs = vec![job(60, 30); 3];
        assert_eq!(worst_case_execution(&jobs, WAITS), EXECUTION_EVENTS + 3 * worst_case_service(&jobs[0], WAITS));
        assert_eq!(worst_case_execution(&[], WAITS), EXECUTION_EVENTS);
    }
}
