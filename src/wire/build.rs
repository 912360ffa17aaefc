//! Writing messages around forwarded bytes.
//!
//! Each function returns one whole message, without the line break (a transport adds its own
//! framing). Raw parts (ids, params, results) are copied as they are; strings are written
//! with serde_json's escaping.

use serde_json::value::RawValue;

const HEAD: &[u8] = br#"{"jsonrpc":"2.0","#;

fn push_str(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// A response carrying `result` (raw JSON) for the request `id` (raw JSON).
pub fn result(id: &str, result: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(result.len() + id.len() + 32);
    out.extend_from_slice(HEAD);
    out.extend_from_slice(br#""id":"#);
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(br#","result":"#);
    out.extend_from_slice(result);
    out.push(b'}');
    out
}

/// An error response for the request `id` (raw JSON; `null` when unknown).
pub fn error(id: &str, code: i64, message: &str, data: Option<&RawValue>) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + id.len() + 64);
    out.extend_from_slice(HEAD);
    out.extend_from_slice(br#""id":"#);
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(br#","error":{"code":"#);
    out.extend_from_slice(code.to_string().as_bytes());
    out.extend_from_slice(br#","message":"#);
    push_str(&mut out, message);
    if let Some(data) = data {
        out.extend_from_slice(br#","data":"#);
        out.extend_from_slice(data.get().as_bytes());
    }
    out.extend_from_slice(b"}}");
    out
}

/// A request with id `id` (raw JSON) and `params` (raw JSON object), if any.
pub fn request(id: &str, method: &str, params: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(params.map_or(0, <[u8]>::len) + method.len() + 48);
    out.extend_from_slice(HEAD);
    out.extend_from_slice(br#""id":"#);
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(br#","method":"#);
    push_str(&mut out, method);
    if let Some(params) = params {
        out.extend_from_slice(br#","params":"#);
        out.extend_from_slice(params);
    }
    out.push(b'}');
    out
}

/// A notification with `params` (raw JSON object), if any.
pub fn notification(method: &str, params: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(params.map_or(0, <[u8]>::len) + method.len() + 32);
    out.extend_from_slice(HEAD);
    out.extend_from_slice(br#""method":"#);
    push_str(&mut out, method);
    if let Some(params) = params {
        out.extend_from_slice(br#","params":"#);
        out.extend_from_slice(params);
    }
    out.push(b'}');
    out
}

/// A JSON string literal for `s`.
pub fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(bytes: &[u8]) -> serde_json::Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn writes_valid_messages() {
        assert_eq!(v(&result("7", br#"{"a":[1]}"#)), serde_json::json!({"jsonrpc":"2.0","id":7,"result":{"a":[1]}}));
        let data = RawValue::from_string("{\"k\":true}".into()).unwrap();
        assert_eq!(
            v(&error("\"x\"", -32602, "bad \"arg\"\n", Some(&data))),
            serde_json::json!({"jsonrpc":"2.0","id":"x","error":{"code":-32602,"message":"bad \"arg\"\n","data":{"k":true}}})
        );
        assert_eq!(
            v(&request("1", "tools/call", Some(b"{}"))),
            serde_json::json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}})
        );
        assert_eq!(v(&notification("n", None)), serde_json::json!({"jsonrpc":"2.0","method":"n"}));
        assert_eq!(json_string("a\"b"), r#""a\"b""#);
    }
}
