//! One live connection to a downstream server: the handshake in the newest revision the
//! server speaks, its JSON-RPC client, and for stdio its process group and stderr.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use crate::config::servers::{ServerSpec, TransportSpec};
use crate::downstream::catalog::ToolCache;
use crate::downstream::http::{HttpOutlet, SharedOutlet};
use crate::downstream::process::ChildProcess;
use crate::downstream::rpc::{EventHandler, Forward, OutRequest, RequestError, Rpc};
use crate::downstream::stderr_tail::StderrTail;
use crate::downstream::{http, stdio};
use crate::mcp::{Version, meta};
use crate::wire::object::Members;

/// How long a child gets to exit after SIGTERM before SIGKILL.
const TERMINATE_GRACE: Duration = Duration::from_millis(1500);

/// How long a server may take to answer `server/discover` before it is taken for a legacy
/// server that ignores methods it does not know.
const DISCOVER_WAIT: Duration = Duration::from_secs(3);

/// How long a server that has answered `initialize` (so it is up) may take to answer a second
/// `server/discover` after refusing `initialize`.
const STARTED_DISCOVER_WAIT: Duration = Duration::from_secs(10);

/// What a server said about itself in its handshake.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// The revision spoken with it.
    pub version: Version,
    /// Its `serverInfo.name`.
    pub name: Option<String>,
    /// Its `serverInfo.version`.
    pub server_version: Option<String>,
    /// Its capabilities, raw.
    pub capabilities: Box<RawValue>,
    /// Its instructions.
    pub instructions: Option<String>,
}

impl ServerInfo {
    /// Whether the server declares `capability` (as anything but `null`).
    pub fn declares(&self, capability: &str) -> bool {
        let caps = Members::of(&self.capabilities).ok();
        caps.is_some_and(|c| c.get(capability).is_some_and(|v| v.get() != "null"))
    }

    /// Whether the server declares `capability.flag: true`.
    pub fn declares_flag(&self, capability: &str, flag: &str) -> bool {
        let caps = Members::of(&self.capabilities).ok();
        caps.and_then(|c| c.get(capability).and_then(|r| Members::of(r).ok()))
            .is_some_and(|r| r.get(flag).is_some_and(|v| v.get() == "true"))
    }
}

#[derive(Deserialize)]
struct Implementation {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version: Option<String>,
}

/// A started downstream.
pub struct Connection {
    rpc: Arc<Rpc>,
    process: Option<Arc<ChildProcess>>,
    http: Option<Arc<HttpOutlet>>,
    tail: Arc<StderrTail>,
    info: ServerInfo,
    /// The server's tools, cached.
    pub tools: Arc<ToolCache>,
    started: Instant,
}

/// Why a start failed: what went wrong, and whether the server answered like one that
/// would work with the legacy handshake alone (it died on the `server/discover` probe).
#[derive(Debug)]
pub struct StartFailure {
    /// What happened.
    pub why: String,
    /// The probe killed it: start again with `initialize` only.
    pub died_on_probe: bool,
    /// The last lines of its stderr, for the log and the operator's status.
    pub stderr: Option<String>,
}

impl Connection {
    /// Starts the server and runs the handshake in the newest revision it speaks; `known` is
    /// the revision found at an earlier start, which skips the probe. On failure, says why,
    /// with the exit status, and with the server's secrets taken out.
    pub async fn start(
        spec: &ServerSpec,
        max_message: usize,
        timeout: Duration,
        known: Option<Version>,
        tools: Arc<ToolCache>,
        events: EventHandler,
        forward: Forward,
    ) -> Result<Connection, StartFailure> {
        let redact = |why: String| spec.secrets.redact(&why).into_owned();
        let name: Arc<str> = spec.name.as_str().into();
        let (rpc, process, http, tail) = match &spec.transport {
            TransportSpec::Stdio { command, args, env, cwd } => {
                let launch = stdio::Launch {
                    name: &name,
                    command,
                    args,
                    env,
                    cwd: cwd.as_deref(),
                    secrets: &spec.secrets,
                    max_message,
                };
                let started = stdio::start(&launch, events, forward).map_err(|why| StartFailure {
                    why: redact(why.to_string()),
                    died_on_probe: false,
                    stderr: None,
                })?;
                reap_when_closed(name.clone(), started.process.clone(), started.stdout_closed.clone());
                (started.rpc, Some(started.process), None, started.tail)
            }
            TransportSpec::Http { url, headers } => {
                let (client, headers) = http::client(headers).map_err(|why| StartFailure {
                    why: redact(why.to_string()),
                    died_on_probe: false,
                    stderr: None,
                })?;
                let outlet = HttpOutlet::new(client, url.clone(), headers, max_message);
                let rpc = Rpc::new(name.clone(), Box::new(SharedOutlet(outlet.clone())), events, forward);
                (rpc, None, Some(outlet), Arc::new(StderrTail::default()))
            }
        };
        let conn = |info| Connection {
            rpc: rpc.clone(),
            process: process.clone(),
            http: http.clone(),
            tail: tail.clone(),
            info,
            tools,
            started: Instant::now(),
        };
        match tokio::time::timeout(timeout, handshake(&rpc, http.as_deref(), known, forward)).await {
            Ok(Ok(info)) => {
                if let Some(http) = &http {
                    http.open_push_stream(&rpc);
                }
                match &process {
                    Some(p) => {
                        tracing::info!(server = %name, pid = p.pid(), version = %info.version, "downstream started")
                    }
                    None => {
                        tracing::info!(server = %name, url = %spec.target(), version = %info.version, "downstream connected")
                    }
                }
                Ok(conn(info))
            }
            Ok(Err(failure)) => {
                let exit = match &process {
                    Some(p) => p.wait_exit(Duration::from_millis(300)).await,
                    None => None,
                };
                if let Some(p) = &process {
                    p.terminate_group(TERMINATE_GRACE).await;
                }
                let died_on_probe = failure.died_on_probe;
                let mut why = failure.why;
                if let Some(exit) = exit {
                    why.push_str(&format!("; the process {exit}"));
                }
                Err(StartFailure { why: redact(why), died_on_probe, stderr: logged_tail(&name, &tail) })
            }
            Err(_) => {
                let exit = process.as_ref().and_then(|p| p.exit_status());
                if let Some(p) = &process {
                    p.terminate_group(TERMINATE_GRACE).await;
                }
                let mut why = match &spec.transport {
                    TransportSpec::Http { .. } => {
                        format!("{} did not answer its handshake within {} ms", spec.target(), timeout.as_millis())
                    }
                    TransportSpec::Stdio { .. } => {
                        format!("did not answer `initialize` within {} ms", timeout.as_millis())
                    }
                };
                if let Some(exit) = exit {
                    why.push_str(&format!("; the process {exit}"));
                }
                Err(StartFailure { why: redact(why), died_on_probe: false, stderr: logged_tail(&name, &tail) })
            }
        }
    }

    /// The JSON-RPC client.
    pub fn rpc(&self) -> &Arc<Rpc> {
        &self.rpc
    }

    /// What the server said about itself.
    pub fn info(&self) -> &ServerInfo {
        &self.info
    }

    /// Whether the connection can still carry calls.
    pub fn is_alive(&self) -> bool {
        !self.rpc.closed().is_cancelled() && self.process.as_ref().is_none_or(|p| p.exit_status().is_none())
    }

    /// How long the connection has been up.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// The child's pid, for stdio servers.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.pid())
    }

    /// The last lines of the server's stderr (for the log and the operator's status, never
    /// for an agent: a shared server's stderr may hold another agent's data).
    pub fn stderr_tail(&self) -> String {
        self.tail.text()
    }

    /// Why the connection died, as an agent may read it: the exit status or signal, or that
    /// the connection closed. Waits briefly for the exit status, which can trail the closed
    /// pipe. The stderr tail goes to the log.
    pub async fn death_report(&self) -> String {
        let exit = match &self.process {
            Some(p) => p.wait_exit(Duration::from_millis(300)).await,
            None => None,
        };
        logged_tail(self.rpc.server(), &self.tail);
        match exit {
            Some(exit) => format!("the connection closed; the process {exit}"),
            None if self.process.is_some() => "the connection closed (the server closed its stdout)".to_owned(),
            None => "the connection closed".to_owned(),
        }
    }

    /// Closes the connection and terminates the process group (grandchildren included).
    pub async fn shutdown(&self) {
        if let Some(http) = &self.http {
            http.end_session().await;
        }
        self.rpc.close();
        if let Some(p) = &self.process {
            p.terminate_group(TERMINATE_GRACE).await;
        }
    }
}

/// The stderr tail of a server that failed, logged (the only place besides the operator's
/// debug status where it may appear).
fn logged_tail(server: &str, tail: &StderrTail) -> Option<String> {
    let text = tail.text();
    if text.is_empty() {
        return None;
    }
    tracing::warn!(%server, "last stderr lines of the server:\n{text}");
    Some(text)
}

/// The `_meta` members of a 2026-07-28 request from the gateway.
fn modern_envelope(forward: Forward, tasks: bool) -> String {
    let mut caps = forward.capabilities();
    if tasks {
        caps.pop();
        if caps.len() > 1 {
            caps.push(',');
        }
        caps.push_str(&format!(r#""extensions":{{"{}":{{}}}}}}"#, meta::TASKS_EXTENSION));
    }
    format!(
        r#""{}":"{}","{}":{{"name":"mcpgw","version":"{}"}},"{}":{}"#,
        meta::PROTOCOL_VERSION,
        Version::V2026_07_28,
        meta::CLIENT_INFO,
        env!("CARGO_PKG_VERSION"),
        meta::CLIENT_CAPABILITIES,
        caps
    )
}

/// Finds the newest revision the server speaks: `server/discover` first (unless an earlier
/// start found a legacy server), then `initialize`.
async fn handshake(
    rpc: &Arc<Rpc>,
    http: Option<&HttpOutlet>,
    known: Option<Version>,
    forward: Forward,
) -> Result<ServerInfo, StartFailure> {
    let mut probe_timed_out = false;
    if known.is_none_or(|v| !v.has_initialize()) {
        match discover(rpc, http, forward, DISCOVER_WAIT).await? {
            Probe::Modern(info) => return Ok(info),
            Probe::Legacy => {}
            Probe::TimedOut => probe_timed_out = true,
        }
    }
    match initialize(rpc, http, forward).await {
        // A server slow to start (a Python one on a busy machine) may answer the probe after
        // the wait and then speak only 2026-07-28 on this connection, refusing `initialize`:
        // ask it once more, now that it is up.
        Err(refused) if probe_timed_out => match discover(rpc, http, forward, STARTED_DISCOVER_WAIT).await? {
            Probe::Modern(info) => {
                tracing::info!(server = %rpc.server(), "the server answered `server/discover` late; speaking 2026-07-28");
                Ok(info)
            }
            Probe::Legacy | Probe::TimedOut => Err(refused),
        },
        done => done,
    }
}

/// What `server/discover` found.
enum Probe {
    /// The server speaks 2026-07-28.
    Modern(ServerInfo),
    /// It answered with an error, or without 2026-07-28: a legacy server.
    Legacy,
    /// No answer within the wait: a legacy server that ignores unknown methods, or a slow one.
    TimedOut,
}

/// Asks `server/discover`, waiting `wait` for the answer.
async fn discover(
    rpc: &Arc<Rpc>,
    http: Option<&HttpOutlet>,
    forward: Forward,
    wait: Duration,
) -> Result<Probe, StartFailure> {
    let envelope = modern_envelope(forward, false);
    let req = OutRequest { method: "server/discover", meta: &envelope, ..Default::default() };
    if let Some(http) = http {
        http.set_version(Version::V2026_07_28);
    }
    match rpc.request(req, None, wait, &CancellationToken::new()).await {
        Ok(result) => match discovered(result.json()) {
            Some(info) => {
                rpc.set_envelope(envelope, modern_envelope(forward, true));
                Ok(Probe::Modern(info))
            }
            None => Ok(Probe::Legacy),
        },
        Err(RequestError::Closed) => Err(StartFailure {
            why: "the connection closed during `server/discover`".to_owned(),
            died_on_probe: true,
            stderr: None,
        }),
        Err(RequestError::Timeout) => {
            tracing::debug!(server = %rpc.server(), "no answer to `server/discover` within {wait:?}; trying initialize");
            Ok(Probe::TimedOut)
        }
        // Any error: a legacy server (the spec says not to key the fallback to one error code).
        Err(e) => {
            tracing::debug!(server = %rpc.server(), "server/discover: {e}; trying initialize");
            Ok(Probe::Legacy)
        }
    }
}

/// The legacy handshake: `initialize`, then `notifications/initialized`.
async fn initialize(rpc: &Arc<Rpc>, http: Option<&HttpOutlet>, forward: Forward) -> Result<ServerInfo, StartFailure> {
    let never = CancellationToken::new();
    let failed = |why: String| StartFailure { why, died_on_probe: false, stderr: None };
    if let Some(http) = http {
        http.set_version(Version::LATEST_LEGACY);
    }
    let members = format!(
        r#""protocolVersion":"{}","capabilities":{},"clientInfo":{{"name":"mcpgw","version":"{}"}}"#,
        Version::LATEST_LEGACY,
        forward.capabilities(),
        env!("CARGO_PKG_VERSION")
    );
    let req = OutRequest { method: "initialize", members: &members, ..Default::default() };
    let result = rpc
        .request(req, None, Duration::from_secs(3600), &never)
        .await
        .map_err(|e| failed(format!("initialization failed: {e}")))?;
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Init {
        protocol_version: String,
        #[serde(default)]
        capabilities: Option<Box<RawValue>>,
        #[serde(default)]
        server_info: Option<Implementation>,
        #[serde(default)]
        instructions: Option<String>,
    }
    let init: Init = serde_json::from_str(result.json())
        .map_err(|e| failed(format!("initialization failed: the server's answer is malformed: {e}")))?;
    let version = Version::parse(&init.protocol_version).filter(|v| v.has_initialize()).ok_or_else(|| {
        failed(format!(
            "initialization failed: the server speaks `{}`, which mcpgw does not",
            crate::logging::Escaped::new(&init.protocol_version)
        ))
    })?;
    if let Some(http) = http {
        http.set_version(version);
    }
    rpc.notify("notifications/initialized", None);
    Ok(ServerInfo {
        version,
        name: init.server_info.as_ref().and_then(|i| i.name.clone()),
        server_version: init.server_info.and_then(|i| i.version),
        capabilities: init.capabilities.unwrap_or_else(empty_object),
        instructions: init.instructions,
    })
}

fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).unwrap_or_else(|_| Box::<RawValue>::default())
}

/// The server's info from a `server/discover` result, when it offers 2026-07-28.
fn discovered(result: &str) -> Option<ServerInfo> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Discover {
        supported_versions: Vec<String>,
        #[serde(default)]
        capabilities: Option<Box<RawValue>>,
        #[serde(default)]
        instructions: Option<String>,
        #[serde(rename = "_meta", default)]
        meta: Option<DiscoverMeta>,
    }
    #[derive(Deserialize)]
    struct DiscoverMeta {
        #[serde(rename = "io.modelcontextprotocol/serverInfo", default)]
        server_info: Option<Implementation>,
    }
    let d: Discover = serde_json::from_str(result).ok()?;
    let version = Version::V2026_07_28;
    d.supported_versions.iter().any(|v| v == version.as_str()).then(|| {
        let info = d.meta.and_then(|m| m.server_info);
        ServerInfo {
            version,
            name: info.as_ref().and_then(|i| i.name.clone()),
            server_version: info.and_then(|i| i.version),
            capabilities: d.capabilities.unwrap_or_else(empty_object),
            instructions: d.instructions,
        }
    })
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
fn reap_when_closed(server: Arc<str>, process: Arc<ChildProcess>, closed: CancellationToken) {
    tokio::spawn(async move {
        closed.cancelled().await;
        if process.wait_exit(EXIT_GRACE).await.is_none() {
            tracing::info!(%server, pid = process.pid(), "the connection closed but the process kept running; stopping it");
        }
        process.terminate_group(TERMINATE_GRACE).await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_discover_result() {
        let info = discovered(
            r#"{"resultType":"complete","supportedVersions":["2025-11-25","2026-07-28"],"capabilities":{"tools":{}},"ttlMs":0,"cacheScope":"private","_meta":{"io.modelcontextprotocol/serverInfo":{"name":"s","version":"1"}}}"#,
        )
        .unwrap();
        assert_eq!(
            (info.version, info.name.as_deref(), info.capabilities.get()),
            (Version::V2026_07_28, Some("s"), r#"{"tools":{}}"#)
        );
        assert!(discovered(r#"{"supportedVersions":["2025-11-25"]}"#).is_none());
        assert!(
            modern_envelope(Forward::default(), false)
                .contains(r#""io.modelcontextprotocol/clientCapabilities":{"elicitation""#)
        );
    }
}
