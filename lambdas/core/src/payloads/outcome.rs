//! How each service's iteration of the pipeline ends: the record the state machine's outcome
//! states (`Pass` states in `pipeline.asl.json`) write, and that ops read in the execution's output.

use serde::{Deserialize, Serialize};

/// What became of one service of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The new revision serves the service.
    Deployed,
    /// The build did not start or failed; the service is unchanged.
    BuildFailed,
    /// The new revision could not be registered or deployed; the service is unchanged.
    DeployFailed,
    /// The rollout failed; the service runs its previous revision.
    RolledBack,
    /// A newer push or another deployment replaced this one; it was left alone.
    Superseded,
    /// The rollout failed and so did the rollback: the service needs a person.
    RollbackFailed,
    /// Someone rejected its promotion into an environment (`deltaship reject`); that environment
    /// keeps its revision.
    Rejected,
    /// Its promotion into an environment was not approved in time (the environment's
    /// `approval_timeout_hours`), or could not be asked for; that environment keeps its revision.
    NotPromoted,
}

impl Outcome {
    /// Every outcome, in the order above.
    pub const ALL: [Self; 8] = [
        Self::Deployed,
        Self::BuildFailed,
        Self::DeployFailed,
        Self::RolledBack,
        Self::Superseded,
        Self::RollbackFailed,
        Self::Rejected,
        Self::NotPromoted,
    ];

    /// The name the state machine writes (`deployed`, `build_failed`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Deployed => "deployed",
            Self::BuildFailed => "build_failed",
            Self::DeployFailed => "deploy_failed",
            Self::RolledBack => "rolled_back",
            Self::Superseded => "superseded",
            Self::RollbackFailed => "rollback_failed",
            Self::Rejected => "rejected",
            Self::NotPromoted => "not_promoted",
        }
    }

    /// Whether the service got what the push asked for.
    pub fn is_ok(self) -> bool {
        self == Self::Deployed
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One service's outcome record, as the state machine's *Service done* (or a build's outcome
/// state) writes it: `outcome` is its last environment's, whose record, like every environment's,
/// is in `environments` (see [`ServiceOutcome::last_environment`]). Its own [`Details`] are a
/// failed build's (`error`, `cause`), or every detail of executions started before environments
/// existed. Fields that an outcome does not name are absent (`None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceOutcome {
    /// The service.
    pub name: String,
    /// Whether it deployed (`outcome` is [`Outcome::Deployed`]).
    pub ok: bool,
    /// What became of it.
    pub outcome: Outcome,
    /// The build's console page.
    #[serde(default)]
    pub build_url: Option<String>,
    /// What the record names besides (written flat, beside `name`).
    #[serde(flatten)]
    pub details: Details,
    /// Every environment the service got to, in pipeline order (empty when its build failed):
    /// the service's `outcome` is the last one's.
    #[serde(default)]
    pub environments: Vec<EnvironmentOutcome>,
}

/// What became of one service in one environment, as the state machine's environment outcome
/// states write it (`environments` of a [`ServiceOutcome`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentOutcome {
    /// The environment.
    pub name: String,
    /// What became of the service there.
    pub outcome: Outcome,
    /// What the record names besides (written flat, beside `name`).
    #[serde(flatten)]
    pub details: Details,
}

/// The details an outcome record names where they apply: the rollout's, the error's, the gate's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Details {
    /// The task definition the ECS service runs afterwards, when the outcome names one.
    #[serde(default)]
    pub task_definition: Option<String>,
    /// The image deployed (or that would have been), by digest when the build exported one.
    #[serde(default)]
    pub image: Option<String>,
    /// The error's name (an `ErrorKind` name, or a Step Functions error such as `States.Timeout`,
    /// or `Rejected`), for a failed outcome.
    #[serde(default)]
    pub error: Option<String>,
    /// The error's cause (for a Lambda error, its `{"errorType", "errorMessage"}` as JSON; for a
    /// rejection, the answer: who and why).
    #[serde(default)]
    pub cause: Option<String>,
    /// The ECS service's deployments in the console.
    #[serde(default)]
    pub service_url: Option<String>,
    /// The service deployment deltaship created (its ARN), once it deployed.
    #[serde(default)]
    pub deployment: Option<String>,
    /// The ECS service's deployment strategy (`ROLLING`, `BLUE_GREEN`, `LINEAR`, `CANARY`), once
    /// it deployed.
    #[serde(default)]
    pub strategy: Option<String>,
    /// Who rolled the deployment back, for [`Outcome::RolledBack`].
    #[serde(default)]
    pub rolled_back_by: Option<super::RolledBackBy>,
    /// The answer that let it in (`{"decision": "approved", "by", "comment"}`,
    /// [`crate::gates::Answer`]); `null` without a gate.
    #[serde(default)]
    pub approval: Option<crate::gates::Answer>,
}

impl Details {
    /// Each of these details, else `other`'s.
    #[must_use]
    pub fn or(self, other: &Self) -> Self {
        let other = other.clone();
        Self {
            task_definition: self.task_definition.or(other.task_definition),
            image: self.image.or(other.image),
            error: self.error.or(other.error),
            cause: self.cause.or(other.cause),
            service_url: self.service_url.or(other.service_url),
            deployment: self.deployment.or(other.deployment),
            strategy: self.strategy.or(other.strategy),
            rolled_back_by: self.rolled_back_by.or(other.rolled_back_by),
            approval: self.approval.or(other.approval),
        }
    }
}

impl ServiceOutcome {
    /// The record of the last environment the service got to, if it got to one.
    pub fn last_environment(&self) -> Option<&EnvironmentOutcome> {
        self.environments.last()
    }

    /// The service's details: its own (a failed build's, or an execution's from before
    /// environments), else its last environment's.
    pub fn details(&self) -> Details {
        let last = self.last_environment().map(|environment| environment.details.clone()).unwrap_or_default();
        self.details.clone().or(&last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_record_has_its_environments_last_one_last() {
        let record: ServiceOutcome = serde_json::from_str(
            r#"{"name":"users","ok":false,"outcome":"rejected","build_url":"b","environments":[
                {"name":"staging","ok":true,"outcome":"deployed","image":"i@sha256:1","task_definition":"td:2",
                 "strategy":"ROLLING","approval":null},
                {"name":"production","ok":false,"outcome":"rejected","image":"i@sha256:1","error":"Rejected",
                 "cause":"{\"decision\":\"rejected\",\"by\":\"arn:ops\",\"comment\":null}","approval":null}]}"#,
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let last = record.last_environment().map(|environment| (environment.name.as_str(), environment.outcome));
        assert_eq!(last, Some(("production", Outcome::Rejected)));
        assert_eq!(record.environments[0].details.strategy.as_deref(), Some("ROLLING"));
        assert_eq!(record.details.task_definition, None, "details are the environments'");
        assert_eq!(record.details().task_definition, None, "the last environment names none");
        assert_eq!(record.details().error.as_deref(), Some("Rejected"), "the last environment's");
        assert_eq!(record.details().image.as_deref(), Some("i@sha256:1"));
    }

    #[test]
    fn names_are_what_the_state_machine_writes() {
        for outcome in Outcome::ALL {
            let json = serde_json::to_value(outcome).unwrap_or_default();
            assert_eq!(json, serde_json::Value::String(outcome.name().to_owned()));
            assert_eq!(serde_json::from_value::<Outcome>(json).ok(), Some(outcome));
            assert_eq!(outcome.is_ok(), outcome == Outcome::Deployed);
        }
        assert!(serde_json::from_str::<Outcome>("\"rolledback\"").is_err());
    }

    #[test]
    fn a_record_reads_with_only_what_its_state_names() {
        let record: ServiceOutcome = serde_json::from_str(
            r#"{"name":"a","ok":false,"outcome":"build_failed","error":"BuildFailed","cause":"x"}"#,
        )
        .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(record.outcome, Outcome::BuildFailed);
        assert_eq!((&record.details.image, &record.details.task_definition), (&None, &None));
        assert_eq!(record.details().error.as_deref(), Some("BuildFailed"), "a failed build's own");
    }
}
