//! Judging a CodeBuild build: running, succeeded (with its image) or failed (with why).
//!
//! The adapter turns `BatchGetBuilds` into a [`BuildSnapshot`]; [`judge_build`] says whether the
//! build is still running (and for how long to wait), succeeded (with the image it pushed), or
//! failed (with the phase and the reason CodeBuild gives).
//!
//! The image comes from the build's exported variable `IMAGE_URI` (the buildspec's
//! `env.exported-variables`). A buildspec that does not export it still works when the image can
//! be named from the build's own `IMAGE_REPOSITORY` and `IMAGE_TAG` variables (which start-build
//! sets) and the account and region in the build's ARN.

use crate::failure::{ErrorKind, Failure};
use crate::wait::WaitPolicy;

/// The exported variable that names the image a build pushed.
pub const IMAGE_URI_VARIABLE: &str = "IMAGE_URI";
/// The exported variable that gives the pushed image's digest (`sha256:...`), for later
/// environments ([`image_by_digest`]).
pub const IMAGE_DIGEST_VARIABLE: &str = "IMAGE_DIGEST";
/// The variable start-build sets to the ECR repository (name or URI).
pub const IMAGE_REPOSITORY_VARIABLE: &str = "IMAGE_REPOSITORY";
/// The variable start-build sets to the image tag (the full commit id).
pub const IMAGE_TAG_VARIABLE: &str = "IMAGE_TAG";
/// The variable start-build sets to the service's name.
pub const SERVICE_VARIABLE: &str = "DELTASHIP_SERVICE";
/// The variable start-build sets to the full commit id.
pub const COMMIT_VARIABLE: &str = "DELTASHIP_COMMIT";

/// A build as `BatchGetBuilds` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildSnapshot {
    /// The build id, `<project>:<uuid>`.
    pub id: String,
    /// The build's ARN, when reported.
    pub arn: Option<String>,
    /// `buildStatus`: `IN_PROGRESS`, `SUCCEEDED`, `FAILED`, `FAULT`, `STOPPED`, `TIMED_OUT`.
    pub status: String,
    /// `currentPhase`.
    pub current_phase: Option<String>,
    /// The phases so far, in order.
    pub phases: Vec<PhaseSnapshot>,
    /// The build's exported variables (name, value).
    pub exported: Vec<(String, String)>,
    /// The build's environment variables (name, value); only plain-text values matter here.
    pub environment: Vec<(String, String)>,
    /// Seconds since the build started.
    pub elapsed_seconds: u64,
}

/// One phase of a build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhaseSnapshot {
    /// `phaseType`, e.g. `BUILD`.
    pub name: String,
    /// `phaseStatus`, e.g. `FAILED`; `None` while the phase runs.
    pub status: Option<String>,
    /// The messages of the phase's contexts.
    pub messages: Vec<String>,
}

/// What a look at a build found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildVerdict {
    /// Still running: look again after this many seconds.
    InProgress {
        /// The wait before the next look.
        wait_seconds: u32,
        /// The phase it is in, when known.
        phase: Option<String>,
    },
    /// Done: the image the build pushed.
    Succeeded {
        /// The image reference, `<registry>/<repository>:<tag>`.
        image: String,
    },
    /// Failed, faulted, stopped or timed out: [`ErrorKind::BuildFailed`] with phase and reason.
    Failed(Failure),
}

/// Judges a build.
pub fn judge_build(build: &BuildSnapshot, wait: WaitPolicy) -> BuildVerdict {
    match build.status.as_str() {
        "IN_PROGRESS" => BuildVerdict::InProgress {
            wait_seconds: wait.next(build.elapsed_seconds),
            phase: build.current_phase.clone(),
        },
        "SUCCEEDED" => match image_of(build) {
            Ok(image) => BuildVerdict::Succeeded { image },
            Err(problem) => BuildVerdict::Failed(Failure::new(
                ErrorKind::BuildFailed,
                format!("build {} succeeded but {problem}", build.id),
            )),
        },
        status => {
            let verb = match status {
                "FAILED" => "failed",
                "FAULT" => "faulted (a CodeBuild error, not the buildspec's)",
                "STOPPED" => "was stopped",
                "TIMED_OUT" => "timed out",
                other => {
                    return BuildVerdict::Failed(Failure::new(
                        ErrorKind::BuildFailed,
                        format!("build {} has status {other:?}, which deltaship does not know", build.id),
                    ));
                }
            };
            let failed =
                build.phases.iter().find(|phase| phase.status.as_deref().is_some_and(|status| status != "SUCCEEDED"));
            let mut message = format!("build {} {verb}", build.id);
            match failed {
                Some(phase) => {
                    message.push_str(&format!(" in phase {}", phase.name));
                    let reasons: Vec<&str> =
                        phase.messages.iter().map(|text| text.trim()).filter(|text| !text.is_empty()).collect();
                    if !reasons.is_empty() {
                        message.push_str(&format!(": {}", reasons.join("; ")));
                    }
                }
                None => {
                    if let Some(phase) = &build.current_phase {
                        message.push_str(&format!(" in phase {phase}"));
                    }
                }
            }
            BuildVerdict::Failed(Failure::new(ErrorKind::BuildFailed, message))
        }
    }
}

/// A successful build's `image` by the digest it exported ([`IMAGE_DIGEST_VARIABLE`]): what later
/// environments deploy. `None` when it exported none (a buildspec of before environments); an
/// error naming the build when what it exported is not a digest.
pub fn image_by_digest(build: &BuildSnapshot, image: &str) -> Result<Option<String>, Failure> {
    crate::environments::promoted_image(image, variable(&build.exported, IMAGE_DIGEST_VARIABLE)).map_err(|problem| {
        Failure::new(ErrorKind::BuildFailed, format!("build {} succeeded but its {problem}", build.id))
    })
}

fn variable<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.trim()).filter(|value| !value.is_empty())
}

fn image_of(build: &BuildSnapshot) -> Result<String, String> {
    if let Some(image) = variable(&build.exported, IMAGE_URI_VARIABLE) {
        return if image.contains(char::is_whitespace) || !image.contains(':') && !image.contains('@') {
            Err(format!("its exported {IMAGE_URI_VARIABLE} {image:?} is not an image reference with a tag or digest"))
        } else {
            Ok(image.to_owned())
        };
    }
    let missing = || format!("exported no {IMAGE_URI_VARIABLE} and its image cannot be named otherwise");
    let repository = variable(&build.environment, IMAGE_REPOSITORY_VARIABLE).ok_or_else(missing)?;
    let tag = variable(&build.environment, IMAGE_TAG_VARIABLE).ok_or_else(missing)?;
    if repository_has_registry(repository) {
        return Ok(format!("{repository}:{tag}"));
    }
    let arn = build.arn.as_deref().ok_or_else(missing)?;
    let (region, account) = region_and_account(arn).ok_or_else(missing)?;
    Ok(format!("{}/{repository}:{tag}", crate::partition::ecr_registry(account, region)))
}

/// Whether an image repository names its registry (`host/...`), as a URI does, rather than
/// being a bare ECR repository name.
pub fn repository_has_registry(repository: &str) -> bool {
    repository.split_once('/').is_some_and(|(host, _)| host.contains('.') || host.contains(':') || host == "localhost")
}

/// The region and account of an ARN (`arn:<partition>:<service>:<region>:<account>:...`).
pub fn region_and_account(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some(_), Some(region), Some(account), Some(_)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    (!region.is_empty() && !account.is_empty()).then_some((region, account))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "users-build:5b3c5e4c-1f7e-4bd2-9a8b-0123456789ab";
    const ARN: &str = "arn:aws:codebuild:eu-west-1:123456789012:build/users-build:5b3c5e4c-1f7e-4bd2-9a8b-0123456789ab";

    fn phase(name: &str, status: Option<&str>, messages: &[&str]) -> PhaseSnapshot {
        PhaseSnapshot {
            name: name.into(),
            status: status.map(Into::into),
            messages: messages.iter().map(|text| (*text).to_owned()).collect(),
        }
    }

    fn build(status: &str) -> BuildSnapshot {
        BuildSnapshot {
            id: ID.into(),
            arn: Some(ARN.into()),
            status: status.into(),
            current_phase: Some("COMPLETED".into()),
            phases: vec![
                phase("SUBMITTED", Some("SUCCEEDED"), &[]),
                phase("PROVISIONING", Some("SUCCEEDED"), &[]),
                phase("INSTALL", Some("SUCCEEDED"), &[]),
            ],
            exported: vec![],
            environment: vec![
                (IMAGE_REPOSITORY_VARIABLE.into(), "shop/users".into()),
                (IMAGE_TAG_VARIABLE.into(), "b".repeat(40)),
            ],
            elapsed_seconds: 300,
        }
    }

    fn failure_of(verdict: BuildVerdict) -> Failure {
        match verdict {
            BuildVerdict::Failed(failure) => failure,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn a_running_build_waits_with_back_off() {
        let mut running = build("IN_PROGRESS");
        running.current_phase = Some("BUILD".into());
        let policy = WaitPolicy { min_seconds: 60, max_seconds: 300 };
        running.elapsed_seconds = 90;
        assert_eq!(
            judge_build(&running, policy),
            BuildVerdict::InProgress { wait_seconds: 90, phase: Some("BUILD".into()) }
        );
        running.elapsed_seconds = 5;
        assert_eq!(
            judge_build(&running, policy),
            BuildVerdict::InProgress { wait_seconds: 60, phase: Some("BUILD".into()) },
            "never before the policy's minimum"
        );
    }

    #[test]
    fn a_successful_build_gives_its_exported_image() {
        let mut done = build("SUCCEEDED");
        done.exported =
            vec![(IMAGE_URI_VARIABLE.into(), "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/users:abc".into())];
        assert_eq!(
            judge_build(&done, WaitPolicy::BUILD),
            BuildVerdict::Succeeded { image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/users:abc".into() }
        );
    }

    #[test]
    fn without_an_export_the_image_is_named_from_the_builds_variables() {
        let tag = "b".repeat(40);
        let done = build("SUCCEEDED");
        assert_eq!(
            judge_build(&done, WaitPolicy::BUILD),
            BuildVerdict::Succeeded { image: format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/users:{tag}") }
        );
        let mut with_uri = build("SUCCEEDED");
        with_uri.environment[0].1 = "registry.example.com/shop/users".into();
        assert_eq!(
            judge_build(&with_uri, WaitPolicy::BUILD),
            BuildVerdict::Succeeded { image: format!("registry.example.com/shop/users:{tag}") }
        );
    }

    #[test]
    fn a_successful_build_that_names_no_image_is_a_failure() {
        let mut done = build("SUCCEEDED");
        done.environment.clear();
        let failure = failure_of(judge_build(&done, WaitPolicy::BUILD));
        assert_eq!(failure.kind, ErrorKind::BuildFailed);
        assert!(failure.message.contains("exported no IMAGE_URI"), "{failure}");

        let mut bad = build("SUCCEEDED");
        bad.exported = vec![(IMAGE_URI_VARIABLE.into(), "not an image".into())];
        assert!(failure_of(judge_build(&bad, WaitPolicy::BUILD)).message.contains("not an image reference"));
    }

    #[test]
    fn failures_name_the_phase_and_the_reason() {
        let mut failed = build("FAILED");
        failed.phases.push(phase(
            "BUILD",
            Some("FAILED"),
            &["COMMAND_EXECUTION_ERROR: Error while executing command: docker build. Reason: exit status 1"],
        ));
        failed.phases.push(phase("POST_BUILD", Some("SUCCEEDED"), &[]));
        let failure = failure_of(judge_build(&failed, WaitPolicy::BUILD));
        assert_eq!(failure.kind, ErrorKind::BuildFailed);
        assert_eq!(
            failure.message,
            format!(
                "build {ID} failed in phase BUILD: COMMAND_EXECUTION_ERROR: Error while executing command: docker \
                 build. Reason: exit status 1"
            )
        );

        let mut stopped = build("STOPPED");
        stopped.phases.push(phase("BUILD", Some("STOPPED"), &[]));
        assert_eq!(
            failure_of(judge_build(&stopped, WaitPolicy::BUILD)).message,
            format!("build {ID} was stopped in phase BUILD")
        );

        let mut timed_out = build("TIMED_OUT");
        timed_out.phases.push(phase("BUILD", Some("TIMED_OUT"), &["Build has timed out. "]));
        assert_eq!(
            failure_of(judge_build(&timed_out, WaitPolicy::BUILD)).message,
            format!("build {ID} timed out in phase BUILD: Build has timed out.")
        );

        let mut fault = build("FAULT");
        fault.current_phase = Some("PROVISIONING".into());
        fault.phases.truncate(1);
        assert_eq!(
            failure_of(judge_build(&fault, WaitPolicy::BUILD)).message,
            format!("build {ID} faulted (a CodeBuild error, not the buildspec's) in phase PROVISIONING")
        );

        let unknown = failure_of(judge_build(&build("EXPLODED"), WaitPolicy::BUILD));
        assert!(unknown.message.contains("\"EXPLODED\""), "{unknown}");
    }

    #[test]
    fn images_named_from_variables_follow_the_partition() {
        let mut done = build("SUCCEEDED");
        done.arn = Some("arn:aws-cn:codebuild:cn-north-1:123456789012:build/users-build:1".into());
        let tag = "b".repeat(40);
        assert_eq!(
            judge_build(&done, WaitPolicy::BUILD),
            BuildVerdict::Succeeded {
                image: format!("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/shop/users:{tag}")
            }
        );
    }

    #[test]
    fn arns_and_registries_are_read_strictly() {
        assert_eq!(region_and_account(ARN), Some(("eu-west-1", "123456789012")));
        for bad in ["", "arn:aws:codebuild", "arn:aws:codebuild::123:build/x", "nope:aws:a:b:c:d"] {
            assert_eq!(region_and_account(bad), None, "{bad}");
        }
        assert!(repository_has_registry("123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/users"));
        assert!(repository_has_registry("localhost:5000/users"));
        assert!(!repository_has_registry("shop/users"));
        assert!(!repository_has_registry("users"));
    }

    #[test]
    fn the_image_by_the_digest_the_build_exported() {
        let mut build = build("SUCCEEDED");
        let image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/users:abc";
        assert_eq!(image_by_digest(&build, image), Ok(None), "no digest exported");
        let digest = format!("sha256:{}", "0f".repeat(32));
        build.exported.push((IMAGE_DIGEST_VARIABLE.into(), digest.clone()));
        assert_eq!(
            image_by_digest(&build, image),
            Ok(Some(format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/users@{digest}")))
        );
        build.exported.retain(|(name, _)| name != IMAGE_DIGEST_VARIABLE);
        build.exported.push((IMAGE_DIGEST_VARIABLE.into(), "None".into()));
        let failure = image_by_digest(&build, image).unwrap_err();
        assert_eq!(failure.kind, ErrorKind::BuildFailed);
        assert!(failure.message.contains("IMAGE_DIGEST \"None\" is not a sha256 digest"), "{failure}");
    }
}
