//! A small hand-made table of words that users and tool authors use for the same thing.
//!
//! Users ask "download a web page" of a tool described as "Fetches a URL"; plain BM25 finds
//! nothing in common. A table of common verbs and nouns closes most of that gap at no cost.
//! It is kept generic on purpose: every group is a plain-English equivalence that holds
//! across servers, never a word added to make one query of the labeled set pass.
//!
//! A group's words are related both ways. A query term matches its synonyms at
//! [`SYNONYM_WEIGHT`] of the weight of the word itself, so that a tool that uses the user's
//! own word still ranks first.

use std::collections::HashMap;

use super::text;

/// How much a synonym counts against the word itself.
pub(crate) const SYNONYM_WEIGHT: f64 = 0.6;

/// The groups. Words are stemmed when the table is built, so inflections need no entries.
const GROUPS: &[&[&str]] = &[
    // Verbs.
    &["get", "fetch", "retrieve", "download", "obtain", "grab", "pull", "show", "return"],
    &["read", "view", "show", "display", "open", "cat", "print", "see", "inspect"],
    &["remove", "delete", "erase", "rm", "drop", "destroy", "discard", "unlink", "clear"],
    &["create", "make", "new", "add", "generate", "insert", "start", "open"],
    &["list", "enumerate", "ls", "browse", "all"],
    &["search", "find", "lookup", "look", "locate", "query", "grep", "discover"],
    &["update", "edit", "modify", "change", "alter", "patch", "replace", "amend", "set"],
    &["write", "save", "store", "put", "persist", "record"],
    &["move", "rename", "mv", "relocate"],
    &["copy", "duplicate", "clone", "fork"],
    &["run", "execute", "exec", "invoke", "evaluate", "eval", "perform"],
    &["send", "post", "publish", "share", "notify"],
    &["reply", "respond", "answer"],
    &["navigate", "go", "visit", "goto", "load", "browse", "open"],
    &["click", "press", "tap"],
    &["type", "enter", "fill", "input"],
    &["convert", "translate", "transform"],
    &["merge", "combine", "integrate"],
    &["compare", "diff", "difference"],
    &["upload", "attach"],
    &["close", "quit", "exit", "shut"],
    &["stage", "add", "track"],
    &["unstage", "reset", "revert", "undo"],
    &["switch", "checkout"],
    &["commit", "checkin"],
    &["think", "reason", "reflect", "plan"],
    // Nouns.
    &["file", "document", "doc"],
    &["directory", "folder", "dir"],
    &["repository", "repo", "project"],
    &["web", "url", "page", "website", "site", "link", "internet", "online"],
    &["screenshot", "capture", "snapshot", "picture"],
    &["image", "picture", "photo", "png"],
    &["issue", "ticket", "bug"],
    &["pull", "pr", "merge"],
    &["message", "msg", "chat", "post"],
    &["channel", "room"],
    &["user", "person", "member", "people", "account", "profile"],
    &["history", "log", "recent", "past"],
    &["change", "modification", "diff", "edit"],
    &["entity", "node", "concept"],
    &["relation", "relationship", "edge", "connection"],
    &["observation", "fact", "note"],
    &["knowledge", "memory", "graph", "remember"],
    &["location", "place", "address", "spot", "venue"],
    &["direction", "route", "navigation", "way"],
    &["distance", "far", "travel"],
    &["coordinate", "latitude", "longitude", "geocode"],
    &["time", "clock", "hour", "date", "now"],
    &["timezone", "zone", "tz"],
    &["database", "db", "sql", "table"],
    &["key", "value", "cache"],
    &["tab", "window"],
    &["form", "field"],
    &["console", "devtools"],
    &["request", "network", "traffic", "http"],
    &["dialog", "popup", "alert", "prompt"],
    &["size", "dimension", "resize"],
    &["metadata", "info", "information", "detail", "stat", "property"],
    &["content", "contents", "text", "body"],
    &["tree", "hierarchy", "structure", "recursive"],
    &["comment", "remark", "feedback"],
    &["review", "approve"],
    &["emoji", "reaction", "react"],
    &["thread", "conversation", "discussion"],
    &["code", "source", "snippet"],
    &["library", "package", "framework", "sdk", "docs", "documentation"],
    &["news", "article", "headline"],
    &["error", "failure", "problem"],
    &["wait", "pause", "sleep", "delay"],
    &["sum", "add", "total", "plus"],
    &["environment", "env", "variable"],
    &["compress", "gzip", "zip"],
];

/// The stemmed table: each term to its synonyms (stemmed, itself excluded, deduplicated).
pub(crate) fn table() -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for group in GROUPS {
        let stems: Vec<String> = group.iter().map(|w| text::stem(w)).collect();
        for s in &stems {
            let entry = map.entry(s.clone()).or_default();
            for other in &stems {
                if other != s && !entry.contains(other) {
                    entry.push(other.clone());
                }
            }
        }
    }
    map
}
