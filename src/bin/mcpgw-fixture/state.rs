//! State shared by every session of one fixture process. Over HTTP, rmcp builds a handler per
//! session (or per request), so anything that must outlive a session lives here behind `Arc`.

use std::{
    collections::HashSet,
    sync::{OnceLock, PoisonError, RwLock},
};

use rmcp::model::Tool;

use crate::{catalogue, cli::Options, event_log::EventLog, outbox::Outbox};

/// What the whole process shares.
pub struct State {
    /// `serverInfo.name`.
    pub name: String,
    /// The `--log-file`.
    pub log: EventLog,
    /// The protocol stdout in stdio mode; `None` over HTTP, where stdout is not the protocol.
    pub protocol_stdout: Option<Outbox>,
    extra_tools: usize,
    registry: RwLock<Registry>,
    grandchild: OnceLock<u32>,
}

/// The tool list and which of its names were added at runtime.
struct Registry {
    tools: Vec<Tool>,
    dynamic: HashSet<String>,
}

impl State {
    /// Builds the initial catalogue: the built-in tools, then `--extra-tools` fillers.
    pub fn new(options: &Options, log: EventLog, protocol_stdout: Option<Outbox>) -> Self {
        let mut tools = catalogue::builtin_tools();
        tools.extend((0..options.extra_tools).map(catalogue::extra_tool));
        Self {
            name: options.name.clone(),
            log,
            protocol_stdout,
            extra_tools: options.extra_tools,
            registry: RwLock::new(Registry { tools, dynamic: HashSet::new() }),
            grandchild: OnceLock::new(),
        }
    }

    /// The current tool list, in registration order.
    pub fn tools(&self) -> Vec<Tool> {
        self.registry.read().unwrap_or_else(PoisonError::into_inner).tools.clone()
    }

    /// The definition of one tool, if it exists.
    pub fn tool(&self, name: &str) -> Option<Tool> {
        let registry = self.registry.read().unwrap_or_else(PoisonError::into_inner);
        registry.tools.iter().find(|tool| tool.name == name).cloned()
    }

    /// Registers an echo-like tool. Returns `false` if the name is already taken.
    pub fn add_dynamic_tool(&self, name: &str) -> bool {
        let mut registry = self.registry.write().unwrap_or_else(PoisonError::into_inner);
        if registry.tools.iter().any(|tool| tool.name == name) {
            return false;
        }
        registry.tools.push(catalogue::dynamic_tool(name));
        registry.dynamic.insert(name.to_owned());
        true
    }

    /// Whether `name` was added by `add_tool`.
    pub fn is_dynamic(&self, name: &str) -> bool {
        self.registry.read().unwrap_or_else(PoisonError::into_inner).dynamic.contains(name)
    }

    /// Whether `name` is one of the `--extra-tools` fillers.
    pub fn is_extra(&self, name: &str) -> bool {
        name.strip_prefix("extra_")
            .and_then(|index| index.parse::<usize>().ok())
            .is_some_and(|index| index < self.extra_tools && name == format!("extra_{index}"))
    }

    /// Writes a line to stdout outside the protocol framing (the `garbage` faults).
    pub fn write_raw_stdout(&self, line: &str) {
        match &self.protocol_stdout {
            Some(outbox) => outbox.raw_line(line),
            None => println!("{line}"),
        }
    }

    /// Remembers the pid of the `--startup grandchild` process.
    pub fn set_grandchild(&self, pid: u32) {
        let _ = self.grandchild.set(pid);
    }

    /// The pid of the grandchild, if one was started.
    pub fn grandchild(&self) -> Option<u32> {
        self.grandchild.get().copied()
    }
}
