//! Tasks: long-running tool calls that answer with a handle to poll.
//!
//! Two forms exist. 2025-11-25 asks for a task with `task` in the `tools/call` params and gets
//! `{"task": {taskId, status, ttl, pollInterval, ...}}`, then polls `tasks/get`, waits with
//! `tasks/result`, and has `tasks/list` and `tasks/cancel`. The 2026-07-28 tasks extension
//! lets the server answer any call of a client that declares the extension with
//! `{"resultType": "task", taskId, status, ttlMs, pollIntervalMs, ...}`, polled with
//! `tasks/get` (whose result carries the outcome), answered with `tasks/update` and stopped
//! with `tasks/cancel`.
//!
//! The gateway hands out task ids of its own: a downstream's ids could collide across
//! servers, and a caller must never reach a task it did not create. Each id maps to the
//! server and its id, and to who created it (the agent, and the client connection or session
//! when no credential names the agent). Results are converted between the forms for the
//! caller's revision.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::value::RawValue;

use crate::wire::build::json_string;
use crate::wire::object::{Members, Rewrite};

/// Tasks remembered at once; past this, the oldest are forgotten.
const MAX_TASKS: usize = 10_000;
/// How long a task is remembered after it was created.
const REMEMBER: Duration = Duration::from_secs(24 * 3600);

/// One task the gateway handed out.
#[derive(Debug, Clone)]
pub struct TaskEntry {
    /// The server that runs it.
    pub server: String,
    /// Its id at the server.
    pub remote: String,
    /// The agent that created it.
    pub agent: Option<String>,
    /// The client that created it, for gateways that name agents by argument; `None` when a
    /// stateless request did, and the unguessable id alone grants access (as a bearer
    /// capability: such a gateway authenticates nobody anyway).
    pub owner: Option<u64>,
    /// Whether the server speaks the 2026-07-28 form.
    pub modern: bool,
    created: Instant,
}

impl TaskEntry {
    /// A task the gateway runs for a caller that takes none, known to nobody else.
    pub fn unlisted(server: &str, remote: &str, modern: bool) -> TaskEntry {
        TaskEntry {
            server: server.to_owned(),
            remote: remote.to_owned(),
            agent: None,
            owner: Some(0),
            modern,
            created: Instant::now(),
        }
    }

    /// Whether `asker` may see this task: the agent that created it, or (when no credential
    /// names agents) the client that did, or anyone holding the id of a stateless one.
    fn reachable_by(&self, asker: Asker<'_>) -> bool {
        match (asker.bound, self.owner) {
            (Some(agent), _) => self.agent.as_deref() == Some(agent),
            (None, Some(owner)) => owner == asker.owner,
            (None, None) => true,
        }
    }

    /// Whether `tasks/list` of `asker` shows this task: as [`Self::reachable_by`], except
    /// that a stateless task belongs to no list (it has no client to list it for).
    fn listed_for(&self, asker: Asker<'_>) -> bool {
        (asker.bound.is_some() || self.owner.is_some()) && self.reachable_by(asker)
    }
}

/// Who asks about a task.
#[derive(Debug, Clone, Copy)]
pub struct Asker<'a> {
    /// The agent a credential or `--agent` names, if any.
    pub bound: Option<&'a str>,
    /// The client (connection, session).
    pub owner: u64,
}

/// Every task handed out.
#[derive(Default)]
pub struct TaskTable {
    map: Mutex<HashMap<String, TaskEntry>>,
}

impl TaskTable {
    /// Remembers a task of `server` (its id there `remote`) and returns the gateway's id for it.
    pub fn add(&self, server: &str, remote: &str, agent: Option<&str>, owner: Option<u64>, modern: bool) -> String {
        let mut bytes = [0u8; 12];
        let _ = getrandom::fill(&mut bytes);
        let id: String = format!("mcpgw-{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, t| t.created.elapsed() < REMEMBER);
        if map.len() >= MAX_TASKS
            && let Some(oldest) = map.iter().min_by_key(|(_, t)| t.created).map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        let entry = TaskEntry {
            server: server.to_owned(),
            remote: remote.to_owned(),
            agent: agent.map(str::to_owned),
            owner,
            modern,
            created: Instant::now(),
        };
        map.insert(id.clone(), entry);
        id
    }

    /// The task `id`, if `asker` created it. Anyone else's is as if it did not exist.
    pub fn get(&self, id: &str, asker: Asker<'_>) -> Option<TaskEntry> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map.get(id)?;
        entry.reachable_by(asker).then(|| entry.clone())
    }

    /// The ids of `asker`'s tasks, oldest first.
    pub fn list(&self, asker: Asker<'_>) -> Vec<(String, TaskEntry)> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let mut mine: Vec<(String, TaskEntry)> =
            map.iter().filter(|(_, e)| e.listed_for(asker)).map(|(k, e)| (k.clone(), e.clone())).collect();
        mine.sort_by_key(|(_, e)| e.created);
        mine
    }
}

/// A task object's fields renamed for the other form: `ttl`/`pollInterval` (2025-11-25) and
/// `ttlMs`/`pollIntervalMs` (2026-07-28), and its id replaced by `id`.
fn task_fields(task: &Members<'_>, id: &str, modern: bool) -> String {
    let mut out = Rewrite::new(task);
    out.set("taskId", json_string(id));
    let renames: [(&str, &str); 2] = if modern {
        [("ttl", "ttlMs"), ("pollInterval", "pollIntervalMs")]
    } else {
        [("ttlMs", "ttl"), ("pollIntervalMs", "pollInterval")]
    };
    for (from, to) in renames {
        if let Some(v) = task.get(from) {
            out.remove(from);
            out.set(to, v.get().to_owned());
        }
    }
    out.finish()
}

/// The task a result creates, if it is a `CreateTaskResult` of either form: the server's id
/// and the task object's members.
pub fn created_task(result: &str) -> Option<(String, bool)> {
    let members = Members::parse(result).ok()?;
    if members.get("resultType").is_some_and(|t| t.get() == "\"task\"") {
        let id = serde_json::from_str::<String>(members.get("taskId")?.get()).ok()?;
        return Some((id, true));
    }
    let task = Members::of(members.get("task")?).ok()?;
    if members.has("content") {
        return None;
    }
    let id = serde_json::from_str::<String>(task.get("taskId")?.get()).ok()?;
    Some((id, false))
}

/// A `CreateTaskResult` (either form) rewritten for a caller of `modern`-ness with the
/// gateway's task id.
pub fn creation_for_caller(result: &str, id: &str, modern: bool) -> String {
    let members = Members::parse(result).unwrap_or_default();
    // The task object: nested (2025-11-25) or the result itself (2026-07-28).
    let nested = members.get("task").and_then(|t| Members::of(t).ok());
    let task = nested.unwrap_or_else(|| {
        let mut flat = Members::parse(result).unwrap_or_default();
        flat.0.retain(|(k, _)| k != "resultType" && k != "_meta");
        flat
    });
    let fields = task_fields(&task, id, modern);
    let meta = members.get("_meta").map(|m| format!(r#","_meta":{}"#, m.get())).unwrap_or_default();
    if modern {
        let inner = fields.trim_start_matches('{').trim_end_matches('}');
        format!(r#"{{"resultType":"task",{inner}{meta}}}"#)
    } else {
        format!(r#"{{"task":{fields}{meta}}}"#)
    }
}

/// A task status (`tasks/get`, `tasks/cancel`, a status notification's params) for a caller
/// of `modern`-ness, with the gateway's id.
pub fn status_for_caller(result: &str, id: &str, modern: bool) -> String {
    match Members::parse(result) {
        Ok(mut m) => {
            if !modern {
                // A 2025 task is the status alone; its outcome comes by `tasks/result`.
                m.0.retain(|(k, _)| !matches!(k.as_ref(), "result" | "error" | "inputRequests" | "resultType"));
            }
            task_fields(&m, id, modern)
        }
        Err(_) => result.to_owned(),
    }
}

/// `{"taskId": remote}` plus other members of `params` (such as `inputResponses`).
pub fn params_for_server(params: Option<&RawValue>, remote: &str) -> String {
    let members = params.and_then(|p| Members::of(p).ok()).unwrap_or_default();
    let mut out = Rewrite::new(&members);
    out.set("taskId", json_string(remote));
    out.remove("_meta");
    let text = out.finish();
    text.trim_start_matches('{').trim_end_matches('}').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_between_the_two_forms() {
        let legacy = r#"{"task":{"taskId":"t-1","status":"working","ttl":60000,"pollInterval":500,"createdAt":"x","lastUpdatedAt":"x"}}"#;
        assert_eq!(created_task(legacy), Some(("t-1".into(), false)));
        let modern = creation_for_caller(legacy, "mcpgw-1", true);
        let v: serde_json::Value = serde_json::from_str(&modern).unwrap();
        assert_eq!(v["resultType"], "task");
        assert_eq!(
            (v["taskId"].as_str(), v["ttlMs"].as_i64(), v["pollIntervalMs"].as_i64()),
            (Some("mcpgw-1"), Some(60000), Some(500))
        );
        assert_eq!(created_task(&modern), Some(("mcpgw-1".into(), true)));
        let back: serde_json::Value = serde_json::from_str(&creation_for_caller(&modern, "mcpgw-2", false)).unwrap();
        assert_eq!(back["task"]["taskId"], "mcpgw-2");
        assert_eq!(back["task"]["ttl"], 60000);
        assert!(back.get("resultType").is_none());
        assert_eq!(created_task(r#"{"content":[],"task":{"taskId":"x"}}"#), None, "a tool result is no task");
        assert_eq!(params_for_server(None, "r-1"), r#""taskId":"r-1""#);
    }

    #[test]
    fn only_the_creator_reaches_a_task() {
        let t = TaskTable::default();
        let id = t.add("s", "r", Some("alice"), Some(1), false);
        assert!(t.get(&id, Asker { bound: Some("alice"), owner: 9 }).is_some());
        assert!(t.get(&id, Asker { bound: Some("bob"), owner: 1 }).is_none());
        let unbound = t.add("s", "r2", Some("dev"), Some(5), false);
        assert!(t.get(&unbound, Asker { bound: None, owner: 5 }).is_some());
        assert!(t.get(&unbound, Asker { bound: None, owner: 6 }).is_none());
        let stateless = t.add("s", "r3", Some("dev"), None, true);
        assert!(t.get(&stateless, Asker { bound: None, owner: 7 }).is_some(), "the id is the capability");
        assert!(t.get(&stateless, Asker { bound: Some("alice"), owner: 7 }).is_none());
        assert_eq!(t.list(Asker { bound: Some("alice"), owner: 0 }).len(), 1);
        assert_eq!(t.list(Asker { bound: None, owner: 5 }).len(), 1, "stateless tasks are in no list");
    }
}
