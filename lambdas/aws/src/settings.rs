//! Each function's settings, from environment variables (set by the SAM template).
//!
//! | variable | function | default | meaning |
//! |----------|----------|---------|---------|
//! | `STATE_MACHINE_ARN` | detect-changes; request-approval | required unless `DRY_RUN` (request-approval: optional) | the pipeline state machine (request-approval: for the execution's console link in its notification) |
//! | `DRY_RUN` | detect-changes | `false` | plan and return the plan; start nothing |
//! | `MANIFEST_READ_CONCURRENCY` | detect-changes | `8` | manifests read from CodeCommit at once (1–64) |
//! | `MAX_CONCURRENCY` | detect-changes | `10` | services the pipeline builds and rolls out at once (1–40, the inline Map's limit), carried in the execution input |
//! | `BUILD_WAIT_MIN_SECONDS`, `BUILD_WAIT_MAX_SECONDS` | detect-changes, reconcile-pushes, start-build, check-build, wake-waits | `600`, `600` | bounds of a build wait's fallback timeout (how long it waits for the build's event before looking itself) |
//! | `ROLLOUT_WAIT_MIN_SECONDS`, `ROLLOUT_WAIT_MAX_SECONDS` | detect-changes, reconcile-pushes, deploy-service, check-rollout, rollback-service, wake-waits | `600`, `600` | bounds of a rollout (or rollback) wait's fallback timeout |
//! | `WAITS_TABLE` | check-build, check-rollout, wake-waits, deploy-service, reconcile-pushes, request-approval; detect-changes | required (detect-changes: unless `DRY_RUN`) | the DynamoDB table of the waits' task tokens (the approval gates' too) and of the push ledger |
//! | `APPROVALS_TOPIC_ARN` | request-approval | required | the SNS topic told of each wait for an approval (the template's `ApprovalsTopic`) |
//! | `REPOSITORY_NAME` | detect-changes, reconcile-pushes | unset: any | the only repository deployed (reconcile-pushes: required) |
//! | `CLUSTER_NAME` | detect-changes, reconcile-pushes, deploy-service, check-rollout, rollback-service | unset: any | the only ECS cluster touched |
//! | `BUILD_PROJECT_PREFIX` | detect-changes, reconcile-pushes, start-build | unset: any | the start of every CodeBuild project name |
//! | `BRANCHES` | reconcile-pushes | required | the branches to reconcile: comma-separated patterns, `*` matching any run of characters (EventBridge's `wildcard`, as the push rule matches them) |
//!
//! Each function reads the ones it uses ([`crate::Function::read_settings`]), from a [`Source`]:
//! the environment in its bin, a table in the local stack and in tests. A variable that is set but
//! malformed stops the function at cold start with a message naming the variable, rather than
//! running with a default the operator did not choose.

use deltaship_core::budget::Waits;
use deltaship_core::{Scope, WaitPolicy};

/// A setting that is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {variable}: {problem}")]
pub struct SettingsError {
    /// The variable.
    pub variable: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

/// Where settings come from: the process environment, or a table in tests.
pub trait Source {
    /// The variable's value, if set.
    fn get(&self, variable: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Environment;

impl Source for Environment {
    fn get(&self, variable: &str) -> Option<String> {
        std::env::var(variable).ok()
    }
}

impl<const N: usize> Source for [(&str, &str); N] {
    fn get(&self, variable: &str) -> Option<String> {
        self.iter().find(|(name, _)| *name == variable).map(|(_, value)| (*value).to_owned())
    }
}

fn text(source: &dyn Source, variable: &str) -> Option<String> {
    source.get(variable).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty())
}

fn flag(source: &dyn Source, variable: &'static str) -> Result<bool, SettingsError> {
    match text(source, variable).map(|value| value.to_ascii_lowercase()).as_deref() {
        None | Some("false" | "0" | "no") => Ok(false),
        Some("true" | "1" | "yes") => Ok(true),
        Some(other) => Err(SettingsError { variable, problem: format!("{other:?} is not true or false") }),
    }
}

fn number(source: &dyn Source, variable: &'static str, default: u32, range: (u32, u32)) -> Result<u32, SettingsError> {
    let Some(value) = text(source, variable) else { return Ok(default) };
    match value.parse::<u32>() {
        Ok(number) if (range.0..=range.1).contains(&number) => Ok(number),
        _ => Err(SettingsError {
            variable,
            problem: format!("{value:?} is not a whole number from {} to {}", range.0, range.1),
        }),
    }
}

fn wait(
    source: &dyn Source,
    min: &'static str,
    max: &'static str,
    default: WaitPolicy,
) -> Result<WaitPolicy, SettingsError> {
    let min_seconds = number(source, min, default.min_seconds, (1, 3600))?;
    let max_seconds = number(source, max, default.max_seconds, (1, 3600))?;
    WaitPolicy::new(min_seconds, max_seconds).map_err(|problem| SettingsError { variable: max, problem })
}

/// The most iterations an inline Map state runs at once.
pub use deltaship_core::pipeline::MAX_MAP_CONCURRENCY;

/// How many services the pipeline works on at once unless `MAX_CONCURRENCY` says otherwise.
pub const DEFAULT_MAX_CONCURRENCY: u32 = 10;

/// detect-changes' settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectSettings {
    /// The state machine to start; `None` only in a dry run.
    pub state_machine_arn: Option<String>,
    /// Plan only.
    pub dry_run: bool,
    /// Manifests read at once.
    pub manifest_concurrency: usize,
    /// Services the pipeline works on at once (the Map's concurrency).
    pub max_concurrency: u32,
    /// The waits' fallback timeouts (as check-build and check-rollout read them), which a plan's
    /// worst-case history is computed with ([`deltaship_core::budget`]).
    pub waits: Waits,
    /// The table of the push ledger (the waits table); `None` only in a dry run, which records
    /// nothing.
    pub ledger_table: Option<String>,
}

impl DetectSettings {
    /// From `source`.
    pub fn from_source(source: &dyn Source) -> Result<Self, SettingsError> {
        let dry_run = flag(source, "DRY_RUN")?;
        let state_machine_arn = text(source, "STATE_MACHINE_ARN");
        match &state_machine_arn {
            None if !dry_run => {
                return Err(SettingsError {
                    variable: "STATE_MACHINE_ARN",
                    problem: "not set (set it to the pipeline's ARN, or DRY_RUN=true to only plan)".into(),
                });
            }
            Some(arn) if deltaship_core::links::execution_arn(arn, "x").is_none() => {
                return Err(SettingsError {
                    variable: "STATE_MACHINE_ARN",
                    problem: format!("{arn:?} is not a state machine ARN"),
                });
            }
            _ => {}
        }
        let manifest_concurrency = number(source, "MANIFEST_READ_CONCURRENCY", 8, (1, 64))?;
        let max_concurrency = number(source, "MAX_CONCURRENCY", DEFAULT_MAX_CONCURRENCY, (1, MAX_MAP_CONCURRENCY))?;
        let waits = Waits { build: build_wait(source)?, rollout: rollout_wait(source)? };
        let ledger_table = text(source, "WAITS_TABLE");
        if ledger_table.is_none() && !dry_run {
            return Err(SettingsError {
                variable: "WAITS_TABLE",
                problem: "not set (the DynamoDB table of the push ledger, the template's WaitsTable; or \
                          DRY_RUN=true to only plan)"
                    .into(),
            });
        }
        Ok(Self {
            state_machine_arn,
            dry_run,
            manifest_concurrency: manifest_concurrency as usize,
            max_concurrency,
            waits,
            ledger_table,
        })
    }
}

/// What the functions may touch ([`Scope`]): `REPOSITORY_NAME`, `CLUSTER_NAME` and
/// `BUILD_PROJECT_PREFIX`, each unlimited when unset or empty.
pub fn scope(source: &dyn Source) -> Scope {
    Scope {
        repository: text(source, "REPOSITORY_NAME"),
        cluster: text(source, "CLUSTER_NAME"),
        project_prefix: text(source, "BUILD_PROJECT_PREFIX"),
    }
}

/// The reconciler's settings (besides detect-changes', which plan what it finds missed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileSettings {
    /// The repository whose branches it reconciles.
    pub repository: String,
    /// The patterns of the branches it reconciles, as the template's `Branches` parameter gives
    /// them ([`deltaship_core::wildcard`]).
    pub branches: Vec<String>,
}

impl ReconcileSettings {
    /// From `source`: `REPOSITORY_NAME` and `BRANCHES` (both required; each pattern checked as
    /// the template checks it).
    pub fn from_source(source: &dyn Source) -> Result<Self, SettingsError> {
        let required = |variable: &'static str| {
            text(source, variable).ok_or(SettingsError { variable, problem: "not set".to_owned() })
        };
        let repository = required("REPOSITORY_NAME")?;
        let branches: Vec<String> = required("BRANCHES")?
            .split(',')
            .map(|branch| branch.trim().to_owned())
            .filter(|branch| !branch.is_empty())
            .collect();
        if branches.is_empty() {
            return Err(SettingsError { variable: "BRANCHES", problem: "names no branch".to_owned() });
        }
        for pattern in &branches {
            deltaship_core::wildcard::check_branch_pattern(pattern)
                .map_err(|problem| SettingsError { variable: "BRANCHES", problem })?;
        }
        Ok(Self { repository, branches })
    }
}

/// The waits table (`WAITS_TABLE`, required): where check-build and check-rollout keep the task
/// tokens of their waits, and wake-waits finds them.
pub fn waits_table(source: &dyn Source) -> Result<String, SettingsError> {
    text(source, "WAITS_TABLE").ok_or(SettingsError {
        variable: "WAITS_TABLE",
        problem: "not set (the DynamoDB table of the waits, the template's WaitsTable)".to_owned(),
    })
}

/// The approvals topic (`APPROVALS_TOPIC_ARN`, required): the SNS topic request-approval tells of
/// each wait for an approval.
pub fn approvals_topic(source: &dyn Source) -> Result<String, SettingsError> {
    let variable = "APPROVALS_TOPIC_ARN";
    let arn = text(source, variable).ok_or(SettingsError {
        variable,
        problem: "not set (the SNS topic of the approvals, the template's ApprovalsTopic)".to_owned(),
    })?;
    // arn:<partition>:sns:<region>:<account>:<topic>
    let parts: Vec<&str> = arn.split(':').collect();
    let is_topic = parts.len() == 6
        && parts.first() == Some(&"arn")
        && parts.get(2) == Some(&"sns")
        && parts.iter().skip(3).all(|part| !part.is_empty());
    if is_topic {
        Ok(arn)
    } else {
        Err(SettingsError { variable, problem: format!("{arn:?} is not an SNS topic ARN") })
    }
}

/// The pipeline state machine's ARN (`STATE_MACHINE_ARN`) where it is optional: `None` when unset,
/// an error when it is set to something else than a state machine ARN.
pub fn state_machine_arn(source: &dyn Source) -> Result<Option<String>, SettingsError> {
    match text(source, "STATE_MACHINE_ARN") {
        Some(arn) if deltaship_core::links::execution_arn(&arn, "x").is_none() => {
            Err(SettingsError { variable: "STATE_MACHINE_ARN", problem: format!("{arn:?} is not a state machine ARN") })
        }
        arn => Ok(arn),
    }
}

/// The wait policy for builds (start-build, check-build).
pub fn build_wait(source: &dyn Source) -> Result<WaitPolicy, SettingsError> {
    wait(source, "BUILD_WAIT_MIN_SECONDS", "BUILD_WAIT_MAX_SECONDS", WaitPolicy::BUILD)
}

/// The wait policy for rollouts (deploy-service, check-rollout).
pub fn rollout_wait(source: &dyn Source) -> Result<WaitPolicy, SettingsError> {
    wait(source, "ROLLOUT_WAIT_MIN_SECONDS", "ROLLOUT_WAIT_MAX_SECONDS", WaitPolicy::ROLLOUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:states:eu-west-1:123456789012:stateMachine:deltaship";
    const DEFAULT_WAITS: Waits = Waits { build: WaitPolicy::BUILD, rollout: WaitPolicy::ROLLOUT };

    #[test]
    fn detect_settings_need_a_state_machine_and_a_ledger_unless_dry_run() {
        let settings =
            DetectSettings::from_source(&[("STATE_MACHINE_ARN", ARN), ("WAITS_TABLE", "deltaship-waits")]).unwrap();
        assert_eq!(
            settings,
            DetectSettings {
                state_machine_arn: Some(ARN.into()),
                dry_run: false,
                manifest_concurrency: 8,
                max_concurrency: 10,
                waits: DEFAULT_WAITS,
                ledger_table: Some("deltaship-waits".into()),
            }
        );

        let dry = DetectSettings::from_source(&[
            ("DRY_RUN", "TRUE"),
            ("MANIFEST_READ_CONCURRENCY", "3"),
            ("MAX_CONCURRENCY", "2"),
        ])
        .unwrap();
        assert_eq!(
            dry,
            DetectSettings {
                state_machine_arn: None,
                dry_run: true,
                manifest_concurrency: 3,
                max_concurrency: 2,
                waits: DEFAULT_WAITS,
                ledger_table: None,
            }
        );
        assert!(DetectSettings::from_source(&[("DRY_RUN", "true"), ("MAX_CONCURRENCY", "0")]).is_err());
        assert!(DetectSettings::from_source(&[("DRY_RUN", "true"), ("MAX_CONCURRENCY", "41")]).is_err());

        let cases: [(&[(&str, &str)], &str); 5] = [
            (
                &[],
                "environment variable STATE_MACHINE_ARN: not set (set it to the pipeline's ARN, or DRY_RUN=true to only plan)",
            ),
            (
                &[("STATE_MACHINE_ARN", ARN)],
                "environment variable WAITS_TABLE: not set (the DynamoDB table of the push ledger, the template's WaitsTable; or DRY_RUN=true to only plan)",
            ),
            (
                &[("STATE_MACHINE_ARN", "deltaship")],
                "environment variable STATE_MACHINE_ARN: \"deltaship\" is not a state machine ARN",
            ),
            (
                &[("STATE_MACHINE_ARN", ARN), ("DRY_RUN", "maybe")],
                "environment variable DRY_RUN: \"maybe\" is not true or false",
            ),
            (
                &[("STATE_MACHINE_ARN", ARN), ("MANIFEST_READ_CONCURRENCY", "0")],
                "environment variable MANIFEST_READ_CONCURRENCY: \"0\" is not a whole number from 1 to 64",
            ),
        ];
        for (variables, message) in cases {
            let source: Vec<(&str, &str)> = variables.to_vec();
            let error = DetectSettings::from_source(&Table(source)).unwrap_err();
            assert_eq!(error.to_string(), message);
        }
    }

    /// The table at the top of this module lists every variable the code reads.
    #[test]
    fn the_settings_table_lists_every_variable_read() {
        let source = include_str!("settings.rs");
        let (docs, code) = source.split_at(source.find("\nuse ").unwrap_or(0));
        let code = code.split("#[cfg(test)]").next().unwrap_or_default();
        let documented: Vec<&str> = docs
            .lines()
            .filter_map(|line| line.strip_prefix("//! | "))
            .flat_map(|row| row.split(" | ").next().unwrap_or_default().split(", "))
            .map(|name| name.trim_matches('`'))
            .collect();
        let mut read = Vec::new();
        for piece in code.split('"').skip(1).step_by(2) {
            let is_variable =
                piece.len() > 3 && piece.chars().all(|c| c.is_ascii_uppercase() || c == '_') && piece.contains('_');
            if is_variable && !read.contains(&piece) {
                read.push(piece);
            }
        }
        assert!(read.len() >= 10, "{read:?}");
        let missing: Vec<&&str> = read.iter().filter(|name| !documented.contains(name)).collect();
        assert!(missing.is_empty(), "read but not in the table: {missing:?}");
    }

    struct Table<'a>(Vec<(&'a str, &'a str)>);

    impl Source for Table<'_> {
        fn get(&self, variable: &str) -> Option<String> {
            self.0.iter().find(|(name, _)| *name == variable).map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn scope_and_reconcile_settings() {
        assert_eq!(scope(&[("X", "1")]), Scope::default());
        let limited = scope(&[("REPOSITORY_NAME", "shop"), ("CLUSTER_NAME", " shop "), ("BUILD_PROJECT_PREFIX", "")]);
        assert_eq!(
            limited,
            Scope { repository: Some("shop".into()), cluster: Some("shop".into()), project_prefix: None }
        );

        let settings =
            ReconcileSettings::from_source(&[("REPOSITORY_NAME", "shop"), ("BRANCHES", "main, release/* ,")]).unwrap();
        assert_eq!(settings.branches, ["main", "release/*"]);
        let missing = ReconcileSettings::from_source(&[("REPOSITORY_NAME", "shop")]);
        assert_eq!(missing.unwrap_err().to_string(), "environment variable BRANCHES: not set");
        let empty = ReconcileSettings::from_source(&[("REPOSITORY_NAME", "shop"), ("BRANCHES", ",")]);
        assert_eq!(empty.unwrap_err().variable, "BRANCHES");
        let quoted = ReconcileSettings::from_source(&[("REPOSITORY_NAME", "shop"), ("BRANCHES", "main,a\"b")]);
        assert_eq!(
            quoted.unwrap_err().to_string(),
            "environment variable BRANCHES: branch pattern \"a\\\"b\": '\"' is not allowed (no quote, backslash, comma or space)"
        );
    }

    #[test]
    fn wait_policies_default_and_validate() {
        assert_eq!(build_wait(&[("X", "1")]).unwrap(), WaitPolicy::BUILD);
        assert_eq!(rollout_wait(&[("X", "1")]).unwrap(), WaitPolicy::ROLLOUT);
        assert_eq!(
            build_wait(&[("BUILD_WAIT_MIN_SECONDS", "10"), ("BUILD_WAIT_MAX_SECONDS", "60")]).unwrap(),
            WaitPolicy { min_seconds: 10, max_seconds: 60 }
        );
        // A minimum above the default maximum (600 s) is refused, naming the maximum.
        let error = rollout_wait(&[("ROLLOUT_WAIT_MIN_SECONDS", "700")]).unwrap_err();
        assert_eq!(error.variable, "ROLLOUT_WAIT_MAX_SECONDS");
        assert_eq!(
            rollout_wait(&[("ROLLOUT_WAIT_MIN_SECONDS", "200")]).unwrap(),
            WaitPolicy { min_seconds: 200, max_seconds: 600 }
        );
        assert!(build_wait(&[("BUILD_WAIT_MAX_SECONDS", "soon")]).is_err());
    }

    #[test]
    fn the_approvals_topic_is_required_and_the_state_machine_optional() {
        let topic = "arn:aws:sns:eu-west-1:123456789012:deltaship-approvals";
        assert_eq!(approvals_topic(&[("APPROVALS_TOPIC_ARN", topic)]).unwrap(), topic);
        assert_eq!(
            approvals_topic(&[("X", "1")]).unwrap_err().to_string(),
            "environment variable APPROVALS_TOPIC_ARN: not set (the SNS topic of the approvals, the template's ApprovalsTopic)"
        );
        for bad in ["deltaship-approvals", "arn:aws:sqs:eu-west-1:123456789012:q", "arn:aws:sns:eu-west-1::t"] {
            let error = approvals_topic(&[("APPROVALS_TOPIC_ARN", bad)]).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("environment variable APPROVALS_TOPIC_ARN: {bad:?} is not an SNS topic ARN")
            );
        }
        assert_eq!(state_machine_arn(&[("X", "1")]).unwrap(), None);
        assert_eq!(state_machine_arn(&[("STATE_MACHINE_ARN", ARN)]).unwrap().as_deref(), Some(ARN));
        assert_eq!(state_machine_arn(&[("STATE_MACHINE_ARN", "pipeline")]).unwrap_err().variable, "STATE_MACHINE_ARN");
    }

    #[test]
    fn the_waits_table_is_required_and_named_when_missing() {
        assert_eq!(waits_table(&[("WAITS_TABLE", " deltaship-waits ")]).unwrap(), "deltaship-waits");
        for source in [&[("X", "1")], &[("WAITS_TABLE", " ")]] {
            let error = waits_table(source).unwrap_err();
            assert_eq!(error.variable, "WAITS_TABLE");
            assert_eq!(
                error.to_string(),
                "environment variable WAITS_TABLE: not set (the DynamoDB table of the waits, the template's WaitsTable)"
            );
        }
    }
}
