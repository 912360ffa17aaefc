//! A server's tool definitions, as the server wrote them, cached until it says they changed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwapOption;
use serde_json::value::RawValue;

use crate::wire::object::Members;

/// One tool definition: its name, and the definition exactly as the server sent it (vendor
/// fields, `_meta`, `icons` and all).
#[derive(Debug, Clone)]
pub struct ToolDef {
    /// The tool's name.
    pub name: String,
    /// The whole definition, raw.
    pub raw: Box<RawValue>,
}

impl ToolDef {
    /// The definition of `raw`, which must be an object with a string `name`.
    pub fn parse(raw: &RawValue) -> Option<ToolDef> {
        let members = Members::of(raw).ok()?;
        let name: String = serde_json::from_str(members.get("name")?.get()).ok()?;
        Some(ToolDef { name, raw: raw.to_owned() })
    }

    /// The members of the definition.
    pub fn members(&self) -> Members<'_> {
        Members::of(&self.raw).unwrap_or_default()
    }

    /// Whether the tool runs only as a task (`execution.taskSupport` is `"required"`).
    pub fn requires_task(&self) -> bool {
        self.members()
            .get("execution")
            .and_then(|e| Members::of(e).ok())
            .and_then(|e| e.get("taskSupport").map(|t| t.get() == r#""required""#))
            .unwrap_or(false)
    }
}

/// A signal that some server's tool list may have changed: a server listed anew
/// (`notifications/tools/list_changed`) or came up. Direct mode tells its clients
/// (`notifications/tools/list_changed`), since their lists are built from the servers'.
/// A spurious signal costs a client one listing; a missed one leaves it a stale list.
#[derive(Debug, Clone)]
pub struct CatalogueChanges(Arc<tokio::sync::watch::Sender<u64>>);

impl Default for CatalogueChanges {
    fn default() -> Self {
        CatalogueChanges(Arc::new(tokio::sync::watch::channel(0).0))
    }
}

impl CatalogueChanges {
    /// Signals a change.
    pub fn bump(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that sees every change after now.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.0.subscribe()
    }
}

/// A server's tool list, cached until `notifications/tools/list_changed`.
///
/// A generation counter keeps a listing that was started before a change notification from
/// being cached after it: such a list may already be stale.
#[derive(Default)]
pub struct ToolCache {
    tools: ArcSwapOption<Vec<ToolDef>>,
    generation: AtomicU64,
}

impl ToolCache {
    /// The cached list, if it is fresh.
    pub fn get(&self) -> Option<Arc<Vec<ToolDef>>> {
        self.tools.load_full()
    }

    /// The generation to pass to [`set`](Self::set) for a listing started now.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Caches a list that was requested at `generation`, unless the list changed since.
    pub fn set(&self, tools: Vec<ToolDef>, generation: u64) -> Arc<Vec<ToolDef>> {
        let tools = Arc::new(tools);
        if self.generation() == generation {
            self.tools.store(Some(tools.clone()));
            // An invalidation may have slipped in between the check and the store.
            if self.generation() != generation {
                self.tools.store(None);
            }
        }
        tools
    }

    /// Forgets the list so the next use lists again.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.tools.store(None);
    }
}

/// The length of `json` with its insignificant whitespace removed (the compact form the
/// token estimates count).
pub fn compact_len(json: &str) -> usize {
    let mut len = 0;
    let (mut in_string, mut escaped) = (false, false);
    for b in json.bytes() {
        if in_string {
            len += 1;
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if !b.is_ascii_whitespace() {
            len += 1;
            in_string = b == b'"';
        }
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_length_skips_whitespace_outside_strings() {
        assert_eq!(compact_len(r#"{ "a" : "b c", "d\" e" : [ 1 , 2 ] }"#), r#"{"a":"b c","d\" e":[1,2]}"#.len());
        let raw = RawValue::from_string(r#"{"name":"t","x-vendor":1}"#.into()).unwrap();
        assert_eq!(ToolDef::parse(&raw).unwrap().name, "t");
        assert!(ToolDef::parse(&RawValue::from_string(r#"{"name":1}"#.into()).unwrap()).is_none());
    }
}
