//! Compile time and memory of the policy engine on a generated policy of N rules.
//!
//! ```text
//! cargo run --release --example policy_compile_mem -- 50000
//! cargo run --release --example policy_compile_mem -- 50000 unique
//! ```
//!
//! Run one size per process, so that the allocator's leftovers from one size do not hide the
//! next. It prints the wall time of one compile, the table's own estimate
//! (`DecisionTable::memory_usage`), and what the kernel saw: the growth of the resident set
//! (`VmRSS`) and of its peak (`VmHWM`, reset through `/proc/self/clear_refs` just before the
//! compile) over the resident set before it. The generator is the benchmarks' one
//! (`mcpgw::policy::testkit::workload`): blocks of 50 rules over 10 servers. With `unique`, every
//! infix and general glob is distinct, the worst case for compile time.

use std::time::Instant;

use mcpgw::policy::DecisionTable;
use mcpgw::policy::testkit::workload;

/// A `kB` field of `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 =
        line.trim_start_matches(field).trim_start_matches(':').trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn main() {
    let rules: usize = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 50_000,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("usage: policy_compile_mem [RULES]: {e}");
            std::process::exit(2);
        }
    };
    let blocks = rules.div_ceil(workload::RULES_PER_AGENT).max(1);
    let unique = std::env::args().nth(2).is_some_and(|a| a == "unique");
    let policy = workload::policy_with(blocks, 2, unique);

    // Reset the peak to the current resident set (Linux >= 4.0), then measure.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let rss_before = status_bytes("VmRSS").unwrap_or(0);
    let start = Instant::now();
    let table = match DecisionTable::compile(&policy) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("compile failed: {e:?}");
            std::process::exit(1);
        }
    };
    let elapsed = start.elapsed();
    let rss_after = status_bytes("VmRSS").unwrap_or(0);
    let peak = status_bytes("VmHWM").unwrap_or(0);
    println!(
        "rules {:>6}{}  agents {:>5}  compile {:>8.1} ms  memory_usage {:>7.1} MB  rss_delta {:>7.1} MB  peak_delta {:>7.1} MB{}",
        table.rule_count(),
        if unique { " (unique globs)" } else { "" },
        table.agent_count(),
        elapsed.as_secs_f64() * 1e3,
        mb(table.memory_usage() as u64),
        mb(rss_after.saturating_sub(rss_before)),
        mb(peak.saturating_sub(rss_before)),
        if reset { "" } else { "  (peak not reset: includes generation)" },
    );
}
