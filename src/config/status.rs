//! What the loads of the two configuration files did, for the status and the metrics: when
//! each was tried and succeeded, the last error, the warnings, and the content last read (a
//! reload of unchanged content does nothing).

use std::sync::Mutex;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::logging::clock::rfc3339;

/// What happened to one file's reloads.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FileStatus {
    /// When a load was last tried.
    pub last_attempt: Option<String>,
    /// When a load last succeeded.
    pub last_success: Option<String>,
    /// Why the last load failed, if it did (cleared by a success).
    pub last_error: Option<String>,
    /// Loads tried.
    pub attempts: u64,
    /// Loads that failed.
    pub failures: u64,
    /// Warnings of the last successful load.
    pub warnings: Vec<String>,
    /// The SHA-256 of the content last read, so that a file event that changed nothing
    /// (a `touch`, an editor saving the same text) does not reload.
    #[serde(skip)]
    content: Option<[u8; 32]>,
}

/// The reload status of both files.
#[derive(Debug, Default)]
pub struct ReloadStatus {
    rules: Mutex<FileStatus>,
    servers: Mutex<FileStatus>,
}

/// Which file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFile {
    /// The rules file.
    Rules,
    /// The MCP config (`.mcp.json`).
    McpConfig,
}

impl ReloadStatus {
    fn slot(&self, which: ConfigFile) -> std::sync::MutexGuard<'_, FileStatus> {
        let m = match which {
            ConfigFile::Rules => &self.rules,
            ConfigFile::McpConfig => &self.servers,
        };
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a successful load.
    pub fn success(&self, which: ConfigFile, warnings: Vec<String>) {
        let now = rfc3339(SystemTime::now());
        let mut s = self.slot(which);
        s.attempts += 1;
        s.last_attempt = Some(now.clone());
        s.last_success = Some(now);
        s.last_error = None;
        s.warnings = warnings;
    }

    /// Records a failed load.
    pub fn failure(&self, which: ConfigFile, error: String) {
        let mut s = self.slot(which);
        s.attempts += 1;
        s.failures += 1;
        s.last_attempt = Some(rfc3339(SystemTime::now()));
        s.last_error = Some(error);
    }

    /// Notes the content about to be loaded. Returns false, changing nothing, when it is the
    /// content the last load read and the load is not `forced`.
    pub fn note_content(&self, which: ConfigFile, text: &str, forced: bool) -> bool {
        let hash: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        let mut s = self.slot(which);
        if !forced && s.content == Some(hash) {
            return false;
        }
        s.content = Some(hash);
        true
    }

    /// A copy of one file's status.
    pub fn get(&self, which: ConfigFile) -> FileStatus {
        self.slot(which).clone()
    }
}
