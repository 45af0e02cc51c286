//! A service deployment's states as ECS reports them (status, lifecycle stage, tasks and traffic
//! of its revisions, detectors, hooks, rollback) and its timeline: each state with the time it
//! is entered and the `ECS Deployment State Change` events sent then. What a call sees at `now`
//! is the last state entered at or before `now`.

/// `ServiceDeployment.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Created, not started.
    Pending,
    /// Ongoing.
    InProgress,
    /// Completed successfully.
    Successful,
    /// Stopping (superseded, or failed with no rollback).
    StopRequested,
    /// Stopped.
    Stopped,
    /// A user asked for a rollback.
    RollbackRequested,
    /// Rolling back.
    RollbackInProgress,
    /// Rolled back.
    RollbackSuccessful,
    /// The rollback failed.
    RollbackFailed,
}

impl Status {
    /// The name AWS gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::InProgress => "IN_PROGRESS",
            Self::Successful => "SUCCESSFUL",
            Self::StopRequested => "STOP_REQUESTED",
            Self::Stopped => "STOPPED",
            Self::RollbackRequested => "ROLLBACK_REQUESTED",
            Self::RollbackInProgress => "ROLLBACK_IN_PROGRESS",
            Self::RollbackSuccessful => "ROLLBACK_SUCCESSFUL",
            Self::RollbackFailed => "ROLLBACK_FAILED",
        }
    }

    /// SUCCESSFUL, STOPPED, ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED: nothing follows.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Successful | Self::Stopped | Self::RollbackSuccessful | Self::RollbackFailed)
    }
}

/// `ServiceDeployment.lifecycleStage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// More than one revision was running: ECS reconciles them first.
    ReconcileService,
    /// Before green starts.
    PreScaleUp,
    /// Green scales up, no traffic.
    ScaleUp,
    /// Green is up.
    PostScaleUp,
    /// Test traffic moves to green.
    TestTrafficShift,
    /// Green has all test traffic.
    PostTestTrafficShift,
    /// Before a production shift (each step for CANARY and LINEAR).
    PreProductionTrafficShift,
    /// Production traffic moves (and, between steps, bakes).
    ProductionTrafficShift,
    /// Green has all production traffic.
    PostProductionTrafficShift,
    /// Blue and green both run, alarms watched.
    BakeTime,
    /// Blue scales in.
    CleanUp,
}

impl Stage {
    /// The name AWS gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReconcileService => "RECONCILE_SERVICE",
            Self::PreScaleUp => "PRE_SCALE_UP",
            Self::ScaleUp => "SCALE_UP",
            Self::PostScaleUp => "POST_SCALE_UP",
            Self::TestTrafficShift => "TEST_TRAFFIC_SHIFT",
            Self::PostTestTrafficShift => "POST_TEST_TRAFFIC_SHIFT",
            Self::PreProductionTrafficShift => "PRE_PRODUCTION_TRAFFIC_SHIFT",
            Self::ProductionTrafficShift => "PRODUCTION_TRAFFIC_SHIFT",
            Self::PostProductionTrafficShift => "POST_PRODUCTION_TRAFFIC_SHIFT",
            Self::BakeTime => "BAKE_TIME",
            Self::CleanUp => "CLEAN_UP",
        }
    }
}

/// `ServiceDeploymentCircuitBreaker.status` and `ServiceDeploymentAlarms.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Monitor {
    /// Not watched.
    Disabled,
    /// Watched.
    Monitoring,
    /// Watched to the end.
    MonitoringComplete,
    /// Tripped.
    Triggered,
}

impl Monitor {
    /// The name AWS gives it.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Disabled => "DISABLED",
            Self::Monitoring => "MONITORING",
            Self::MonitoringComplete => "MONITORING_COMPLETE",
            Self::Triggered => "TRIGGERED",
        }
    }

    pub(super) fn complete(self) -> Self {
        if self == Self::Monitoring { Self::MonitoringComplete } else { self }
    }
}

/// A service revision's tasks and requested traffic weights.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Counts {
    /// `requestedTaskCount`.
    pub(super) requested: u32,
    /// `runningTaskCount`.
    pub(super) running: u32,
    /// `pendingTaskCount`.
    pub(super) pending: u32,
    /// `requestedTestTrafficWeight`.
    pub(super) test: f64,
    /// `requestedProductionTrafficWeight`.
    pub(super) production: f64,
}

/// A lifecycle hook running (or ended) in this state.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct HookRun {
    /// Which of the configuration's `lifecycleHooks`.
    pub(super) hook: usize,
    /// `hookId`.
    pub(super) id: String,
    /// `IN_PROGRESS`, `SUCCEEDED`, `FAILED`.
    pub(super) status: &'static str,
    /// When it started (its `expiresAt` counts from here).
    pub(super) started: f64,
}

/// `rollback`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RollbackInfo {
    /// `reason`.
    pub(super) reason: String,
    /// `startedAt`.
    pub(super) started_at: f64,
}

/// An `ECS Deployment State Change` event's `detail`, less its time.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Notice {
    /// `eventName`: `SERVICE_DEPLOYMENT_IN_PROGRESS`, `_COMPLETED` or `_FAILED`.
    pub(super) name: &'static str,
    /// `deploymentId` (`ecs-svc/...`).
    pub(super) deployment_id: String,
    /// `reason`.
    pub(super) reason: String,
}

impl Notice {
    /// `eventType`: `ERROR` for a failure, else `INFO`.
    pub(super) fn event_type(&self) -> &'static str {
        if self.name == FAILED { "ERROR" } else { "INFO" }
    }
}

pub(super) const IN_PROGRESS: &str = "SERVICE_DEPLOYMENT_IN_PROGRESS";
pub(super) const COMPLETED: &str = "SERVICE_DEPLOYMENT_COMPLETED";
pub(super) const FAILED: &str = "SERVICE_DEPLOYMENT_FAILED";

/// A service deployment as a call sees it from `at` on.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Snapshot {
    /// When it entered this state (`updatedAt`).
    pub(super) at: f64,
    /// `status`.
    pub(super) status: Status,
    /// `lifecycleStage` (none for ROLLING, none once rolling back).
    pub(super) stage: Option<Stage>,
    /// `statusReason`.
    pub(super) reason: Option<String>,
    /// The target revision's tasks and weights.
    pub(super) target: Counts,
    /// The first source revision's (the one production ran on).
    pub(super) source: Counts,
    /// Whether other source revisions are scaled in.
    pub(super) drained: bool,
    /// `deploymentCircuitBreaker.status`.
    pub(super) breaker: Monitor,
    /// `deploymentCircuitBreaker.failureCount`.
    pub(super) failures: u32,
    /// `alarms.status`.
    pub(super) alarms: Monitor,
    /// `alarms.triggeredAlarmNames`.
    pub(super) triggered: Vec<String>,
    /// `lifecycleHookDetails`.
    pub(super) hooks: Vec<HookRun>,
    /// `rollback`.
    pub(super) rollback: Option<RollbackInfo>,
}

/// One state of the timeline and the events sent on entering it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Transition {
    /// The state.
    pub(super) snapshot: Snapshot,
    /// The events.
    pub(super) notices: Vec<Notice>,
    /// Whether `drain_events` has given them out.
    pub(super) emitted: bool,
}

/// Forgets what the timeline planned after `at`.
pub(super) fn cut(timeline: &mut Vec<Transition>, at: f64) {
    let kept = timeline.iter().skip(1).take_while(|transition| transition.snapshot.at <= at).count();
    timeline.truncate(kept + 1);
}

/// The state at `now` (the first one before the deployment started).
pub(super) fn at(timeline: &[Transition], now: f64) -> Option<&Snapshot> {
    let entered = timeline.iter().take_while(|transition| transition.snapshot.at <= now).count();
    timeline.get(entered.saturating_sub(1)).map(|transition| &transition.snapshot)
}

/// Enters a new state at `at`: the last one, changed by `change`.
pub(super) fn push(timeline: &mut Vec<Transition>, at: f64, change: impl FnOnce(&mut Snapshot)) {
    let Some(mut snapshot) = timeline.last().map(|last| last.snapshot.clone()) else { return };
    snapshot.at = at;
    change(&mut snapshot);
    timeline.push(Transition { snapshot, notices: Vec::new(), emitted: false });
}

/// An event sent on entering the last state.
pub(super) fn notify(timeline: &mut [Transition], name: &'static str, deployment_id: &str, reason: String) {
    if let Some(last) = timeline.last_mut() {
        last.notices.push(Notice { name, deployment_id: deployment_id.to_owned(), reason });
    }
}
