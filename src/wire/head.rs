//! Finding the `id` of a JSON-RPC message from the first bytes of its line.
//!
//! An oversized message is never parsed whole; its head is scanned instead. Only keys of the
//! top-level object count, so an `"id"` nested in `params` or `result` is never mistaken for
//! the message's own.

use serde_json::Value;

use crate::located::json::string_end;

/// What the head of a line says about its message.
#[derive(Debug, Clone, PartialEq)]
pub struct LineHead {
    /// The top-level `id`, when it appears in the head.
    pub id: Option<Value>,
    /// Whether a top-level `method` appears (a request or notification, not a response).
    pub is_request: bool,
}

/// Scans the head of a line for the top-level `id` and `method` keys.
pub fn scan_head(head: &[u8]) -> LineHead {
    let mut out = LineHead { id: None, is_request: false };
    let mut depth = 0usize;
    let mut expect_key = false;
    let mut i = 0;
    while let Some(&b) = head.get(i) {
        match b {
            b'{' | b'[' => {
                depth += 1;
                expect_key = b == b'{' && depth == 1;
                i += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b',' => {
                expect_key = depth == 1;
                i += 1;
            }
            b'"' => {
                let Some(end) = string_end(head, i) else { break };
                if expect_key && depth == 1 {
                    let key = &head[i + 1..end];
                    let value_at = skip_colon(head, end + 1);
                    if key == b"id" {
                        out.id = head.get(value_at..).and_then(first_value);
                    } else if key == b"method" {
                        out.is_request = true;
                    }
                }
                expect_key = false;
                i = end + 1;
            }
            _ => i += 1,
        }
    }
    out
}

fn skip_colon(s: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\r' | b'\n' | b':') = s.get(i) {
        i += 1;
    }
    i
}

/// The first JSON value in `s` if it is a number, a string or null.
fn first_value(s: &[u8]) -> Option<Value> {
    let mut stream = serde_json::Deserializer::from_slice(s).into_iter::<Value>();
    match stream.next() {
        Some(Ok(v @ (Value::Number(_) | Value::String(_) | Value::Null))) => Some(v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_top_level_keys_only() {
        let h = scan_head(br#"{"jsonrpc":"2.0","id":42,"result":{"id":7,"content":[{"text":"xxxxx"#);
        assert_eq!(h, LineHead { id: Some(Value::from(42)), is_request: false });
        let h = scan_head(br#"{"jsonrpc":"2.0", "method" : "tools/call", "params":{"id":"x"}, "id" : "abc""#);
        assert_eq!(h, LineHead { id: Some(Value::from("abc")), is_request: true });
        let h = scan_head(br#"{"params":{"arguments":{"text":"a\"id\":1"}},"method":"tools/call"#);
        assert_eq!(h, LineHead { id: None, is_request: true });
        assert_eq!(scan_head(b"garbage"), LineHead { id: None, is_request: false });
        assert_eq!(scan_head(b""), LineHead { id: None, is_request: false });
    }
}
