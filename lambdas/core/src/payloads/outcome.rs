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
/// is in `environments` (see [`ServiceOutcome::last_environment`]). The other fields are a failed
/// build's (`error`, `cause`, `build_url`), or every field of executions started before
/// environments existed. Fields that an outcome does not name are absent (`None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceOutcome {
    /// The service.
    pub name: String,
    /// Whether it deployed (`outcome` is [`Outcome::Deployed`]).
    pub ok: bool,
    /// What became of it.
    pub outcome: Outcome,
    /// The task definition the service runs afterwards, when the outcome names one.
    #[serde(default)]
    pub task_definition: Option<String>,
    /// The image built, when there is one.
    #[serde(default)]
    pub image: Option<String>,
    /// The error's name (an `ErrorKind` name, or a Step Functions error), for a failed outcome.
    #[serde(default)]
    pub error: Option<String>,
    /// The error's cause (for a Lambda error, its `{"errorType", "errorMessage"}` as JSON).
    #[serde(default)]
    pub cause: Option<String>,
    /// The build's console page.
    #[serde(default)]
    pub build_url: Option<String>,
    /// The service's deployments in the console.
    #[serde(default)]
    pub service_url: Option<String>,
    /// The service deployment deltaship created (its ARN), once it deployed.
    #[serde(default)]
    pub deployment: Option<String>,
    /// The service's deployment strategy (`ROLLING`, `BLUE_GREEN`, `LINEAR`, `CANARY`), once it
    /// deployed.
    #[serde(default)]
    pub strategy: Option<String>,
    /// Who rolled the deployment back, for [`Outcome::RolledBack`].
    #[serde(default)]
    pub rolled_back_by: Option<super::RolledBackBy>,
    /// The answer that let it into its last environment, when that one has a gate
    /// ([`crate::gates::Answer`]).
    #[serde(default)]
    pub approval: Option<crate::gates::Answer>,
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
    /// The image deployed (or that would have been), by digest when the build exported one.
    #[serde(default)]
    pub image: Option<String>,
    /// The task definition the environment's service runs afterwards, when the outcome names one.
    #[serde(default)]
    pub task_definition: Option<String>,
    /// The service deployment deltaship created there.
    #[serde(default)]
    pub deployment: Option<String>,
    /// The ECS service's deployment strategy there, once it deployed.
    #[serde(default)]
    pub strategy: Option<String>,
    /// Who rolled the deployment back, for [`Outcome::RolledBack`].
    #[serde(default)]
    pub rolled_back_by: Option<super::RolledBackBy>,
    /// The ECS service's deployments in the console.
    #[serde(default)]
    pub service_url: Option<String>,
    /// The answer that let it in: `{"decision": "approved", "by", "comment"}`
    /// ([`crate::gates::Answer`]); `null` for an environment without a gate.
    #[serde(default)]
    pub approval: Option<crate::gates::Answer>,
    /// The error's name, for an outcome other than deployed (`Rejected`, `States.Timeout`, ...).
    #[serde(default)]
    pub error: Option<String>,
    /// The error's cause (for a rejection, the answer as JSON: who and why).
    #[serde(default)]
    pub cause: Option<String>,
}

impl ServiceOutcome {
    /// The record of the last environment the service got to, if it got to one.
    pub fn last_environment(&self) -> Option<&EnvironmentOutcome> {
        self.environments.last()
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
        assert_eq!(record.environments[0].strategy.as_deref(), Some("ROLLING"));
        assert_eq!(record.task_definition, None, "details are the environments'");
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
        assert_eq!((record.image, record.task_definition), (None, None));
    }
}
