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
//! log writer ([`LogWriter`]) takes every secret ever loaded out of every log line as well.

use std::borrow::Cow;
use std::io::Write;
use std::sync::{Arc, PoisonError, RwLock};

/// Values shorter than this are not treated as secrets: replacing every `1` or `true` in a
/// message would wreck it, and no credential is that short.
const MIN_SECRET_CHARS: usize = 6;

/// The secret values of one server, each with the label that replaces it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    /// `(value, label)`, longest value first so that a value containing another is replaced
    /// whole.
    values: Vec<(String, String)>,
}

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
        self.values.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
    }

    /// Whether there is nothing to hide.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `text` with every secret value replaced by its label.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for (value, label) in &self.values {
            if out.contains(value.as_str()) {
                out = Cow::Owned(out.replace(value.as_str(), label));
            }
        }
        out
    }
}

/// Every secret loaded so far, for the log writer. Secrets are only ever added: a server
/// removed by a reload may still be logging while it stops.
static LOG_SECRETS: RwLock<Option<Arc<Secrets>>> = RwLock::new(None);

/// Keeps `secrets` out of every log line from now on.
pub fn hide_in_logs(secrets: &Secrets) {
    if secrets.is_empty() {
        return;
    }
    let mut guard = LOG_SECRETS.write().unwrap_or_else(PoisonError::into_inner);
    let mut all = guard.as_deref().cloned().unwrap_or_default();
    for (value, label) in &secrets.values {
        all.add(value, label.clone());
    }
    *guard = Some(Arc::new(all));
}

/// The gateway's log output: stderr, with every secret known to [`hide_in_logs`] replaced by
/// its label. `tracing-subscriber` formats each event whole and writes it in one call, so a
/// secret is never split across two writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWriter;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LogWriter
    }
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let secrets = LOG_SECRETS.read().unwrap_or_else(PoisonError::into_inner).clone();
        let mut stderr = std::io::stderr().lock();
        match secrets {
            None => stderr.write_all(buf)?,
            Some(secrets) => {
                let text = String::from_utf8_lossy(buf);
                stderr.write_all(secrets.redact(&text).as_bytes())?;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
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
    }
}
