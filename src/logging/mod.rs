//! The gateway's own log: where it goes, what it may contain, and how much of it.
//!
//! Log lines mix the gateway's words with values from people it does not trust: agents (ids,
//! server and tool names, URIs) and downstream servers (their stderr, their error messages).
//! A value with a line break or a terminal escape could forge whole log lines or repaint an
//! operator's terminal, so:
//! - values are shown through [`Escaped`], which keeps them on one line and bounded;
//! - the writer ([`LogWriter`]) escapes every control character that is left, and indents the
//!   continuation lines of a multi-line message, so nothing can start a line that looks like
//!   a log record of its own;
//! - every secret loaded from the configuration is taken out ([`hide_in_logs`]).

pub mod clock;
pub mod escape;
pub mod limit;
pub mod secrets;
mod writer;

pub use escape::{Escaped, bounded};
pub use limit::LogLimit;
pub use writer::{LogWriter, hide_in_logs};

/// Logs go to stderr (stdout carries only the protocol), filtered by `RUST_LOG` (default
/// `info`, with rmcp's own chatter at `warn`).
pub fn init() {
    init_at("info,rmcp=warn");
}

/// As [`init`], with `default` as the filter when `RUST_LOG` is not set (the one-shot
/// commands that start servers, `lock` and `check --scan`, log only warnings by default).
pub fn init_at(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(LogWriter)
        .with_ansi(false)
        .with_target(false)
        .try_init();
}
