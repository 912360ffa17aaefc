//! Process liveness from `/proc`, for tests of shutdown and orphan cleanup. A zombie counts as
//! dead: it has exited and only waits to be reaped. Also the cleanup of a gateway's
//! downstream process groups after a failed test.

use std::time::Duration;

/// The fields of `/proc/PID/stat` that tests care about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// One of `R S D Z T t X I ...`.
    pub state: char,
    /// Parent pid.
    pub ppid: u32,
    /// Process group id.
    pub pgrp: u32,
}

/// Reads `/proc/PID/stat`, or `None` if there is no such process.
pub fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may itself contain spaces or parentheses, so
    // the fields start after the last `)`.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some(Stat { state, ppid, pgrp })
}

/// The resident set size of `pid` in kB (`VmRSS`), if it runs.
pub fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
}

/// Whether `pid` is a live (not zombie) process.
pub fn pid_alive(pid: u32) -> bool {
    stat(pid).is_some_and(|stat| !matches!(stat.state, 'Z' | 'X'))
}

/// How many of `pids` are alive.
pub fn count_alive(pids: &[u32]) -> usize {
    pids.iter().filter(|&&pid| pid_alive(pid)).count()
}

/// Every live process whose process group is `pgid`.
pub fn group_members(pgid: u32) -> Vec<u32> {
    live_pids().into_iter().filter(|&pid| stat(pid).is_some_and(|stat| stat.pgrp == pgid)).collect()
}

/// Every live process whose parent is `ppid`.
pub fn children_of(ppid: u32) -> Vec<u32> {
    live_pids().into_iter().filter(|&pid| stat(pid).is_some_and(|stat| stat.ppid == ppid)).collect()
}

/// Waits until `pid` is gone (or a zombie). Returns whether it went within `timeout`.
pub async fn wait_gone(pid: u32, timeout: Duration) -> bool {
    super::eventually(timeout, || !pid_alive(pid)).await
}

/// SIGKILLs the process group of every child of `pid`: a failed test SIGKILLs the gateway,
/// which leaves it no chance to stop its downstream servers itself. Call it only while `pid`
/// is still the gateway (its pid may be reused once it is reaped).
pub fn kill_child_groups(pid: u32) {
    for child in children_of(pid) {
        if let Ok(pgid) = i32::try_from(child) {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

fn live_pids() -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid_alive(pid))
        .collect()
}
