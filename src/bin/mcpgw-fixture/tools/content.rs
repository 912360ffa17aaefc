//! Tools whose point is the shape of their result, so a gateway can be checked for passing
//! every part of a `CallToolResult` through unchanged.

use rmcp::{
    ErrorData,
    model::{CallToolResult, ContentBlock, MetaObject},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::text;
use crate::{media, state::State};

/// `big` refuses more than this, so a typo cannot make the fixture allocate without bound.
const BIG_LIMIT: usize = 1 << 30;

#[derive(Deserialize)]
pub struct EchoArgs {
    text: String,
    /// Answer `<n> bytes` instead of the text, so a test can send a huge argument without
    /// paying for an equally huge reply.
    #[serde(default)]
    length_only: bool,
}

pub fn echo(args: EchoArgs) -> CallToolResult {
    if args.length_only {
        return text(format!("{} bytes", args.text.len()));
    }
    text(args.text)
}

#[derive(Deserialize)]
pub struct AddArgs {
    a: f64,
    b: f64,
}

/// The sum is an integer in JSON when it is integral (`2 + 3` gives `5`, not `5.0`).
pub fn add(args: AddArgs) -> CallToolResult {
    let sum = args.a + args.b;
    let sum = if sum.fract() == 0.0 && sum.abs() < 9.0e15 { json!(sum as i64) } else { json!(sum) };
    let mut result = CallToolResult::structured(json!({ "sum": sum }));
    result.content = vec![ContentBlock::text(sum.to_string())];
    result
}

/// One block of every binary-ish kind, plus result-level `_meta`.
pub fn image() -> CallToolResult {
    let mut meta = MetaObject::new();
    meta.insert("fixture".to_owned(), json!(true));
    CallToolResult::success(vec![
        ContentBlock::image(media::PNG_BASE64, "image/png"),
        ContentBlock::audio(media::WAV_BASE64, "audio/wav"),
        ContentBlock::embedded_text(media::RESOURCE_URI, media::RESOURCE_TEXT),
    ])
    .with_meta(Some(meta))
}

#[derive(Deserialize)]
pub struct StructuredArgs {
    value: Value,
}

pub fn structured(args: StructuredArgs) -> CallToolResult {
    CallToolResult::structured(json!({ "value": args.value }))
}

#[derive(Deserialize)]
pub struct FailArgs {
    message: String,
}

pub fn fail(args: FailArgs) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(args.message)])
}

#[derive(Deserialize)]
pub struct BigArgs {
    bytes: usize,
}

pub fn big(args: BigArgs) -> Result<CallToolResult, ErrorData> {
    if args.bytes > BIG_LIMIT {
        return Err(ErrorData::invalid_params(format!("bytes must be at most {BIG_LIMIT}"), None));
    }
    Ok(text("x".repeat(args.bytes)))
}

/// Lets a test find this process and its grandchild to check that they were cleaned up.
pub fn pid(state: &State) -> CallToolResult {
    CallToolResult::structured(json!({ "pid": std::process::id(), "grandchild": state.grandchild() }))
}
