//! A child's stderr: drained continuously into the gateway's log, with the last lines kept
//! for error messages.
//!
//! The pipe must always be drained, or a chatty child blocks once the pipe fills. Logging is
//! rate-limited so a child flooding stderr cannot flood the gateway's own log; the tail
//! keeps every line regardless.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};

use crate::logging::secrets::Secrets;
use crate::logging::{Escaped, LogLimit};

/// Lines kept for error messages.
const TAIL_LINES: usize = 20;
/// Characters kept of one line.
const LINE_CHARS: usize = 500;
/// Bytes read of one line; the rest of a longer one is skipped.
const MAX_LINE_BYTES: usize = LINE_CHARS * 4;
/// Lines logged per second before the rest are counted instead.
const LOG_LINES_PER_SECOND: u32 = 50;

/// The last lines a child wrote to stderr.
#[derive(Debug, Default)]
pub struct StderrTail {
    lines: Mutex<VecDeque<String>>,
}

impl StderrTail {
    /// The kept lines joined, oldest first; empty when the child wrote nothing.
    pub fn text(&self) -> String {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    fn push(&self, line: String) {
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if lines.len() == TAIL_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }
}

/// Reads `stderr` until it closes, logging lines as `server` and keeping the tail. Lines are
/// logged and kept with the server's `secrets` removed: a server that prints its own token
/// (in a usage error, say) must not put it in the gateway's log or in the status. Each read is
/// bounded, so a child that never writes a line break cannot make the gateway buffer without
/// bound: the start of an overlong line is kept and the rest skipped.
pub fn spawn_drain(
    server: Arc<str>,
    stderr: impl AsyncRead + Unpin + Send + 'static,
    tail: Arc<StderrTail>,
    secrets: Secrets,
) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stderr);
        let mut line: Vec<u8> = Vec::new();
        // Set while the rest of an overlong line is being skipped.
        let mut skipping = false;
        let mut limiter = LogLimit::new(LOG_LINES_PER_SECOND);
        loop {
            // `read_until` keeps what it read in `line` when the timer wins, so the next
            // round goes on where this one stopped.
            let room = (MAX_LINE_BYTES - line.len().min(MAX_LINE_BYTES)).max(1) as u64;
            let mut limited = (&mut reader).take(room);
            let read = limited.read_until(b'\n', &mut line);
            // While lines are being suppressed, report their count when the window ends even
            // if the child then goes quiet: a burst that ends within a second would otherwise
            // go unmentioned until the next line, which may never come.
            let n = match limiter.window_end() {
                Some(end) => tokio::select! {
                    n = read => n,
                    () = tokio::time::sleep_until(end.into()) => {
                        flush(&server, &mut limiter);
                        continue;
                    }
                },
                None => read.await,
            };
            let ended = line.last() == Some(&b'\n');
            match n {
                Ok(0) | Err(_) => break,
                Ok(_) if ended => {
                    if !std::mem::take(&mut skipping) {
                        emit(&server, &tail, &mut limiter, &line[..line.len() - 1], &secrets);
                    }
                    line.clear();
                }
                Ok(_) if line.len() >= MAX_LINE_BYTES => {
                    if !std::mem::replace(&mut skipping, true) {
                        emit(&server, &tail, &mut limiter, &line, &secrets);
                    }
                    line.clear();
                }
                Ok(_) => {}
            }
        }
        if !line.is_empty() && !skipping {
            emit(&server, &tail, &mut limiter, &line, &secrets);
        }
        flush(&server, &mut limiter);
    });
}

fn emit(server: &str, tail: &StderrTail, limiter: &mut LogLimit, raw: &[u8], secrets: &Secrets) {
    let line = String::from_utf8_lossy(raw);
    let line = secrets.redact(&line);
    let text: String = line.trim_end_matches('\r').chars().take(LINE_CHARS).collect();
    if limiter.allow(|n| report_suppressed(server, n)) {
        tracing::info!(server, "stderr: {}", Escaped::whole(&text));
    }
    tail.push(text);
}

fn flush(server: &str, limiter: &mut LogLimit) {
    if let Some(n) = limiter.take_suppressed() {
        report_suppressed(server, n);
    }
}

fn report_suppressed(server: &str, n: u64) {
    tracing::warn!(server, "stderr: {n} more lines not logged (rate limit)");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_the_last_lines() {
        let tail = Arc::new(StderrTail::default());
        let input: Vec<u8> = (0..30).flat_map(|i| format!("line {i}\n").into_bytes()).chain(*b"partial").collect();
        spawn_drain("t".into(), std::io::Cursor::new(input), tail.clone(), Secrets::default());
        for _ in 0..100 {
            if tail.text().ends_with("partial") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let text = tail.text();
        assert!(text.starts_with("line 11\n"), "{text}");
        assert!(text.ends_with("line 29\npartial"), "{text}");
    }

    #[tokio::test]
    async fn an_overlong_line_keeps_its_start_and_the_next_lines_follow() {
        let tail = Arc::new(StderrTail::default());
        let mut input = vec![b'x'; 10 * MAX_LINE_BYTES];
        input.extend_from_slice(b"\nnext\n");
        spawn_drain("t".into(), std::io::Cursor::new(input), tail.clone(), Secrets::default());
        for _ in 0..100 {
            if tail.text().ends_with("next") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let text = tail.text();
        assert_eq!(text, format!("{}\nnext", "x".repeat(LINE_CHARS)));
    }
}
