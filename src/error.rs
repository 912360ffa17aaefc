//! The gateway's structured errors: what an agent sees when a tool call does not go through.
//!
//! Every error is a tool result with `isError: true`, whose `structuredContent` is
//! `{"error": {"code", "message", "rule"?, "server"?, "tool"?}}` and whose text is the
//! message, so agents that read only text still learn what went wrong.

use serde::Serialize;

/// The error codes of DESIGN.md section 5 (plus `RATE_LIMITED` for HTTP rate limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// Missing, unknown (when denied) or malformed agent id, or a spoofed bound identity.
    InvalidAgentId,
    /// The policy said no.
    DeniedByPolicy,
    /// The policy would allow the server, but it is not configured.
    UnknownServer,
    /// The server has no such tool.
    ToolNotFound,
    /// The tool's definition differs from the lock, or the lock lacks it (quarantined).
    ToolNotPinned,
    /// The downstream could not be started or reached, or died.
    ServerUnavailable,
    /// The call ran out of time and was cancelled downstream.
    Timeout,
    /// A parameter is wrong.
    InvalidArgument,
    /// The downstream answered with a protocol error.
    DownstreamError,
    /// The agent is over its rate limit.
    RateLimited,
    /// The client cancelled the call. The client never sees this (a cancelled request gets no
    /// response); it exists so the audit log tells cancellations from timeouts.
    Cancelled,
}

impl ErrorCode {
    /// The code as written on the wire and in audit records.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidAgentId => "INVALID_AGENT_ID",
            ErrorCode::DeniedByPolicy => "DENIED_BY_POLICY",
            ErrorCode::UnknownServer => "UNKNOWN_SERVER",
            ErrorCode::ToolNotFound => "TOOL_NOT_FOUND",
            ErrorCode::ToolNotPinned => "TOOL_NOT_PINNED",
            ErrorCode::ServerUnavailable => "SERVER_UNAVAILABLE",
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::DownstreamError => "DOWNSTREAM_ERROR",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::Cancelled => "CANCELLED",
        }
    }
}

/// One gateway error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatewayError {
    /// What kind of error.
    pub code: ErrorCode,
    /// What happened, for the agent.
    pub message: String,
    /// The determining rule of a policy denial (`pattern` at `location`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The server concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The tool concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// For `RATE_LIMITED`: when to try again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl GatewayError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        GatewayError { code, message: message.into(), rule: None, server: None, tool: None, retry_after_ms: None }
    }

    /// Names the server concerned (cut to a bounded length: it may come from a client).
    #[must_use]
    pub fn server(mut self, server: &str) -> Self {
        self.server = Some(crate::logging::bounded(server).into_owned());
        self
    }

    /// Names the tool concerned (cut to a bounded length: it may come from a client).
    #[must_use]
    pub fn tool(mut self, tool: &str) -> Self {
        self.tool = Some(crate::logging::bounded(tool).into_owned());
        self
    }

    /// Names the determining rule.
    #[must_use]
    pub fn rule(mut self, rule: Option<String>) -> Self {
        self.rule = rule;
        self
    }

    /// The error as the JSON of an MCP tool result: `isError`, the message as text, and
    /// `{"error": {...}}` as `structuredContent`.
    pub fn to_json(&self) -> String {
        let structured = serde_json::json!({ "error": self });
        let content = serde_json::json!([{"type": "text", "text": self.message}]);
        format!(r#"{{"content":{content},"structuredContent":{structured},"isError":true}}"#)
    }
}

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for GatewayError {}

/// The JSON type of `v` with its article ("an object", "null"), for messages that say what was
/// found where something else was expected.
pub fn json_type_name(v: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
