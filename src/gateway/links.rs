//! The resources that tool results pointed at (DESIGN section 12). A `resource_link` or an
//! embedded `resource` that a server returns names the server's own URI. No list may hold that
//! URI (a template's, say), and two servers may share it, so the gateway could not tell which
//! server to read it from. It remembers, per agent, which server returned each URI, so that
//! the agent's next `resources/read` of it goes there. The policy still judges that read: a
//! remembered URI grants nothing.
//!
//! Bounded: the oldest are forgotten first; a forgotten URI is found as any other is, by the
//! servers' lists.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde::Deserialize;

/// How many URIs are remembered, over every agent.
const REMEMBERED: usize = 4096;
/// The longest URI remembered, in bytes: the memory stays bounded whatever results carry.
const LONGEST: usize = 2048;

/// Who returned which URI.
#[derive(Default)]
pub struct Links(Mutex<Remembered>);

#[derive(Default)]
struct Remembered {
    /// `(agent, URI)` to server.
    owners: HashMap<Key, String>,
    /// The keys, oldest first.
    order: VecDeque<Key>,
}

/// An agent (`None`: the calls judged without one) and a URI.
type Key = (Option<String>, String);

#[derive(Deserialize)]
struct ToolResult<'a> {
    #[serde(borrow, default)]
    content: Vec<Block<'a>>,
}

#[derive(Deserialize)]
struct Block<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    uri: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    resource: Option<Embedded<'a>>,
}

#[derive(Deserialize)]
struct Embedded<'a> {
    #[serde(borrow, default)]
    uri: Option<Cow<'a, str>>,
}

impl Links {
    fn remembered(&self) -> std::sync::MutexGuard<'_, Remembered> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers the URIs that `server`'s tool result `json` links to or embeds, for `agent`.
    /// A result without a `"uri"` anywhere is not parsed.
    pub fn note(&self, agent: Option<&str>, server: &str, json: &str) {
        if memchr::memmem::find(json.as_bytes(), br#""uri""#).is_none() {
            return;
        }
        let Ok(result) = serde_json::from_str::<ToolResult<'_>>(json) else { return };
        let uris = result.content.into_iter().filter_map(|b| match b.kind.as_ref() {
            "resource_link" => b.uri,
            "resource" => b.resource.and_then(|r| r.uri),
            _ => None,
        });
        let mut remembered = self.remembered();
        for uri in uris.filter(|u| u.len() <= LONGEST) {
            let key = (agent.map(str::to_owned), uri.into_owned());
            if remembered.owners.insert(key.clone(), server.to_owned()).is_none() {
                remembered.order.push_back(key);
            }
            while remembered.order.len() > REMEMBERED {
                if let Some(oldest) = remembered.order.pop_front() {
                    remembered.owners.remove(&oldest);
                }
            }
        }
    }

    /// The server whose tool result gave `agent` the URI `uri`, if one did.
    pub fn owner(&self, agent: Option<&str>, uri: &str) -> Option<String> {
        let key = (agent.map(str::to_owned), uri.to_owned());
        self.remembered().owners.get(&key).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_embedded_resources_are_remembered_per_agent() {
        let links = Links::default();
        let result = r#"{"content":[{"type":"text","text":"see"},
            {"type":"resource_link","uri":"demo://a","name":"a"},
            {"type":"resource","resource":{"uri":"file:///b","text":"b"}}]}"#;
        links.note(Some("dev"), "everything", result);
        assert_eq!(links.owner(Some("dev"), "demo://a").as_deref(), Some("everything"));
        assert_eq!(links.owner(Some("dev"), "file:///b").as_deref(), Some("everything"));
        assert_eq!(links.owner(Some("other"), "demo://a"), None, "another agent's links are not its own");
        assert_eq!(links.owner(None, "demo://a"), None);
        assert_eq!(links.owner(Some(""), "demo://a"), None);
        let long = format!("demo://{}", "x".repeat(LONGEST));
        links.note(Some("dev"), "everything", &format!(r#"{{"content":[{{"type":"resource_link","uri":"{long}"}}]}}"#));
        assert_eq!(links.owner(Some("dev"), &long), None, "too long to remember");
        links.note(Some("dev"), "fs", r#"{"content":[{"type":"resource_link","uri":"demo://a"}]}"#);
        assert_eq!(links.owner(Some("dev"), "demo://a").as_deref(), Some("fs"), "the latest result wins");
    }

    #[test]
    fn the_oldest_are_forgotten_first() {
        let links = Links::default();
        for n in 0..=REMEMBERED {
            links.note(None, "s", &format!(r#"{{"content":[{{"type":"resource_link","uri":"u://{n}"}}]}}"#));
        }
        assert_eq!(links.owner(None, "u://0"), None);
        assert_eq!(links.owner(None, &format!("u://{REMEMBERED}")).as_deref(), Some("s"));
        assert_eq!(links.remembered().owners.len(), REMEMBERED);
    }

    #[test]
    fn results_that_are_not_tool_results_are_ignored() {
        let links = Links::default();
        for junk in [r#"{"uri":"x://y"}"#, r#"{"content":"uri"}"#, r#"not json "uri""#, r#"{"content":[{"uri":7}]}"#] {
            links.note(None, "s", junk);
        }
        assert!(links.remembered().owners.is_empty());
    }
}
