//! Finding the parts of one JSON-RPC message without building a tree.
//!
//! A message is parsed into borrowed slices of its own text: the `id` and `params` or
//! `result` stay [`RawValue`]s (serde_json checks that they are well-formed JSON and finds
//! where they end, nothing more), so a 64 MiB result costs one scan.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

/// The top-level keys of a JSON-RPC message. Unknown keys are ignored; a duplicated key is an
/// error (serde refuses it).
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default, borrow)]
    jsonrpc: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(default, borrow)]
    method: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "present")]
    params: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    error: Option<&'a RawValue>,
}

/// `Some` for a key that is there, even when its value is `null` (which plain `Option` would
/// turn into `None`: `"id": null` is not the same as no id).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&'de RawValue>::deserialize(d).map(Some)
}

/// One message, its parts borrowed from the text it was parsed from.
#[derive(Debug)]
pub enum Message<'a> {
    /// A request: it waits for a response with the same id.
    Request {
        /// The id, as written (a number or a string).
        id: &'a RawValue,
        /// The method.
        method: Cow<'a, str>,
        /// The params, as written.
        params: Option<&'a RawValue>,
    },
    /// A notification: no answer.
    Notification {
        /// The method.
        method: Cow<'a, str>,
        /// The params, as written.
        params: Option<&'a RawValue>,
    },
    /// A successful response.
    Result {
        /// The id of the request it answers.
        id: &'a RawValue,
        /// The result, as written.
        result: &'a RawValue,
    },
    /// An error response.
    Error {
        /// The id of the request it answers (`null` when the peer could not tell).
        id: &'a RawValue,
        /// The error.
        error: RpcError<'a>,
    },
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, Deserialize)]
pub struct RpcError<'a> {
    /// The error code.
    pub code: i64,
    /// The message.
    #[serde(borrow)]
    pub message: Cow<'a, str>,
    /// Extra data, as written.
    #[serde(default, borrow, deserialize_with = "present")]
    pub data: Option<&'a RawValue>,
}

/// Why a text is not a JSON-RPC message we can act on.
#[derive(Debug, thiserror::Error)]
pub enum Malformed {
    /// Not JSON, or not an object.
    #[error("parse error: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON, but not a valid message. The id is kept when one was found, so that a request
    /// can still be answered.
    #[error("invalid request: {why}")]
    Invalid {
        /// What is wrong.
        why: &'static str,
        /// The message's own id, when it has a usable one.
        id: Option<Box<RawValue>>,
        /// Whether it had a `method` (a request or notification, not a response).
        has_method: bool,
    },
}

/// Parses one message.
pub fn parse(text: &[u8]) -> Result<Message<'_>, Malformed> {
    let env: Envelope<'_> = serde_json::from_slice(text)?;
    let has_method = env.method.is_some();
    let usable_id = env.id.filter(|id| is_usable_id(id));
    let invalid = |why: &'static str| Malformed::Invalid { why, id: usable_id.map(|id| id.to_owned()), has_method };
    if env.jsonrpc.as_deref() != Some("2.0") {
        return Err(invalid("`jsonrpc` must be \"2.0\""));
    }
    match (has_method, env.result, env.error) {
        (true, None, None) => {}
        (true, ..) => return Err(invalid("a message cannot have both `method` and `result` or `error`")),
        (false, Some(_), Some(_)) => return Err(invalid("a response cannot have both `result` and `error`")),
        (false, None, None) => return Err(invalid("a message needs `method`, `result` or `error`")),
        (false, ..) => {}
    }
    if let Some(params) = env.params
        && !matches!(first_byte(params), Some(b'{' | b'['))
    {
        return Err(invalid("`params` must be an object or an array"));
    }
    if let Some(method) = env.method {
        return match env.id {
            None => Ok(Message::Notification { method, params: env.params }),
            Some(id) if is_usable_id(id) => Ok(Message::Request { id, method, params: env.params }),
            Some(_) => Err(invalid("`id` must be a string or an integer")),
        };
    }
    let id = match env.id {
        Some(id) if is_usable_id(id) || id.get() == "null" => id,
        _ => return Err(invalid("a response needs the `id` of its request")),
    };
    match (env.result, env.error) {
        (Some(result), _) => Ok(Message::Result { id, result }),
        (None, Some(error)) => match serde_json::from_str::<RpcError<'_>>(error.get()) {
            Ok(error) => Ok(Message::Error { id, error }),
            Err(_) => Err(invalid("`error` must be an object with a numeric `code` and a `message`")),
        },
        (None, None) => Err(invalid("a message needs `method`, `result` or `error`")),
    }
}

/// The first byte of a raw value (raw values carry no leading whitespace, but be safe).
pub fn first_byte(raw: &RawValue) -> Option<u8> {
    raw.get().bytes().find(|b| !b.is_ascii_whitespace())
}

/// Whether `id` is a string or an integer, the ids MCP allows.
fn is_usable_id(id: &RawValue) -> bool {
    let text = id.get();
    match first_byte(id) {
        Some(b'"') => true,
        Some(b'-' | b'0'..=b'9') => !text.contains(['.', 'e', 'E']),
        _ => false,
    }
}

/// The byte range of `part` inside `whole`, when `part` is a slice of it (as every part of a
/// parsed [`Message`] is of the text it came from).
pub fn span_of(whole: &[u8], part: &str) -> Option<std::ops::Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= whole.len()).then_some(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_the_four_kinds_apart() {
        let m = parse(br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x"}}"#).unwrap();
        assert!(
            matches!(m, Message::Request { id, method, params: Some(p) } if id.get() == "7" && method == "tools/call" && p.get() == r#"{"name":"x"}"#)
        );
        let m = parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
        assert!(matches!(m, Message::Notification { params: None, .. }));
        let m = parse(br#"{"jsonrpc":"2.0","id":"a","result":{"v":1.0e400,"w":123456789012345678901234567890}}"#);
        assert!(
            matches!(m, Ok(Message::Result { result, .. }) if result.get().contains("1.0e400")),
            "numbers are not evaluated"
        );
        let m = parse(br#"{"jsonrpc":"2.0","id":"a","result":{"v":1.0,"x":[]}}"#).unwrap();
        assert!(matches!(m, Message::Result { result, .. } if result.get() == r#"{"v":1.0,"x":[]}"#));
        let m =
            parse(br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"bad","data":{"k":1}}}"#).unwrap();
        assert!(matches!(m, Message::Error { error, .. } if error.code == -32700 && error.data.is_some()));
    }

    #[test]
    fn refuses_what_is_not_a_message_keeping_the_id() {
        let e = parse(br#"{"jsonrpc":"2.0","id":3,"method":"x","result":1}"#).unwrap_err();
        assert!(matches!(e, Malformed::Invalid { id: Some(id), has_method: true, .. } if id.get() == "3"));
        let e = parse(br#"{"jsonrpc":"1.0","id":"q","method":"x"}"#).unwrap_err();
        assert!(matches!(e, Malformed::Invalid { id: Some(_), .. }));
        let e = parse(br#"{"jsonrpc":"2.0","id":1.5,"method":"x"}"#).unwrap_err();
        assert!(matches!(e, Malformed::Invalid { id: None, .. }));
        let e = parse(br#"{"jsonrpc":"2.0","id":1,"method":"x","params":3}"#).unwrap_err();
        assert!(matches!(e, Malformed::Invalid { id: Some(_), .. }));
        assert!(matches!(parse(b"[1,2]").unwrap_err(), Malformed::Json(_)));
        assert!(matches!(parse(br#"{"jsonrpc":"2.0","id":1,"id":2,"method":"x"}"#).unwrap_err(), Malformed::Json(_)));
    }

    #[test]
    fn spans_point_into_the_text() {
        let text = br#"{"jsonrpc":"2.0","id":1,"result":{"a":1}}"#;
        let Message::Result { result, .. } = parse(text).unwrap() else { panic!() };
        let span = span_of(text, result.get()).unwrap();
        assert_eq!(&text[span], br#"{"a":1}"#);
    }
}
