//! `tasks/get`, `tasks/result`, `tasks/list`, `tasks/cancel` and `tasks/update`: routed to the
//! server that runs the task, for the caller that created it only, in the caller's form.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::value::RawValue;
use tokio::sync::mpsc;

use crate::downstream::Budget;
use crate::downstream::rpc::{CallRoute, InputAsk, OutRequest, RequestHead};
use crate::error::GatewayError;
use crate::gateway::call::NoSuchTool;
use crate::gateway::caller::Caller;
use crate::gateway::execute_tool::{InputRoundError, ask_for_input};
use crate::gateway::state::Gateway;
use crate::gateway::tasks::{Asker, TaskEntry, params_for_server, status_for_caller};
use crate::mcp::codes;
use crate::wire::build::json_string;
use crate::wire::object::{Members, Rewrite};

/// How long one task request may take (`tasks/result` waits for the task: long).
const TASK_REQUEST_LIMIT: Duration = Duration::from_secs(3600);
/// The longest pause between two polls of a 2026-07-28 task for a `tasks/result`.
const MAX_POLL: Duration = Duration::from_secs(5);

fn not_found() -> NoSuchTool {
    NoSuchTool { code: codes::INVALID_PARAMS, message: "Failed to retrieve task: Task not found".to_owned() }
}

fn failed_input(detail: InputRoundError) -> NoSuchTool {
    NoSuchTool { code: codes::INTERNAL_ERROR, message: format!("the task's server {detail}") }
}

fn failed(e: GatewayError) -> NoSuchTool {
    NoSuchTool { code: codes::INTERNAL_ERROR, message: e.message }
}

impl Gateway {
    /// Answers a `tasks/*` request of `caller`.
    pub async fn task_request(
        self: &Arc<Self>,
        caller: &Caller,
        method: &str,
        params: Option<&RawValue>,
    ) -> Result<String, NoSuchTool> {
        let asker = Asker { bound: caller.identity.bound.as_deref(), owner: caller.owner };
        let modern = !caller.version.has_initialize();
        if method == "tasks/list" {
            return self.list_tasks(caller, asker, modern).await;
        }
        let id = params
            .and_then(|p| Members::of(p).ok())
            .and_then(|m| m.get("taskId").and_then(|t| serde_json::from_str::<String>(t.get()).ok()))
            .ok_or_else(|| NoSuchTool { code: codes::INVALID_PARAMS, message: "`taskId` is required".to_owned() })?;
        let entry = self.tasks().get(&id, asker).ok_or_else(not_found)?;
        match method {
            "tasks/get" => {
                let status = self.forward_task(caller, &entry, method, params).await?;
                let status =
                    if modern && !entry.modern { self.with_outcome(caller, &entry, status).await } else { status };
                Ok(status_for_caller(&status, &id, modern))
            }
            // A 2026-07-28 server acknowledges with nothing; a 2025 caller wants the task.
            "tasks/cancel" if entry.modern && !modern => {
                self.forward_task(caller, &entry, method, params).await?;
                let status = self.forward_task(caller, &entry, "tasks/get", None).await?;
                Ok(status_for_caller(&status, &id, modern))
            }
            "tasks/cancel" if modern && !entry.modern => {
                self.forward_task(caller, &entry, method, params).await?;
                Ok("{}".to_owned())
            }
            "tasks/cancel" => {
                let status = self.forward_task(caller, &entry, method, params).await?;
                Ok(status_for_caller(&status, &id, modern))
            }
            "tasks/update" if entry.modern => self.forward_task(caller, &entry, method, params).await,
            "tasks/update" => Err(NoSuchTool {
                code: codes::METHOD_NOT_FOUND,
                message: "this task's server takes no `tasks/update` (it speaks the 2025-11-25 tasks)".to_owned(),
            }),
            "tasks/result" => self.await_task(caller, &entry).await,
            other => Err(NoSuchTool { code: codes::METHOD_NOT_FOUND, message: format!("method not found: `{other}`") }),
        }
    }

    /// A 2025 server's task status with its outcome, as a 2026-07-28 `tasks/get` carries it:
    /// `result` once completed, `error` once failed (both from `tasks/result`, which no
    /// longer waits then).
    async fn with_outcome(self: &Arc<Self>, caller: &Caller, entry: &TaskEntry, status: String) -> String {
        let Ok(members) = Members::parse(&status) else { return status };
        let state = members.get("status").map(RawValue::get);
        if !matches!(state, Some(r#""completed""# | r#""failed""#)) {
            return status;
        }
        let mut out = Rewrite::new(&members);
        match self.forward_task(caller, entry, "tasks/result", None).await {
            Ok(result) => out.set("result", result),
            Err(e) => out.set("error", format!(r#"{{"code":{},"message":{}}}"#, e.code, json_string(&e.message))),
        };
        out.finish()
    }

    /// The outcome of a task, once it has one: `tasks/result` of a 2025 server (which waits),
    /// `tasks/get` until the end from a 2026-07-28 one.
    pub(crate) async fn await_task(self: &Arc<Self>, caller: &Caller, entry: &TaskEntry) -> Result<String, NoSuchTool> {
        if entry.modern {
            return self.poll_to_end(caller, entry).await;
        }
        self.forward_task(caller, entry, "tasks/result", None).await
    }

    /// Sends a task request to the task's server, answering its requests for input on the
    /// way (a 2025 server asks while `tasks/result` waits).
    async fn forward_task(
        self: &Arc<Self>,
        caller: &Caller,
        entry: &TaskEntry,
        method: &str,
        params: Option<&RawValue>,
    ) -> Result<String, NoSuchTool> {
        let downstream = self.servers().get(&entry.server).cloned().ok_or_else(not_found)?;
        let members = params_for_server(params, &entry.remote);
        let (asks_tx, mut asks) = mpsc::channel::<InputAsk>(8);
        let input = caller.asker.is_some().then_some(asks_tx);
        let route = Arc::new(CallRoute::new(caller.owner, caller.delivery(), input));
        let head = RequestHead { method: method.to_owned(), name: Some(entry.remote.clone()), params: Vec::new() };
        let req = OutRequest { method, members: &members, head, tasks: true, ..Default::default() };
        let budget = Budget::new(TASK_REQUEST_LIMIT);
        let sent = downstream.send(req, route, budget, caller.cancel.clone());
        tokio::pin!(sent);
        let result = loop {
            tokio::select! {
                biased;
                r = &mut sent => break r,
                Some(ask) = asks.recv() => crate::gateway::execute_tool::answer(caller, ask, budget).await,
            }
        };
        result.map(|r| r.json().to_owned()).map_err(failed)
    }

    /// `tasks/result` of a 2026-07-28 task: `tasks/get` until it ends, then its outcome. The
    /// task's requests for input go to a 2025 caller, and its answers back by `tasks/update`.
    async fn poll_to_end(self: &Arc<Self>, caller: &Caller, entry: &TaskEntry) -> Result<String, NoSuchTool> {
        let mut answered: HashSet<String> = HashSet::new();
        loop {
            let detail = self.forward_task(caller, entry, "tasks/get", None).await?;
            let members = Members::parse(&detail).unwrap_or_default();
            let status = members.get("status").and_then(|s| serde_json::from_str::<String>(s.get()).ok());
            match status.as_deref() {
                Some("completed") => return Ok(members.get("result").map_or("{}", RawValue::get).to_owned()),
                Some("failed") => {
                    let error = members.get("error").and_then(|e| Members::of(e).ok()).unwrap_or_default();
                    let message = error.get("message").and_then(|m| serde_json::from_str::<String>(m.get()).ok());
                    return Err(NoSuchTool {
                        code: codes::INTERNAL_ERROR,
                        message: message.unwrap_or_else(|| "the task failed".to_owned()),
                    });
                }
                Some("cancelled") => {
                    return Err(NoSuchTool {
                        code: codes::INTERNAL_ERROR,
                        message: "the task was cancelled".to_owned(),
                    });
                }
                Some("input_required") if caller.asker.is_some() => {
                    self.answer_task_input(caller, entry, members.get("inputRequests"), &mut answered).await?;
                    continue;
                }
                _ => {}
            }
            let pause = members
                .get("pollIntervalMs")
                .and_then(|p| p.get().parse::<u64>().ok())
                .map_or(Duration::from_millis(500), Duration::from_millis)
                .min(MAX_POLL);
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = caller.cancel.cancelled() => return Err(NoSuchTool { code: codes::INTERNAL_ERROR, message: "cancelled".to_owned() }),
            }
        }
    }

    /// Asks a 2025 caller the task's requests for input it has not answered yet (keys are
    /// unique over a task's life) and sends the answers with `tasks/update`.
    async fn answer_task_input(
        self: &Arc<Self>,
        caller: &Caller,
        entry: &TaskEntry,
        requests: Option<&RawValue>,
        answered: &mut HashSet<String>,
    ) -> Result<(), NoSuchTool> {
        let members = requests.and_then(|r| Members::of(r).ok()).unwrap_or_default();
        let fresh: Vec<String> = members
            .0
            .iter()
            .filter(|(k, _)| !answered.contains(k.as_ref()))
            .map(|(k, v)| format!("{}:{}", json_string(k), v.get()))
            .collect();
        if fresh.is_empty() {
            tokio::time::sleep(Duration::from_millis(200)).await;
            return Ok(());
        }
        answered.extend(members.0.iter().map(|(k, _)| k.to_string()));
        let fresh = RawValue::from_string(format!("{{{}}}", fresh.join(",")))
            .map_err(|e| failed_input(InputRoundError::Malformed(e)))?;
        let responses =
            ask_for_input(caller, Some(&fresh), Budget::new(TASK_REQUEST_LIMIT)).await.map_err(failed_input)?;
        let params = RawValue::from_string(format!(r#"{{"inputResponses":{responses}}}"#))
            .map_err(|e| failed_input(InputRoundError::Malformed(e)))?;
        self.forward_task(caller, entry, "tasks/update", Some(&params)).await.map(drop)
    }

    /// `tasks/list`: the caller's own tasks, each as its server reports it now.
    async fn list_tasks(
        self: &Arc<Self>,
        caller: &Caller,
        asker: Asker<'_>,
        modern: bool,
    ) -> Result<String, NoSuchTool> {
        let mut tasks = Vec::new();
        for (id, entry) in self.tasks().list(asker).into_iter().rev().take(100) {
            if let Ok(status) = self.forward_task(caller, &entry, "tasks/get", None).await {
                tasks.push(status_for_caller(&status, &id, modern));
            }
        }
        tasks.reverse();
        Ok(format!(r#"{{"tasks":[{}]}}"#, tasks.join(",")))
    }
}
