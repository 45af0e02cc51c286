//! `deltaship local run`: one push through the whole pipeline on the local stack.

use std::time::Duration;

use deltaship_core::payloads::{DetectOutput, ReconcileOutput};
use deltaship_core::{Catalog, CommitId};
use serde_json::{Value, json};

use super::LocalError;
use deltaship_core::manifest::resource_name;

use super::deployments::{Fault, Strategy};
use super::emulator::{Faults, service_key_of};
use super::eventbridge;
use super::follow::RunReport;
use super::front::Invocation;
use super::seed;
use super::stack::{ACCOUNT, LocalStack, REGION};
use crate::git::GitRepo;

/// The push to run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The commit before the push; `None` takes the head's first parent (a first push when the
    /// head has none).
    pub base: Option<String>,
    /// The pushed commit.
    pub head: String,
    /// Services (by manifest name) whose builds fail.
    pub fail_build: Vec<String>,
    /// Services whose next rollout fails, and how (the circuit breaker, an alarm, a hook).
    pub fail_rollout: Vec<(String, Fault)>,
    /// Services and the strategy their rollouts use (ROLLING when not named).
    pub strategies: Vec<(String, Strategy)>,
    /// Whether EventBridge's events are dropped, so that every wait ends by its fallback.
    pub drop_events: bool,
    /// The state machine definition; `None` for the one built in ([`seed::PIPELINE_ASL`]).
    pub definition: Option<String>,
    /// How long the execution may take.
    pub timeout: Duration,
    /// The approvals and rejections to answer as services reach their gates.
    pub gates: super::answers::GateRules,
}

/// A push detect-changes has answered: its execution (if any) is running.
#[derive(Debug, Clone)]
pub struct Pushed(pub DetectOutput);

/// Something to show while the push runs.
#[derive(Debug, Clone)]
pub enum Progress {
    /// The push that detect-changes is given.
    Push {
        /// The branch.
        branch: String,
        /// The commit before (`None`: a first push).
        base: Option<CommitId>,
        /// The pushed commit.
        head: CommitId,
    },
    /// detect-changes answered.
    Detected(Box<DetectOutput>),
    /// A function ran for a service.
    Invoked(Invocation),
    /// A service reached a gate: answered, or waiting for someone.
    Gate(super::answers::GateEvent),
}

impl LocalStack {
    /// Runs `request`'s push: seeds the stack from the head commit's manifests, invokes
    /// detect-changes with the CodeCommit event AWS would send, waits for the execution and
    /// reads its history.
    pub async fn run(
        &mut self,
        request: &RunRequest,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<RunReport, LocalError> {
        let pushed = self.push(request, progress).await?;
        let mut answers = self.answers(request.gates.clone());
        self.follow(pushed, request.timeout, &mut answers, progress).await
    }

    /// The gates' answers for pushes on this stack, as `rules` say.
    pub fn answers(&self, rules: super::answers::GateRules) -> super::answers::Answers {
        let endpoint = format!("http://{}", self.endpoint);
        super::answers::Answers::new(&self.watcher, &endpoint, super::stack::WAITS_TABLE, &self.repository.name, rules)
    }

    /// The first half of [`LocalStack::run`]: seeds the stack, sets the faults, and invokes
    /// detect-changes, which starts the execution (if the push deploys anything) and returns.
    /// Two pushes can be in flight at once this way.
    pub async fn push(
        &mut self,
        request: &RunRequest,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<Pushed, LocalError> {
        let git = GitRepo::open(&self.repository.path)?;
        let (branch, base, head) = git.push_of(&request.head, request.base.as_deref())?;
        let catalog = self.prepare(&git, &head, &branch, request.definition.as_deref()).await?;
        let faults = faults(&catalog, request)?;
        self.front.with_emulator(|emulator| emulator.set_faults(faults));
        self.front.set_drop_events(request.drop_events);
        while self.invocations.try_recv().is_ok() {}
        // The push's calls start with its delivery: preparing the stack is not part of it.
        self.front.take_calls();

        progress(&Progress::Push { branch: branch.clone(), base: base.clone(), head: head.clone() });
        // The same push again is the same event again (EventBridge delivers at least once).
        let key = format!("{branch} {} {}", base.as_ref().map_or("-", CommitId::as_str), head.as_str());
        let event = self
            .delivered
            .entry(key)
            .or_insert_with(|| push_event(&self.repository.name, &branch, base.as_ref(), &head))
            .clone();
        let detected = match self.front.invoke("detect-changes", event).await {
            Some(Ok(output)) => serde_json::from_value::<DetectOutput>(output)
                .map_err(|error| LocalError::Stack(format!("detect-changes answered oddly: {error}")))?,
            Some(Err(failure)) => return Err(LocalError::Detect(failure)),
            None => return Err(LocalError::Stack("detect-changes is missing from the local functions".to_owned())),
        };
        while self.invocations.try_recv().is_ok() {}
        progress(&Progress::Detected(Box::new(detected.clone())));

        Ok(Pushed(detected))
    }
}

impl LocalStack {
    /// Makes the stack what a deployment for `head` of `branch` would be: creates what its
    /// manifests name and the state machine (`definition`, else the built-in one), and the
    /// template's EventBridge rules with their parameters. Its catalog.
    pub(super) async fn prepare(
        &mut self,
        git: &GitRepo,
        head: &CommitId,
        branch: &str,
        definition: Option<&str>,
    ) -> Result<Catalog, LocalError> {
        let (settings, manifests) = git.manifests(head)?;
        let catalog = Catalog::load(settings.as_ref(), &manifests).map_err(|error| {
            LocalError::BadInput(format!("the manifests at {} are invalid:\n{error}", head.short()))
        })?;
        let definition = definition.unwrap_or(seed::PIPELINE_ASL);
        seed::seed(&self.config, &catalog, &self.repository.name, &self.state_machine_arn, definition).await?;
        let parameters = template_parameters(&self.repository.name, branch, &catalog);
        let rules = eventbridge::rules(eventbridge::TEMPLATE, &parameters)
            .map_err(|problem| LocalError::Stack(format!("the SAM template's event rules: {problem}")))?;
        self.front.set_rules(rules);
        Ok(catalog)
    }

    /// Makes the stack what a deployment for the repository's checked-out head would be (as
    /// `prepare` does for a push): `deltaship local up`'s start. The branch and the head.
    pub async fn prepare_head(&mut self) -> Result<(String, CommitId), LocalError> {
        let git = GitRepo::open(&self.repository.path)?;
        let head = git.resolve("HEAD")?;
        let branch = git.branch_of("HEAD").unwrap_or_else(|| "main".to_owned());
        self.prepare(&git, &head, &branch, None).await?;
        Ok((branch, head))
    }

    /// Runs reconcile-pushes once, as its schedule does (with `{}`), on the stack's repository:
    /// its answer, each branch compared with the push ledger in moto's DynamoDB. Any execution it
    /// starts runs on as a push's would.
    pub async fn reconcile(&mut self) -> Result<ReconcileOutput, LocalError> {
        let answer = match self.front.invoke("reconcile-pushes", json!({})).await {
            Some(Ok(output)) => output,
            Some(Err(failure)) => return Err(LocalError::Stack(format!("reconcile-pushes failed: {failure}"))),
            None => return Err(LocalError::Stack("reconcile-pushes is missing from the local functions".to_owned())),
        };
        serde_json::from_value(answer)
            .map_err(|error| LocalError::Stack(format!("reconcile-pushes answered oddly: {error}")))
    }
}

/// The template's parameters as a deployment for this push would set them: the repository and
/// branch, the cluster of the manifests' services (the first one's, when they name several: the
/// others' events then match no rule, as on AWS) and the longest start their build projects share,
/// and the local stack's region and account.
fn template_parameters(repository: &str, branch: &str, catalog: &Catalog) -> eventbridge::Parameters {
    let services = catalog.services();
    let cluster = services.first().map(|service| resource_name(&service.deploy.cluster)).unwrap_or_default();
    let projects: Vec<&str> = services.iter().map(|service| resource_name(&service.build.project)).collect();
    let prefix = projects.iter().fold(projects.first().copied().unwrap_or_default(), |common, project| {
        let shared = common.bytes().zip(project.bytes()).take_while(|(a, b)| a == b).count();
        common.get(..shared).unwrap_or_default()
    });
    [
        ("AWS::Partition", "aws"),
        ("AWS::Region", REGION),
        ("AWS::AccountId", ACCOUNT),
        ("AWS::StackName", "deltaship-local"),
        ("RepositoryName", repository),
        ("Branches", branch),
        ("ClusterName", cluster),
        ("BuildProjectPrefix", prefix),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect()
}

/// The faults `request` asks for, by AWS resource, checked against the catalog.
fn faults(catalog: &Catalog, request: &RunRequest) -> Result<Faults, LocalError> {
    let find = |name: &String| {
        catalog.service(name).ok_or_else(|| {
            let known: Vec<&str> = catalog.services().iter().map(|service| service.name.as_str()).collect();
            LocalError::BadInput(format!("no service {name:?} in the manifests (the services are {known:?})"))
        })
    };
    let mut faults = Faults::default();
    for name in &request.fail_build {
        faults.fail_build.insert(deltaship_core::manifest::resource_name(&find(name)?.build.project).to_owned());
    }
    for (name, fault) in &request.fail_rollout {
        let service = find(name)?;
        faults.fail_rollout.insert(service_key_of(&service.deploy.cluster, &service.deploy.service), *fault);
    }
    for (name, strategy) in &request.strategies {
        let service = find(name)?;
        faults.strategies.insert(service_key_of(&service.deploy.cluster, &service.deploy.service), *strategy);
    }
    Ok(faults)
}

/// The event EventBridge delivers for this push.
pub fn push_event(repository: &str, branch: &str, base: Option<&CommitId>, head: &CommitId) -> Value {
    let mut detail = json!({
        "event": if base.is_some() { "referenceUpdated" } else { "referenceCreated" },
        "repositoryName": repository,
        "repositoryId": "00000000-0000-4000-8000-000000000000",
        "referenceType": "branch",
        "referenceName": branch,
        "referenceFullName": format!("refs/heads/{branch}"),
        "commitId": head.as_str(),
        "callerUserArn": format!("arn:aws:iam::{ACCOUNT}:user/deltaship-local"),
    });
    if let (Some(base), Some(fields)) = (base, detail.as_object_mut()) {
        fields.insert("oldCommitId".to_owned(), json!(base.as_str()));
    }
    json!({
        "version": "0",
        "id": format!("deltaship-local-{}", head.short()),
        "detail-type": "CodeCommit Repository State Change",
        "source": "aws.codecommit",
        "account": ACCOUNT,
        "time": now_rfc3339(),
        "region": REGION,
        "resources": [format!("arn:aws:codecommit:{REGION}:{ACCOUNT}:{repository}")],
        "detail": detail,
    })
}

/// Now, as EventBridge writes an event's `time` (detect-changes orders pushes by it).
fn now_rfc3339() -> String {
    aws_smithy_types::DateTime::from(std::time::SystemTime::now())
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(digit: char) -> CommitId {
        CommitId::parse(&digit.to_string().repeat(40)).unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn the_push_event_is_one_detect_changes_accepts() {
        let event = push_event("shop", "main", Some(&commit('a')), &commit('b'));
        match deltaship_core::parse_event_value(event) {
            Ok(deltaship_core::Trigger::Push(push)) => {
                assert_eq!(push.repository, "shop");
                assert_eq!(push.branch, "main");
                assert_eq!(push.base, Some(commit('a')));
                assert_eq!(push.head, commit('b'));
            }
            other => panic!("not a push: {other:?}"),
        }
        let first = push_event("shop", "main", None, &commit('b'));
        assert!(
            matches!(deltaship_core::parse_event_value(first), Ok(deltaship_core::Trigger::Push(push)) if push.base.is_none())
        );
    }
}
