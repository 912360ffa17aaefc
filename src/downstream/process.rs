//! Downstream child processes: started as process-group leaders, reaped, and killed with
//! their whole group (grandchildren included) on shutdown.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{ChildStderr, ChildStdin, ChildStdout, Command};
use tokio::sync::watch;

/// A running (or exited) child and its process group.
#[derive(Debug)]
pub struct ChildProcess {
    pid: u32,
    exit: watch::Receiver<Option<String>>,
}

/// The pipes of a freshly started child.
pub struct ChildPipes {
    /// The child's stdin (our requests).
    pub stdin: ChildStdin,
    /// The child's stdout (its messages).
    pub stdout: ChildStdout,
    /// The child's stderr (its logs).
    pub stderr: ChildStderr,
}

impl ChildProcess {
    /// Starts `command` in its own process group with piped stdio. The environment is the
    /// gateway's with `env` laid over it.
    pub fn spawn(
        command: &str,
        args: &[String],
        env: &[(String, String)],
        cwd: Option<&std::path::Path>,
    ) -> std::io::Result<(ChildProcess, ChildPipes)> {
        let mut cmd = Command::new(command);
        cmd.args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        let mut child = cmd.spawn()?;
        let pid = child.id().unwrap_or(0);
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(std::io::Error::other("child pipes missing"));
        };
        let (tx, exit) = watch::channel(None);
        tokio::spawn(async move {
            let status = match child.wait().await {
                Ok(s) => describe_exit(s),
                Err(e) => format!("could not be waited for: {e}"),
            };
            let _ = tx.send(Some(status));
        });
        Ok((ChildProcess { pid, exit }, ChildPipes { stdin, stdout, stderr }))
    }

    /// The child's pid (also its process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// How the child exited, once it has.
    pub fn exit_status(&self) -> Option<String> {
        self.exit.borrow().clone()
    }

    /// Waits until the child has exited, for at most `limit`.
    pub async fn wait_exit(&self, limit: Duration) -> Option<String> {
        let mut rx = self.exit.clone();
        let waited = tokio::time::timeout(limit, rx.wait_for(Option::is_some)).await;
        match waited {
            Ok(Ok(v)) => v.clone(),
            _ => None,
        }
    }

    /// Terminates the whole process group: SIGTERM, then SIGKILL after `grace`.
    pub async fn terminate_group(self: &Arc<Self>, grace: Duration) {
        let Ok(pid) = i32::try_from(self.pid) else { return };
        if pid <= 1 {
            return;
        }
        let group = Pid::from_raw(pid);
        let _ = killpg(group, Signal::SIGTERM);
        if self.wait_exit(grace).await.is_none() {
            tracing::warn!(pid, "downstream did not exit after SIGTERM; sending SIGKILL");
        }
        // Grandchildren may outlive the leader; the group is killed either way.
        let _ = killpg(group, Signal::SIGKILL);
    }
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        _ => "exited".to_owned(),
    }
}
