//! One live connection to a downstream server: its rmcp client service and, for stdio, its
//! process group and stderr.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderName, HeaderValue};
use rmcp::service::{ClientCacheConfig, Peer, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};

use crate::config::servers::{ServerSpec, TransportSpec};
use crate::downstream::client::{ProxyClient, ToolCache};
use crate::downstream::process::ChildProcess;
use crate::downstream::progress::{Counted, ProgressRoutes};
use crate::downstream::stderr_tail::{StderrTail, spawn_drain};
use crate::transport::LineTransport;

/// How long a child gets to exit after SIGTERM before SIGKILL.
const TERMINATE_GRACE: Duration = Duration::from_millis(1500);

/// A started downstream.
pub struct Connection {
    peer: Peer<RoleClient>,
    service: Mutex<Option<RunningService<RoleClient, ProxyClient>>>,
    process: Option<Arc<ChildProcess>>,
    tail: Arc<StderrTail>,
    /// The server's tools, cached.
    pub tools: Arc<ToolCache>,
    /// Progress routes of calls in flight.
    pub routes: Arc<ProgressRoutes>,
    started: Instant,
}

impl Connection {
    /// Starts the server and runs the MCP handshake. On failure, returns why, with the exit
    /// status and stderr tail when there are any.
    ///
    /// The message has the server's secrets removed: it quotes the command, the URL, the
    /// HTTP library's errors and the server's stderr, any of which may hold one.
    pub async fn start(spec: &ServerSpec, max_message: usize, timeout: Duration) -> Result<Connection, String> {
        Self::start_inner(spec, max_message, timeout).await.map_err(|why| spec.secrets.redact(&why).into_owned())
    }

    async fn start_inner(spec: &ServerSpec, max_message: usize, timeout: Duration) -> Result<Connection, String> {
        let name: Arc<str> = spec.name.as_str().into();
        let tools = Arc::new(ToolCache::default());
        let routes = Arc::new(ProgressRoutes::default());
        let handler = ProxyClient { server: name.clone(), routes: routes.clone(), tools: tools.clone() };
        let tail = Arc::new(StderrTail::default());
        match &spec.transport {
            TransportSpec::Stdio { command, args, env, cwd } => {
                let (process, pipes) = ChildProcess::spawn(command, args, env, cwd.as_deref())
                    .map_err(|e| format!("could not start `{command}`: {e}"))?;
                let process = Arc::new(process);
                spawn_drain(name.clone(), pipes.stderr, tail.clone(), spec.secrets.clone());
                let transport = LineTransport::<RoleClient, _, _>::new(pipes.stdout, pipes.stdin, max_message, &name);
                let closed = transport.closed();
                let transport = Counted::new(transport, routes.clone());
                let served = tokio::time::timeout(timeout, handler.serve(transport)).await;
                let service = match served {
                    Ok(Ok(service)) => service,
                    Ok(Err(e)) => {
                        let exit = process.wait_exit(Duration::from_millis(300)).await;
                        process.terminate_group(TERMINATE_GRACE).await;
                        return Err(describe_failure(&format!("initialization failed: {e}"), exit, &tail));
                    }
                    Err(_) => {
                        process.terminate_group(TERMINATE_GRACE).await;
                        let what = format!("did not answer `initialize` within {} ms", timeout.as_millis());
                        return Err(describe_failure(&what, process.exit_status(), &tail));
                    }
                };
                tracing::info!(server = %name, pid = process.pid(), "downstream started");
                reap_when_closed(name.clone(), process.clone(), closed);
                Ok(Connection::new(service, Some(process), tail, tools, routes).await)
            }
            TransportSpec::Http { url, headers } => {
                let mut custom = HashMap::new();
                for (k, v) in headers {
                    let key =
                        HeaderName::try_from(k.as_str()).map_err(|e| format!("invalid header name `{k}`: {e}"))?;
                    let value = HeaderValue::try_from(v.as_str())
                        .map_err(|_| format!("invalid value for header `{k}` (not shown: it may be a secret)"))?;
                    custom.insert(key, value);
                }
                let config = StreamableHttpClientTransportConfig::with_uri(url.as_str())
                    .custom_headers(custom)
                    .max_json_response_size(max_message)
                    .max_sse_event_size(max_message);
                let transport = Counted::new(StreamableHttpClientTransport::from_config(config), routes.clone());
                let service = match tokio::time::timeout(timeout, handler.serve(transport)).await {
                    Ok(Ok(service)) => service,
                    Ok(Err(e)) => return Err(format!("could not connect to {url}: {e}")),
                    Err(_) => {
                        return Err(format!("{url} did not answer `initialize` within {} ms", timeout.as_millis()));
                    }
                };
                // The URL as written: expanded, it may hold a secret.
                tracing::info!(server = %name, url = %spec.target(), "downstream connected");
                Ok(Connection::new(service, None, tail, tools, routes).await)
            }
        }
    }

    async fn new(
        service: RunningService<RoleClient, ProxyClient>,
        process: Option<Arc<ChildProcess>>,
        tail: Arc<StderrTail>,
        tools: Arc<ToolCache>,
        routes: Arc<ProgressRoutes>,
    ) -> Connection {
        // Our own cache follows `tools/list_changed`; rmcp's would serve stale lists on error.
        service.peer().set_response_cache_config(ClientCacheConfig::disabled()).await;
        Connection {
            peer: service.peer().clone(),
            service: Mutex::new(Some(service)),
            process,
            tail,
            tools,
            routes,
            started: Instant::now(),
        }
    }

    /// The client peer, for requests.
    pub fn peer(&self) -> &Peer<RoleClient> {
        &self.peer
    }

    /// Whether the connection can still carry calls.
    pub fn is_alive(&self) -> bool {
        !self.peer.is_transport_closed() && self.process.as_ref().is_none_or(|p| p.exit_status().is_none())
    }

    /// How long the connection has been up.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// The child's pid, for stdio servers.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.pid())
    }

    /// Why the connection died, as well as it can be told: exit status and stderr tail.
    /// Waits briefly for the exit status, which can trail the closed pipe.
    pub async fn death_report(&self) -> String {
        let exit = match &self.process {
            Some(p) => p.wait_exit(Duration::from_millis(300)).await,
            None => None,
        };
        describe_failure("the connection closed", exit, &self.tail)
    }

    /// Closes the connection and terminates the process group (grandchildren included).
    pub async fn shutdown(&self) {
        let service = self.service.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(service) = service {
            let _ = tokio::time::timeout(Duration::from_millis(500), service.cancel()).await;
        }
        if let Some(p) = &self.process {
            p.terminate_group(TERMINATE_GRACE).await;
        }
    }
}

/// How long a server whose stdout ended gets to exit by itself before it is stopped. Long
/// enough for [`Connection::death_report`] to see a crash's own exit status, rather than the
/// signal the gateway sends.
const EXIT_GRACE: Duration = Duration::from_millis(500);

/// Stops the process group as soon as the server's stdout ends.
///
/// A dead connection is otherwise only noticed, and its process stopped, by the next call to
/// that server, which may never come: a server that closed its stdout but kept running stayed
/// alive, holding its pipes, and the process group of one that crashed kept any grandchildren.
/// Stopping it twice (here and in [`Connection::shutdown`]) is harmless.
fn reap_when_closed(server: Arc<str>, process: Arc<ChildProcess>, closed: tokio_util::sync::CancellationToken) {
    tokio::spawn(async move {
        closed.cancelled().await;
        if process.wait_exit(EXIT_GRACE).await.is_none() {
            tracing::info!(%server, pid = process.pid(), "the connection closed but the process kept running; stopping it");
        }
        process.terminate_group(TERMINATE_GRACE).await;
    });
}

/// A failure message with the exit status and the stderr tail.
fn describe_failure(what: &str, exit: Option<String>, tail: &StderrTail) -> String {
    let mut s = what.to_owned();
    if let Some(exit) = exit {
        s.push_str(&format!("; the process {exit}"));
    }
    let stderr = tail.text();
    if !stderr.is_empty() {
        s.push_str(&format!("; last stderr lines:\n{stderr}"));
    }
    s
}
