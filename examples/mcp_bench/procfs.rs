//! What `/proc` says about a process: resident memory, CPU time and children.

use std::fs;

/// Clock ticks per second of `/proc/PID/stat` times (`USER_HZ`, 100 on every mainstream Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// Resident memory in KiB: now (`VmRSS`) and the peak so far (`VmHWM`).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Memory {
    /// Resident set size now.
    pub rss_kb: u64,
    /// The high-water mark of the resident set.
    pub hwm_kb: u64,
}

/// `VmRSS` and `VmHWM` of `pid`, if it is alive.
pub fn memory(pid: u32) -> Option<Memory> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(Memory { rss_kb: field_of(&text, "VmRSS:")?, hwm_kb: field_of(&text, "VmHWM:")? })
}

/// A numeric field of `/proc/PID/status` (`VmRSS:`, `Threads:`), without its unit.
pub fn status_field(pid: u32, name: &str) -> Option<u64> {
    field_of(&fs::read_to_string(format!("/proc/{pid}/status")).ok()?, name)
}

fn field_of(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
}

/// The fields of `/proc/PID/stat` after the command name (which may contain spaces).
fn stat_fields(pid: &str) -> Option<Vec<String>> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 1..];
    Some(after.split_whitespace().map(str::to_owned).collect())
}

/// User plus system CPU time of `pid` (its own threads, not its children), in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let f = stat_fields(&pid.to_string())?;
    // Fields 14 and 15 of stat(5); index 0 here is field 3.
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / TICKS_PER_SECOND)
}

/// This process's own CPU time, in seconds.
pub fn own_cpu_seconds() -> f64 {
    cpu_seconds(std::process::id()).unwrap_or(0.0)
}

/// The direct children of `pid` that have not exited (zombies left out).
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| {
            stat_fields(&p.to_string()).is_some_and(|f| {
                f.first().is_some_and(|state| state != "Z")
                    && f.get(1).and_then(|pp| pp.parse::<u32>().ok()) == Some(pid)
            })
        })
        .collect()
}

/// Every live descendant of `pid` (children, grandchildren, ...).
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(dir) = fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit())) else { continue };
            let ppid = stat_fields(name).and_then(|f| f.get(1).and_then(|p| p.parse::<u32>().ok()));
            if let (Some(ppid), Ok(child)) = (ppid, name.parse::<u32>()) {
                parent_of.push((child, ppid));
            }
        }
    }
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(parent_of.iter().filter(|(_, p)| *p == parent).map(|(c, _)| *c));
        i += 1;
    }
    found.remove(0);
    found
}

/// CPU seconds of every live descendant of `pid`, summed.
pub fn descendants_cpu_seconds(pid: u32) -> f64 {
    descendants(pid).into_iter().filter_map(cpu_seconds).sum()
}

/// Resident memory of every live descendant of `pid`, summed (KiB).
pub fn descendants_rss_kb(pid: u32) -> u64 {
    descendants(pid).into_iter().filter_map(memory).map(|m| m.rss_kb).sum()
}
