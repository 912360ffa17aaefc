//! What a client can do for a server: answer elicitations, sample its model, list its roots,
//! and keep tasks. The gateway reads a caller's capabilities to decide what it may forward
//! to that caller, and declares its own to every downstream.

use serde::Deserialize;
use serde_json::value::RawValue;

/// A client's capabilities, as far as forwarding goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientCaps {
    /// Form-mode elicitation.
    pub elicitation_form: bool,
    /// URL-mode elicitation (2025-11-25).
    pub elicitation_url: bool,
    /// Sampling.
    pub sampling: bool,
    /// Sampling with `tools` and `toolChoice` (2025-11-25).
    pub sampling_tools: bool,
    /// Roots.
    pub roots: bool,
    /// Tasks: the 2026-07-28 extension or the 2025-11-25 `tasks` capability.
    pub tasks: bool,
}

#[derive(Deserialize, Default)]
struct Raw<'a> {
    #[serde(default, borrow)]
    elicitation: Option<&'a RawValue>,
    #[serde(default, borrow)]
    sampling: Option<&'a RawValue>,
    #[serde(default, borrow)]
    roots: Option<&'a RawValue>,
    #[serde(default, borrow)]
    tasks: Option<&'a RawValue>,
    #[serde(default, borrow)]
    extensions: Option<&'a RawValue>,
}

/// Whether `raw` holds an object with the key `key`.
fn has_key(raw: Option<&RawValue>, key: &str) -> bool {
    raw.and_then(|r| crate::wire::object::Members::of(r).ok()).is_some_and(|m| m.has(key))
}

fn is_object(raw: Option<&RawValue>) -> bool {
    raw.and_then(crate::wire::envelope::first_byte) == Some(b'{')
}

impl ClientCaps {
    /// Reads a `capabilities` object; anything malformed counts as not declared.
    pub fn parse(raw: Option<&RawValue>) -> ClientCaps {
        let raw: Raw<'_> = raw.and_then(|r| serde_json::from_str(r.get()).ok()).unwrap_or_default();
        let elicitation = is_object(raw.elicitation);
        // `{}` means form mode only (2025-11-25); `form` or `url` name the modes.
        let form = has_key(raw.elicitation, "form");
        let url = has_key(raw.elicitation, "url");
        ClientCaps {
            elicitation_form: elicitation && (form || !url),
            elicitation_url: url,
            sampling: is_object(raw.sampling),
            sampling_tools: has_key(raw.sampling, "tools"),
            roots: is_object(raw.roots),
            tasks: is_object(raw.tasks) || has_key(raw.extensions, crate::mcp::meta::TASKS_EXTENSION),
        }
    }

    /// Whether the client can answer a request of `method` (with these `params`, which
    /// decide the elicitation mode and whether sampling uses tools).
    pub fn can_answer(&self, method: &str, params: Option<&RawValue>) -> bool {
        match method {
            "elicitation/create" => {
                let url = params
                    .and_then(|p| crate::wire::object::Members::of(p).ok())
                    .and_then(|m| m.get("mode").map(|v| v.get() == "\"url\""))
                    .unwrap_or(false);
                if url { self.elicitation_url } else { self.elicitation_form }
            }
            "sampling/createMessage" => {
                let tools = has_key(params, "tools") || has_key(params, "toolChoice");
                self.sampling && (!tools || self.sampling_tools)
            }
            "roots/list" => self.roots,
            "ping" => true,
            _ => false,
        }
    }

    /// The capability a request of `method` needs, as a `ClientCapabilities` object for the
    /// `requiredCapabilities` of a -32021 error.
    pub fn required_for(method: &str) -> &'static str {
        match method {
            "elicitation/create" => r#"{"elicitation":{}}"#,
            "sampling/createMessage" => r#"{"sampling":{}}"#,
            "roots/list" => r#"{"roots":{}}"#,
            _ => "{}",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(json: &str) -> ClientCaps {
        ClientCaps::parse(Some(&RawValue::from_string(json.to_owned()).unwrap()))
    }

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_owned()).unwrap()
    }

    #[test]
    fn reads_each_capability() {
        let c = caps(r#"{"elicitation":{},"roots":{"listChanged":true}}"#);
        assert!(c.elicitation_form && !c.elicitation_url && c.roots && !c.sampling);
        let c = caps(
            r#"{"elicitation":{"url":{}},"sampling":{"tools":{}},"extensions":{"io.modelcontextprotocol/tasks":{}}}"#,
        );
        assert!(!c.elicitation_form && c.elicitation_url && c.sampling_tools && c.tasks);
        assert_eq!(caps("[]"), ClientCaps::default());
        assert!(c.can_answer("elicitation/create", Some(&raw(r#"{"mode":"url","url":"u","message":"m"}"#))));
        assert!(!c.can_answer("elicitation/create", Some(&raw(r#"{"message":"m"}"#))));
        let no_tools = caps(r#"{"sampling":{}}"#);
        assert!(no_tools.can_answer("sampling/createMessage", Some(&raw(r#"{"messages":[]}"#))));
        assert!(!no_tools.can_answer("sampling/createMessage", Some(&raw(r#"{"messages":[],"tools":[]}"#))));
    }
}
