//! Newer push wins: two executions that deploy one service never let an older push undo a newer
//! one, and a retried deploy never deploys twice. The pure decision behind deploy-service.
//!
//! Each revision deploy-service registers carries tags naming the commit, the push time and the
//! execution ([`DeployStamp`]). [`decide_deploy`] reads them on the revision the service runs:
//! an older push never deploys over a revision a newer push deployed (it ends that service as
//! superseded), and a service that already runs the image is not deployed again (a retried call
//! watches the deployment it made).

use crate::commit::short;
use crate::failure::{ErrorKind, Failure};

/// The tag naming the commit a revision was registered for.
pub const TAG_COMMIT: &str = "deltaship:commit";
/// The tag holding the push time (seconds since the Unix epoch) of that commit.
pub const TAG_PUSHED_AT: &str = "deltaship:pushed-at";
/// The tag naming the execution that registered the revision.
pub const TAG_EXECUTION: &str = "deltaship:execution";
/// The tag naming the revision the service ran before (what a rollback returns to).
pub const TAG_PREVIOUS: &str = "deltaship:previous";

/// Whether a tag key is one deltaship writes (and so is not copied from one revision to the next).
pub fn is_deltaship_tag(key: &str) -> bool {
    key.starts_with("deltaship:")
}

/// Which push a task definition revision was registered for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployStamp {
    /// The commit.
    pub commit: String,
    /// When it was pushed, in seconds since the Unix epoch.
    pub pushed_at: i64,
    /// The execution that registered the revision.
    pub execution: String,
}

impl DeployStamp {
    /// The tags that record this stamp, and `previous`, on a new revision.
    pub fn tags(&self, previous: &str) -> Vec<(String, String)> {
        [
            (TAG_COMMIT, self.commit.clone()),
            (TAG_PUSHED_AT, self.pushed_at.to_string()),
            (TAG_EXECUTION, self.execution.clone()),
            (TAG_PREVIOUS, previous.to_owned()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
    }

    /// The stamp in a revision's tags, if it has a complete one.
    pub fn from_tags<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Self> {
        let (mut commit, mut pushed_at, mut execution) = (None, None, None);
        for (key, value) in tags {
            match key {
                TAG_COMMIT => commit = Some(value.to_owned()),
                TAG_PUSHED_AT => pushed_at = value.parse::<i64>().ok(),
                TAG_EXECUTION => execution = Some(value.to_owned()),
                _ => {}
            }
        }
        Some(Self { commit: commit?, pushed_at: pushed_at?, execution: execution? })
    }
}

/// The revision a service runs when deploy-service looks at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentRevision {
    /// Its ARN.
    pub arn: String,
    /// The image of the container deltaship deploys, if the revision has that container.
    pub image: Option<String>,
    /// Its stamp, if deltaship registered it.
    pub stamp: Option<DeployStamp>,
    /// Its `deltaship:previous` tag, if deltaship registered it.
    pub previous: Option<String>,
}

/// What deploy-service does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployDecision {
    /// Register a revision with the new image and update the service.
    Deploy,
    /// The service already runs a revision with this image (a retried call, or the same commit
    /// deployed by another execution): watch that deployment, register nothing.
    Reuse {
        /// What a rollback would return to.
        previous: String,
    },
    /// A newer push deployed the service: step aside ([`ErrorKind::Superseded`]).
    Superseded(Failure),
}

/// Whether deciding a deployment for `ours` on a service running `current` needs the order of
/// two pushes of one second: the revision's push has `ours`' push time and another commit. The
/// caller then asks the [`crate::ledger`] ([`crate::ledger::order_in_second`]).
pub fn needs_order(ours: &DeployStamp, current: &CurrentRevision) -> bool {
    current.stamp.as_ref().is_some_and(|theirs| theirs.pushed_at == ours.pushed_at && theirs.commit != ours.commit)
}

/// Decides a deployment of `image` for the push `ours`, on a service running `current`.
///
/// The order of two pushes is their push time. Two pushes of one second are ordered by `order`
/// (how `ours` compares with the revision's push, from the ledger: `Less` when ours came first);
/// only when that is unknown (pushes of two branches in one second, or a push the ledger lost)
/// does the later deployment win, as without deltaship.
///
/// | the running revision | decision |
/// |----------------------|----------|
/// | has `image` | [`DeployDecision::Reuse`] |
/// | pushed later than ours, or in the same second and `order` is `Less` | [`DeployDecision::Superseded`] |
/// | anything else (not deltaship's, older, the same second and ours later or unknown) | [`DeployDecision::Deploy`] |
pub fn decide_deploy(
    ours: &DeployStamp,
    image: &str,
    current: &CurrentRevision,
    target: &str,
    order: Option<std::cmp::Ordering>,
) -> DeployDecision {
    if current.image.as_deref() == Some(image) {
        return DeployDecision::Reuse { previous: current.previous.clone().unwrap_or_else(|| current.arn.clone()) };
    }
    let newer = |theirs: &DeployStamp| {
        theirs.pushed_at > ours.pushed_at
            || (theirs.pushed_at == ours.pushed_at && order == Some(std::cmp::Ordering::Less))
    };
    match &current.stamp {
        Some(theirs) if newer(theirs) => DeployDecision::Superseded(Failure::new(
            ErrorKind::Superseded,
            format!(
                "{target} runs {} of commit {}, pushed at {} by execution {}, newer than this push of {} (pushed at \
                 {}{}): not deployed over it",
                current.arn,
                short(&theirs.commit),
                theirs.pushed_at,
                theirs.execution,
                short(&ours.commit),
                ours.pushed_at,
                if theirs.pushed_at == ours.pushed_at {
                    ", the same second, and before it by the push ledger"
                } else {
                    ""
                }
            ),
        )),
        _ => DeployDecision::Deploy,
    }
}

/// Checks that `image` is one deploy-service may deploy for `commit`: the build's image tagged
/// with the pushed commit (`<repository>:<commit>`), or an image by digest
/// (`<repository>@sha256:<64 hex>`, [`crate::environments::promoted_image`]) that a build of the
/// push (or, for `deltaship redeploy`, of the earlier push named) produced. deploy-service
/// deploys only those, and compares images to recognise its own revisions.
pub fn check_image(image: &str, commit: &str) -> Result<(), Failure> {
    let clean = !image.chars().any(|c| c.is_whitespace() || c.is_control());
    let tag_ok = image
        .rsplit_once(':')
        .is_some_and(|(repository, tag)| tag == commit && !repository.is_empty() && !repository.ends_with('/'));
    let digest_ok = image.split_once('@').is_some_and(|(repository, digest)| {
        !repository.is_empty() && !repository.ends_with('/') && crate::environments::is_digest(digest)
    });
    if (tag_ok || digest_ok) && clean {
        Ok(())
    } else {
        Err(Failure::invalid_input(format!(
            "image {image:?} is neither tagged with the pushed commit {commit} nor named by its digest (the \
             buildspec must export IMAGE_URI=<repository>:<commit>, and IMAGE_DIGEST=sha256:...)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn stamp(commit: &str, pushed_at: i64) -> DeployStamp {
        DeployStamp { commit: commit.into(), pushed_at, execution: format!("shop-main-{}", &commit[..12]) }
    }

    #[test]
    fn stamps_round_trip_through_tags() {
        let ours = stamp(A, 42);
        let tags = ours.tags("arn:prev");
        assert!(tags.iter().all(|(key, _)| is_deltaship_tag(key)));
        assert!(tags.contains(&(TAG_PREVIOUS.to_owned(), "arn:prev".to_owned())));
        let read = DeployStamp::from_tags(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert_eq!(read, Some(ours));
        assert_eq!(DeployStamp::from_tags([(TAG_COMMIT, A), (TAG_EXECUTION, "x")]), None, "no push time");
        assert_eq!(DeployStamp::from_tags([(TAG_COMMIT, A), (TAG_PUSHED_AT, "soon"), (TAG_EXECUTION, "x")]), None);
        assert!(!is_deltaship_tag("team"));
    }

    #[test]
    fn deploy_decisions() {
        let image = |commit: &str| format!("123.dkr.ecr.eu-west-1.amazonaws.com/shop/users:{commit}");
        let revision = |image: Option<String>, stamp: Option<DeployStamp>| CurrentRevision {
            arn: "arn:td/users:7".into(),
            image,
            stamp,
            previous: Some("arn:td/users:6".into()),
        };
        let ours = stamp(B, 200);
        let cases: Vec<(CurrentRevision, &str)> = vec![
            (revision(Some(image(A)), None), "deploy"),
            (revision(Some(image(A)), Some(stamp(A, 100))), "deploy"),
            (revision(Some(image(A)), Some(stamp(A, 200))), "deploy"),
            (revision(Some(image(A)), Some(stamp(A, 300))), "superseded"),
            (revision(None, Some(stamp(A, 300))), "superseded"),
            (revision(Some(image(B)), Some(stamp(B, 200))), "reuse"),
            (revision(Some(image(B)), Some(stamp(B, 900))), "reuse"),
        ];
        for (current, expected) in cases {
            let decision = decide_deploy(&ours, &image(B), &current, "shop/users", None);
            let got = match &decision {
                DeployDecision::Deploy => "deploy",
                DeployDecision::Reuse { previous } => {
                    assert_eq!(previous, "arn:td/users:6");
                    "reuse"
                }
                DeployDecision::Superseded(failure) => {
                    assert_eq!(failure.kind, ErrorKind::Superseded);
                    assert!(failure.message.contains("newer than this push"), "{failure}");
                    "superseded"
                }
            };
            assert_eq!(got, expected, "{current:?}");
        }
        let mut untagged = revision(Some(image(B)), None);
        untagged.previous = None;
        assert_eq!(
            decide_deploy(&ours, &image(B), &untagged, "shop/users", None),
            DeployDecision::Reuse { previous: "arn:td/users:7".into() }
        );
    }

    /// Two pushes of one second: the ledger's order decides, never the order of the deploys.
    #[test]
    fn pushes_of_one_second_deploy_in_push_order() {
        use std::cmp::Ordering::{Equal, Greater, Less};
        let image = |commit: &str| format!("123.dkr.ecr.eu-west-1.amazonaws.com/shop/users:{commit}");
        let ours = stamp(B, 200);
        let theirs = CurrentRevision {
            arn: "arn:td/users:7".into(),
            image: Some(image(A)),
            stamp: Some(stamp(A, 200)),
            previous: Some("arn:td/users:6".into()),
        };
        assert!(needs_order(&ours, &theirs));
        let superseded = |order| {
            matches!(decide_deploy(&ours, &image(B), &theirs, "shop/users", order), DeployDecision::Superseded(_))
        };
        assert!(superseded(Some(Less)), "ours was pushed first: theirs stays");
        assert!(!superseded(Some(Greater)), "ours was pushed last: ours deploys");
        assert!(!superseded(None), "unknown: the later deployment wins");
        assert!(!superseded(Some(Equal)));
        // The order is asked only for two commits of one second.
        let older = CurrentRevision { stamp: Some(stamp(A, 100)), ..theirs.clone() };
        let same = CurrentRevision { stamp: Some(stamp(B, 200)), ..theirs.clone() };
        let unstamped = CurrentRevision { stamp: None, ..theirs.clone() };
        for current in [older, same, unstamped] {
            assert!(!needs_order(&ours, &current), "{current:?}");
        }
    }

    #[test]
    fn images_must_carry_the_commit_tag_or_a_digest() {
        let digest = format!("sha256:{}", "0f".repeat(32));
        assert!(check_image(&format!("123.dkr.ecr.eu-west-1.amazonaws.com/shop/users:{A}"), A).is_ok());
        assert!(check_image(&format!("localhost:5000/users:{A}"), A).is_ok());
        assert!(check_image(&format!("123.dkr.ecr.eu-west-1.amazonaws.com/shop/users@{digest}"), A).is_ok());
        assert!(check_image(&format!("localhost:5000/users@{digest}"), A).is_ok());
        for bad in [
            format!("shop/users@sha256:{}", "0F".repeat(32)),
            format!("shop/users@sha256:{}", "0f".repeat(31)),
            format!("@{digest}"),
            format!("shop/@{digest}"),
            format!("shop/users@{digest} "),
            format!("shop/users:{B}"),
            "shop/users:latest".to_owned(),
            "shop/users".to_owned(),
            format!(":{A}"),
            format!("shop/ users:{A}"),
            format!("shop/:{A}"),
        ] {
            let failure = check_image(&bad, A).unwrap_err();
            assert_eq!(failure.kind, ErrorKind::InvalidInput, "{bad}");
        }
    }
}
