//! Reading the gateway tools' arguments from their raw JSON, with an `INVALID_ARGUMENT` error
//! naming the parameter for anything malformed. Values are read where they are; `args` of
//! `execute_tool` is never parsed into a tree, only checked to be an object.

use std::borrow::Cow;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::{ErrorCode, GatewayError, json_type_name};
use crate::logging::bounded;
use crate::wire::envelope::first_byte;
use crate::wire::object::Members;

/// The arguments of one gateway tool call.
pub struct Params<'a> {
    members: Members<'a>,
}

fn invalid(message: String) -> GatewayError {
    GatewayError::new(ErrorCode::InvalidArgument, message)
}

/// A small value, parsed (for type errors and scalars; never used for `args`).
fn value(raw: &RawValue) -> Value {
    serde_json::from_str(raw.get()).unwrap_or(Value::Null)
}

impl<'a> Params<'a> {
    /// Reads `arguments` (an object, or absent), refusing parameters the tool does not take:
    /// a misspelt `args` would otherwise be silently dropped.
    pub fn new(arguments: Option<&'a RawValue>, tool: &str, allowed: &[&str]) -> Result<Self, GatewayError> {
        let members = match arguments {
            None => Members::default(),
            Some(raw) if raw.get() == "null" => Members::default(),
            Some(raw) => Members::of(raw).map_err(|_| {
                invalid(format!("the arguments of `{tool}` must be an object, not {}", json_type_name(&value(raw))))
            })?,
        };
        for (key, _) in &members.0 {
            if key != "agent_id" && !allowed.contains(&key.as_ref()) {
                let expected: Vec<String> = allowed.iter().map(|k| format!("`{k}`")).collect();
                return Err(invalid(format!(
                    "`{tool}` has no parameter `{}`; it takes {}",
                    bounded(key),
                    if expected.is_empty() { "only `agent_id`".to_owned() } else { expected.join(", ") }
                )));
            }
        }
        Ok(Params { members })
    }

    fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.members.get(key).filter(|v| v.get() != "null")
    }

    /// The raw value of `key`, `null` counting as missing.
    pub fn raw(&self, key: &str) -> Option<&'a RawValue> {
        self.get(key)
    }

    /// An optional string; `null` counts as missing.
    pub fn opt_str(&self, key: &str) -> Result<Option<Cow<'a, str>>, GatewayError> {
        match self.get(key) {
            None => Ok(None),
            Some(raw) => match serde_json::from_str::<Cow<'a, str>>(raw.get()) {
                Ok(s) => Ok(Some(s)),
                Err(_) => Err(invalid(format!("`{key}` must be a string, not {}", json_type_name(&value(raw))))),
            },
        }
    }

    /// A required, non-empty string.
    pub fn req_str(&self, key: &str) -> Result<Cow<'a, str>, GatewayError> {
        match self.opt_str(key)? {
            Some(s) if !s.is_empty() => Ok(s),
            Some(_) => Err(invalid(format!("`{key}` must not be empty"))),
            None => Err(invalid(format!("`{key}` is required"))),
        }
    }

    /// An optional boolean.
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, GatewayError> {
        match self.get(key).map(value) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(other) => Err(invalid(format!("`{key}` must be true or false, not {}", json_type_name(&other)))),
        }
    }

    /// An optional whole number of at least 1.
    pub fn opt_positive(&self, key: &str) -> Result<Option<u64>, GatewayError> {
        match self.get(key) {
            None => Ok(None),
            Some(raw) => match value(raw) {
                Value::Number(n) => match n.as_u64() {
                    Some(v) if v >= 1 => Ok(Some(v)),
                    _ => Err(invalid(format!("`{key}` must be a whole number of at least 1, not {n}"))),
                },
                // A number serde cannot hold (1e400, say) parses as nothing.
                Value::Null => {
                    Err(invalid(format!("`{key}` must be a whole number of at least 1, not {}", bounded(raw.get()))))
                }
                other => Err(invalid(format!("`{key}` must be a whole number, not {}", json_type_name(&other)))),
            },
        }
    }

    /// Tool names: a list of strings, or one comma-separated string.
    pub fn names(&self, key: &str) -> Result<Option<Vec<String>>, GatewayError> {
        match self.get(key).map(value) {
            None => Ok(None),
            Some(Value::String(s)) => {
                Ok(Some(s.split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned).collect()))
            }
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    other => Err(invalid(format!("`{key}` must hold strings, not {}", json_type_name(&other)))),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(invalid(format!(
                "`{key}` must be a list of names or a comma-separated string, not {}",
                json_type_name(&other)
            ))),
        }
    }

    /// Tool arguments, raw: an object, or a string holding a JSON object (unwrapped).
    pub fn object_or_json(&self, key: &str) -> Result<Option<Cow<'a, RawValue>>, GatewayError> {
        let Some(raw) = self.get(key) else { return Ok(None) };
        match first_byte(raw) {
            Some(b'{') => Ok(Some(Cow::Borrowed(raw))),
            Some(b'"') => {
                let text: String = serde_json::from_str(raw.get()).unwrap_or_default();
                match serde_json::from_str::<Box<RawValue>>(&text) {
                    Ok(inner) if first_byte(&inner) == Some(b'{') => Ok(Some(Cow::Owned(inner))),
                    Ok(inner) => {
                        Err(invalid(format!("`{key}` must be a JSON object, not {}", json_type_name(&value(&inner)))))
                    }
                    Err(e) => Err(invalid(format!("`{key}` is a string but not valid JSON: {e}"))),
                }
            }
            _ => Err(invalid(format!("`{key}` must be an object, not {}", json_type_name(&value(raw))))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_owned()).unwrap()
    }

    #[test]
    fn reads_and_rejects() {
        let o = raw(r#"{"server": "s", "names": "a, b,,c", "timeout_ms": 5, "args": "{\"x\":1}", "flag": true}"#);
        let p = Params::new(Some(&o), "t", &["server", "names", "timeout_ms", "args", "flag"]).unwrap();
        assert_eq!(p.req_str("server").unwrap(), "s");
        assert_eq!(p.names("names").unwrap().unwrap(), ["a", "b", "c"]);
        assert_eq!(p.opt_positive("timeout_ms").unwrap(), Some(5));
        assert_eq!(p.object_or_json("args").unwrap().unwrap().get(), r#"{"x":1}"#);
        assert_eq!(p.opt_bool("flag").unwrap(), Some(true));

        let bad = raw(r#"{"timeout_ms": -1, "args": "[1]", "server": 3, "names": [1]}"#);
        let p = Params::new(Some(&bad), "t", &["timeout_ms", "args", "server", "names"]).unwrap();
        assert!(p.opt_positive("timeout_ms").unwrap_err().message.contains("at least 1"));
        assert!(p.object_or_json("args").unwrap_err().message.contains("must be a JSON object, not an array"));
        assert!(p.req_str("server").unwrap_err().message.contains("must be a string, not a number"));
        assert!(p.names("names").unwrap_err().message.contains("must hold strings"));
        assert!(p.req_str("missing").unwrap_err().message.contains("is required"));

        let typo = raw(r#"{"arguments": {}}"#);
        let e = Params::new(Some(&typo), "execute_tool", &["server", "tool", "args"]).err().unwrap();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert!(e.message.contains("has no parameter `arguments`"), "{}", e.message);
        let escaped = raw(r#"{"server": "a\"b"}"#);
        assert_eq!(Params::new(Some(&escaped), "t", &["server"]).unwrap().req_str("server").unwrap(), "a\"b");
    }
}
