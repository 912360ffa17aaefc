//! Reading the gateway tools' arguments, with an `INVALID_ARGUMENT` error naming the
//! parameter for anything malformed.

use rmcp::model::JsonObject;
use serde_json::Value;

use crate::error::{ErrorCode, GatewayError, json_type_name};

/// The arguments of one gateway tool call.
pub struct Params<'a> {
    obj: &'a JsonObject,
}

fn invalid(message: String) -> GatewayError {
    GatewayError::new(ErrorCode::InvalidArgument, message)
}

impl<'a> Params<'a> {
    /// Wraps the arguments, refusing parameters the tool does not take (a misspelt `args`
    /// would otherwise be silently dropped).
    pub fn new(obj: &'a JsonObject, tool: &str, allowed: &[&str]) -> Result<Self, GatewayError> {
        for key in obj.keys() {
            if key != "agent_id" && !allowed.contains(&key.as_str()) {
                let expected: Vec<String> = allowed.iter().map(|k| format!("`{k}`")).collect();
                return Err(invalid(format!(
                    "`{tool}` has no parameter `{key}`; it takes {}",
                    if expected.is_empty() { "only `agent_id`".to_owned() } else { expected.join(", ") }
                )));
            }
        }
        Ok(Params { obj })
    }

    /// An optional string; `null` counts as missing.
    pub fn opt_str(&self, key: &str) -> Result<Option<&'a str>, GatewayError> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(invalid(format!("`{key}` must be a string, not {}", json_type_name(other)))),
        }
    }

    /// A required, non-empty string.
    pub fn req_str(&self, key: &str) -> Result<&'a str, GatewayError> {
        match self.opt_str(key)? {
            Some(s) if !s.is_empty() => Ok(s),
            Some(_) => Err(invalid(format!("`{key}` must not be empty"))),
            None => Err(invalid(format!("`{key}` is required"))),
        }
    }

    /// An optional boolean.
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, GatewayError> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(invalid(format!("`{key}` must be true or false, not {}", json_type_name(other)))),
        }
    }

    /// An optional whole number of at least 1.
    pub fn opt_positive(&self, key: &str) -> Result<Option<u64>, GatewayError> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) if v >= 1 => Ok(Some(v)),
                _ => Err(invalid(format!("`{key}` must be a whole number of at least 1, not {n}"))),
            },
            Some(other) => Err(invalid(format!("`{key}` must be a whole number, not {}", json_type_name(other)))),
        }
    }

    /// Tool names: a list of strings, or one comma-separated string.
    pub fn names(&self, key: &str) -> Result<Option<Vec<String>>, GatewayError> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                Ok(Some(s.split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned).collect()))
            }
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(invalid(format!("`{key}` must hold strings, not {}", json_type_name(other)))),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(invalid(format!(
                "`{key}` must be a list of names or a comma-separated string, not {}",
                json_type_name(other)
            ))),
        }
    }

    /// Tool arguments: an object, or a string holding a JSON object.
    pub fn object_or_json(&self, key: &str) -> Result<Option<JsonObject>, GatewayError> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(o)) => Ok(Some(o.clone())),
            Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(o)) => Ok(Some(o)),
                Ok(other) => Err(invalid(format!("`{key}` must be a JSON object, not {}", json_type_name(&other)))),
                Err(e) => Err(invalid(format!("`{key}` is a string but not valid JSON: {e}"))),
            },
            Some(other) => Err(invalid(format!("`{key}` must be an object, not {}", json_type_name(other)))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> JsonObject {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn reads_and_rejects() {
        let o = obj(json!({"server": "s", "names": "a, b,,c", "timeout_ms": 5, "args": "{\"x\":1}", "flag": true}));
        let p = Params::new(&o, "t", &["server", "names", "timeout_ms", "args", "flag"]).unwrap();
        assert_eq!(p.req_str("server").unwrap(), "s");
        assert_eq!(p.names("names").unwrap().unwrap(), ["a", "b", "c"]);
        assert_eq!(p.opt_positive("timeout_ms").unwrap(), Some(5));
        assert_eq!(p.object_or_json("args").unwrap().unwrap()["x"], 1);
        assert_eq!(p.opt_bool("flag").unwrap(), Some(true));

        let bad = obj(json!({"timeout_ms": -1, "args": "[1]", "server": 3, "names": [1]}));
        let p = Params::new(&bad, "t", &["timeout_ms", "args", "server", "names"]).unwrap();
        assert!(p.opt_positive("timeout_ms").unwrap_err().message.contains("at least 1"));
        assert!(p.object_or_json("args").unwrap_err().message.contains("must be a JSON object, not an array"));
        assert!(p.req_str("server").unwrap_err().message.contains("must be a string, not a number"));
        assert!(p.names("names").unwrap_err().message.contains("must hold strings"));
        assert!(p.req_str("missing").unwrap_err().message.contains("is required"));

        let typo = obj(json!({"arguments": {}}));
        let e = Params::new(&typo, "execute_tool", &["server", "tool", "args"]).err().unwrap();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert!(e.message.contains("has no parameter `arguments`"), "{}", e.message);
    }
}
