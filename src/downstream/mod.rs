//! Downstream servers: lazily started, shared by every call, restarted with backoff.
//!
//! A [`Downstream`] owns at most one live [`Connection`]; one rmcp client multiplexes every
//! concurrent call. The connection is started on first use. When it dies, the calls in flight
//! get `SERVER_UNAVAILABLE` with the exit status and stderr tail, and the next call starts it
//! again, waiting longer after each failure in a row.

pub mod catalog;
pub mod connection;
pub mod http;
pub mod listen;
pub mod notices;
pub mod process;
pub mod rpc;
pub mod stderr_tail;
pub mod stdio;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use crate::config::servers::ServerSpec;
use crate::error::{ErrorCode, GatewayError};
use crate::logging::bounded;
use crate::mcp::{Version, codes};
use crate::wire::build::json_string;
use catalog::{CatalogueChanges, ToolCache, ToolDef};
pub use connection::Connection;
use notices::{Notice, NoticeKind};
use rpc::{CallRoute, OutRequest, RawResult, RequestError, ServerEvent};

/// Settings shared by every downstream.
#[derive(Debug, Clone)]
pub struct DownstreamSettings {
    /// The largest message accepted from a downstream.
    pub max_message: usize,
    /// The call timeout when neither the caller nor the server config gives one.
    pub default_timeout: Duration,
    /// The longest a start (spawn and `initialize`) may take.
    pub start_timeout: Duration,
    /// Signalled when a server's tool list may have changed.
    pub catalogue: CatalogueChanges,
    /// Every server's prompt and resource notices.
    pub notices: notices::Notices,
}

/// Where a downstream is in its life, as `list_servers` and `get_gateway_status` report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Never needed yet.
    NotStarted,
    /// Connected.
    Ready,
    /// The last start failed.
    Failed,
    /// It died and will be started again on the next call.
    Restarting,
}

/// A point-in-time view of one downstream, for status reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatusReport {
    /// Lifecycle state.
    pub status: Status,
    /// How many times it was started again after dying or failing.
    pub restarts: u64,
    /// Calls made to it.
    pub calls: u64,
    /// Calls that ended in an error (not counting `isError` results).
    pub errors: u64,
    /// Why it last failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// How many tools it has, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_count: Option<usize>,
    /// The revision the gateway speaks with it, while connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<&'static str>,
}

#[derive(Debug, Default)]
struct Lifecycle {
    /// Failures in a row (a connection that lived long resets this).
    failures: u32,
    last_failure: Option<Instant>,
    last_error: Option<String>,
    /// The server's last stderr lines at its last failure: for the log and the operator's
    /// debug status only.
    last_stderr: Option<String>,
    ever_started: bool,
    /// Whether the last start failed (and nothing has started since).
    failed: bool,
    /// The revision the server was found to speak, so that a restart skips the probe.
    version: Option<Version>,
}

impl Lifecycle {
    /// How long to wait after the last failure before the next start.
    fn backoff(&self) -> Duration {
        match self.failures {
            0 | 1 => Duration::ZERO,
            n => Duration::from_millis(250u64.saturating_mul(1u64 << (n - 2).min(7))).min(Duration::from_secs(30)),
        }
    }

    fn remaining_backoff(&self) -> Option<Duration> {
        let since = self.last_failure?.elapsed();
        self.backoff().checked_sub(since).filter(|d| !d.is_zero())
    }
}

/// The time one gateway call may take, all stages together (starting the server, listing its
/// tools, the call). Errors name the whole budget, which is what the caller asked for.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// The whole budget.
    pub total: Duration,
    /// When the call began.
    pub started: std::time::Instant,
}

impl Budget {
    /// A budget of `total` starting now.
    pub fn new(total: Duration) -> Self {
        Budget { total, started: std::time::Instant::now() }
    }

    /// What is left (at least a millisecond, so a spent budget still fails by timing out).
    pub fn remaining(&self) -> Duration {
        self.total.saturating_sub(self.started.elapsed()).max(Duration::from_millis(1))
    }
}

/// A connection that lived this long counts as healthy: its death starts backoff afresh.
const HEALTHY_UPTIME: Duration = Duration::from_secs(10);

/// The longest a new connection waits for its subscriptions to be taken again (or its
/// `subscriptions/listen` stream to be acknowledged) before its first call goes ahead.
const RESUME_WAIT: Duration = Duration::from_secs(5);

/// The most pages of a list the gateway reads from one server.
const MAX_PAGES: usize = 1000;

/// One configured downstream server.
pub struct Downstream {
    /// Its configuration.
    pub spec: ServerSpec,
    settings: Arc<DownstreamSettings>,
    conn: ArcSwapOption<Connection>,
    /// Held while a start is under way, so that concurrent calls wait for one start.
    starting: tokio::sync::Mutex<()>,
    /// The lifecycle, locked only briefly (never across an await), so that a status report
    /// never waits for a start.
    life: std::sync::Mutex<Lifecycle>,
    calls: AtomicU64,
    errors: AtomicU64,
    restarts: AtomicU64,
    in_flight: AtomicUsize,
    drained: tokio::sync::Notify,
    /// A background start ([`Downstream::start_in_background`]) is under way.
    starting_in_background: AtomicBool,
    /// Called (after the cache is dropped) when the server says its tools changed.
    tools_changed: std::sync::OnceLock<ToolsChanged>,
    /// The subscriptions some client asked for, and a 2026-07-28 connection's stream.
    listening: Arc<listen::Listening>,
}

/// What runs when a server says its tools changed.
pub type ToolsChanged = Arc<dyn Fn() + Send + Sync>;

impl Downstream {
    /// A downstream that will start on first use.
    pub fn new(spec: ServerSpec, settings: Arc<DownstreamSettings>) -> Self {
        Downstream {
            spec,
            settings,
            conn: ArcSwapOption::empty(),
            starting: tokio::sync::Mutex::new(()),
            life: std::sync::Mutex::default(),
            calls: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            drained: tokio::sync::Notify::new(),
            starting_in_background: false.into(),
            tools_changed: std::sync::OnceLock::new(),
            listening: Arc::default(),
        }
    }

    /// Runs `hook` each time the server says its tools changed (the first hook set stays).
    pub fn on_tools_changed(&self, hook: ToolsChanged) {
        let _ = self.tools_changed.set(hook);
    }

    fn life(&self) -> std::sync::MutexGuard<'_, Lifecycle> {
        self.life.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the server in a task of its own (with the usual backoff) unless a background
    /// start is already under way, so that repeated probes (`/ready`) never queue up starts.
    pub fn start_in_background(self: &Arc<Self>) {
        if self.starting_in_background.swap(true, Ordering::AcqRel) {
            return;
        }
        let d = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(e) = d.connection(d.timeout(None)).await {
                tracing::debug!(server = %d.name(), "background start failed: {e}");
            }
            d.starting_in_background.store(false, Ordering::Release);
        });
    }

    /// The server's name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The timeout for a call: the caller's, else the server's, else the gateway's.
    pub fn timeout(&self, requested: Option<Duration>) -> Duration {
        requested.or(self.spec.timeout).unwrap_or(self.settings.default_timeout)
    }

    /// `SERVER_UNAVAILABLE`, saying why. `why` may quote an HTTP library's error or the
    /// server's own words, so the server's secrets are taken out. It never quotes the
    /// server's stderr: a shared server's stderr may hold another agent's data.
    fn unavailable(&self, why: impl std::fmt::Display) -> GatewayError {
        let message = format!("server `{}` is unavailable: {why}", self.spec.name);
        GatewayError::new(ErrorCode::ServerUnavailable, self.spec.secrets.redact(&message)).server(&self.spec.name)
    }

    /// The live connection, starting (or restarting) the server if needed.
    pub async fn connection(&self, timeout: Duration) -> Result<Arc<Connection>, GatewayError> {
        if let Some(c) = self.conn.load_full()
            && c.is_alive()
        {
            return Ok(c);
        }
        // Another call may hold the lock for as long as its own (longer) start timeout; this
        // call's timeout still applies while it waits.
        let Ok(_starting) = tokio::time::timeout(timeout, self.starting.lock()).await else {
            return Err(GatewayError::new(
                ErrorCode::Timeout,
                format!(
                    "server `{}` is still starting and was not ready within {} ms",
                    self.spec.name,
                    timeout.as_millis()
                ),
            )
            .server(&self.spec.name));
        };
        if let Some(c) = self.conn.load_full() {
            if c.is_alive() {
                return Ok(c);
            }
            self.conn.store(None);
            let report = c.death_report().await;
            tracing::warn!(server = %self.spec.name, "downstream died: {report}");
            let mut life = self.life();
            life.failures = if c.uptime() >= HEALTHY_UPTIME { 1 } else { life.failures + 1 };
            life.last_failure = Some(Instant::now());
            life.last_error = Some(report);
            life.last_stderr = Some(c.stderr_tail()).filter(|t| !t.is_empty());
            drop(life);
            tokio::spawn(async move { c.shutdown().await });
        }
        let (wait, ever_started, known) = {
            let life = self.life();
            (
                life.remaining_backoff().map(|w| (w, life.failures, life.last_error.clone())),
                life.ever_started,
                life.version,
            )
        };
        if let Some((wait, failures, last)) = wait {
            return Err(self.unavailable(format!(
                "it failed {failures} times in a row; next start attempt in {} ms. Last error: {}",
                wait.as_millis(),
                last.unwrap_or_default()
            )));
        }
        if ever_started {
            tracing::info!(server = %self.spec.name, "restarting downstream");
        }
        let start_timeout = self.settings.start_timeout.min(timeout);
        let mut started = self.start(start_timeout, known).await;
        if let Err(f) = &started
            && f.died_on_probe
        {
            // A legacy server that dies on a method it does not know: start it again and
            // speak `initialize` at once.
            tracing::info!(server = %self.spec.name, "the server closed on `server/discover`; starting it again for `initialize`");
            self.life().version = Some(Version::LATEST_LEGACY);
            started = self.start(start_timeout, Some(Version::LATEST_LEGACY)).await;
        }
        match started {
            Ok(c) => {
                let c = Arc::new(c);
                self.conn.store(Some(c.clone()));
                {
                    let mut life = self.life();
                    if life.ever_started {
                        self.restarts.fetch_add(1, Ordering::Relaxed);
                    }
                    life.ever_started = true;
                    life.failed = false;
                    life.version = Some(c.info().version);
                }
                self.settings.catalogue.bump();
                // Before the first call, so that nothing the call changes goes unheard, within
                // the caller's time; in a task of its own, so that a caller that gives up
                // leaves it finishing.
                let (listening, conn) = (Arc::clone(&self.listening), Arc::clone(&c));
                let resumed = tokio::spawn(async move { listening.resume(&conn, RESUME_WAIT).await });
                let _ = tokio::time::timeout(timeout.min(RESUME_WAIT), resumed).await;
                Ok(c)
            }
            Err(failure) => {
                tracing::warn!(server = %self.spec.name, "downstream failed to start: {}", failure.why);
                let mut life = self.life();
                life.failures += 1;
                life.last_failure = Some(Instant::now());
                life.last_error = Some(failure.why.clone());
                life.last_stderr = failure.stderr.clone();
                life.failed = true;
                Err(self.unavailable(failure.why))
            }
        }
    }

    async fn start(&self, timeout: Duration, known: Option<Version>) -> Result<Connection, connection::StartFailure> {
        let tools = Arc::new(ToolCache::default());
        let events = {
            let tools = Arc::downgrade(&tools);
            let server: Arc<str> = self.spec.name.as_str().into();
            let catalogue = self.settings.catalogue.clone();
            let hook = self.tools_changed.get().cloned();
            let notices = self.settings.notices.clone();
            Arc::new(move |event: ServerEvent| {
                let kind = match event {
                    ServerEvent::ToolsChanged => {
                        tracing::info!(%server, "tool list changed; cache dropped");
                        if let Some(tools) = tools.upgrade() {
                            tools.invalidate();
                        }
                        catalogue.bump();
                        if let Some(hook) = &hook {
                            hook();
                        }
                        return;
                    }
                    ServerEvent::PromptsChanged => NoticeKind::PromptsChanged,
                    ServerEvent::ResourcesChanged => NoticeKind::ResourcesChanged,
                    ServerEvent::ResourceUpdated(params) => {
                        let uri = crate::wire::object::Members::of(&params)
                            .ok()
                            .and_then(|m| m.get("uri").and_then(|u| serde_json::from_str::<String>(u.get()).ok()));
                        let Some(uri) = uri else { return };
                        NoticeKind::ResourceUpdated(uri)
                    }
                    ServerEvent::Task(_) => return,
                };
                notices.send(Notice { server: Some(server.clone()), kind });
            })
        };
        Connection::start(&self.spec, self.settings.max_message, timeout, known, tools, events, self.spec.forward).await
    }

    /// The server's tools, from the cache or listed afresh (every page).
    pub async fn tools(&self, timeout: Duration) -> Result<Arc<Vec<ToolDef>>, GatewayError> {
        let conn = self.connection(timeout).await?;
        if let Some(tools) = conn.tools.get() {
            return Ok(tools);
        }
        let generation = conn.tools.generation();
        let budget = Budget::new(timeout);
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let members = cursor.as_deref().map(|c| format!(r#""cursor":{}"#, json_string(c))).unwrap_or_default();
            let req = OutRequest { method: "tools/list", members: &members, ..Default::default() };
            let result = conn
                .rpc()
                .request(req, None, budget.remaining(), &CancellationToken::new())
                .await
                .map_err(|e| self.request_error(e, "tools/list", timeout, None))?;
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Page<'a> {
                #[serde(borrow)]
                tools: Vec<&'a RawValue>,
                #[serde(default)]
                next_cursor: Option<String>,
            }
            let page: Page<'_> = serde_json::from_str(result.json()).map_err(|e| {
                GatewayError::new(
                    ErrorCode::DownstreamError,
                    format!("server `{}` answered `tools/list` with a malformed list: {e}", self.spec.name),
                )
                .server(&self.spec.name)
            })?;
            tools.extend(page.tools.into_iter().filter_map(ToolDef::parse));
            match page.next_cursor {
                Some(next) if !next.is_empty() && cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
                _ => return Ok(conn.tools.set(tools, generation)),
            }
        }
        Ok(conn.tools.set(tools, generation))
    }

    /// Every page of a list request (`prompts/list`, `resources/list` ...): the items of its
    /// `member`, in the server's order, within `timeout` for all pages.
    pub async fn list_all(
        &self,
        method: &str,
        member: &str,
        timeout: Duration,
    ) -> Result<Vec<serde_json::Value>, GatewayError> {
        let budget = Budget::new(timeout);
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let members = cursor.as_deref().map(|c| format!(r#""cursor":{}"#, json_string(c))).unwrap_or_default();
            let req = OutRequest { method, members: &members, ..Default::default() };
            let route = Arc::new(CallRoute::quiet(0));
            let result = self.send(req, route, budget, CancellationToken::new()).await?;
            let page: serde_json::Value = serde_json::from_str(result.json()).map_err(|e| {
                GatewayError::new(
                    ErrorCode::DownstreamError,
                    format!("server `{}` answered `{method}` with a malformed list: {e}", self.spec.name),
                )
                .server(&self.spec.name)
            })?;
            items.extend(page.get(member).and_then(serde_json::Value::as_array).cloned().unwrap_or_default());
            match page.get("nextCursor").and_then(serde_json::Value::as_str) {
                Some(next) if !next.is_empty() && cursor.as_deref() != Some(next) => cursor = Some(next.to_owned()),
                _ => break,
            }
        }
        Ok(items)
    }

    /// Subscribes to updates of the server's resource `uri`, now and on every later
    /// connection ([`listen::Listening`]). Updates come as [`NoticeKind::ResourceUpdated`];
    /// which clients hear them is the listeners' business, so the gateway subscribes once per
    /// URI and never unsubscribes (an update nobody wants is dropped).
    pub async fn subscribe(&self, uri: &str, timeout: Duration) -> Result<(), GatewayError> {
        let conn = self.connection(timeout).await?;
        match self.listening.subscribe(&conn, uri, timeout).await {
            Ok(()) => Ok(()),
            Err(listen::Refusal::NotOffered(why)) => Err(GatewayError::new(
                ErrorCode::InvalidArgument,
                format!("server `{}` offers no resource subscriptions: {why}", self.spec.name),
            )
            .server(&self.spec.name)),
            Err(listen::Refusal::Failed(e)) => Err(self.request_error(e, "resources/subscribe", timeout, None)),
        }
    }

    /// Whether the started server declares `capability` (`resources`, `prompts` ...).
    pub async fn offers(&self, capability: &str, timeout: Duration) -> Result<bool, GatewayError> {
        Ok(self.connection(timeout).await?.info().declares(capability))
    }

    /// Calls a tool and returns the downstream's result as it is, within what is left of
    /// `budget`. The call's progress, logs and requests for input go by `route`; cancelling
    /// `cancel` cancels the call downstream.
    pub async fn call(
        &self,
        call: &ToolCall<'_>,
        route: Arc<CallRoute>,
        budget: Budget,
        cancel: CancellationToken,
    ) -> Result<RawResult, GatewayError> {
        let mut members = format!(r#""name":{}"#, json_string(call.tool));
        if let Some(args) = call.arguments {
            members.push_str(r#","arguments":"#);
            members.push_str(args.get());
        }
        if !call.extra.is_empty() {
            members.push(',');
            members.push_str(call.extra);
        }
        let head =
            rpc::RequestHead { method: "tools/call".into(), name: Some(call.tool.to_owned()), params: Vec::new() };
        let req = OutRequest { method: "tools/call", members: &members, meta: call.meta, head, tasks: call.tasks };
        match self.request(req, route, budget, cancel).await {
            Err(Failure::Request(conn, e)) => {
                let gone = matches!(&e, RequestError::Rpc { code, .. } if *code == codes::INVALID_PARAMS || *code == codes::METHOD_NOT_FOUND)
                    && self.tool_is_gone(&conn, call.tool, budget).await;
                if gone {
                    return Err(not_found(&self.spec.name, call.tool));
                }
                Err(self.request_error(e, call.tool, budget.total, Some(call.tool)))
            }
            Err(Failure::Gateway(e)) => Err(e.tool(call.tool)),
            Ok(r) => Ok(r),
        }
    }

    /// Sends any request (`tasks/get`, `resources/read` ...) and returns its raw result.
    /// `what` names it in errors.
    pub async fn send(
        &self,
        req: OutRequest<'_>,
        route: Arc<CallRoute>,
        budget: Budget,
        cancel: CancellationToken,
    ) -> Result<RawResult, GatewayError> {
        let what = req.method.to_owned();
        match self.request(req, route, budget, cancel).await {
            Ok(r) => Ok(r),
            Err(Failure::Request(_, e)) => Err(self.request_error(e, &what, budget.total, None)),
            Err(Failure::Gateway(e)) => Err(e),
        }
    }

    /// One request, counted, on the live connection (started if need be).
    async fn request(
        &self,
        req: OutRequest<'_>,
        route: Arc<CallRoute>,
        budget: Budget,
        cancel: CancellationToken,
    ) -> Result<RawResult, Failure> {
        let _in_flight = InFlight::enter(self);
        self.calls.fetch_add(1, Ordering::Relaxed);
        let result = self.request_inner(req, route, budget, cancel).await;
        if result.is_err() {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    async fn request_inner(
        &self,
        req: OutRequest<'_>,
        route: Arc<CallRoute>,
        budget: Budget,
        cancel: CancellationToken,
    ) -> Result<RawResult, Failure> {
        let conn = self.connection(budget.remaining()).await.map_err(Failure::Gateway)?;
        match conn.rpc().request(req, Some(route), budget.remaining(), &cancel).await {
            Ok(result) => Ok(result),
            Err(RequestError::Cancelled) => Err(Failure::Gateway(
                GatewayError::new(ErrorCode::Cancelled, "the call was cancelled by the client").server(&self.spec.name),
            )),
            Err(RequestError::Closed) => Err(Failure::Gateway(self.unavailable(conn.death_report().await))),
            Err(e) => Err(Failure::Request(conn, e)),
        }
    }

    /// After an invalid-params or method-not-found error: whether the tool is no longer in
    /// the server's list (it was when the call started), which makes the error a
    /// `TOOL_NOT_FOUND`.
    async fn tool_is_gone(&self, conn: &Connection, tool: &str, budget: Budget) -> bool {
        conn.tools.invalidate();
        match self.tools(budget.remaining()).await {
            Ok(tools) => !tools.iter().any(|t| t.name == tool),
            Err(_) => false,
        }
    }

    /// The gateway error for a failed request `what`.
    fn request_error(&self, e: RequestError, what: &str, timeout: Duration, tool: Option<&str>) -> GatewayError {
        let what = bounded(what);
        let error = match e {
            RequestError::Timeout => GatewayError::new(
                ErrorCode::Timeout,
                format!(
                    "`{what}` on server `{}` did not finish within {} ms; it was cancelled downstream",
                    self.spec.name,
                    timeout.as_millis()
                ),
            )
            .server(&self.spec.name),
            RequestError::Rpc { code, message, .. } => {
                // The server's own words: they may repeat a secret it was given.
                let message = format!("server `{}` answered with error {code}: {message}", self.spec.name);
                GatewayError::new(ErrorCode::DownstreamError, self.spec.secrets.redact(&message))
                    .server(&self.spec.name)
            }
            RequestError::TooLarge(why) => {
                GatewayError::new(ErrorCode::DownstreamError, self.spec.secrets.redact(&why)).server(&self.spec.name)
            }
            RequestError::Malformed(why) => GatewayError::new(
                ErrorCode::DownstreamError,
                format!("server `{}` answered `{what}` with a malformed message: {why}", self.spec.name),
            )
            .server(&self.spec.name),
            RequestError::Http(why) => self.unavailable(why),
            RequestError::Closed => self.unavailable("the connection closed"),
            RequestError::Cancelled => {
                GatewayError::new(ErrorCode::Cancelled, "the call was cancelled by the client").server(&self.spec.name)
            }
        };
        match tool {
            Some(t) => error.tool(t),
            None => error,
        }
    }

    /// The live connection, if the server is running (never starts it).
    pub fn live(&self) -> Option<Arc<Connection>> {
        self.conn.load_full().filter(|c| c.is_alive())
    }

    /// The status, for `list_servers` and `get_gateway_status`.
    pub fn status(&self) -> StatusReport {
        let conn = self.conn.load_full();
        let life = self.life();
        let status = match &conn {
            Some(c) if c.is_alive() => Status::Ready,
            Some(_) => Status::Restarting,
            None if life.failed => Status::Failed,
            None if life.ever_started => Status::Restarting,
            None => Status::NotStarted,
        };
        StatusReport {
            status,
            restarts: self.restarts.load(Ordering::Relaxed),
            calls: self.calls.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            last_error: life.last_error.clone(),
            tool_count: conn.as_ref().and_then(|c| c.tools.get()).map(|t| t.len()),
            protocol_version: conn.map(|c| c.info().version.as_str()),
        }
    }

    /// The server's stderr tail at its last failure, for the operator's debug status.
    pub fn last_stderr(&self) -> Option<String> {
        self.life().last_stderr.clone()
    }

    /// Calls in flight right now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Waits until no call is in flight, for at most `limit`.
    pub async fn drain(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.in_flight() > 0 {
            let notified = self.drained.notified();
            if self.in_flight() == 0 || tokio::time::timeout_at(deadline, notified).await.is_err() {
                break;
            }
        }
    }

    /// Stops the server (its whole process group).
    pub async fn shutdown(&self) {
        if let Some(c) = self.conn.swap(None) {
            c.shutdown().await;
        }
    }
}

/// A tool call downstream.
#[derive(Debug, Default)]
pub struct ToolCall<'a> {
    /// The tool.
    pub tool: &'a str,
    /// Its arguments, raw.
    pub arguments: Option<&'a RawValue>,
    /// More params members, raw and without braces (`inputResponses`, `task` ...).
    pub extra: &'a str,
    /// Whether the caller takes tasks.
    pub tasks: bool,
    /// `_meta` members to send, raw and without braces (the trace context).
    pub meta: &'a str,
}

/// How a request failed: with an error the gateway already phrased, or with the request
/// error for the caller to phrase (on a live connection).
enum Failure {
    Gateway(GatewayError),
    Request(Arc<Connection>, RequestError),
}

/// `TOOL_NOT_FOUND` for a tool the server does not have.
pub fn not_found(server: &str, tool: &str) -> GatewayError {
    let (server, tool) = (bounded(server), bounded(tool));
    GatewayError::new(ErrorCode::ToolNotFound, format!("server `{server}` has no tool `{tool}`"))
        .server(&server)
        .tool(&tool)
}

/// Counts a call in flight for as long as it lives.
struct InFlight<'a>(&'a Downstream);

impl<'a> InFlight<'a> {
    fn enter(d: &'a Downstream) -> Self {
        d.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(d)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.0.drained.notify_waiters();
        }
    }
}
