//! Markdown tables from the JSON lines the measurements print. Rounds of the same target are
//! pooled: latency samples are merged before taking percentiles, throughput is the median of
//! the rounds, startup samples are merged.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use crate::stats::{median, quantile, round};

/// Flags of `report`.
#[derive(clap::Args)]
pub struct ReportArgs {
    /// The label every ratio is taken against.
    #[arg(long, default_value = "mcpgw")]
    baseline: String,
    /// The label whose latency is subtracted to get a gateway's added latency.
    #[arg(long, default_value = "direct")]
    direct: String,
    /// JSON lines files written by the other subcommands.
    #[arg(required = true)]
    files: Vec<String>,
}

/// Prints every table for which there are records.
pub fn run(args: &ReportArgs) -> Result<(), String> {
    let mut records = Vec::new();
    for file in &args.files {
        let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?;
        records.extend(text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()));
    }
    let mut out = String::new();
    latency_table(&mut out, &records, args);
    throughput_table(&mut out, &records, args);
    startup_table(&mut out, &records, args);
    memory_table(&mut out, &records, args);
    tokens_table(&mut out, &records);
    print!("{out}");
    Ok(())
}

fn of<'a>(records: &'a [Value], bench: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["bench"] == bench).collect()
}

/// Labels in order of first appearance, with `first` ones moved to the front.
fn labels(records: &[&Value], first: &[&str]) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for r in records {
        if let Some(l) = r["label"].as_str()
            && !seen.iter().any(|s| s == l)
        {
            seen.push(l.to_owned());
        }
    }
    let mut ordered: Vec<String> =
        first.iter().filter(|f| seen.iter().any(|s| s == *f)).map(|f| f.to_string()).collect();
    ordered.extend(seen.into_iter().filter(|s| !first.contains(&s.as_str())));
    ordered
}

fn ratio(value: f64, base: f64) -> String {
    if !value.is_finite() || !base.is_finite() || base <= 0.0 {
        return "–".into();
    }
    let r = value / base;
    if r >= 100.0 {
        format!("{r:.0}×")
    } else if r >= 10.0 {
        format!("{r:.1}×")
    } else {
        format!("{r:.2}×")
    }
}

fn ms(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

fn thousands(v: f64) -> String {
    let n = v.round() as i64;
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Pooled latency percentiles (ms) of one label: p50, p95, p99, and the number of calls.
fn pooled(records: &[&Value], label: &str) -> Option<(f64, f64, f64, usize, u64)> {
    let mine: Vec<&&Value> = records.iter().filter(|r| r["label"] == label).collect();
    if mine.is_empty() {
        return None;
    }
    let errors: u64 = mine.iter().filter_map(|r| r["errors"].as_u64()).sum();
    let mut samples: Vec<f64> = mine
        .iter()
        .filter_map(|r| r["samples_us"].as_array())
        .flatten()
        .filter_map(Value::as_f64)
        .map(|us| us / 1000.0)
        .collect();
    if samples.is_empty() {
        let pick = |k: &str| median(&mine.iter().filter_map(|r| r["latency"][k].as_f64()).collect::<Vec<_>>());
        let n = mine.iter().filter_map(|r| r["calls"].as_u64()).sum::<u64>() as usize;
        return Some((pick("p50_ms"), pick("p95_ms"), pick("p99_ms"), n, errors));
    }
    samples.sort_by(f64::total_cmp);
    Some((
        round(quantile(&samples, 0.5)),
        round(quantile(&samples, 0.95)),
        round(quantile(&samples, 0.99)),
        samples.len(),
        errors,
    ))
}

fn latency_table(out: &mut String, records: &[Value], args: &ReportArgs) {
    let recs = of(records, "latency");
    if recs.is_empty() {
        return;
    }
    let direct = pooled(&recs, &args.direct);
    let base = pooled(&recs, &args.baseline);
    let added = |p: Option<(f64, f64, f64, usize, u64)>| p.zip(direct).map(|(p, d)| (p.0 - d.0, p.1 - d.1, p.2 - d.2));
    let base_added = added(base);
    let _ = writeln!(
        out,
        "Sequential calls, one client, one call in flight (ms; added = minus `{}` at the same percentile):\n",
        args.direct
    );
    let _ = writeln!(
        out,
        "| target | calls | p50 | p95 | p99 | added p50 | added p95 | added p99 | added p50 vs {b} | added p99 vs {b} |",
        b = args.baseline
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for label in labels(&recs, &[&args.direct, &args.baseline]) {
        let Some(p) = pooled(&recs, &label) else { continue };
        let errors = if p.4 > 0 { format!(" ({} errors)", p.4) } else { String::new() };
        let (a50, a95, a99, r50, r99) = match (added(Some(p)), label == args.direct) {
            (Some(a), false) => (
                ms(a.0),
                ms(a.1),
                ms(a.2),
                base_added.map_or("–".into(), |b| ratio(a.0, b.0)),
                base_added.map_or("–".into(), |b| ratio(a.2, b.2)),
            ),
            _ => ("–".into(), "–".into(), "–".into(), "–".into(), "–".into()),
        };
        let _ = writeln!(
            out,
            "| {label} | {}{errors} | {} | {} | {} | {a50} | {a95} | {a99} | {r50} | {r99} |",
            p.3,
            ms(p.0),
            ms(p.1),
            ms(p.2)
        );
    }
    out.push('\n');
}

fn throughput_table(out: &mut String, records: &[Value], args: &ReportArgs) {
    let recs = of(records, "throughput");
    if recs.is_empty() {
        return;
    }
    let mut levels: Vec<u64> = recs.iter().filter_map(|r| r["concurrency"].as_u64()).collect();
    levels.sort_unstable();
    levels.dedup();
    // A window in which no call completed has no latency to report.
    let cell = |label: &str, c: u64, f: &dyn Fn(&Value) -> Option<f64>| -> f64 {
        let vals: Vec<f64> = recs
            .iter()
            .filter(|r| r["label"] == label && r["concurrency"] == c && r["calls"].as_u64().unwrap_or(0) > 0)
            .filter_map(|r| f(r))
            .collect();
        if vals.is_empty() { f64::NAN } else { median(&vals) }
    };
    let rate_of = |label: &str, c: u64| -> f64 {
        let vals: Vec<f64> = recs
            .iter()
            .filter(|r| r["label"] == label && r["concurrency"] == c)
            .filter_map(|r| r["calls_per_s"].as_f64())
            .collect();
        if vals.is_empty() { f64::NAN } else { median(&vals) }
    };
    let _ = writeln!(out, "Throughput (calls/s, median of rounds; in brackets: ÷ `{}`):\n", args.baseline);
    let head: Vec<String> = levels.iter().map(|c| format!("{c} in flight")).collect();
    let _ = writeln!(out, "| target | {} |", head.join(" | "));
    let _ = writeln!(out, "|---|{}", "---:|".repeat(levels.len()));
    let order = labels(&recs, &[&args.direct, &args.baseline]);
    for label in &order {
        let cells: Vec<String> = levels
            .iter()
            .map(|&c| {
                let v = rate_of(label, c);
                let b = rate_of(&args.baseline, c);
                if v.is_nan() { "–".into() } else { format!("{} ({})", thousands(v), ratio(v, b)) }
            })
            .collect();
        let _ = writeln!(out, "| {label} | {} |", cells.join(" | "));
    }
    let _ = writeln!(
        out,
        "\nUnder that load (median of rounds): latency p50/p99 in ms, and CPU time per call in µs of the target process, its child processes (the downstream servers) and the benchmark client:\n"
    );
    let _ = writeln!(
        out,
        "| target | in flight | p50 | p99 | errors | target CPU/call | children CPU/call | client CPU/call |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for label in &order {
        for &c in &levels {
            let p50 = cell(label, c, &|r| r["latency"]["p50_ms"].as_f64());
            if p50.is_nan() {
                continue;
            }
            let p99 = cell(label, c, &|r| r["latency"]["p99_ms"].as_f64());
            let errors: u64 = recs
                .iter()
                .filter(|r| r["label"] == label.as_str() && r["concurrency"] == c)
                .filter_map(|r| r["errors"].as_u64())
                .sum();
            let cpu = |k: &str| {
                let v = cell(label, c, &|r| r["cpu"][k].as_f64());
                if v.is_nan() { "–".into() } else { format!("{v:.0}") }
            };
            let _ = writeln!(
                out,
                "| {label} | {c} | {} | {} | {errors} | {} | {} | {} |",
                ms(p50),
                ms(p99),
                cpu("target_us_per_call"),
                cpu("descendants_us_per_call"),
                cpu("client_us_per_call")
            );
        }
    }
    out.push('\n');
}

fn startup_table(out: &mut String, records: &[Value], args: &ReportArgs) {
    let recs = of(records, "startup");
    if recs.is_empty() {
        return;
    }
    let stats = |label: &str| {
        let mut s: Vec<f64> = recs
            .iter()
            .filter(|r| r["label"] == label)
            .filter_map(|r| r["samples_ms"].as_array())
            .flatten()
            .filter_map(Value::as_f64)
            .collect();
        s.sort_by(f64::total_cmp);
        if s.is_empty() {
            return None;
        }
        let rss: Vec<f64> =
            recs.iter().filter(|r| r["label"] == label).filter_map(|r| r["idle_rss_kb"].as_f64()).collect();
        let tools = recs.iter().filter(|r| r["label"] == label).find_map(|r| r["tools"].as_u64()).unwrap_or(0);
        Some((quantile(&s, 0.5), s[0], s[s.len() - 1], s.len(), median(&rss), tools))
    };
    let base = stats(&args.baseline);
    let _ = writeln!(
        out,
        "Start to an answered `tools/list` (ms, fresh process each run), and resident memory right after:\n"
    );
    let _ = writeln!(
        out,
        "| target | runs | tools listed | p50 | min | max | p50 vs {b} | idle RSS (MiB) | RSS vs {b} |",
        b = args.baseline
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for label in labels(&recs, &[&args.direct, &args.baseline]) {
        let Some(s) = stats(&label) else { continue };
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {} | {} | {} | {} | {:.1} | {} |",
            s.3,
            s.5,
            ms(s.0),
            ms(s.1),
            ms(s.2),
            base.map_or("–".into(), |b| ratio(s.0, b.0)),
            s.4 / 1024.0,
            base.map_or("–".into(), |b| ratio(s.4, b.4))
        );
    }
    out.push('\n');
}

fn memory_table(out: &mut String, records: &[Value], args: &ReportArgs) {
    let recs: Vec<&Value> = records.iter().filter(|r| r["bench"] == "throughput" || r["bench"] == "latency").collect();
    let mut rows: BTreeMap<String, (f64, f64, f64)> = BTreeMap::new();
    for r in &recs {
        let Some(label) = r["label"].as_str() else { continue };
        let idle = r["memory_idle"]["rss_kb"].as_f64();
        let after = r["memory"]["rss_kb"].as_f64().or(r["memory_after"]["rss_kb"].as_f64());
        let hwm = r["memory"]["hwm_kb"].as_f64().or(r["memory_after"]["hwm_kb"].as_f64());
        let e = rows.entry(label.to_owned()).or_insert((f64::NAN, 0.0, 0.0));
        if let Some(i) = idle {
            e.0 = if e.0.is_nan() { i } else { e.0.min(i) };
        }
        e.1 = e.1.max(after.unwrap_or(0.0));
        e.2 = e.2.max(hwm.unwrap_or(0.0));
    }
    if rows.values().all(|r| r.2 == 0.0) {
        return;
    }
    let base = rows.get(&args.baseline).copied();
    let _ = writeln!(
        out,
        "Resident memory of the target process itself (MiB; downstream servers not included): connected and idle, then the largest reading after load and the peak (`VmHWM`):\n"
    );
    let _ = writeln!(out, "| target | idle, connected | after load | peak | peak vs {} |", args.baseline);
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    let order = labels(&recs, &[&args.direct, &args.baseline]);
    for label in order {
        let Some(r) = rows.get(&label) else { continue };
        if r.2 == 0.0 {
            continue;
        }
        let _ = writeln!(
            out,
            "| {label} | {:.1} | {:.1} | {:.1} | {} |",
            r.0 / 1024.0,
            r.1 / 1024.0,
            r.2 / 1024.0,
            base.map_or("–".into(), |b| ratio(r.2, b.2))
        );
    }
    out.push('\n');
}

fn tokens_table(out: &mut String, records: &[Value]) {
    let recs = of(records, "tokens");
    if recs.is_empty() {
        return;
    }
    let _ = writeln!(out, "Context cost of `tools/list` (tokens = compact JSON bytes / 4, rounded up):\n");
    let _ = writeln!(out, "| what | tools | bytes | tokens |");
    let _ = writeln!(out, "|---|---:|---:|---:|");
    let (mut tools, mut bytes) = (0u64, 0u64);
    for r in recs.iter().filter(|r| r["role"] == "server") {
        let (t, b) = (r["tools"].as_u64().unwrap_or(0), r["bytes"].as_u64().unwrap_or(0));
        tools += t;
        bytes += b;
        let _ = writeln!(
            out,
            "| {} | {t} | {} | {} |",
            r["label"].as_str().unwrap_or("?"),
            thousands(b as f64),
            thousands(b.div_ceil(4) as f64)
        );
    }
    let total_tokens =
        recs.iter().filter(|r| r["role"] == "server").map(|r| r["tokens"].as_u64().unwrap_or(0)).sum::<u64>();
    let _ = writeln!(
        out,
        "| **all servers, loaded directly** | **{tools}** | **{}** | **{}** |",
        thousands(bytes as f64),
        thousands(total_tokens as f64)
    );
    for r in recs.iter().filter(|r| r["role"] == "gateway") {
        let t = r["tokens"].as_u64().unwrap_or(0);
        let share = if total_tokens > 0 {
            format!(" ({:.1}% of direct)", 100.0 * t as f64 / total_tokens as f64)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| **{}** | {} | {} | **{}**{share} |",
            r["label"].as_str().unwrap_or("?"),
            r["tools"].as_u64().unwrap_or(0),
            thousands(r["bytes"].as_f64().unwrap_or(0.0)),
            thousands(t as f64)
        );
    }
    out.push('\n');
}
