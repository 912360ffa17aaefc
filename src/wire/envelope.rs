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
        why: String,
        /// The message's own id, when it has a usable one.
        id: Option<Box<RawValue>>,
        /// Whether it had a `method` (a request or notification, not a response).
        has_method: bool,
    },
}

/// Parses one message.
pub fn parse(text: &[u8]) -> Result<Message<'_>, Malformed> {
    if text.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        // Serde would read an array as a struct's fields in order: refuse it first.
        serde_json::from_slice::<serde::de::IgnoredAny>(text)?;
        return Err(Malformed::Invalid {
            why: "expected a JSON-RPC message object".to_owned(),
            id: None,
            has_method: false,
        });
    }
    let env: Envelope<'_> = match serde_json::from_slice(text) {
        Ok(env) => env,
        Err(e) if e.classify() == serde_json::error::Category::Data => return Err(wrong_shape(text, &e)),
        Err(e) => return Err(Malformed::Json(e)),
    };
    let has_method = env.method.is_some();
    let usable_id = env.id.filter(|id| is_usable_id(id));
    let invalid =
        |why: &str| Malformed::Invalid { why: why.to_owned(), id: usable_id.map(|id| id.to_owned()), has_method };
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
    // JSON-RPC allows positional params; MCP's are always objects.
    if let Some(params) = env.params
        && first_byte(params) != Some(b'{')
    {
        return Err(invalid("`params` must be an object"));
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

/// Valid JSON whose top-level keys have the wrong types (`"method": 1`): an invalid request,
/// by its id when it has a usable one.
fn wrong_shape(text: &[u8], e: &serde_json::Error) -> Malformed {
    #[derive(Deserialize)]
    struct Loose<'a> {
        #[serde(default, borrow, deserialize_with = "present")]
        id: Option<&'a RawValue>,
        #[serde(default, borrow, deserialize_with = "present")]
        method: Option<&'a RawValue>,
    }
    let loose = serde_json::from_slice::<Loose<'_>>(text).ok();
    let why = match loose.is_some() {
        true => e.to_string().split(" at line ").next().unwrap_or_default().to_owned(),
        false => "expected a JSON-RPC message object".to_owned(),
    };
    Malformed::Invalid {
        why,
        id: loose.as_ref().and_then(|l| l.id).filter(|id| is_usable_id(id)).map(|id| id.to_owned()),
        has_method: loose.is_some_and(|l| l.method.is_some()),
    }
}

/// The deepest nesting accepted from a client (serde_json's own limit for typed parsing).
pub const MAX_DEPTH: usize = 128;

/// What a client's message must not hold even when it is well-formed JSON: nesting deeper
/// than [`MAX_DEPTH`], and `\u` escapes of lone surrogates (which no string can hold). Raw
/// values are never evaluated, so without this check such input would reach a downstream
/// (and its parser) instead of being refused at once. One pass, no allocation.
pub fn check_limits(text: &[u8]) -> Result<(), &'static str> {
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        match b {
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err("nesting too deep");
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'"' => {
                i += 1;
                while let Some(&c) = text.get(i) {
                    match c {
                        b'"' => break,
                        b'\\' => {
                            if text.get(i + 1) == Some(&b'u') {
                                let unit = hex4(text.get(i + 2..i + 6));
                                match unit {
                                    Some(0xD800..=0xDBFF) => {
                                        let low = (text.get(i + 6..i + 8) == Some(b"\\u"))
                                            .then(|| hex4(text.get(i + 8..i + 12)))
                                            .flatten();
                                        if !matches!(low, Some(0xDC00..=0xDFFF)) {
                                            return Err("a lone surrogate in a string");
                                        }
                                        i += 6;
                                    }
                                    Some(0xDC00..=0xDFFF) => return Err("a lone surrogate in a string"),
                                    _ => {}
                                }
                            }
                            i += 1;
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

fn hex4(digits: Option<&[u8]>) -> Option<u32> {
    u32::from_str_radix(std::str::from_utf8(digits?).ok()?, 16).ok()
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
        let e = parse(br#"{"jsonrpc":"2.0","id":"p","method":"x","params":[]}"#).unwrap_err();
        assert!(matches!(e, Malformed::Invalid { id: Some(_), .. }));
        let e = parse(br#"{"jsonrpc":"2.0","id":"m","method":1}"#).unwrap_err();
        assert!(matches!(e, Malformed::Invalid { id: Some(id), has_method: true, .. } if id.get() == "\"m\""));
        assert!(matches!(parse(b"[1,2]").unwrap_err(), Malformed::Invalid { id: None, .. }));
        assert!(matches!(parse(b"{\"a\":").unwrap_err(), Malformed::Json(_)));
        assert!(matches!(
            parse(br#"{"jsonrpc":"2.0","id":1,"id":2,"method":"x"}"#).unwrap_err(),
            Malformed::Invalid { .. }
        ));
    }

    #[test]
    fn limits_depth_and_surrogates() {
        assert_eq!(check_limits(br#"{"a":[[1]],"s":"\ud83d\ude00 \"[[[\\"}"#), Ok(()));
        let deep = format!("{}{}", "[".repeat(129), "]".repeat(129));
        assert!(check_limits(deep.as_bytes()).is_err());
        let fine = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert!(check_limits(fine.as_bytes()).is_ok());
        assert!(check_limits(br#"{"s":"\ud800"}"#).is_err());
        assert!(check_limits(br#"{"s":"\udc00x"}"#).is_err());
        assert!(check_limits(br#"{"s":"\ud800\u0041"}"#).is_err());
        assert!(
            check_limits(br#"{"s":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}"#).is_ok(),
            "brackets in strings do not count"
        );
    }

    #[test]
    fn spans_point_into_the_text() {
        let text = br#"{"jsonrpc":"2.0","id":1,"result":{"a":1}}"#;
        let Message::Result { result, .. } = parse(text).unwrap() else { panic!() };
        let span = span_of(text, result.get()).unwrap();
        assert_eq!(&text[span], br#"{"a":1}"#);
    }
}
