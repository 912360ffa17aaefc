//! A child's stderr: drained continuously into the gateway's log, with the last lines kept
//! for error messages.
//!
//! The pipe must always be drained, or a chatty child blocks once the pipe fills. Logging is
//! rate-limited so a child flooding stderr cannot flood the gateway's own log; the tail
//! keeps every line regardless.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::config::secrets::Secrets;

/// Lines kept for error messages.
const TAIL_LINES: usize = 20;
/// Characters kept of one line.
const LINE_CHARS: usize = 500;
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
/// (in a usage error, say) must not put it in the gateway's log or in an agent's error.
pub fn spawn_drain(
    server: Arc<str>,
    mut stderr: impl AsyncRead + Unpin + Send + 'static,
    tail: Arc<StderrTail>,
    secrets: Secrets,
) {
    tokio::spawn(async move {
        let mut buf = vec![0u8; 8192];
        let mut line: Vec<u8> = Vec::new();
        let mut limiter = Limiter::new();
        loop {
            // While lines are being suppressed, report their count when the window ends even
            // if the child then goes quiet: a burst that ends within a second would otherwise
            // go unmentioned until the next line, which may never come.
            let read = stderr.read(&mut buf);
            let n = match limiter.window_end() {
                Some(end) => tokio::select! {
                    n = read => n,
                    () = tokio::time::sleep_until(end.into()) => {
                        limiter.flush(&server);
                        continue;
                    }
                },
                None => read.await,
            };
            let n = match n {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            for &b in &buf[..n] {
                if b == b'\n' {
                    emit(&server, &tail, &mut limiter, &line, &secrets);
                    line.clear();
                } else if line.len() < LINE_CHARS * 4 {
                    line.push(b);
                }
            }
        }
        if !line.is_empty() {
            emit(&server, &tail, &mut limiter, &line, &secrets);
        }
        limiter.flush(&server);
    });
}

fn emit(server: &str, tail: &StderrTail, limiter: &mut Limiter, raw: &[u8], secrets: &Secrets) {
    let line = String::from_utf8_lossy(raw);
    let line = secrets.redact(&line);
    let text: String = line.trim_end_matches('\r').chars().take(LINE_CHARS).collect();
    if limiter.allow(server) {
        tracing::info!(server, "stderr: {text}");
    }
    tail.push(text);
}

/// Allows a burst of log lines per second and counts the rest.
struct Limiter {
    window: Instant,
    used: u32,
    suppressed: u64,
}

impl Limiter {
    fn new() -> Self {
        Limiter { window: Instant::now(), used: 0, suppressed: 0 }
    }

    fn allow(&mut self, server: &str) -> bool {
        if self.window.elapsed() >= Duration::from_secs(1) {
            self.flush(server);
            self.window = Instant::now();
            self.used = 0;
        }
        self.used += 1;
        if self.used > LOG_LINES_PER_SECOND {
            self.suppressed += 1;
            false
        } else {
            true
        }
    }

    /// When the current window ends, if lines were suppressed in it.
    fn window_end(&self) -> Option<Instant> {
        (self.suppressed > 0).then(|| self.window + Duration::from_secs(1))
    }

    fn flush(&mut self, server: &str) {
        if self.suppressed > 0 {
            tracing::warn!(server, "stderr: {} more lines not logged (rate limit)", self.suppressed);
            self.suppressed = 0;
        }
    }
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
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let text = tail.text();
        assert!(text.starts_with("line 11\n"), "{text}");
        assert!(text.ends_with("line 29\npartial"), "{text}");
    }
}
