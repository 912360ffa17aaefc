//! The tool definitions: names, one-line descriptions and JSON schemas. Behaviour lives in
//! `tools/`; this file only says what `tools/list` shows.

use std::sync::Arc;

use rmcp::model::{JsonObject, Tool};
use serde_json::{Value, json};

/// The built-in tools, in the order `tools/list` reports them.
pub fn builtin_tools() -> Vec<Tool> {
    vec![
        tool(
            "echo",
            "Return the given text as one text block (or only its length, with length_only).",
            object(
                json!({
                    "text": {"type": "string", "description": "the text to return"},
                    "length_only": {"type": "boolean", "default": false, "description": "return `<n> bytes` instead"}
                }),
                &["text"],
            ),
        ),
        tool(
            "add",
            "Add two numbers; the sum comes back as text and as structuredContent {sum}.",
            json!({
                "type": "object",
                "properties": {
                    "a": {"type": "number", "description": "first addend"},
                    "b": {"type": "number", "description": "second addend"}
                },
                "required": ["a", "b"]
            }),
        )
        .with_raw_output_schema(schema(json!({
            "type": "object",
            "properties": {"sum": {"type": "number"}},
            "required": ["sum"]
        }))),
        tool("image", "Return an image, an audio clip and an embedded resource, with _meta {fixture: true}.", empty()),
        tool(
            "structured",
            "Return structuredContent {value} and a text copy of it.",
            json!({
                "type": "object",
                "properties": {"value": {"description": "any JSON value, echoed back"}},
                "required": ["value"]
            }),
        )
        .with_raw_output_schema(schema(json!({
            "type": "object",
            "properties": {"value": {}},
            "required": ["value"]
        }))),
        tool(
            "sleep",
            "Wait ms milliseconds, then return `slept <ms>`; logs `cancelled <id>` if cancelled.",
            object(json!({"ms": {"type": "integer", "minimum": 0, "description": "milliseconds to wait"}}), &["ms"]),
        ),
        tool(
            "progress",
            "Send steps progress notifications interval_ms apart, then return `done <steps>`.",
            object(
                json!({
                    "steps": {"type": "integer", "minimum": 0, "description": "number of notifications"},
                    "interval_ms": {"type": "integer", "minimum": 0, "default": 10, "description": "pause between them"}
                }),
                &["steps"],
            ),
        ),
        tool(
            "fail",
            "Return a result with isError: true and the message as text.",
            object(json!({"message": {"type": "string", "description": "the error text"}}), &["message"]),
        ),
        tool(
            "crash",
            "Exit the process at once with the given code (default 1), without answering.",
            object(json!({"code": {"type": "integer", "default": 1, "description": "exit code"}}), &[]),
        ),
        tool(
            "stderr",
            "Write the text to stderr lines times (default 1), then return `ok`.",
            object(
                json!({
                    "text": {"type": "string", "description": "the line to write"},
                    "lines": {"type": "integer", "minimum": 1, "default": 1, "description": "how many times"}
                }),
                &["text"],
            ),
        ),
        tool(
            "add_tool",
            "Register a new echo-like tool and send notifications/tools/list_changed.",
            object(json!({"name": {"type": "string", "description": "name of the new tool"}}), &["name"]),
        ),
        tool(
            "big",
            "Return one text block of exactly bytes bytes of `x`.",
            object(json!({"bytes": {"type": "integer", "minimum": 0, "description": "size of the text"}}), &["bytes"]),
        ),
        tool("garbage", "Write a non-JSON line to stdout, then return `ok`.", empty()),
        tool("hang", "Never return, and ignore cancellation.", empty()),
        tool(
            "storm",
            "Send count progress (or logging) notifications as fast as possible, then return `ok`.",
            object(
                json!({"count": {"type": "integer", "minimum": 0, "description": "number of notifications"}}),
                &["count"],
            ),
        ),
        tool("close_stdout", "Close stdout but keep the process running (stdio only); never answers.", empty()),
        tool("pid", "Return structuredContent {pid, grandchild}: this process and its grandchild, if any.", empty())
            .with_raw_output_schema(schema(json!({
                "type": "object",
                "properties": {
                    "pid": {"type": "integer"},
                    "grandchild": {"type": ["integer", "null"]}
                },
                "required": ["pid", "grandchild"]
            }))),
    ]
}

/// The `--extra-tools` filler. The schema has a realistic size so that token-budget tests
/// measure something.
pub fn extra_tool(index: usize) -> Tool {
    tool(
        &format!("extra_{index}"),
        &format!("Extra tool number {index}; returns its own name."),
        object(json!({"note": {"type": "string", "description": "ignored; here to give the schema some weight"}}), &[]),
    )
}

/// A tool registered at runtime by `add_tool`; it behaves like `echo`.
pub fn dynamic_tool(name: &str) -> Tool {
    tool(name, "Added at runtime by add_tool; returns the given text.", text_schema())
}

fn tool(name: &str, description: &str, input_schema: Value) -> Tool {
    Tool::new(name.to_owned(), description.to_owned(), schema(input_schema))
}

fn text_schema() -> Value {
    object(json!({"text": {"type": "string", "description": "the text to return"}}), &["text"])
}

fn empty() -> Value {
    json!({"type": "object", "properties": {}})
}

fn object(properties: Value, required: &[&str]) -> Value {
    let mut schema = json!({"type": "object", "properties": properties});
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

/// Every schema here is a literal object, so anything else is a typo in this file.
fn schema(value: Value) -> Arc<JsonObject> {
    match value {
        Value::Object(map) => Arc::new(map),
        other => unreachable!("schema literal is not an object: {other}"),
    }
}
