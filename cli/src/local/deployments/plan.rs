//! How a service deployment's timeline ([`super::state`]) is laid out when it starts, and
//! rewritten when it is stopped, superseded or rolled back.
//!
//! The successful path spreads the strategy's steps evenly over the deployment's duration:
//!
//! | strategy | steps |
//! |----------|-------|
//! | ROLLING | tasks starting, half replaced, all replaced (no lifecycle stage: none is documented) |
//! | BLUE_GREEN | [RECONCILE_SERVICE] PRE_SCALE_UP SCALE_UP POST_SCALE_UP TEST_TRAFFIC_SHIFT POST_TEST_TRAFFIC_SHIFT PRE_PRODUCTION_TRAFFIC_SHIFT PRODUCTION_TRAFFIC_SHIFT (100 %) POST_PRODUCTION_TRAFFIC_SHIFT BAKE_TIME CLEAN_UP |
//! | CANARY | as BLUE_GREEN, the production shift twice: canary percent then a step for the canary bake, then 100 % |
//! | LINEAR | as BLUE_GREEN, the production shift once per step of `stepPercent`, each but the last followed by a step for the step bake |
//!
//! RECONCILE_SERVICE comes first only when the deployment starts with more than one service
//! revision running (the docs' condition).

use super::config::{Configuration, Fault, Strategy, threshold};
use super::state::{
    COMPLETED, Counts, FAILED, HookRun, IN_PROGRESS, Monitor, RollbackInfo, Snapshot, Stage, Status, Transition,
    notify, push,
};

/// What a deployment's timeline is laid out from.
#[derive(Debug, Clone)]
pub(super) struct Plan<'a> {
    /// When it starts.
    pub(super) start: f64,
    /// Seconds its successful path takes; a rollback takes half.
    pub(super) duration: f64,
    /// The desired count.
    pub(super) desired: u32,
    /// The configuration it runs with (effective, detectors for `fault` on).
    pub(super) configuration: &'a Configuration,
    /// What fails.
    pub(super) fault: Fault,
    /// The first source revision's tasks when it starts.
    pub(super) source: Counts,
    /// Whether more than one revision runs when it starts.
    pub(super) reconcile: bool,
    /// The deployment's own `ecs-svc/...` id.
    pub(super) own_id: &'a str,
    /// The service deployment's id, for hook ids.
    pub(super) deployment: &'a str,
    /// The `ecs-svc/...` id of the revision a rollback goes back to, if there is one.
    pub(super) rollback_to: Option<&'a str>,
}

/// Why a deployment rolls back or stops.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Cause {
    /// A StopServiceDeployment ROLLBACK.
    Requested,
    /// The circuit breaker tripped.
    CircuitBreaker,
    /// This alarm went into ALARM.
    Alarm(String),
    /// A hook at this stage answered FAILED.
    Hook(String),
    /// A newer deployment of the service started.
    Superseded,
}

impl Cause {
    /// `statusReason` and `rollback.reason` (illustrative texts: AWS documents none).
    fn reason(&self, rolled_back: bool) -> String {
        let what = if rolled_back { "rolled back" } else { "stopped" };
        match self {
            Self::Requested => "Service deployment rolled back because a rollback was requested.".to_owned(),
            Self::CircuitBreaker => {
                format!("Service deployment {what} because the circuit breaker threshold was exceeded.")
            }
            Self::Alarm(name) => {
                format!("Service deployment {what} because the CloudWatch alarm {name} is in ALARM state.")
            }
            Self::Hook(stage) => {
                format!("Service deployment {what} because the lifecycle hook at {stage} returned FAILED.")
            }
            Self::Superseded => "Service deployment stopped because a new service deployment started.".to_owned(),
        }
    }
}

/// One evenly timed step of the successful path.
#[derive(Debug, Clone, Copy)]
struct Step {
    stage: Option<Stage>,
    target: Counts,
    source: Counts,
    drained: bool,
}

/// The steps of `plan`'s strategy (see the module docs).
fn steps(plan: &Plan<'_>) -> Vec<Step> {
    let (desired, source) = (plan.desired, plan.source);
    let half = desired.div_ceil(2);
    let counts = |requested, running, pending, test: f64, production: f64| Counts {
        requested,
        running,
        pending,
        test,
        production,
    };
    if plan.configuration.strategy == Strategy::Rolling {
        // The old tasks run until the new ones do (maximumPercent 200, the sample's setting).
        let step = |running: u32, drained: bool| {
            let left = if drained { 0 } else { source.running };
            Step {
                stage: None,
                target: counts(desired, running, desired - running, 0.0, 0.0),
                source: counts(left, left, 0, 0.0, 0.0),
                drained,
            }
        };
        return vec![step(0, false), step(half, false), step(desired, true)];
    }
    let mut out = Vec::new();
    let mut push = |stage, running: u32, pending, test: f64, production: f64| {
        let left = if stage == Stage::CleanUp { 0 } else { source.running };
        let requested = if stage == Stage::PreScaleUp || stage == Stage::ReconcileService { 0 } else { desired };
        let kept = |share: f64| if left == 0 { 0.0 } else { 100.0 - share };
        out.push(Step {
            stage: Some(stage),
            target: counts(requested, running, pending, test, production),
            source: counts(left, left, 0, kept(test), kept(production)),
            drained: stage == Stage::CleanUp,
        });
    };
    if plan.reconcile {
        push(Stage::ReconcileService, 0, 0, 0.0, 0.0);
    }
    push(Stage::PreScaleUp, 0, 0, 0.0, 0.0);
    push(Stage::ScaleUp, 0, desired, 0.0, 0.0);
    push(Stage::PostScaleUp, desired, 0, 0.0, 0.0);
    push(Stage::TestTrafficShift, desired, 0, 100.0, 0.0);
    push(Stage::PostTestTrafficShift, desired, 0, 100.0, 0.0);
    let mut before = 0.0;
    for (share, bakes) in production_steps(plan.configuration) {
        push(Stage::PreProductionTrafficShift, desired, 0, 100.0, before);
        push(Stage::ProductionTrafficShift, desired, 0, 100.0, share);
        if bakes {
            push(Stage::ProductionTrafficShift, desired, 0, 100.0, share);
        }
        before = share;
    }
    for stage in [Stage::PostProductionTrafficShift, Stage::BakeTime, Stage::CleanUp] {
        push(stage, desired, 0, 100.0, 100.0);
    }
    out
}

/// The production shares the green revision gets, each with whether a bake follows.
pub(super) fn production_steps(configuration: &Configuration) -> Vec<(f64, bool)> {
    match configuration.strategy {
        Strategy::Rolling | Strategy::BlueGreen => vec![(100.0, false)],
        Strategy::Canary => {
            let canary = configuration.canary().canary_percent;
            if canary >= 100.0 { vec![(100.0, false)] } else { vec![(canary, true), (100.0, false)] }
        }
        Strategy::Linear => {
            let step = configuration.linear().step_percent.max(3.0);
            let mut shares = Vec::new();
            let mut reached = 0.0;
            while reached < 100.0 {
                // Tenths, as ECS takes them: 3 x 33.3 then 100.
                reached = (((reached + step) * 10.0).round() / 10.0_f64).min(100.0);
                shares.push((reached, reached < 100.0));
            }
            shares
        }
    }
}

/// The timeline of `plan`: the successful path, cut short by its fault.
pub(super) fn lay_out(plan: &Plan<'_>) -> Vec<Transition> {
    let steps = steps(plan);
    let slot = plan.duration / steps.len().max(1) as f64;
    let slot_start = |index: usize| plan.start + slot * index as f64;
    let configuration = plan.configuration;
    let first = Snapshot {
        at: plan.start,
        status: Status::InProgress,
        stage: None,
        reason: None,
        target: Counts::default(),
        source: plan.source,
        drained: false,
        breaker: if configuration.circuit_breaker().is_some() { Monitor::Monitoring } else { Monitor::Disabled },
        failures: 0,
        alarms: if configuration.watched_alarms().is_some() { Monitor::Monitoring } else { Monitor::Disabled },
        triggered: Vec::new(),
        hooks: Vec::new(),
        rollback: None,
    };
    let mut timeline = vec![Transition { snapshot: first, notices: Vec::new(), emitted: false }];
    let failing = failing_step(plan, &steps);
    for (index, step) in steps.iter().enumerate() {
        let hooks = hook_runs(plan, step.stage, index, slot_start(index));
        push(&mut timeline, slot_start(index), |snapshot| {
            snapshot.stage = step.stage;
            snapshot.target = step.target;
            snapshot.source = step.source;
            snapshot.drained = step.drained;
            snapshot.hooks = hooks;
        });
        if index == 0 {
            notify(&mut timeline, IN_PROGRESS, plan.own_id, format!("ECS deployment {} in progress.", plan.own_id));
        }
        if failing == Some(index) {
            fail(&mut timeline, plan, slot_start(index), slot);
            return timeline;
        }
    }
    push(&mut timeline, plan.start + plan.duration, |snapshot| {
        snapshot.status = Status::Successful;
        snapshot.stage = None;
        snapshot.hooks.clear();
        snapshot.breaker = snapshot.breaker.complete();
        snapshot.alarms = snapshot.alarms.complete();
    });
    notify(&mut timeline, COMPLETED, plan.own_id, format!("ECS deployment {} completed.", plan.own_id));
    timeline
}

/// The step the fault shows in: tasks fail from the first step that starts them; alarms go off
/// in BAKE_TIME (ROLLING: once every task is replaced, while ECS watches the alarms for its
/// bake period); a hook fails at its stage (ROLLING has no documented stages: the step where the
/// new tasks are up, the closest to POST_SCALE_UP).
fn failing_step(plan: &Plan<'_>, steps: &[Step]) -> Option<usize> {
    let find = |stage: Stage| steps.iter().position(|step| step.stage == Some(stage));
    let rolling = plan.configuration.strategy == Strategy::Rolling;
    match plan.fault {
        Fault::None => None,
        Fault::CircuitBreaker if rolling => Some(0),
        Fault::CircuitBreaker => find(Stage::ScaleUp),
        Fault::Alarm if rolling => Some(steps.len().saturating_sub(1)),
        Fault::Alarm => find(Stage::BakeTime),
        Fault::Hook if rolling => Some(1),
        Fault::Hook => {
            steps.iter().position(|step| step.stage.is_some_and(|stage| hooked(plan.configuration, stage).is_some()))
        }
    }
}

/// The first configured hook that runs at `stage`.
fn hooked(configuration: &Configuration, stage: Stage) -> Option<usize> {
    configuration.lifecycle_hooks.iter().position(|hook| hook.lifecycle_stages.iter().any(|s| s == stage.as_str()))
}

/// The hooks running during step `index` (or, for ROLLING under a hook fault, the failing one).
fn hook_runs(plan: &Plan<'_>, stage: Option<Stage>, index: usize, at: f64) -> Vec<HookRun> {
    let rolling_fault = plan.configuration.strategy == Strategy::Rolling && plan.fault == Fault::Hook && index == 1;
    let hooks = &plan.configuration.lifecycle_hooks;
    hooks
        .iter()
        .enumerate()
        .filter(|(_, hook)| match stage {
            Some(stage) => hook.lifecycle_stages.iter().any(|s| s == stage.as_str()),
            None => rolling_fault,
        })
        .take(if rolling_fault { 1 } else { hooks.len() })
        .map(|(hook_index, hook)| HookRun {
            hook: hook_index,
            id: format!(
                "ecs-{}-{}-{hook_index}-{index}",
                hook.target_type().to_ascii_lowercase().replace("aws_", ""),
                plan.deployment
            ),
            status: "IN_PROGRESS",
            started: at,
        })
        .collect()
}

/// The fault of `plan` failing the deployment during the step starting at `from`.
fn fail(timeline: &mut Vec<Transition>, plan: &Plan<'_>, from: f64, slot: f64) {
    let configuration = plan.configuration;
    let trip = from + slot / 2.0;
    let (cause, rolls_back) = match plan.fault {
        Fault::CircuitBreaker => {
            let limit = threshold(plan.desired);
            for failure in 1..limit {
                push(timeline, from + (trip - from) * f64::from(failure) / f64::from(limit), |snapshot| {
                    snapshot.failures = failure;
                    snapshot.target.running = 0;
                    snapshot.target.pending = plan.desired;
                });
            }
            push(timeline, trip, |snapshot| {
                snapshot.failures = limit;
                snapshot.breaker = Monitor::Triggered;
            });
            notify(timeline, FAILED, plan.own_id, "ECS deployment circuit breaker: task failed to start.".to_owned());
            (Cause::CircuitBreaker, configuration.circuit_breaker().is_some_and(|breaker| breaker.rollback))
        }
        Fault::Alarm => {
            let alarms = configuration.watched_alarms();
            let name = alarms.and_then(|alarms| alarms.alarm_names.first()).cloned().unwrap_or_default();
            push(timeline, trip, |snapshot| {
                snapshot.alarms = Monitor::Triggered;
                snapshot.triggered = vec![name.clone()];
            });
            let reason = format!("ECS deployment {}: alarm {name} is in ALARM state.", plan.own_id);
            notify(timeline, FAILED, plan.own_id, reason);
            (Cause::Alarm(name), alarms.is_some_and(|alarms| alarms.rollback))
        }
        Fault::Hook | Fault::None => {
            let stage = timeline.last().and_then(|t| t.snapshot.hooks.first()).map(|run| run.hook);
            let stage = stage
                .and_then(|hook| configuration.lifecycle_hooks.get(hook))
                .and_then(|hook| hook.lifecycle_stages.first().cloned())
                .unwrap_or_default();
            push(timeline, trip, |snapshot| {
                for run in snapshot.hooks.iter_mut().take(1) {
                    run.status = "FAILED";
                }
            });
            // A hook that answers FAILED rolls back, whatever the rollback options say.
            (Cause::Hook(stage), true)
        }
    };
    if rolls_back {
        roll_back(timeline, trip, plan.duration / 2.0, &cause, plan.rollback_to);
    } else {
        stop(timeline, trip, plan.duration / 10.0, &cause);
    }
}

/// Rolls back from `at` over `seconds`: ROLLBACK_REQUESTED first when a user asked, then
/// ROLLBACK_IN_PROGRESS (an IN_PROGRESS event, as for any rollback), then ROLLBACK_SUCCESSFUL
/// (the rollback deployment reached steady state: a COMPLETED event) or, with no completed
/// revision to go back to, ROLLBACK_FAILED (AWS documents a stall there; the model ends it so a
/// local run ends, and sends no event: none is documented).
pub(super) fn roll_back(
    timeline: &mut Vec<Transition>,
    at: f64,
    seconds: f64,
    cause: &Cause,
    rollback_to: Option<&str>,
) {
    let reason = cause.reason(true);
    let info = RollbackInfo { reason: reason.clone(), started_at: at };
    let mut starts = at;
    if *cause == Cause::Requested {
        push(timeline, at, |snapshot| {
            snapshot.status = Status::RollbackRequested;
            snapshot.reason = Some(reason.clone());
            snapshot.rollback = Some(info.clone());
        });
        starts = at + seconds / 2.0;
    }
    push(timeline, starts, |snapshot| {
        snapshot.status = Status::RollbackInProgress;
        snapshot.stage = None;
        snapshot.reason = Some(reason.clone());
        snapshot.rollback = Some(info.clone());
    });
    let own = timeline.first().map(|first| first.snapshot.source).unwrap_or_default();
    let Some(back_to) = rollback_to else {
        push(timeline, at + seconds, |snapshot| {
            snapshot.status = Status::RollbackFailed;
            snapshot.reason =
                Some("Service deployment rollback failed: no completed service revision to roll back to.".to_owned());
            snapshot.target = Counts::default();
        });
        return;
    };
    let prefix = match cause {
        Cause::CircuitBreaker => "ECS deployment circuit breaker: rolling",
        Cause::Alarm(_) => "ECS deployment alarm: rolling",
        Cause::Requested | Cause::Hook(_) | Cause::Superseded => "ECS deployment rolling",
    };
    notify(timeline, IN_PROGRESS, back_to, format!("{prefix} back to deploymentId {back_to}."));
    push(timeline, at + seconds, |snapshot| {
        snapshot.status = Status::RollbackSuccessful;
        snapshot.target = Counts::default();
        snapshot.source = Counts { test: 100.0, production: 100.0, ..own };
        snapshot.hooks.retain(|run| run.status == "FAILED");
        snapshot.breaker = snapshot.breaker.complete();
        snapshot.alarms = snapshot.alarms.complete();
    });
    notify(timeline, COMPLETED, back_to, format!("ECS deployment {back_to} completed."));
}

/// Stops from `at` over `seconds`: STOP_REQUESTED, then STOPPED (no event is documented).
pub(super) fn stop(timeline: &mut Vec<Transition>, at: f64, seconds: f64, cause: &Cause) {
    let reason = cause.reason(false);
    push(timeline, at, |snapshot| {
        snapshot.status = Status::StopRequested;
        snapshot.reason = Some(reason.clone());
    });
    push(timeline, at + seconds, |snapshot| {
        snapshot.status = Status::Stopped;
        snapshot.stage = None;
        // Tasks not started by then never are.
        snapshot.target.pending = 0;
        snapshot.hooks.retain(|run| run.status == "FAILED");
        snapshot.breaker = snapshot.breaker.complete();
        snapshot.alarms = snapshot.alarms.complete();
    });
}
