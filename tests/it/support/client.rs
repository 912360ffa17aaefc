//! An rmcp client for tests: connects over a child's stdio pipes (with a raised line cap) or
//! over streamable HTTP, and records the notifications tests assert on.

use std::{
    collections::HashMap,
    fmt,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::http::{HeaderName, HeaderValue};
use rmcp::{
    ClientHandler, RoleClient, ServiceError,
    model::{
        CallToolRequest, CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ClientRequest,
        Implementation, ProgressNotificationParam, ProgressToken, ProtocolVersion, RequestId, ServerResult, Tool,
    },
    serve_client,
    service::{NotificationContext, Peer, PeerRequestOptions, RequestHandle, RunningService},
    transport::{
        StreamableHttpClientTransport, async_rw::AsyncRwTransport,
        streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::Value;

use super::{ChildProcess, Spawn, eventually};

/// The stdio line cap for test clients: far above rmcp's 16 MiB default, which silently drops
/// bigger messages and leaves the call hanging.
pub const LINE_CAP: usize = 1 << 30;

/// A `ClientHandler` that records what the server sends on its own initiative.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    inner: Arc<Recorded>,
}

#[derive(Debug, Default)]
struct Recorded {
    progress: Mutex<Vec<ProgressNotificationParam>>,
    tool_list_changed: AtomicUsize,
    /// Whether the client declares elicitation, sampling and roots, and answers them.
    answering: bool,
    /// The server's requests for input, by method, in arrival order.
    asked: Mutex<Vec<String>>,
    /// What the answers carry, so a test can tell whose answer a server saw.
    label: Option<String>,
    /// The data of every log message received, in arrival order.
    logs: Mutex<Vec<Value>>,
    /// The URIs of every `notifications/resources/updated`.
    updated: Mutex<Vec<String>>,
}

impl Recorder {
    /// A recorder whose client declares elicitation (form and URL), sampling and roots, and
    /// answers them: elicitation with `{"name": "Ada"}`, sampling with the text
    /// `hello from the test client`, roots with `file:///tmp/test-root`.
    pub fn answering() -> Self {
        Recorder { inner: Arc::new(Recorded { answering: true, ..Default::default() }) }
    }

    /// Answers like [`Recorder::answering`], with `label` in each answer instead: elicitation
    /// `{"name": label}`, sampling `hello from <label>`, roots `file:///tmp/<label>`.
    pub fn answering_as(label: &str) -> Self {
        Recorder { inner: Arc::new(Recorded { answering: true, label: Some(label.to_owned()), ..Default::default() }) }
    }

    fn label(&self) -> &str {
        self.inner.label.as_deref().unwrap_or("the test client")
    }

    /// The data of every log message received so far.
    pub fn logs(&self) -> Vec<Value> {
        self.inner.logs.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The methods of the server's requests for input so far.
    pub fn asked(&self) -> Vec<String> {
        self.inner.asked.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn note(&self, method: &str) {
        self.inner.asked.lock().unwrap_or_else(PoisonError::into_inner).push(method.to_owned());
    }

    /// Every progress notification received so far, in arrival order.
    pub fn progress(&self) -> Vec<ProgressNotificationParam> {
        self.inner.progress.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The progress notifications for one request, sorted by `progress`. rmcp dispatches each
    /// notification on its own task, so arrival order is not guaranteed.
    pub fn progress_for(&self, token: &ProgressToken) -> Vec<ProgressNotificationParam> {
        let mut progress: Vec<_> = self.progress().into_iter().filter(|param| &param.progress_token == token).collect();
        progress.sort_by(|a, b| a.progress.total_cmp(&b.progress));
        progress
    }

    /// How many `notifications/tools/list_changed` arrived.
    pub fn tool_list_changed(&self) -> usize {
        self.inner.tool_list_changed.load(Ordering::SeqCst)
    }

    /// The URIs of the resource updates received, in arrival order.
    pub fn updated(&self) -> Vec<String> {
        self.inner.updated.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl ClientHandler for Recorder {
    /// Names the client so servers' logs show who called, and pins the newest protocol that
    /// still has an `initialize` handshake.
    fn get_info(&self) -> ClientConfig {
        let capabilities: ClientCapabilities = if self.inner.answering {
            serde_json::from_value(serde_json::json!({
                "elicitation": {"form": {}, "url": {}}, "sampling": {}, "roots": {"listChanged": true}
            }))
            .expect("client capabilities")
        } else {
            ClientCapabilities::default()
        };
        ClientConfig::new(capabilities, Implementation::new("mcpgw-tests", env!("CARGO_PKG_VERSION")))
            .with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
    }

    async fn create_elicitation(
        &self,
        _request: rmcp::model::ElicitRequestParams,
        _context: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<rmcp::model::ElicitResult, rmcp::ErrorData> {
        self.note("elicitation/create");
        if !self.inner.answering {
            return Err(rmcp::ErrorData::new(rmcp::model::ErrorCode::METHOD_NOT_FOUND, "no elicitation", None));
        }
        let name = self.inner.label.as_deref().unwrap_or("Ada");
        Ok(serde_json::from_value(serde_json::json!({"action": "accept", "content": {"name": name}}))
            .expect("an answer"))
    }

    #[allow(deprecated, reason = "rmcp marks sampling deprecated (SEP-2577), but servers still ask for it")]
    async fn create_message(
        &self,
        _params: rmcp::model::CreateMessageRequestParams,
        _context: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<rmcp::model::CreateMessageResult, rmcp::ErrorData> {
        self.note("sampling/createMessage");
        if !self.inner.answering {
            return Err(rmcp::ErrorData::new(rmcp::model::ErrorCode::METHOD_NOT_FOUND, "no sampling", None));
        }
        Ok(serde_json::from_value(serde_json::json!({
            "role": "assistant", "content": {"type": "text", "text": format!("hello from {}", self.label())},
            "model": "test-model", "stopReason": "endTurn"
        }))
        .expect("an answer"))
    }

    #[allow(deprecated, reason = "rmcp marks roots deprecated (SEP-2577), but servers still ask for them")]
    async fn list_roots(
        &self,
        _context: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<rmcp::model::ListRootsResult, rmcp::ErrorData> {
        self.note("roots/list");
        if !self.inner.answering {
            return Err(rmcp::ErrorData::new(rmcp::model::ErrorCode::METHOD_NOT_FOUND, "no roots", None));
        }
        Ok(serde_json::from_value(
            serde_json::json!({"roots": [{"uri": format!("file:///tmp/{}", self.inner.label.as_deref().unwrap_or("test-root")), "name": "test root"}]}),
        )
        .expect("an answer"))
    }

    async fn on_progress(&self, params: ProgressNotificationParam, _context: NotificationContext<RoleClient>) {
        self.inner.progress.lock().unwrap_or_else(PoisonError::into_inner).push(params);
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.inner.tool_list_changed.fetch_add(1, Ordering::SeqCst);
    }

    async fn on_resource_updated(
        &self,
        params: rmcp::model::ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.inner.updated.lock().unwrap_or_else(PoisonError::into_inner).push(params.uri.to_string());
    }

    #[allow(deprecated, reason = "rmcp marks logging deprecated (SEP-2577), but servers still send it")]
    async fn on_logging_message(
        &self,
        params: rmcp::model::LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.inner.logs.lock().unwrap_or_else(PoisonError::into_inner).push(params.data);
    }
}

/// Why connecting failed, with the child kept so the test can inspect its exit and stderr.
pub struct ConnectFailure {
    /// rmcp's initialisation error, as text.
    pub error: String,
    /// The child process, still owned so it is killed on drop.
    pub child: ChildProcess,
}

impl fmt::Debug for ConnectFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot connect: {}\n--- child stderr ---\n{}", self.error, self.child.stderr().text())
    }
}

/// A connected rmcp client, plus the child process it talks to (for stdio).
pub struct McpClient {
    service: RunningService<RoleClient, Recorder>,
    recorder: Recorder,
    child: Option<ChildProcess>,
}

impl McpClient {
    /// Runs the fixture with `args` and connects to it; panics (with its stderr) on failure.
    pub async fn fixture(args: &[&str]) -> Self {
        Self::spawn(&Spawn::new(super::fixture_bin()).args(args)).await
    }

    /// Spawns `spec` and connects to it; panics (with the child's stderr) on failure.
    pub async fn spawn(spec: &Spawn) -> Self {
        let child = spec.spawn().expect("spawn the server");
        Self::connect(child).await.expect("connect to the server")
    }

    /// Spawns `spec` and connects to it as a client that answers requests for input.
    pub async fn spawn_answering(spec: &Spawn) -> Self {
        let child = spec.spawn().expect("spawn the server");
        Self::connect_with(child, Recorder::answering()).await.expect("connect to the server")
    }

    /// Performs the MCP handshake over the child's stdin/stdout.
    pub async fn connect(child: ChildProcess) -> Result<Self, ConnectFailure> {
        Self::connect_with(child, Recorder::default()).await
    }

    /// Performs the MCP handshake over the child's stdin/stdout, as `recorder`'s client.
    pub async fn connect_with(mut child: ChildProcess, recorder: Recorder) -> Result<Self, ConnectFailure> {
        let Some((stdout, stdin)) = child.take_pipes() else {
            return Err(ConnectFailure { error: "the child's pipes were already taken".into(), child });
        };
        let transport = AsyncRwTransport::new_client(stdout, stdin).with_max_line_length(LINE_CAP);
        match serve_client(recorder.clone(), transport).await {
            Ok(service) => Ok(Self { service, recorder, child: Some(child) }),
            Err(error) => Err(ConnectFailure { error: error.to_string(), child }),
        }
    }

    /// Connects to a streamable HTTP endpoint, sending `headers` with every request.
    pub async fn connect_http(url: &str, headers: &[(&str, &str)]) -> Result<Self, String> {
        Self::connect_http_with(url, headers, Recorder::default()).await
    }

    /// Connects to a streamable HTTP endpoint as `recorder`'s client.
    pub async fn connect_http_with(url: &str, headers: &[(&str, &str)], recorder: Recorder) -> Result<Self, String> {
        let mut custom = HashMap::new();
        for (name, value) in headers {
            let name = HeaderName::try_from(*name).map_err(|e| e.to_string())?;
            let value = HeaderValue::try_from(*value).map_err(|e| e.to_string())?;
            custom.insert(name, value);
        }
        let config = StreamableHttpClientTransportConfig::with_uri(url).custom_headers(custom);
        let transport = StreamableHttpClientTransport::from_config(config);
        let service = serve_client(recorder.clone(), transport).await.map_err(|e| e.to_string())?;
        Ok(Self { service, recorder, child: None })
    }

    /// The rmcp peer, for anything the helpers below do not cover.
    pub fn peer(&self) -> &Peer<RoleClient> {
        self.service.peer()
    }

    /// The recorded notifications.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// The child process (stdio connections only).
    pub fn child(&mut self) -> &mut ChildProcess {
        self.child.as_mut().expect("this client has no child process")
    }

    /// `serverInfo.name` from the handshake.
    pub fn server_name(&self) -> Option<String> {
        self.service.peer_info()?.server_info.as_ref().map(|info| info.name.clone())
    }

    /// Every tool, across all pages.
    pub async fn list_tools(&self) -> Result<Vec<Tool>, ServiceError> {
        self.peer().list_all_tools().await
    }

    /// Calls a tool. `args` must be a JSON object or `null`.
    pub async fn call_tool(&self, name: &str, args: Value) -> Result<CallToolResult, ServiceError> {
        self.start_call(name, args, PeerRequestOptions::no_options()).await?.result().await
    }

    /// Calls a tool with rmcp's request timeout (which also sends `notifications/cancelled`).
    pub async fn call_tool_with_timeout(
        &self,
        name: &str,
        args: Value,
        timeout: Duration,
    ) -> Result<CallToolResult, ServiceError> {
        self.start_call(name, args, PeerRequestOptions::with_timeout(timeout)).await?.result().await
    }

    /// Sends a `tools/call` and returns a handle to await or cancel it. Every rmcp request
    /// carries a progress token of rmcp's choosing; the handle tells which.
    pub async fn start_call(
        &self,
        name: &str,
        args: Value,
        options: PeerRequestOptions,
    ) -> Result<PendingCall, ServiceError> {
        let mut params = CallToolRequestParams::new(name.to_owned());
        match args {
            Value::Object(map) => params = params.with_arguments(map),
            Value::Null => {}
            other => panic!("tool arguments must be an object or null, not {other}"),
        }
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        let handle = self.peer().send_request_with_option(request, options).await?;
        Ok(PendingCall { handle })
    }

    /// Calls a tool and waits until `expected` progress notifications for it have arrived
    /// (or `timeout` passes); returns the result and those notifications sorted by progress.
    pub async fn call_with_progress(
        &self,
        name: &str,
        args: Value,
        expected: usize,
        timeout: Duration,
    ) -> (Result<CallToolResult, ServiceError>, Vec<ProgressNotificationParam>) {
        let call = match self.start_call(name, args, PeerRequestOptions::no_options()).await {
            Ok(call) => call,
            Err(error) => return (Err(error), Vec::new()),
        };
        let token = call.progress_token().clone();
        let result = call.result().await;
        eventually(timeout, || self.recorder.progress_for(&token).len() >= expected).await;
        (result, self.recorder.progress_for(&token))
    }

    /// Waits until at least `count` `tools/list_changed` notifications have arrived.
    pub async fn wait_tool_list_changed(&self, count: usize, timeout: Duration) -> bool {
        eventually(timeout, || self.recorder.tool_list_changed() >= count).await
    }

    /// Whether rmcp has noticed that the transport is gone. (`RunningService::is_closed` stays
    /// false after the peer dies; this is the reliable check.)
    pub fn is_transport_closed(&self) -> bool {
        self.peer().is_transport_closed()
    }

    /// Waits until the transport is closed.
    pub async fn wait_transport_closed(&self, timeout: Duration) -> bool {
        eventually(timeout, || self.is_transport_closed()).await
    }

    /// Closes the connection (the child sees its stdin close) and hands back the child, still
    /// running, so a test can watch how it exits.
    pub async fn disconnect(mut self) -> Option<ChildProcess> {
        let _ = self.service.close_with_timeout(Duration::from_secs(2)).await;
        self.child.take()
    }

    /// Closes the connection and kills the child's process group.
    pub async fn close(mut self) {
        let _ = self.service.close_with_timeout(Duration::from_secs(2)).await;
        if let Some(child) = self.child.as_mut() {
            child.kill_group().await;
        }
    }
}

/// A `tools/call` in flight.
pub struct PendingCall {
    handle: RequestHandle<RoleClient>,
}

impl PendingCall {
    /// The JSON-RPC id, as the server sees it.
    pub fn id(&self) -> &RequestId {
        &self.handle.id
    }

    /// The progress token rmcp put in the request's `_meta`.
    pub fn progress_token(&self) -> &ProgressToken {
        &self.handle.progress_token
    }

    /// Waits for the result. A JSON-RPC error comes back as `ServiceError::McpError`.
    pub async fn result(self) -> Result<CallToolResult, ServiceError> {
        match self.handle.await_response().await? {
            ServerResult::CallToolResult(result) => Ok(result),
            _ => Err(ServiceError::UnexpectedResponse),
        }
    }

    /// Sends `notifications/cancelled` for this request. (Merely dropping a handle obtained
    /// from `send_request_with_option` sends nothing.)
    pub async fn cancel(self, reason: &str) -> Result<(), ServiceError> {
        self.handle.cancel(Some(reason.to_owned())).await
    }
}
