//! Starting and stopping the local stack: a moto server and the front, both on 127.0.0.1.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sfn::config::{Credentials, SharedCredentialsProvider};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::LocalError;
use super::codecommit::LocalRepository;
use super::emulator::Emulator;
use super::front::{Front, Invocation, WATCHER_APP};
use super::functions::{Functions, Variables};
use deltaship_core::WaitPolicy;

/// The region everything local lives in.
pub const REGION: &str = "us-east-1";
/// moto's account.
pub const ACCOUNT: &str = "123456789012";
/// What local resources' names start with: functions are `deltaship-local-<bin>`.
pub const PREFIX: &str = "deltaship-local-";
/// The environment variable that names the `moto_server` program.
pub const MOTO_SERVER_VARIABLE: &str = "DELTASHIP_MOTO_SERVER";
/// How long moto may take to start.
const MOTO_START: Duration = Duration::from_secs(60);

/// How to start the stack.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// The git repository served as CodeCommit.
    pub repo: PathBuf,
    /// The `moto_server` program; `None` looks for it (see [`find_moto_server`]).
    pub moto_server: Option<PathBuf>,
    /// Seconds a build takes.
    pub build_seconds: f64,
    /// Seconds a rollout takes.
    pub rollout_seconds: f64,
    /// The waits' fallback timeouts.
    pub waits: Waits,
    /// Where the front listens besides 127.0.0.1 (always: moto's Step Functions engine calls the
    /// functions there), e.g. the container bridge's address.
    pub listen: Vec<IpAddr>,
    /// The front's port on every address; 0 takes a free one.
    pub port: u16,
}

/// The fallback timeouts of the local stack's waits (how long a wait for an event lasts before
/// the state machine looks itself).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Waits {
    /// The first after a second, then as long as the build or rollout has run (up to the
    /// template's longest): quick when events are dropped.
    #[default]
    Local,
    /// The template's defaults, as deployed: a flat 600 s for builds and rollouts.
    Deployed,
}

impl Waits {
    /// The build and rollout wait policies.
    pub fn policies(self) -> (WaitPolicy, WaitPolicy) {
        match self {
            Self::Local => (
                WaitPolicy { min_seconds: 1, ..WaitPolicy::BUILD },
                WaitPolicy { min_seconds: 1, ..WaitPolicy::ROLLOUT },
            ),
            Self::Deployed => (WaitPolicy::BUILD, WaitPolicy::ROLLOUT),
        }
    }
}

/// The waits table, in moto's DynamoDB.
pub const WAITS_TABLE: &str = "deltaship-local-waits";
/// The approvals topic, in moto's SNS: request-approval tells it of each wait for an approval.
pub const APPROVALS_TOPIC: &str = "deltaship-local-approvals";
/// How often the front delivers the events that are due.
const EVENT_TICK: Duration = Duration::from_millis(50);

/// A running local stack. [`LocalStack::stop`] stops it; dropping it kills moto too.
pub struct LocalStack {
    /// The front's address on 127.0.0.1: every AWS call goes here.
    pub endpoint: SocketAddr,
    /// Every address the front listens on, [`LocalStack::endpoint`] first.
    pub endpoints: Vec<SocketAddr>,
    /// moto's address.
    pub moto: SocketAddr,
    /// The `moto_server` program that runs.
    pub moto_server: PathBuf,
    /// The AWS configuration that reaches the stack (and nothing else).
    pub config: SdkConfig,
    /// The same, for the calls that watch the stack rather than take part in a push (the
    /// front does not count them: [`super::front::WATCHER_APP`]).
    pub watcher: SdkConfig,
    /// The repository, with its CodeCommit name.
    pub repository: LocalRepository,
    /// The state machine's ARN.
    pub state_machine_arn: String,
    pub(super) front: Arc<Front>,
    pub(super) invocations: mpsc::UnboundedReceiver<Invocation>,
    /// The event of each push run so far, by branch, base and head: running a push again
    /// delivers the same event again, as EventBridge may.
    pub(super) delivered: std::collections::BTreeMap<String, serde_json::Value>,
    /// The functions' environment, as the SAM template would set it for this stack.
    pub variables: Variables,
    servers: Vec<JoinHandle<()>>,
    /// Delivers the events that are due, as EventBridge would.
    pump: JoinHandle<()>,
    moto_process: Child,
    moto_log: PathBuf,
    _scratch: tempfile::TempDir,
}

impl LocalStack {
    /// Starts moto and the front, and configures moto to execute state machines.
    pub async fn start(options: &StackOptions) -> Result<Self, LocalError> {
        let moto_server = find_moto_server(options.moto_server.as_deref())?;
        let (repository, branch) = repository(&options.repo)?;
        let scratch = tempfile::Builder::new()
            .prefix("deltaship-local-")
            .tempdir()
            .map_err(|error| LocalError::Stack(format!("could not make a scratch folder: {error}")))?;

        let listeners = listen(&options.listen, options.port).await?;
        let endpoints = listeners
            .iter()
            .map(TcpListener::local_addr)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| LocalError::Stack(error.to_string()))?;
        let endpoint = *endpoints.first().ok_or_else(|| LocalError::Stack("the front listens nowhere".into()))?;
        let moto = free_port()?;

        let moto_log = scratch.path().join("moto.log");
        let log = std::fs::File::create(&moto_log)
            .map_err(|error| LocalError::Stack(format!("could not create {}: {error}", moto_log.display())))?;
        let log_err = log.try_clone().map_err(|error| LocalError::Stack(error.to_string()))?;
        let mut command = moto_command(&moto_server);
        command
            .args(["-H", "127.0.0.1", "-p", &moto.port().to_string()])
            // moto's Step Functions engine sends its service calls (the Lambda invokes) here.
            .env("MOTO_PORT", endpoint.port().to_string())
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .kill_on_drop(true);
        let mut moto_process = command
            .spawn()
            .map_err(|error| LocalError::Stack(format!("could not start {}: {error}", moto_server.display())))?;
        wait_for_moto(&mut moto_process, moto, &moto_log).await?;

        let config = sdk_config(endpoint).await;
        let watcher = watcher_config(endpoint).await;
        let state_machine_arn = state_machine_arn();
        let (build_wait, rollout_wait) = options.waits.policies();
        let variables = Variables(
            [
                ("STATE_MACHINE_ARN", state_machine_arn.clone()),
                // What the template's parameters would say: the functions touch this repository
                // only (any cluster and project: the stack holds only what the manifests name).
                ("REPOSITORY_NAME", repository.name.clone()),
                ("BRANCHES", branch.clone()),
                ("WAITS_TABLE", WAITS_TABLE.to_owned()),
                ("APPROVALS_TOPIC_ARN", approvals_topic_arn()),
                ("BUILD_WAIT_MIN_SECONDS", build_wait.min_seconds.to_string()),
                ("BUILD_WAIT_MAX_SECONDS", build_wait.max_seconds.to_string()),
                ("ROLLOUT_WAIT_MIN_SECONDS", rollout_wait.min_seconds.to_string()),
                ("ROLLOUT_WAIT_MAX_SECONDS", rollout_wait.max_seconds.to_string()),
            ]
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect(),
        );
        let functions = Functions::new(&config, &variables).map_err(|error| LocalError::Stack(error.to_string()))?;
        let (sender, invocations) = mpsc::unbounded_channel();
        let front = Arc::new(Front::new(
            moto,
            functions,
            PREFIX.to_owned(),
            repository.clone(),
            Emulator::new(options.build_seconds, options.rollout_seconds),
            sender,
        ));
        let servers: Vec<JoinHandle<()>> =
            listeners.into_iter().map(|listener| tokio::spawn(Arc::clone(&front).serve(listener))).collect();
        let pump = tokio::spawn(pump_events(Arc::clone(&front)));
        // Through the front, which serves from now on.
        let created = match create_waits_table(&config).await {
            Ok(()) => create_approvals_topic(&config).await,
            Err(error) => Err(error),
        };
        if let Err(error) = created {
            servers.iter().for_each(JoinHandle::abort);
            pump.abort();
            return Err(error);
        }
        Ok(Self {
            endpoint,
            endpoints,
            moto,
            moto_server,
            config,
            watcher,
            repository,
            state_machine_arn,
            front,
            invocations,
            delivered: std::collections::BTreeMap::new(),
            variables,
            servers,
            pump,
            moto_process,
            moto_log,
            _scratch: scratch,
        })
    }

    /// Stops the front and moto, and waits until moto has exited.
    pub async fn stop(mut self) -> Result<(), LocalError> {
        self.servers.iter().for_each(JoinHandle::abort);
        self.pump.abort();
        // Whether it was still running or not, it is gone after this.
        let _ = self.moto_process.start_kill();
        self.moto_process
            .wait()
            .await
            .map(drop)
            .map_err(|error| LocalError::Stack(format!("could not wait for moto to stop: {error}")))
    }

    /// How long the builds and the rollouts started from now on take, in seconds.
    pub fn set_durations(&self, build_seconds: f64, rollout_seconds: f64) {
        self.front.with_emulator(|emulator| {
            emulator.build_seconds = build_seconds;
            emulator.rollout_seconds = rollout_seconds;
        });
    }

    /// moto's log file (kept while the stack runs).
    pub fn moto_log(&self) -> &Path {
        &self.moto_log
    }
}

/// moto's server, started through its Python with one fix: moto 5.2.5 drops `SendTaskFailure`'s
/// `cause` (its `StepFunctionResponse.send_task_failure` hands the backend the error alone, although
/// the backend takes a cause), so a wait failed by its token would reach the state machine
/// without the reason AWS would give it. A `moto_server` that is not a Python script runs as it is.
const MOTO_LAUNCHER: &str = r#"
import sys
from moto.core.responses import EmptyResult
from moto.stepfunctions import responses

def send_task_failure(self):
    self.stepfunction_backend.send_task_failure(
        self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
    )
    return EmptyResult()

responses.StepFunctionResponse.send_task_failure = send_task_failure
from moto.server import main
main(sys.argv[1:])
"#;

/// The command that starts `moto_server` with [`MOTO_LAUNCHER`]'s fix, through the Python its
/// first line names.
fn moto_command(moto_server: &Path) -> Command {
    let interpreter = std::fs::read_to_string(moto_server)
        .ok()
        .and_then(|script| {
            script.lines().next().and_then(|line| line.strip_prefix("#!")).map(str::trim).map(ToOwned::to_owned)
        })
        .filter(|interpreter| interpreter.contains("python") && !interpreter.contains(' '));
    match interpreter {
        Some(python) => {
            let mut command = Command::new(python);
            command.args(["-c", MOTO_LAUNCHER]);
            command
        }
        None => Command::new(moto_server),
    }
}

/// Delivers the events that are due, every [`EVENT_TICK`], until aborted.
async fn pump_events(front: Arc<Front>) {
    loop {
        tokio::time::sleep(EVENT_TICK).await;
        front.deliver_due_events().await;
    }
}

/// The waits table in moto's DynamoDB, as the template declares it (keys `resource` and
/// `waiter`, TTL on `expires_at`).
async fn create_waits_table(config: &SdkConfig) -> Result<(), LocalError> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TimeToLiveSpecification,
    };
    let dynamodb = aws_sdk_dynamodb::Client::new(config);
    let failed = |what: &str, error: String| LocalError::Stack(format!("the waits table: {what}: {error}"));
    let attribute =
        |name: &str| AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build();
    let key = |name: &str, kind: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(kind).build();
    let attributes = [attribute("resource"), attribute("waiter")].into_iter().collect::<Result<Vec<_>, _>>();
    let keys =
        [key("resource", KeyType::Hash), key("waiter", KeyType::Range)].into_iter().collect::<Result<Vec<_>, _>>();
    let (attributes, keys) = (
        attributes.map_err(|error| failed("attributes", error.to_string()))?,
        keys.map_err(|error| failed("keys", error.to_string()))?,
    );
    dynamodb
        .create_table()
        .table_name(WAITS_TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(attributes))
        .set_key_schema(Some(keys))
        .send()
        .await
        .map_err(|error| failed("CreateTable", aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string()))?;
    let ttl = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name("expires_at")
        .build()
        .map_err(|error| failed("TTL", error.to_string()))?;
    dynamodb
        .update_time_to_live()
        .table_name(WAITS_TABLE)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(|error| failed("UpdateTimeToLive", aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string()))?;
    Ok(())
}

/// The approvals topic in moto's SNS ([`APPROVALS_TOPIC`]), as the template's `ApprovalsTopic`.
async fn create_approvals_topic(config: &SdkConfig) -> Result<(), LocalError> {
    let created =
        aws_sdk_sns::Client::new(config).create_topic().name(APPROVALS_TOPIC).send().await.map_err(|error| {
            LocalError::Stack(format!(
                "the approvals topic: CreateTopic: {}",
                aws_sdk_sns::error::DisplayErrorContext(error)
            ))
        })?;
    let expected = approvals_topic_arn();
    match created.topic_arn() {
        Some(arn) if arn == expected => Ok(()),
        other => Err(LocalError::Stack(format!(
            "the approvals topic: CreateTopic answered {other:?}, not {expected} (the functions' APPROVALS_TOPIC_ARN)"
        ))),
    }
}

/// The ARN of the local stack's approvals topic ([`APPROVALS_TOPIC`]).
pub fn approvals_topic_arn() -> String {
    format!("arn:aws:sns:{REGION}:{ACCOUNT}:{APPROVALS_TOPIC}")
}

/// The ARN of the local stack's pipeline state machine.
pub fn state_machine_arn() -> String {
    format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{PREFIX}pipeline")
}

/// The AWS configuration of the local stack: fixed region and dummy credentials, so that
/// nothing reads the user's AWS profile and no call can reach AWS itself.
pub async fn sdk_config(endpoint: SocketAddr) -> SdkConfig {
    sdk_config_at(&format!("http://{endpoint}")).await
}

/// [`sdk_config`] of the front at `url` (`http://host:port`).
pub async fn sdk_config_at(url: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(url)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "deltaship-local",
            "deltaship-local",
            None,
            None,
            "deltaship-local",
        )))
        .load()
        .await
}

/// [`sdk_config`] for a client whose calls the front does not count (following executions,
/// preparing the stack): its user agent names the app [`WATCHER_APP`].
pub async fn watcher_config(endpoint: SocketAddr) -> SdkConfig {
    watcher_config_at(&format!("http://{endpoint}")).await
}

/// [`watcher_config`] of the front at `url` (`http://host:port`).
pub async fn watcher_config_at(url: &str) -> SdkConfig {
    let config = sdk_config_at(url).await;
    match aws_config::AppName::new(WATCHER_APP) {
        Ok(app) => config.into_builder().app_name(app).build(),
        Err(_) => config,
    }
}

/// The `moto_server` program: `explicit`, else `$DELTASHIP_MOTO_SERVER`, else the project
/// venv's (`~/.cache/deltaship-venv/bin/moto_server`, what `make venv` installs), else
/// `moto_server` on `PATH`.
pub fn find_moto_server(explicit: Option<&Path>) -> Result<PathBuf, LocalError> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(path) = explicit {
        candidates.push(path.to_owned());
    } else if let Some(path) = std::env::var_os(MOTO_SERVER_VARIABLE) {
        candidates.push(PathBuf::from(path));
    } else {
        // The venv's first: its moto is the pinned version (requirements-dev.txt) the local
        // stack is tested with; another on PATH may be older.
        if let Some(home) = std::env::var_os("HOME") {
            candidates.push(PathBuf::from(home).join(".cache/deltaship-venv/bin/moto_server"));
        }
        if let Some(path) = std::env::var_os("PATH") {
            candidates.extend(std::env::split_paths(&path).map(|dir| dir.join("moto_server")));
        }
    }
    candidates.iter().find(|path| path.is_file()).cloned().ok_or_else(|| {
        let looked: Vec<String> = candidates.iter().map(|path| path.display().to_string()).collect();
        LocalError::MotoMissing(looked.join(", "))
    })
}

/// The repository at `path`, named after its folder, and the branch checked out there (else
/// `main`), which the reconciler watches.
fn repository(path: &Path) -> Result<(LocalRepository, String), LocalError> {
    let git = crate::git::GitRepo::open(path)?;
    // `--repo .` names its folder: the repository is named after it, as CodeCommit's would be.
    let root = std::fs::canonicalize(git.root()).unwrap_or_else(|_| git.root().to_owned());
    let name = root.file_name().and_then(|name| name.to_str()).unwrap_or("local").to_owned();
    let branch = git.branch_of("HEAD").unwrap_or_else(|| "main".to_owned());
    Ok((LocalRepository { name, path: root }, branch))
}

/// The front's listeners: 127.0.0.1 first, then each of `addresses`, all on one port (`port`,
/// or a free one when 0).
async fn listen(addresses: &[IpAddr], port: u16) -> Result<Vec<TcpListener>, LocalError> {
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let bind = |address: IpAddr, port: u16| async move {
        TcpListener::bind((address, port)).await.map_err(|error| {
            LocalError::Stack(format!("could not listen on {}: {error}", SocketAddr::new(address, port)))
        })
    };
    let first = bind(loopback, port).await?;
    let port = first.local_addr().map_err(|error| LocalError::Stack(error.to_string()))?.port();
    let mut listeners = vec![first];
    let mut seen = vec![loopback];
    for address in addresses {
        if !seen.contains(address) {
            listeners.push(bind(*address, port).await?);
            seen.push(*address);
        }
    }
    Ok(listeners)
}

fn free_port() -> Result<SocketAddr, LocalError> {
    StdListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map_err(|error| LocalError::Stack(format!("no free port on 127.0.0.1: {error}")))
}

/// Waits until moto accepts connections, then tells it to execute state machines.
async fn wait_for_moto(process: &mut Child, moto: SocketAddr, log: &Path) -> Result<(), LocalError> {
    let started = Instant::now();
    let failed = |why: String| {
        let tail = std::fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = tail.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect();
        LocalError::Stack(format!("{why}; the end of moto's log ({}):\n{}", log.display(), tail.join("\n")))
    };
    loop {
        if let Ok(Some(status)) = process.try_wait() {
            return Err(failed(format!("moto exited at start ({status})")));
        }
        if TcpStream::connect(moto).await.is_ok() {
            break;
        }
        if started.elapsed() > MOTO_START {
            return Err(failed(format!("moto did not listen on {moto} within {}s", MOTO_START.as_secs())));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let config = r#"{"stepfunctions":{"execute_state_machine":true},"lambda":{"use_docker":false}}"#;
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let request = http::Request::post(format!("http://{moto}/moto-api/config"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from_static(config.as_bytes())))
        .map_err(|error| LocalError::Stack(error.to_string()))?;
    match client.request(request).await {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(failed(format!("moto refused its configuration ({})", response.status()))),
        Err(error) => Err(failed(format!("could not configure moto: {error}"))),
    }
}
