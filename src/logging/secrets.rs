//! The secret values in one server's configuration, and their removal from any text the
//! gateway shows about that server.
//!
//! A `.mcp.json` keeps secrets out of the file with `${VAR}`, but the expanded values still
//! travel: into error messages from the OS (`could not start /opt/${TOKEN}/srv`), from HTTP
//! libraries (which quote the URL, query string and all), and from the server itself (its
//! stderr and its error messages, which go to the gateway's log and into the
//! `SERVER_UNAVAILABLE` message an agent reads). Every such text passes through
//! [`Secrets::redact`] first. Tool results are the one thing never touched: they go to the
//! caller unchanged, as the design promises.
//!
//! Libraries log too: rmcp's HTTP client logs its errors with the full URL, at `ERROR`. So the
//! log writer ([`super::LogWriter`]) takes every secret ever loaded out of every log
//! line as well.

use std::borrow::Cow;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, MatchKind};

/// Values shorter than this are not treated as secrets: replacing every `1` or `true` in a
/// message would wreck it, and no credential is that short.
const MIN_SECRET_CHARS: usize = 6;

/// The secret values of one server, each with the label that replaces it.
///
/// Redaction runs on every log line and every error message about the server, so the values
/// are found in one pass by an Aho-Corasick automaton (leftmost-longest: a value that
/// contains another is replaced whole), rebuilt when a value is added (at config load only).
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    /// `(value, label)`, in the order they were added.
    values: Vec<(String, String)>,
    finder: Option<Arc<AhoCorasick>>,
}

impl PartialEq for Secrets {
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values
    }
}

impl Eq for Secrets {}

impl Secrets {
    /// Records the value a `${NAME}` reference expanded to; it is shown as `${NAME}`.
    pub fn add_variable(&mut self, name: &str, value: &str) {
        self.add(value, format!("${{{name}}}"));
    }

    /// Records a header value, written literally or not. The whole value is secret, and so is
    /// each long word of it (the token of `Bearer <token>` may be quoted on its own).
    pub fn add_header(&mut self, name: &str, value: &str) {
        let label = format!("<{name} header>");
        self.add(value, label.clone());
        for word in value.split_whitespace() {
            self.add(word, label.clone());
        }
    }

    /// Records the value of an `env` entry of a stdio server, written literally or not: the
    /// config masks every `env` value as a secret, so the gateway's messages hide them too.
    pub fn add_env(&mut self, name: &str, value: &str) {
        self.add(value, format!("<env {name}>"));
    }

    fn add(&mut self, value: &str, label: String) {
        if value.chars().count() < MIN_SECRET_CHARS || self.values.iter().any(|(v, _)| v == value) {
            return;
        }
        self.values.push((value.to_owned(), label));
        self.finder = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(self.values.iter().map(|(v, _)| v))
            .ok()
            .map(Arc::new);
    }

    /// Adds every value of `other`.
    pub fn extend(&mut self, other: &Secrets) {
        for (value, label) in &other.values {
            self.add(value, label.clone());
        }
    }

    /// Whether there is nothing to hide.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `text` with every secret value replaced by its label.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let Some(finder) = &self.finder else { return Cow::Borrowed(text) };
        if !finder.is_match(text) {
            return Cow::Borrowed(text);
        }
        let labels: Vec<&str> = self.values.iter().map(|(_, l)| l.as_str()).collect();
        Cow::Owned(finder.replace_all(text, &labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_values_with_their_labels() {
        let mut s = Secrets::default();
        s.add_variable("TOKEN", "abc123secret");
        s.add_variable("SHORT", "1");
        s.add_header("Authorization", "Bearer tok-9f8e7d6c");
        assert_eq!(s.redact("GET /x?key=abc123secret failed"), "GET /x?key=${TOKEN} failed");
        assert_eq!(s.redact("sent Bearer tok-9f8e7d6c"), "sent <Authorization header>");
        assert_eq!(s.redact("token tok-9f8e7d6c refused"), "token <Authorization header> refused");
        assert_eq!(s.redact("exit code 1"), "exit code 1", "short values are not secrets");
        assert!(matches!(s.redact("nothing here"), Cow::Borrowed(_)));
        let mut nested = Secrets::default();
        nested.add_variable("PART", "secret1");
        nested.add_variable("WHOLE", "secret123");
        assert_eq!(nested.redact("a secret123 b secret1"), "a ${WHOLE} b ${PART}", "the longest value wins");
    }
}
