//! The `_meta` of a request: the 2026-07-28 envelope (revision, client info, capabilities,
//! log level), the progress token, and W3C trace context.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

/// `_meta` key: the revision of a 2026-07-28 request.
pub const PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
/// `_meta` key: the client's name and version.
pub const CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
/// `_meta` key: the client's capabilities.
pub const CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
/// `_meta` key: the lowest log level the request wants to hear about.
pub const LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
/// `_meta` key (of a result): the server's name and version.
pub const SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
/// `_meta` key (of a notification on a listen stream): the listen request's id.
pub const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";
/// `_meta` key (2025-11-25 tasks): the task a message belongs to.
pub const RELATED_TASK: &str = "io.modelcontextprotocol/related-task";
/// The extension id of tasks (2026-07-28).
pub const TASKS_EXTENSION: &str = "io.modelcontextprotocol/tasks";

/// The parts of a request's `_meta` the gateway acts on; the rest stays raw.
#[derive(Debug, Default, Deserialize)]
pub struct RequestMeta<'a> {
    /// The revision, for a 2026-07-28 request.
    #[serde(rename = "io.modelcontextprotocol/protocolVersion", default, borrow)]
    pub protocol_version: Option<Cow<'a, str>>,
    /// The client's name and version, raw.
    #[serde(rename = "io.modelcontextprotocol/clientInfo", default, borrow)]
    pub client_info: Option<&'a RawValue>,
    /// The client's capabilities, raw.
    #[serde(rename = "io.modelcontextprotocol/clientCapabilities", default, borrow)]
    pub client_capabilities: Option<&'a RawValue>,
    /// The lowest log level wanted.
    #[serde(rename = "io.modelcontextprotocol/logLevel", default, borrow)]
    pub log_level: Option<Cow<'a, str>>,
    /// Where progress about this request goes.
    #[serde(rename = "progressToken", default, borrow)]
    pub progress_token: Option<&'a RawValue>,
    /// W3C trace context.
    #[serde(default, borrow)]
    pub traceparent: Option<Cow<'a, str>>,
    /// W3C trace state.
    #[serde(default, borrow)]
    pub tracestate: Option<Cow<'a, str>>,
}

impl<'a> RequestMeta<'a> {
    /// The `_meta` of `params` (a raw object), empty when there is none or it is not an
    /// object of the expected shape.
    pub fn of(params: Option<&'a RawValue>) -> RequestMeta<'a> {
        #[derive(Deserialize)]
        struct WithMeta<'a> {
            #[serde(rename = "_meta", default, borrow)]
            meta: Option<RequestMeta<'a>>,
        }
        params.and_then(|p| serde_json::from_str::<WithMeta<'a>>(p.get()).ok()).and_then(|w| w.meta).unwrap_or_default()
    }
}

/// Log levels, least severe first (RFC 5424 as MCP uses them).
pub const LOG_LEVELS: [&str; 8] = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"];

/// The rank of a log level (0 = debug), if it is one.
pub fn log_level_rank(level: &str) -> Option<u8> {
    LOG_LEVELS.iter().position(|l| *l == level).map(|i| i as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_envelope() {
        let p = RawValue::from_string(
            r#"{"name":"x","_meta":{"progressToken":5,"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"elicitation":{}},"io.modelcontextprotocol/logLevel":"info","traceparent":"00-ab-cd-01","other":1}}"#
                .to_owned(),
        )
        .unwrap();
        let m = RequestMeta::of(Some(&p));
        assert_eq!(m.protocol_version.as_deref(), Some("2026-07-28"));
        assert_eq!(m.progress_token.unwrap().get(), "5");
        assert_eq!(m.client_capabilities.unwrap().get(), r#"{"elicitation":{}}"#);
        assert_eq!(m.log_level.as_deref(), Some("info"));
        assert_eq!(m.traceparent.as_deref(), Some("00-ab-cd-01"));
        assert!(RequestMeta::of(None).protocol_version.is_none());
        assert_eq!(log_level_rank("warning"), Some(3));
    }
}
