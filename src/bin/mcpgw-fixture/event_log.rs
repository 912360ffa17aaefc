//! The `--log-file`: one line per notable event, so a test can see what happened inside the
//! fixture (for example that a cancellation sent through a gateway really arrived).

use std::{
    fmt::Display,
    fs::{File, OpenOptions},
    io::Write as _,
    path::Path,
    sync::Mutex,
};

/// Appends event lines to the log file, or does nothing when no file was given.
pub struct EventLog {
    file: Option<Mutex<File>>,
}

impl EventLog {
    /// Opens `path` for appending (creating it), or returns a log that discards everything.
    pub fn open(path: Option<&Path>) -> std::io::Result<Self> {
        let file = match path {
            Some(path) => Some(Mutex::new(OpenOptions::new().create(true).append(true).open(path)?)),
            None => None,
        };
        Ok(Self { file })
    }

    /// Appends one line. Each line is a single `write` so concurrent fixtures sharing a file
    /// never interleave within a line.
    pub fn record(&self, event: impl Display) {
        let Some(file) = &self.file else { return };
        let line = format!("{event}\n");
        let mut file = file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Err(error) = file.write_all(line.as_bytes()) {
            tracing::warn!(%error, "cannot write to the log file");
        }
    }
}
