//! The standard headers of a 2026-07-28 POST: `MCP-Protocol-Version`, `Mcp-Method` and
//! `Mcp-Name` must agree with the body, so that proxies and load balancers that route on them
//! see the truth. A mismatch is refused with -32020.

use axum::http::HeaderMap;
use serde_json::value::RawValue;

use crate::gateway::operation::Operation;
use crate::wire::object::Members;

/// Why the headers do not match the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("header mismatch: {0}")]
pub struct Mismatch(pub String);

/// One header's value, decoding the `=?base64?…?=` form.
fn header(headers: &HeaderMap, name: &str) -> Result<Option<String>, Mismatch> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(Mismatch(format!("more than one {name} header")));
    }
    let text = value.to_str().map_err(|_| Mismatch(format!("the {name} header is not visible ASCII")))?;
    match text.strip_prefix("=?base64?").and_then(|t| t.strip_suffix("?=")) {
        Some(encoded) => {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|_| Mismatch(format!("the {name} header is not valid base64")))?;
            String::from_utf8(bytes).map(Some).map_err(|_| Mismatch(format!("the {name} header is not UTF-8")))
        }
        None => Ok(Some(text.to_owned())),
    }
}

/// The body member `Mcp-Name` mirrors for `method`, if the method has one, and whether the
/// header is required. The core methods (`tools/call`, `prompts/get`, `resources/read`)
/// require it; for the rest the SDKs disagree (the TypeScript SDK sends it on the tasks
/// extension's `tasks/*`, the Python SDK does not), so it is checked only when sent.
fn name_of(method: &str) -> Option<(&'static str, bool)> {
    match method {
        "tools/call" | "prompts/get" => Some(("name", true)),
        "resources/read" => Some(("uri", true)),
        "resources/subscribe" | "resources/unsubscribe" => Some(("uri", false)),
        "tasks/get" | "tasks/update" | "tasks/cancel" | "tasks/result" => Some(("taskId", false)),
        _ => None,
    }
}

/// Checks the headers of a 2026-07-28 request against its body.
pub fn check(headers: &HeaderMap, method: &str, params: Option<&RawValue>, version: &str) -> Result<(), Mismatch> {
    match header(headers, "mcp-protocol-version")? {
        Some(v) if v != version => {
            return Err(Mismatch(format!(
                "the MCP-Protocol-Version header `{}` does not match the request's `_meta` `{version}`",
                crate::logging::bounded(&v)
            )));
        }
        _ => {}
    }
    match header(headers, "mcp-method")? {
        None => return Err(Mismatch("the Mcp-Method header is missing".to_owned())),
        Some(m) if m != method => {
            return Err(Mismatch(format!(
                "the Mcp-Method header `{}` does not match the body's method `{method}`",
                crate::logging::bounded(&m)
            )));
        }
        Some(_) => {}
    }
    if let Some((key, required)) = name_of(method) {
        let value = params
            .and_then(|p| Members::of(p).ok())
            .and_then(|m| m.get(key).and_then(|v| serde_json::from_str::<String>(v.get()).ok()));
        match (header(headers, "mcp-name")?, value) {
            (None, _) if !required => {}
            (None, _) => return Err(Mismatch(format!("the Mcp-Name header is missing (`{method}` needs it)"))),
            (Some(h), Some(v)) if h == v => {}
            (Some(h), v) => {
                return Err(Mismatch(format!(
                    "the Mcp-Name header `{}` does not match the body's `{key}` `{}`",
                    crate::logging::bounded(&h),
                    crate::logging::bounded(v.as_deref().unwrap_or(""))
                )));
            }
        }
    }
    if method == "tools/call" {
        check_params(headers, params)?;
    }
    Ok(())
}

/// The `execute_tool` parameters its schema declares as headers (`x-mcp-header`), by header.
const PARAM_HEADERS: [(&str, &str); 2] = [("mcp-param-server", "server"), ("mcp-param-tool", "tool")];

/// Checks the `Mcp-Param-*` headers of an `execute_tool` call against its arguments. A header
/// sent must equal its argument, and no header may name an argument the body lacks. A header
/// left out is accepted: a client that has not listed the tools cannot know to send it, and
/// the gateway reads the body anyway; only intermediaries route on it.
fn check_params(headers: &HeaderMap, params: Option<&RawValue>) -> Result<(), Mismatch> {
    let members = params.and_then(|p| Members::of(p).ok()).unwrap_or_default();
    let string = |v: &RawValue| serde_json::from_str::<String>(v.get()).ok();
    if members.get("name").and_then(string).as_deref() != Some(Operation::ExecuteTool.name()) {
        return Ok(());
    }
    let arguments = members.get("arguments").and_then(|a| Members::of(a).ok()).unwrap_or_default();
    for (name, argument) in PARAM_HEADERS {
        let Some(sent) = header(headers, name)? else { continue };
        match arguments.get(argument).and_then(string) {
            Some(value) if value == sent => {}
            Some(value) => {
                return Err(Mismatch(format!(
                    "the {name} header `{}` does not match the argument `{argument}` `{}`",
                    crate::logging::bounded(&sent),
                    crate::logging::bounded(&value)
                )));
            }
            None => return Err(Mismatch(format!("the {name} header is sent but the argument `{argument}` is not"))),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn h(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(*k, HeaderValue::from_str(v).unwrap());
        }
        m
    }

    #[test]
    fn headers_must_match_the_body() {
        let params = RawValue::from_string(r#"{"name":"execute_tool","arguments":{}}"#.into()).unwrap();
        let p = Some(params.as_ref());
        let ok =
            h(&[("mcp-protocol-version", "2026-07-28"), ("mcp-method", "tools/call"), ("mcp-name", "execute_tool")]);
        assert_eq!(check(&ok, "tools/call", p, "2026-07-28"), Ok(()));
        let b64 = h(&[("mcp-method", "tools/call"), ("mcp-name", "=?base64?ZXhlY3V0ZV90b29s?=")]);
        assert_eq!(check(&b64, "tools/call", p, "2026-07-28"), Ok(()));
        for bad in [
            h(&[("mcp-method", "tools/call"), ("mcp-name", "other")]),
            h(&[("mcp-method", "tools/list"), ("mcp-name", "execute_tool")]),
            h(&[("mcp-name", "execute_tool")]),
            h(&[("mcp-method", "tools/call")]),
            h(&[("mcp-protocol-version", "2025-06-18"), ("mcp-method", "tools/call"), ("mcp-name", "execute_tool")]),
        ] {
            assert!(check(&bad, "tools/call", p, "2026-07-28").is_err(), "{bad:?}");
        }
        assert_eq!(check(&h(&[("mcp-method", "tools/list")]), "tools/list", None, "2026-07-28"), Ok(()));
    }

    #[test]
    fn execute_tool_param_headers_must_match_its_arguments() {
        let params =
            RawValue::from_string(r#"{"name":"execute_tool","arguments":{"server":"s","tool":"echo"}}"#.into())
                .unwrap();
        let p = Some(params.as_ref());
        let base = [("mcp-method", "tools/call"), ("mcp-name", "execute_tool")];
        let with = |extra: &[(&'static str, &str)]| h(&[base.as_slice(), extra].concat());
        assert_eq!(check(&with(&[]), "tools/call", p, "2026-07-28"), Ok(()));
        assert_eq!(
            check(&with(&[("mcp-param-server", "s"), ("mcp-param-tool", "echo")]), "tools/call", p, "2026-07-28"),
            Ok(())
        );
        assert!(check(&with(&[("mcp-param-server", "t")]), "tools/call", p, "2026-07-28").is_err());
        let no_tool = RawValue::from_string(r#"{"name":"execute_tool","arguments":{"server":"s"}}"#.into()).unwrap();
        assert!(
            check(&with(&[("mcp-param-tool", "echo")]), "tools/call", Some(no_tool.as_ref()), "2026-07-28").is_err()
        );
        // Another tool's arguments are not the gateway's to read as headers.
        let other = RawValue::from_string(r#"{"name":"list_servers","arguments":{}}"#.into()).unwrap();
        let named = h(&[("mcp-method", "tools/call"), ("mcp-name", "list_servers"), ("mcp-param-server", "x")]);
        assert_eq!(check(&named, "tools/call", Some(other.as_ref()), "2026-07-28"), Ok(()));
    }

    #[test]
    fn a_task_request_may_omit_mcp_name_but_not_contradict_it() {
        let params = RawValue::from_string(r#"{"taskId":"mcpgw-1"}"#.into()).unwrap();
        let p = Some(params.as_ref());
        let bare = h(&[("mcp-method", "tasks/get")]);
        assert_eq!(check(&bare, "tasks/get", p, "2026-07-28"), Ok(()));
        let named = h(&[("mcp-method", "tasks/get"), ("mcp-name", "mcpgw-1")]);
        assert_eq!(check(&named, "tasks/get", p, "2026-07-28"), Ok(()));
        let wrong = h(&[("mcp-method", "tasks/get"), ("mcp-name", "mcpgw-2")]);
        assert!(check(&wrong, "tasks/get", p, "2026-07-28").is_err());
    }
}
