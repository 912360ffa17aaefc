//! Downstream servers: lazily started, shared by every call, restarted with backoff.
//!
//! A [`Downstream`] owns at most one live [`Connection`]; one rmcp client multiplexes every
//! concurrent call. The connection is started on first use. When it dies, the calls in flight
//! get `SERVER_UNAVAILABLE` with the exit status and stderr tail, and the next call starts it
//! again, waiting longer after each failure in a row.

pub mod client;
pub mod connection;
pub mod process;
pub mod progress;
pub mod stderr_tail;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, CancelledNotification, CancelledNotificationParam,
    ClientRequest, ErrorCode as McpCode, ServerResult, Tool,
};
use rmcp::service::{PeerRequestOptions, ServiceError};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::config::servers::ServerSpec;
use crate::error::{ErrorCode, GatewayError};
pub use connection::Connection;
use progress::Route;

/// Settings shared by every downstream.
#[derive(Debug, Clone)]
pub struct DownstreamSettings {
    /// The largest message accepted from a downstream.
    pub max_message: usize,
    /// The call timeout when neither the caller nor the server config gives one.
    pub default_timeout: Duration,
    /// The longest a start (spawn and `initialize`) may take.
    pub start_timeout: Duration,
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
}

#[derive(Debug, Default)]
struct Lifecycle {
    /// Failures in a row (a connection that lived long resets this).
    failures: u32,
    last_failure: Option<Instant>,
    last_error: Option<String>,
    ever_started: bool,
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

/// The longest a call's result waits for its last progress notifications to be forwarded.
const PROGRESS_SETTLE: Duration = Duration::from_millis(500);

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

/// One configured downstream server.
pub struct Downstream {
    /// Its configuration.
    pub spec: ServerSpec,
    settings: Arc<DownstreamSettings>,
    conn: ArcSwapOption<Connection>,
    life: Mutex<Lifecycle>,
    failed: AtomicBool,
    started_once: AtomicBool,
    calls: AtomicU64,
    errors: AtomicU64,
    restarts: AtomicU64,
    in_flight: AtomicUsize,
    drained: tokio::sync::Notify,
    /// A background start ([`Downstream::start_in_background`]) is under way.
    starting_in_background: AtomicBool,
}

impl Downstream {
    /// A downstream that will start on first use.
    pub fn new(spec: ServerSpec, settings: Arc<DownstreamSettings>) -> Self {
        Downstream {
            spec,
            settings,
            conn: ArcSwapOption::empty(),
            life: Mutex::new(Lifecycle::default()),
            failed: false.into(),
            started_once: false.into(),
            calls: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            drained: tokio::sync::Notify::new(),
            starting_in_background: false.into(),
        }
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

    /// `SERVER_UNAVAILABLE`, saying why. `why` may quote the server's stderr or an HTTP
    /// library's error (which quotes the URL), so the server's secrets are taken out.
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
        let Ok(mut life) = tokio::time::timeout(timeout, self.life.lock()).await else {
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
            life.failures = if c.uptime() >= HEALTHY_UPTIME { 1 } else { life.failures + 1 };
            life.last_failure = Some(Instant::now());
            life.last_error = Some(report);
            tokio::spawn(async move { c.shutdown().await });
        }
        if let Some(wait) = life.remaining_backoff() {
            let last = life.last_error.clone().unwrap_or_default();
            return Err(self.unavailable(format!(
                "it failed {} times in a row; next start attempt in {} ms. Last error: {last}",
                life.failures,
                wait.as_millis()
            )));
        }
        if life.ever_started {
            tracing::info!(server = %self.spec.name, "restarting downstream");
        }
        let start_timeout = self.settings.start_timeout.min(timeout);
        match Connection::start(&self.spec, self.settings.max_message, start_timeout).await {
            Ok(c) => {
                let c = Arc::new(c);
                self.conn.store(Some(c.clone()));
                if life.ever_started {
                    self.restarts.fetch_add(1, Ordering::Relaxed);
                }
                life.ever_started = true;
                self.started_once.store(true, Ordering::Relaxed);
                self.failed.store(false, Ordering::Relaxed);
                Ok(c)
            }
            Err(why) => {
                tracing::warn!(server = %self.spec.name, "downstream failed to start: {why}");
                life.failures += 1;
                life.last_failure = Some(Instant::now());
                life.last_error = Some(why.clone());
                self.failed.store(true, Ordering::Relaxed);
                Err(self.unavailable(why))
            }
        }
    }

    /// The server's tools, from the cache or listed afresh.
    pub async fn tools(&self, timeout: Duration) -> Result<Arc<Vec<Tool>>, GatewayError> {
        let conn = self.connection(timeout).await?;
        if let Some(tools) = conn.tools.get() {
            return Ok(tools);
        }
        let generation = conn.tools.generation();
        match tokio::time::timeout(timeout, conn.peer().list_all_tools()).await {
            Ok(Ok(tools)) => Ok(conn.tools.set(tools, generation)),
            Ok(Err(e)) => Err(self.service_error(e, &conn, "tools/list", timeout).await),
            Err(_) => Err(GatewayError::new(
                ErrorCode::Timeout,
                format!("server `{}` did not list its tools within {} ms", self.spec.name, timeout.as_millis()),
            )
            .server(&self.spec.name)),
        }
    }

    /// Calls a tool and returns the downstream's result as it is, within what is left of
    /// `budget`. Progress goes to `progress`; cancelling `cancel` cancels the call downstream.
    pub async fn call(
        &self,
        params: CallToolRequestParams,
        budget: Budget,
        progress: Option<Route>,
        cancel: CancellationToken,
    ) -> Result<CallToolResult, GatewayError> {
        let _in_flight = InFlight::enter(self);
        self.calls.fetch_add(1, Ordering::Relaxed);
        let result = self.call_inner(params, budget, progress, cancel).await;
        if result.is_err() {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    async fn call_inner(
        &self,
        params: CallToolRequestParams,
        budget: Budget,
        progress: Option<Route>,
        cancel: CancellationToken,
    ) -> Result<CallToolResult, GatewayError> {
        let tool = params.name.to_string();
        let conn = self.connection(budget.remaining()).await?;
        let timeout = budget.remaining();
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        let handle =
            match conn.peer().send_request_with_option(request, PeerRequestOptions::with_timeout(timeout)).await {
                Ok(h) => h,
                Err(e) => return Err(self.service_error(e, &conn, &tool, budget.total).await),
            };
        let route = conn.routes.add(handle.progress_token.clone(), progress);
        let id = handle.id.clone();
        let response = tokio::select! {
            r = handle.await_response() => r,
            () = cancel.cancelled() => {
                let note = CancelledNotification::new(
                    CancelledNotificationParam::new(Some(id), Some("cancelled by the gateway's client".into())),
                );
                let _ = conn.peer().send_notification(note.into()).await;
                return Err(GatewayError::new(ErrorCode::Cancelled, "the call was cancelled by the client").server(&self.spec.name).tool(&tool));
            }
        };
        // The response can overtake the progress sent just before it: forward that first.
        route.settle(PROGRESS_SETTLE).await;
        drop(route);
        match response {
            Ok(ServerResult::CallToolResult(r)) => Ok(r),
            Ok(_) => Err(GatewayError::new(
                ErrorCode::DownstreamError,
                format!("server `{}` answered `tools/call` with an unexpected result", self.spec.name),
            )
            .server(&self.spec.name)
            .tool(&tool)),
            Err(e) => Err(self.service_error(e, &conn, &tool, budget.total).await.tool(&tool)),
        }
    }

    async fn service_error(&self, e: ServiceError, conn: &Connection, what: &str, timeout: Duration) -> GatewayError {
        match e {
            ServiceError::Timeout { .. } => GatewayError::new(
                ErrorCode::Timeout,
                format!(
                    "`{what}` on server `{}` did not finish within {} ms; it was cancelled downstream",
                    self.spec.name,
                    timeout.as_millis()
                ),
            )
            .server(&self.spec.name),
            ServiceError::McpError(err) => {
                let unknown_tool = err.code == McpCode::INVALID_PARAMS && err.message.to_lowercase().contains("tool")
                    || err.code == McpCode::METHOD_NOT_FOUND;
                let code = if unknown_tool && err.message.to_lowercase().contains("not found") {
                    ErrorCode::ToolNotFound
                } else {
                    ErrorCode::DownstreamError
                };
                // The server's own words: they may repeat a secret it was given.
                let message =
                    format!("server `{}` answered with error {}: {}", self.spec.name, err.code.0, err.message);
                GatewayError::new(code, self.spec.secrets.redact(&message)).server(&self.spec.name)
            }
            ServiceError::TransportClosed | ServiceError::TransportSend(_) => {
                self.unavailable(conn.death_report().await)
            }
            other => self.unavailable(other),
        }
    }

    /// The status, for `list_servers` and `get_gateway_status`.
    pub fn status(&self) -> StatusReport {
        let conn = self.conn.load_full();
        let last_error = self.life.try_lock().ok().and_then(|l| l.last_error.clone());
        let status = match &conn {
            Some(c) if c.is_alive() => Status::Ready,
            Some(_) => Status::Restarting,
            None if self.failed.load(Ordering::Relaxed) => Status::Failed,
            None if self.started_once.load(Ordering::Relaxed) => Status::Restarting,
            None => Status::NotStarted,
        };
        StatusReport {
            status,
            restarts: self.restarts.load(Ordering::Relaxed),
            calls: self.calls.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            last_error,
            tool_count: conn.and_then(|c| c.tools.get()).map(|t| t.len()),
        }
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
