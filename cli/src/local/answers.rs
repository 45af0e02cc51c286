//! The approvals a local push answers as its services reach their gates: `deltaship local run
//! --approve SERVICE[@ENV] --reject SERVICE[@ENV]`. A gate no rule answers waits, and the command
//! to answer it is printed once (`deltaship approve ... --endpoint-url ...`), as on AWS an
//! approver would run it; its timeout (`approval_timeout_hours`) still applies.

use std::collections::BTreeSet;
use std::str::FromStr;

use aws_config::SdkConfig;
use deltaship_core::payloads::ServiceJob;

use super::LocalError;
use crate::approvals::{Approvals, Decision};

/// One `--approve` or `--reject`: a service, and optionally one environment (else every gate of
/// the service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateRule {
    /// The service's name.
    pub service: String,
    /// The environment, when `SERVICE@ENV` names one.
    pub environment: Option<String>,
}

impl FromStr for GateRule {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (service, environment) = match text.split_once('@') {
            Some((service, environment)) => (service, Some(environment)),
            None => (text, None),
        };
        if service.trim().is_empty() || environment.is_some_and(|environment| environment.trim().is_empty()) {
            return Err(format!("{text:?}: give SERVICE or SERVICE@ENVIRONMENT"));
        }
        Ok(Self { service: service.to_owned(), environment: environment.map(ToOwned::to_owned) })
    }
}

impl GateRule {
    fn matches(&self, service: &str, environment: &str) -> bool {
        self.service == service && self.environment.as_deref().is_none_or(|named| named == environment)
    }
}

/// What to answer at each gate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateRules {
    /// `--approve`.
    pub approve: Vec<GateRule>,
    /// `--reject`.
    pub reject: Vec<GateRule>,
}

impl GateRules {
    /// The decision for `service` at its gate into `environment`, if a rule names it. A gate both
    /// an approval and a rejection name is refused up front ([`GateRules::check`]).
    pub fn decision(&self, service: &str, environment: &str) -> Option<Decision> {
        if self.reject.iter().any(|rule| rule.matches(service, environment)) {
            Some(Decision::Reject)
        } else if self.approve.iter().any(|rule| rule.matches(service, environment)) {
            Some(Decision::Approve)
        } else {
            None
        }
    }

    /// Refuses rules that approve and reject the same gate.
    pub fn check(&self) -> Result<(), String> {
        for approve in &self.approve {
            for reject in &self.reject {
                let same_environment = match (&approve.environment, &reject.environment) {
                    (Some(a), Some(b)) => a == b,
                    _ => true,
                };
                if approve.service == reject.service && same_environment {
                    return Err(format!(
                        "--approve and --reject both name a gate of {}: name the environment of each \
                         (SERVICE@ENVIRONMENT)",
                        approve.service
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The gates of a push's services, answered as [`GateRules`] say, or announced.
#[derive(Debug)]
pub struct Answers {
    rules: GateRules,
    approvals: Approvals,
    /// The stack's endpoint, for the printed commands.
    endpoint: String,
    /// Gates already answered or announced: (execution, service, environment).
    seen: BTreeSet<(String, String, String)>,
}

/// A gate reached during a push, and what was done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateEvent {
    /// Answered: approved or rejected, by whom.
    Answered {
        /// The service.
        service: String,
        /// The environment.
        environment: String,
        /// The decision.
        decision: Decision,
        /// Who answered.
        by: String,
    },
    /// Waits for someone: the command to run.
    Waiting {
        /// The service.
        service: String,
        /// The environment.
        environment: String,
        /// `deltaship approve ...`.
        command: String,
    },
}

impl Answers {
    /// Answers for the stack at `endpoint` (its waits table `table`, through `config`), of
    /// `repository`.
    pub fn new(config: &SdkConfig, endpoint: &str, table: &str, repository: &str, rules: GateRules) -> Self {
        Self {
            rules,
            approvals: Approvals::new(config, table, repository),
            endpoint: endpoint.to_owned(),
            seen: BTreeSet::new(),
        }
    }

    /// Looks at every gate `jobs` can reach and answers (or announces) the waits of `execution`
    /// found there for the first time.
    pub async fn look(&mut self, execution: &str, jobs: &[ServiceJob]) -> Result<Vec<GateEvent>, LocalError> {
        let now = deltaship_aws::system_clock();
        let mut events = Vec::new();
        for job in jobs {
            for promotion in job.promotions.iter().filter(|promotion| promotion.approval) {
                let key = (execution.to_owned(), job.name.clone(), promotion.environment.clone());
                if self.seen.contains(&key) {
                    continue;
                }
                let waiting = self
                    .approvals
                    .waiting(&job.name, &promotion.environment, now)
                    .await
                    .map_err(|error| LocalError::Stack(error.to_string()))?;
                if !waiting.iter().any(|record| record.execution == execution) {
                    continue;
                }
                self.seen.insert(key);
                let (service, environment) = (job.name.clone(), promotion.environment.clone());
                match self.rules.decision(&service, &environment) {
                    Some(decision) => {
                        let comment = Some("deltaship local run".to_owned());
                        let answered = self
                            .approvals
                            .answer(&service, &environment, Some(execution), decision, comment, now)
                            .await
                            .map_err(|error| LocalError::Stack(error.to_string()))?;
                        let by = match answered.answer {
                            deltaship_core::gates::Answer::Approved { by, .. }
                            | deltaship_core::gates::Answer::Rejected { by, .. } => by,
                        };
                        events.push(GateEvent::Answered { service, environment, decision, by });
                    }
                    None => {
                        let endpoint = if self.endpoint.is_empty() {
                            String::new()
                        } else {
                            format!(" --endpoint-url {}", self.endpoint)
                        };
                        let command = format!(
                            "deltaship approve --service {service} --environment {environment} --execution \
                             {execution}{endpoint} (or deltaship reject ...)"
                        );
                        events.push(GateEvent::Waiting { service, environment, command });
                    }
                }
            }
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> GateRule {
        text.parse().unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn rules_name_a_service_and_maybe_an_environment() {
        assert_eq!(rule("users"), GateRule { service: "users".into(), environment: None });
        assert_eq!(
            rule("users@production"),
            GateRule { service: "users".into(), environment: Some("production".into()) }
        );
        for bad in ["", "@production", "users@", " @x"] {
            assert!(bad.parse::<GateRule>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn decisions_follow_the_rules() {
        let rules = GateRules { approve: vec![rule("users")], reject: vec![rule("orders@production")] };
        let table = [
            ("users", "production", Some(Decision::Approve)),
            ("users", "staging", Some(Decision::Approve)),
            ("orders", "production", Some(Decision::Reject)),
            ("orders", "preprod", None),
            ("payments", "production", None),
        ];
        for (service, environment, expected) in table {
            assert_eq!(rules.decision(service, environment), expected, "{service}@{environment}");
        }
        assert_eq!(rules.check(), Ok(()));
    }

    #[test]
    fn one_gate_cannot_be_approved_and_rejected() {
        let both = |approve: &str, reject: &str| GateRules { approve: vec![rule(approve)], reject: vec![rule(reject)] };
        assert!(both("users", "users@production").check().is_err());
        assert!(both("users@production", "users@production").check().is_err());
        assert!(both("users@staging", "users@production").check().is_ok());
        assert!(both("users", "orders").check().is_ok());
    }
}
