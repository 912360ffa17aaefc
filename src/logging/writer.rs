//! The log writer: stderr, with secrets taken out and untrusted bytes made harmless.

use std::io::Write;
use std::sync::{Arc, PoisonError, RwLock};

use crate::logging::escape::is_hidden;
use crate::logging::secrets::Secrets;

/// Every secret loaded so far. Secrets are only ever added: a server removed by a reload may
/// still be logging while it stops.
static LOG_SECRETS: RwLock<Option<Arc<Secrets>>> = RwLock::new(None);

/// Keeps `secrets` out of every log line from now on.
pub fn hide_in_logs(secrets: &Secrets) {
    if secrets.is_empty() {
        return;
    }
    let mut guard = LOG_SECRETS.write().unwrap_or_else(PoisonError::into_inner);
    let mut all = guard.as_deref().cloned().unwrap_or_default();
    all.extend(secrets);
    *guard = Some(Arc::new(all));
}

/// The gateway's log output: stderr, with every secret known to [`hide_in_logs`] replaced by
/// its label, control characters escaped, and the continuation lines of a multi-line record
/// indented. `tracing-subscriber` formats each record whole and writes it in one call, so a
/// secret is never split across two writes, and the record's own final line break is the only
/// one that starts a new line at column 0.
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
        let text = String::from_utf8_lossy(buf);
        let text = match &secrets {
            Some(secrets) => secrets.redact(&text),
            None => text,
        };
        std::io::stderr().lock().write_all(sanitize(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// The prefix of every line of a record after its first.
const CONTINUATION: &str = "  | ";

/// One formatted record, safe to print: hidden characters escaped, inner line breaks
/// followed by [`CONTINUATION`].
fn sanitize(record: &str) -> std::borrow::Cow<'_, str> {
    let body = record.strip_suffix('\n').unwrap_or(record);
    if !body.chars().any(|c| c == '\n' || is_hidden(c)) {
        return std::borrow::Cow::Borrowed(record);
    }
    let mut out = String::with_capacity(record.len() + 16);
    for c in body.chars() {
        match c {
            '\n' => {
                out.push('\n');
                out.push_str(CONTINUATION);
            }
            '\t' => out.push('\t'),
            c if is_hidden(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    if body.len() < record.len() {
        out.push('\n');
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_record_can_start_a_line_of_its_own() {
        let forged = "2026-12-03T00:00:00Z WARN refused `a\n2026-12-03T00:00:01Z ERROR mcpgw: FORGED`\x1b[2J\r\n";
        let safe = sanitize(forged);
        assert_eq!(
            safe,
            "2026-12-03T00:00:00Z WARN refused `a\n  | 2026-12-03T00:00:01Z ERROR mcpgw: FORGED`\\u{1b}[2J\\u{d}\n"
        );
        assert!(matches!(sanitize("plain line\n"), std::borrow::Cow::Borrowed(_)));
    }
}
