//! What a gateway tool answers: its own result, a downstream's result forwarded as it is, an
//! input round, or an error; as the JSON of the result.

use serde_json::Value;

use crate::downstream::rpc::RawResult;
use crate::error::GatewayError;

/// The answer of one gateway tool call.
#[derive(Debug)]
pub enum ToolReply {
    /// The gateway's own result: its `structuredContent` (the text content is a compact copy).
    Own(Value),
    /// A downstream's result, forwarded as the server wrote it.
    Forwarded(RawResult),
    /// A result the gateway wrote as JSON text (an `InputRequiredResult`, say).
    Json(String),
    /// A gateway error (an `isError` result).
    Error(GatewayError),
}

impl ToolReply {
    /// The error, if this is one.
    pub fn error(&self) -> Option<&GatewayError> {
        match self {
            ToolReply::Error(e) => Some(e),
            _ => None,
        }
    }

    /// The result's JSON text (before shaping for the caller's revision).
    pub fn json(&self) -> std::borrow::Cow<'_, str> {
        match self {
            ToolReply::Own(v) => std::borrow::Cow::Owned(structured(&v.to_string())),
            ToolReply::Forwarded(r) => std::borrow::Cow::Borrowed(r.json()),
            ToolReply::Json(s) => std::borrow::Cow::Borrowed(s),
            ToolReply::Error(e) => std::borrow::Cow::Owned(e.to_json()),
        }
    }
}

impl From<Result<ToolReply, GatewayError>> for ToolReply {
    fn from(r: Result<ToolReply, GatewayError>) -> Self {
        r.unwrap_or_else(ToolReply::Error)
    }
}

/// A successful `CallToolResult` whose `structuredContent` is the JSON `text` (compact),
/// with a text copy of it.
pub fn structured(text: &str) -> String {
    let content = crate::wire::build::json_string(text);
    format!(r#"{{"content":[{{"type":"text","text":{content}}}],"structuredContent":{text},"isError":false}}"#)
}
