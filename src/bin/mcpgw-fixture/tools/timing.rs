//! Tools that take time or talk while they work: they exercise timeouts, cancellation and
//! progress forwarding.

use std::time::Duration;

use rmcp::{
    ErrorData, RoleServer,
    model::{CallToolResult, ContentBlock, ProgressNotificationParam},
    service::RequestContext,
};
use serde::Deserialize;
use serde_json::json;

use super::text;
use crate::state::State;

#[derive(Deserialize)]
pub struct SleepArgs {
    ms: u64,
}

/// Waits, unless the client cancels; a cancellation is recorded in the log file so a test can
/// prove it reached this process (the response itself is dropped by rmcp).
pub async fn sleep(state: &State, args: SleepArgs, context: &RequestContext<RoleServer>) -> CallToolResult {
    if wait_or_cancelled(state, args.ms, context).await {
        text(format!("slept {}", args.ms))
    } else {
        CallToolResult::error(vec![ContentBlock::text("cancelled")])
    }
}

#[derive(Deserialize)]
pub struct ProgressArgs {
    steps: u32,
    #[serde(default = "default_interval")]
    interval_ms: u64,
}

fn default_interval() -> u64 {
    10
}

/// Reports progress `1..=steps` of `steps` against the request's own progress token. Without a
/// token it only waits, as the spec forbids progress for requests that did not ask for it.
pub async fn progress(
    state: &State,
    args: ProgressArgs,
    context: &RequestContext<RoleServer>,
) -> Result<CallToolResult, ErrorData> {
    let token = context.meta.get_progress_token();
    for step in 1..=args.steps {
        if let Some(token) = &token {
            let param = ProgressNotificationParam::new(token.clone(), f64::from(step))
                .with_total(f64::from(args.steps))
                .with_message(format!("step {step}"));
            context.peer.notify_progress(param).await.map_err(notify_failed)?;
        }
        if step < args.steps && !wait_or_cancelled(state, args.interval_ms, context).await {
            return Ok(CallToolResult::error(vec![ContentBlock::text("cancelled")]));
        }
    }
    Ok(text(format!("done {}", args.steps)))
}

#[derive(Deserialize)]
pub struct StormArgs {
    count: u32,
}

/// Floods the client with notifications: progress when the request has a token, log messages
/// otherwise.
pub async fn storm(args: StormArgs, context: &RequestContext<RoleServer>) -> Result<CallToolResult, ErrorData> {
    let token = context.meta.get_progress_token();
    for i in 1..=args.count {
        let sent = match &token {
            Some(token) => {
                let param =
                    ProgressNotificationParam::new(token.clone(), f64::from(i)).with_total(f64::from(args.count));
                context.peer.notify_progress(param).await
            }
            None => log_message(context, i).await,
        };
        sent.map_err(notify_failed)?;
    }
    Ok(text("ok"))
}

/// Sends one `notifications/message`. Logging is deprecated by SEP-2577, but it is still the
/// only notification a server may send about a request that carries no progress token.
#[allow(deprecated)]
async fn log_message(context: &RequestContext<RoleServer>, i: u32) -> Result<(), rmcp::ServiceError> {
    use rmcp::model::{LoggingLevel, LoggingMessageNotificationParam};
    let param = LoggingMessageNotificationParam::new(LoggingLevel::Info, json!({ "storm": i }));
    context.peer.notify_logging_message(param).await
}

/// Never returns, even when cancelled: the client has to give up on its own.
pub async fn hang() -> Result<CallToolResult, ErrorData> {
    std::future::pending().await
}

/// Sleeps `ms`; returns `false` (after logging `cancelled <id>`) if the request was cancelled.
async fn wait_or_cancelled(state: &State, ms: u64, context: &RequestContext<RoleServer>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(Duration::from_millis(ms)) => true,
        () = context.ct.cancelled() => {
            state.log.record(format_args!("cancelled {}", context.id));
            false
        }
    }
}

fn notify_failed(error: rmcp::ServiceError) -> ErrorData {
    ErrorData::internal_error(format!("cannot send a notification: {error}"), None)
}
