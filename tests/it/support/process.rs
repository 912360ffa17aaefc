//! Spawning a server binary as a child process with piped stdin/stdout and a stderr that is
//! drained all the time into a shared buffer (a full stderr pipe would block the child).

use std::{
    ffi::OsString,
    path::PathBuf,
    process::{ExitStatus, Stdio},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use nix::{
    sys::signal::{Signal, killpg},
    unistd::Pid,
};
use tokio::{
    io::AsyncReadExt as _,
    process::{Child, ChildStdin, ChildStdout},
};

/// What to run: program, arguments, extra environment and working directory.
#[derive(Debug, Clone)]
pub struct Spawn {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    cwd: Option<PathBuf>,
}

impl Spawn {
    /// Runs `program` with no arguments, the test's environment and working directory.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self { program: program.into(), args: Vec::new(), env: Vec::new(), cwd: None }
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends several arguments.
    pub fn args<I, A>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = A>,
        A: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets one environment variable on top of the inherited environment.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Sets the working directory.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Starts the process as the leader of a new process group, so that [`ChildProcess`] can
    /// kill it together with anything it spawned.
    pub fn spawn(&self) -> std::io::Result<ChildProcess> {
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if let Some(cwd) = &self.cwd {
            command.current_dir(cwd);
        }
        let mut child = command.spawn()?;
        let pid = child.id().ok_or_else(|| std::io::Error::other("child exited before its pid was read"))?;
        let stderr = StderrLog::default();
        if let Some(pipe) = child.stderr.take() {
            tokio::spawn(stderr.clone().drain(pipe));
        }
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        Ok(ChildProcess { child, pid, stdin, stdout, stderr })
    }
}

/// Everything a child wrote to stderr so far.
#[derive(Debug, Clone, Default)]
pub struct StderrLog {
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl StderrLog {
    /// The whole stderr so far, decoded lossily.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }

    /// The complete (newline-terminated) lines so far. A line still being written is left
    /// out, so a reader never acts on half a line.
    pub fn lines(&self) -> Vec<String> {
        let text = self.text();
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        complete.lines().map(str::to_owned).collect()
    }

    /// How many complete lines contain `needle`.
    pub fn count_lines_containing(&self, needle: &str) -> usize {
        self.lines().iter().filter(|line| line.contains(needle)).count()
    }

    /// Waits for a complete line containing `needle` and returns it.
    pub async fn wait_for_line(&self, needle: &str, timeout: Duration) -> Option<String> {
        let mut found = None;
        super::eventually(timeout, || {
            found = self.lines().into_iter().find(|line| line.contains(needle));
            found.is_some()
        })
        .await;
        found
    }

    /// Reads the pipe until EOF, appending everything.
    async fn drain(self, mut pipe: tokio::process::ChildStderr) {
        let mut buf = vec![0; 64 * 1024];
        while let Ok(n) = pipe.read(&mut buf).await {
            if n == 0 {
                break;
            }
            self.bytes.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(&buf[..n]);
        }
    }
}

/// A running child. Dropping it kills its whole process group.
#[derive(Debug)]
pub struct ChildProcess {
    child: Child,
    pid: u32,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: StderrLog,
}

impl ChildProcess {
    /// The child's pid, which is also its process group id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The drained stderr.
    pub fn stderr(&self) -> &StderrLog {
        &self.stderr
    }

    /// Takes the stdio pipes (once) to build a transport on them.
    pub fn take_pipes(&mut self) -> Option<(ChildStdout, ChildStdin)> {
        Some((self.stdout.take()?, self.stdin.take()?))
    }

    /// Waits for the child to exit, up to `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        tokio::time::timeout(timeout, self.child.wait()).await.ok().and_then(Result::ok)
    }

    /// The exit status if the child has already exited (and been reaped by this call).
    pub fn try_exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Kills the whole process group with SIGKILL and reaps the child.
    pub async fn kill_group(&mut self) {
        self.signal_group();
        let _ = self.child.wait().await;
    }

    fn signal_group(&self) {
        if let Ok(pgid) = i32::try_from(self.pid) {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
    }
}

impl Drop for ChildProcess {
    /// Tests must not leak processes, even when they fail half-way.
    fn drop(&mut self) {
        self.signal_group();
    }
}
