//! A local Lambda service for tests: it runs the real function binaries against a Lambda
//! Runtime API on 127.0.0.1 (so `lambda_runtime`'s real loop runs: `next`, `response`,
//! `error`) and serves the Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`),
//! so that anything that invokes Lambda over HTTP (the IVS emulator's delivery target) can
//! drive the functions.
//!
//! One server hosts every function: each function process gets
//! `AWS_LAMBDA_RUNTIME_API=http://127.0.0.1:<port>/fn/<name>/<instance>` (the scheme is needed
//! for a URI with a path), and `lambda_runtime` keeps that base path in front of its
//! `/2018-06-01/runtime/...` requests, so the service knows which instance asks.
//!
//! A function may run several instances (processes; Lambda's execution environments), as
//! Lambda does under an event source mapping's `MaximumConcurrency`: [`LocalLambda::spawn`]
//! called again with the same name adds an instance ([`LocalLambda::spawn_instances`] starts
//! several). The function's pending invocations form one queue, in order; every idle instance
//! waits on its `next` (long poll) and takes the next pending invocation, so up to N
//! invocations of a function with N instances run at once, and each instance handles its own
//! one at a time. With one instance, invocations are handled one at a time, in order.
//!
//! Per function: [`LocalLambda::pid`] and [`LocalLambda::phases`] are its first instance's,
//! [`LocalLambda::logs`] every instance's lines in the order they were written (stdout and
//! stderr, as Lambda sends both to CloudWatch Logs), [`LocalLambda::stdout`] the stdout lines
//! only (where the functions write their EMF metrics), [`LocalLambda::invocations`] the
//! total; the `instance_*` accessors and [`LocalLambda::pids`] give each instance's. Function processes are killed and the server
//! stopped when the service is dropped.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{oneshot, Notify};

/// What an invocation returned.
#[derive(Clone, Debug, PartialEq)]
pub enum Invoked {
    /// The function's response.
    Ok(Value),
    /// The function failed: Lambda's `errorType` and `errorMessage`.
    Err {
        error_type: String,
        error_message: String,
    },
}

impl Invoked {
    pub fn ok(self) -> Value {
        match self {
            Invoked::Ok(v) => v,
            Invoked::Err {
                error_type,
                error_message,
            } => panic!("the function failed: {error_type}: {error_message}"),
        }
    }
}

struct Invocation {
    request_id: String,
    payload: Bytes,
    reply: oneshot::Sender<Invoked>,
    /// The function's time for it (its timeout), from when an instance takes it.
    deadline: Duration,
}

/// When a function process reached the points Lambda bills and reports separately: the init
/// phase ends at its first `next`, the first invocation at its first answer. Only the times
/// are recorded, so that the harness answers at once; read the process's CPU at those
/// points with [`settled_cpu`] (the process waits for the event, or for the next one).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Phases {
    /// When the process was started.
    pub spawned: Option<Instant>,
    /// The first `next` request.
    pub init_done: Option<Instant>,
    /// The first answer (response or error).
    pub first_answer: Option<Instant>,
}

/// CPU time (user and system) of every thread of process `pid`, from
/// `/proc/<pid>/task/*/schedstat` (nanoseconds). The kernel brings a thread's figure up to
/// date when the thread stops running and at each scheduler tick (4 ms at 250 Hz), so read it
/// while the process waits ([`settled_cpu`]). Threads that have exited are not counted: the
/// functions' runtimes keep theirs (tokio's blocking threads idle for 10 s).
pub fn process_cpu(pid: u32) -> Option<Duration> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0u64;
    for task in tasks.flatten() {
        let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        total += stat
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Some(Duration::from_nanos(total))
}

/// The state letter of a `/proc/<pid>/stat` or `/proc/<pid>/task/<tid>/stat` text.
fn state(stat: &str) -> Option<&str> {
    stat.rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
}

/// Whether process `pid` still exists (not a zombie).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .is_some_and(|s| state(&s).is_some_and(|st| st != "Z" && st != "X"))
}

/// Whether a thread of process `pid` is running (state `R`).
pub fn running(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|task| {
        std::fs::read_to_string(task.path().join("stat"))
            .ok()
            .is_some_and(|s| state(&s) == Some("R"))
    })
}

/// The CPU time of process `pid` ([`process_cpu`]), read once none of its threads runs
/// (waiting at most 50 ms), so that the kernel's figure is exact. A process waiting for an
/// answer has then also spent the few microseconds of sending its request.
pub async fn settled_cpu(pid: u32) -> Duration {
    let deadline = Instant::now() + Duration::from_millis(50);
    while running(pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    process_cpu(pid).unwrap_or_default()
}

/// One process of a function (a Lambda execution environment).
#[derive(Default)]
struct Instance {
    pid: Mutex<Option<u32>>,
    phases: Mutex<Phases>,
    /// Its own output lines.
    logs: Mutex<Vec<String>>,
    /// Its own stdout lines (also in `logs`).
    stdout: Mutex<Vec<String>>,
    /// Invocations it took.
    invocations: AtomicUsize,
}

/// A function: its pending invocations (one queue for all its instances), the invocations
/// its instances are handling, and its instances.
#[derive(Default)]
struct Function {
    queue: Mutex<VecDeque<Invocation>>,
    ready: Notify,
    in_flight: Mutex<HashMap<String, oneshot::Sender<Invoked>>>,
    /// Every instance's output lines, in the order they were written.
    logs: Mutex<Vec<String>>,
    /// Every instance's stdout lines (also in `logs`), in the order they were written.
    stdout: Mutex<Vec<String>>,
    /// Invocations its instances took, all together.
    invocations: AtomicUsize,
    instances: Mutex<Vec<Arc<Instance>>>,
}

impl Function {
    fn instance(&self, index: usize) -> Option<Arc<Instance>> {
        self.instances.lock().unwrap().get(index).cloned()
    }

    /// The next pending invocation, waiting for one. Registered as a waiter before looking
    /// at the queue, so that an invocation queued meanwhile wakes this instance (or another
    /// waiting one) and none is left pending while an instance waits.
    async fn next_invocation(&self) -> Invocation {
        loop {
            let notified = self.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(invocation) = self.queue.lock().unwrap().pop_front() {
                return invocation;
            }
            notified.await;
        }
    }
}

#[derive(Default)]
struct Service {
    functions: Mutex<HashMap<String, Arc<Function>>>,
    next_id: AtomicU64,
}

impl Service {
    fn function(&self, name: &str) -> Option<Arc<Function>> {
        self.functions.lock().unwrap().get(name).cloned()
    }

    fn instance(&self, name: &str, index: usize) -> Option<(Arc<Function>, Arc<Instance>)> {
        let function = self.function(name)?;
        let instance = function.instance(index)?;
        Some((function, instance))
    }
}

/// The running service. Dropping it kills the function processes and stops the server.
pub struct LocalLambda {
    service: Arc<Service>,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
    children: Mutex<Vec<Child>>,
}

/// How long one invocation may take before the harness gives up on it.
pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

/// The deadline an invocation's context gets, from when an instance takes it, unless
/// [`LocalLambda::invoke_with_deadline`] sets another.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);

impl LocalLambda {
    /// Starts the Runtime and Invoke APIs on 127.0.0.1, on a port the OS picks.
    pub async fn start() -> Self {
        let service = Arc::new(Service::default());
        let app = Router::new()
            .route(
                "/fn/{name}/{instance}/2018-06-01/runtime/invocation/next",
                get(next),
            )
            .route(
                "/fn/{name}/{instance}/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route(
                "/fn/{name}/{instance}/2018-06-01/runtime/invocation/{id}/error",
                post(error),
            )
            .route(
                "/fn/{name}/{instance}/2018-06-01/runtime/init/error",
                post(init_error),
            )
            .route("/2015-03-31/functions/{name}/invocations", post(invoke_api))
            .with_state(service.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        LocalLambda {
            service,
            addr,
            server,
            children: Mutex::new(Vec::new()),
        }
    }

    /// Base URL of the Invoke API (`{url}/2015-03-31/functions/{name}/invocations`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Starts `binary` as an instance of function `name` with exactly `env` (plus the Lambda
    /// variables), collecting its output lines. The first call for a name creates the
    /// function; each further call adds an instance, which takes pending invocations of the
    /// function as soon as it is idle (the binary and environment may differ, though they
    /// are meant to be the same). Returns the instance's index (0 for the first).
    pub fn spawn(&self, name: &str, binary: &Path, env: &[(&str, String)]) -> usize {
        let function = self
            .service
            .functions
            .lock()
            .unwrap()
            .entry(name.to_owned())
            .or_default()
            .clone();
        let instance = Arc::new(Instance::default());
        let index = {
            let mut instances = function.instances.lock().unwrap();
            instances.push(instance.clone());
            instances.len() - 1
        };
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://{}/fn/{name}/{index}", self.addr),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let spawned = Instant::now();
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        *instance.pid.lock().unwrap() = child.id();
        instance.phases.lock().unwrap().spawned = Some(spawned);
        for (stream, is_stdout) in [
            (
                child
                    .stdout
                    .take()
                    .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
                true,
            ),
            (
                child
                    .stderr
                    .take()
                    .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
                false,
            ),
        ]
        .into_iter()
        .filter_map(|(stream, is_stdout)| Some((stream?, is_stdout)))
        {
            let (function, instance) = (function.clone(), instance.clone());
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    // The function's lines in the order written, its instance's own too.
                    let mut all = function.logs.lock().unwrap();
                    if is_stdout {
                        let mut out = function.stdout.lock().unwrap();
                        instance.stdout.lock().unwrap().push(line.clone());
                        out.push(line.clone());
                    }
                    instance.logs.lock().unwrap().push(line.clone());
                    all.push(line);
                }
            });
        }
        self.children.lock().unwrap().push(child);
        index
    }

    /// Starts `n` instances of function `name` ([`LocalLambda::spawn`] `n` times): up to `n`
    /// of its invocations then run at once, as under an event source mapping's
    /// `MaximumConcurrency` of `n`. Returns the new instances' indexes.
    pub fn spawn_instances(
        &self,
        name: &str,
        binary: &Path,
        env: &[(&str, String)],
        n: usize,
    ) -> std::ops::Range<usize> {
        let first = self.instances(name);
        for _ in 0..n {
            self.spawn(name, binary, env);
        }
        first..first + n
    }

    /// How many instances function `name` has (0 for an unknown function).
    pub fn instances(&self, name: &str) -> usize {
        self.service
            .function(name)
            .map(|f| f.instances.lock().unwrap().len())
            .unwrap_or(0)
    }

    /// Invokes function `name` with `event`, as the Invoke API would.
    pub async fn invoke(&self, name: &str, event: &Value) -> Invoked {
        self.invoke_with_deadline(name, event, DEFAULT_DEADLINE)
            .await
    }

    /// Invokes function `name` with `event`, its context's deadline `deadline` after an
    /// instance takes it (the function's timeout; it is not killed then: measure how long it
    /// took). The harness waits up to `deadline` + 30 s, and at least [`INVOKE_TIMEOUT`].
    pub async fn invoke_with_deadline(
        &self,
        name: &str,
        event: &Value,
        deadline: Duration,
    ) -> Invoked {
        let payload = Bytes::from(serde_json::to_vec(event).unwrap());
        invoke(&self.service, name, payload, deadline).await
    }

    /// Every line the function's processes have written so far (stdout and stderr), all
    /// instances together, in the order they were written.
    pub fn logs(&self, name: &str) -> Vec<String> {
        self.service
            .function(name)
            .map(|f| f.logs.lock().unwrap().clone())
            .unwrap_or_default()
    }

    /// Every line the function's processes have written to stdout so far, all instances
    /// together, in the order they were written (the EMF metrics are there).
    pub fn stdout(&self, name: &str) -> Vec<String> {
        self.service
            .function(name)
            .map(|f| f.stdout.lock().unwrap().clone())
            .unwrap_or_default()
    }

    /// Every line instance `index` of function `name` has written to stdout so far.
    pub fn instance_stdout(&self, name: &str, index: usize) -> Vec<String> {
        self.service
            .instance(name, index)
            .map(|(_, i)| i.stdout.lock().unwrap().clone())
            .unwrap_or_default()
    }

    /// Every line instance `index` of function `name` has written so far.
    pub fn instance_logs(&self, name: &str, index: usize) -> Vec<String> {
        self.service
            .instance(name, index)
            .map(|(_, i)| i.logs.lock().unwrap().clone())
            .unwrap_or_default()
    }

    /// The process id of function `name`'s first instance.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.instance_pid(name, 0)
    }

    /// The process id of instance `index` of function `name`.
    pub fn instance_pid(&self, name: &str, index: usize) -> Option<u32> {
        self.service
            .instance(name, index)
            .and_then(|(_, i)| *i.pid.lock().unwrap())
    }

    /// The process ids of every instance of function `name`, in instance order.
    pub fn pids(&self, name: &str) -> Vec<u32> {
        (0..self.instances(name))
            .filter_map(|index| self.instance_pid(name, index))
            .collect()
    }

    /// When function `name`'s first instance started, finished its init and first answered.
    pub fn phases(&self, name: &str) -> Phases {
        self.instance_phases(name, 0)
    }

    /// When instance `index` of function `name` started, finished its init and first
    /// answered.
    pub fn instance_phases(&self, name: &str, index: usize) -> Phases {
        self.service
            .instance(name, index)
            .map(|(_, i)| *i.phases.lock().unwrap())
            .unwrap_or_default()
    }

    /// Invocations that reached the function so far, all instances together.
    pub fn invocations(&self, name: &str) -> usize {
        self.service
            .function(name)
            .map(|f| f.invocations.load(Ordering::SeqCst))
            .unwrap_or(0)
    }

    /// Invocations that reached instance `index` of function `name` so far.
    pub fn instance_invocations(&self, name: &str, index: usize) -> usize {
        self.service
            .instance(name, index)
            .map(|(_, i)| i.invocations.load(Ordering::SeqCst))
            .unwrap_or(0)
    }
}

impl Drop for LocalLambda {
    fn drop(&mut self) {
        for child in self.children.lock().unwrap().iter_mut() {
            let _ = child.start_kill();
        }
        self.server.abort();
    }
}

async fn invoke(service: &Service, name: &str, payload: Bytes, deadline: Duration) -> Invoked {
    let Some(function) = service.function(name) else {
        return Invoked::Err {
            error_type: "ResourceNotFoundException".into(),
            error_message: format!("no function named {name}"),
        };
    };
    let request_id = format!(
        "00000000-0000-4000-8000-{:012}",
        service.next_id.fetch_add(1, Ordering::SeqCst)
    );
    let (reply, result) = oneshot::channel();
    function.queue.lock().unwrap().push_back(Invocation {
        request_id,
        payload,
        reply,
        deadline,
    });
    function.ready.notify_one();
    let wait = INVOKE_TIMEOUT.max(deadline + Duration::from_secs(30));
    match tokio::time::timeout(wait, result).await {
        Ok(Ok(invoked)) => invoked,
        Ok(Err(_)) => Invoked::Err {
            error_type: "Runtime.ExitError".into(),
            error_message: "the function process went away".into(),
        },
        Err(_) => Invoked::Err {
            error_type: "Sandbox.Timedout".into(),
            error_message: format!("no answer within {wait:?}"),
        },
    }
}

async fn next(
    State(service): State<Arc<Service>>,
    UrlPath((name, index)): UrlPath<(String, usize)>,
) -> Response {
    let Some((function, instance)) = service.instance(&name, index) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    instance.mark(|p| &mut p.init_done);
    let invocation = function.next_invocation().await;
    function.invocations.fetch_add(1, Ordering::SeqCst);
    instance.invocations.fetch_add(1, Ordering::SeqCst);
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        + invocation.deadline.as_millis();
    let mut headers = HeaderMap::new();
    let mut set = |k: &'static str, v: String| {
        headers.insert(k, HeaderValue::from_str(&v).unwrap());
    };
    set(
        "lambda-runtime-aws-request-id",
        invocation.request_id.clone(),
    );
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        format!("arn:aws:lambda:us-west-2:111122223333:function:{name}"),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000;Sampled=0".into(),
    );
    function
        .in_flight
        .lock()
        .unwrap()
        .insert(invocation.request_id, invocation.reply);
    (StatusCode::OK, headers, invocation.payload).into_response()
}

impl Instance {
    /// Records now in the phase `which` picks, the first time only.
    fn mark(&self, which: impl Fn(&mut Phases) -> &mut Option<Instant>) {
        let now = Instant::now();
        which(&mut self.phases.lock().unwrap()).get_or_insert(now);
    }
}

fn settle(service: &Service, name: &str, index: usize, id: &str, result: Invoked) -> StatusCode {
    let found = service.instance(name, index);
    if let Some((_, instance)) = &found {
        instance.mark(|p| &mut p.first_answer);
    }
    let reply = found.and_then(|(f, _)| f.in_flight.lock().unwrap().remove(id));
    match reply {
        Some(reply) => {
            let _ = reply.send(result);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn response(
    State(service): State<Arc<Service>>,
    UrlPath((name, index, id)): UrlPath<(String, usize, String)>,
    body: Bytes,
) -> StatusCode {
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    settle(&service, &name, index, &id, Invoked::Ok(value))
}

fn diagnostic(body: &[u8]) -> Invoked {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    Invoked::Err {
        error_type: v["errorType"].as_str().unwrap_or("Unknown").to_owned(),
        error_message: v["errorMessage"].as_str().unwrap_or("").to_owned(),
    }
}

async fn error(
    State(service): State<Arc<Service>>,
    UrlPath((name, index, id)): UrlPath<(String, usize, String)>,
    body: Bytes,
) -> StatusCode {
    settle(&service, &name, index, &id, diagnostic(&body))
}

/// An instance's init failed: logged, and the function's pending invocations fail with its
/// error (as Lambda answers the invocation that started the environment).
async fn init_error(
    State(service): State<Arc<Service>>,
    UrlPath((name, index)): UrlPath<(String, usize)>,
    body: Bytes,
) -> StatusCode {
    if let Some((function, instance)) = service.instance(&name, index) {
        let line = format!("INIT ERROR: {}", String::from_utf8_lossy(&body));
        let mut all = function.logs.lock().unwrap();
        instance.logs.lock().unwrap().push(line.clone());
        all.push(line);
        drop(all);
        let pending: Vec<_> = function.queue.lock().unwrap().drain(..).collect();
        for inv in pending {
            let _ = inv.reply.send(diagnostic(&body));
        }
    }
    StatusCode::ACCEPTED
}

/// The Invoke API as Lambda answers it: 200 with the response, or 200 with
/// `X-Amz-Function-Error: Unhandled` and the error document when the function failed.
async fn invoke_api(
    State(service): State<Arc<Service>>,
    UrlPath(name): UrlPath<String>,
    body: Bytes,
) -> Response {
    match invoke(&service, &name, body, DEFAULT_DEADLINE).await {
        Invoked::Ok(v) => (StatusCode::OK, axum::Json(v)).into_response(),
        Invoked::Err {
            error_type,
            error_message,
        } => {
            let doc = serde_json::json!({"errorType": error_type, "errorMessage": error_message});
            let status = if error_type == "ResourceNotFoundException" {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::OK
            };
            (
                status,
                [("x-amz-function-error", "Unhandled")],
                axum::Json(doc),
            )
                .into_response()
        }
    }
}

/// The workspace's function binaries, built once per test process (`cargo build
/// --workspace --bins`, which is quick when they are up to date). Returns the directory that
/// holds them.
pub fn function_binaries() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // target/<profile>/deps/<this test> → target/<profile>
        let exe = std::env::current_exe().expect("test executable path");
        let dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>")
            .to_path_buf();
        let mut args = vec!["build", "--workspace", "--bins", "--quiet"];
        if dir.ends_with("release") {
            args.push("--release");
        }
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let status = std::process::Command::new(env!("CARGO"))
            .args(&args)
            .current_dir(&workspace)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the function binaries failed");
        dir
    })
}
