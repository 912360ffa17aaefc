//! The measurements: sequential latency, throughput at a concurrency, and startup.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::connect::{Caller, Spawned, Target};
use crate::procfs;
use crate::stats::{round, summarize_us};
use crate::target::{Shape, check};

/// Numbers every call unique across a whole run, so no two calls echo the same text.
static SEQ: AtomicU64 = AtomicU64::new(0);

/// One call to the target; its latency in microseconds, or why it failed.
async fn call_once(peer: &Caller, shape: &Shape) -> Result<f64, String> {
    let (params, marker) = shape.request(SEQ.fetch_add(1, Ordering::Relaxed));
    let started = Instant::now();
    let result = peer.call_tool(params).await?;
    let us = started.elapsed().as_secs_f64() * 1e6;
    check(&result, &marker)?;
    Ok(us)
}

/// Makes `n` calls that must all succeed (connection warm-up, lazy downstream start).
pub async fn warm_up(target: &Target, shape: &Shape, n: usize) -> Result<(), String> {
    for i in 0..target.connections() {
        let peer = target.peer(i);
        for _ in 0..n.max(1) {
            call_once(&peer, shape).await?;
        }
    }
    Ok(())
}

/// `calls` sequential calls on the first connection (fewer if `max_time` runs out first).
pub async fn latency(target: &Target, shape: &Shape, calls: usize, max_time: Duration, keep_samples: bool) -> Value {
    let peer = target.peer(0);
    let mut samples = Vec::with_capacity(calls);
    let mut errors = 0u64;
    let mut first_error = None;
    let cpu = CpuWindow::start(target.pid);
    let deadline = Instant::now() + max_time;
    for _ in 0..calls {
        if Instant::now() >= deadline {
            break;
        }
        match call_once(&peer, shape).await {
            Ok(us) => samples.push(us),
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    let cpu = cpu.finish(samples.len() as u64);
    let mut out = json!({
        "calls": samples.len(),
        "errors": errors,
        "latency": summarize_us(&samples),
        "cpu": cpu,
    });
    if let Some(e) = first_error {
        out["first_error"] = Value::from(e);
    }
    if keep_samples {
        out["samples_us"] = Value::from(samples.iter().map(|us| us.round() as u64).collect::<Vec<_>>());
    }
    out
}

/// `concurrency` workers calling back to back for `warmup + duration`; only calls that start
/// after the warm-up and end within the window count.
pub async fn throughput(
    target: &Target,
    shape: &Shape,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
) -> Value {
    let begin = Instant::now();
    let measure_from = begin + warmup;
    let end = measure_from + duration;
    let mut workers = Vec::new();
    let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
    for i in 0..concurrency {
        let peer = target.peer(i);
        let shape = shape.clone();
        let first_error = first_error.clone();
        workers.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut errors = 0u64;
            loop {
                let started = Instant::now();
                if started >= end {
                    break;
                }
                let r = call_once(&peer, &shape).await;
                let done = Instant::now();
                match r {
                    Ok(us) if started >= measure_from && done <= end => samples.push(us),
                    Ok(_) => {}
                    Err(e) => {
                        errors += 1;
                        first_error.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
                        // A failing target must not turn into a busy loop.
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            }
            (samples, errors)
        }));
    }
    tokio::time::sleep_until(measure_from.into()).await;
    let cpu = CpuWindow::start(target.pid);
    tokio::time::sleep_until(end.into()).await;
    let mut cpu = cpu;
    cpu.mark_end();
    let mut samples = Vec::new();
    let mut errors = 0;
    for w in workers {
        if let Ok((s, e)) = w.await {
            samples.extend(s);
            errors += e;
        }
    }
    let cpu = cpu.finish_at(samples.len() as u64, duration.as_secs_f64());
    let memory = target.pid.and_then(procfs::memory);
    let mut out = json!({
        "concurrency": concurrency,
        "connections": target.connections().min(concurrency),
        "duration_s": duration.as_secs_f64(),
        "calls": samples.len(),
        "errors": errors,
        "calls_per_s": (samples.len() as f64 / duration.as_secs_f64()).round(),
        "latency": summarize_us(&samples),
        "cpu": cpu,
        "memory": memory,
        "children_rss_kb": target.pid.map(procfs::descendants_rss_kb),
    });
    if let Some(e) = first_error.lock().unwrap_or_else(|p| p.into_inner()).take() {
        out["first_error"] = Value::from(e);
    }
    out
}

/// CPU time used during a window by the target, its descendants and this client.
pub struct CpuWindow {
    pid: Option<u32>,
    at: Instant,
    target: f64,
    children: f64,
    client: f64,
    finished: Option<(Instant, f64, f64, f64)>,
}

impl CpuWindow {
    /// Takes the starting readings.
    pub fn start(pid: Option<u32>) -> Self {
        let (target, children) =
            pid.map_or((0.0, 0.0), |p| (procfs::cpu_seconds(p).unwrap_or(0.0), procfs::descendants_cpu_seconds(p)));
        CpuWindow { pid, at: Instant::now(), target, children, client: procfs::own_cpu_seconds(), finished: None }
    }

    /// Ends the window now and reports CPU per call.
    pub fn finish(mut self, calls: u64) -> Value {
        self.mark_end();
        let wall = self.finished.map_or(0.0, |f| f.0.duration_since(self.at).as_secs_f64());
        self.finish_at(calls, wall)
    }

    /// Takes the closing readings.
    pub fn mark_end(&mut self) {
        let (t, c) = self
            .pid
            .map_or((0.0, 0.0), |p| (procfs::cpu_seconds(p).unwrap_or(0.0), procfs::descendants_cpu_seconds(p)));
        self.finished = Some((Instant::now(), t, c, procfs::own_cpu_seconds()));
    }

    /// Reports CPU per call for the window (ended now unless it was ended before), given
    /// `calls` completed in `measured_s` seconds (scaled to the CPU window's own length).
    pub fn finish_at(mut self, calls: u64, measured_s: f64) -> Value {
        if self.finished.is_none() {
            self.mark_end();
        }
        let Some((at, t, c, me)) = self.finished else { return Value::Null };
        let wall = at.duration_since(self.at).as_secs_f64();
        let calls = if measured_s > 0.0 { calls as f64 * wall / measured_s } else { calls as f64 };
        let per_call_us = |s: f64| if calls < 1.0 { Value::Null } else { Value::from(round(s * 1e6 / calls)) };
        json!({
            "wall_s": round(wall),
            "target_s": round(self.target_delta(t)),
            "descendants_s": round(c - self.children),
            "client_s": round(me - self.client),
            "target_us_per_call": per_call_us(self.target_delta(t)),
            "descendants_us_per_call": per_call_us(c - self.children),
            "client_us_per_call": per_call_us(me - self.client),
        })
    }

    fn target_delta(&self, t: f64) -> f64 {
        if self.pid.is_some() { t - self.target } else { 0.0 }
    }
}

/// Spawns `command` `runs` times and times each start up to an answered `tools/list`. After
/// each, waits `settle` and reads the process's resident memory (idle, just started).
pub async fn startup(command: &[String], runs: usize, settle: Duration, stderr: Option<&str>) -> Result<Value, String> {
    let mut times_us = Vec::new();
    let mut rss = Vec::new();
    let mut tools = 0;
    let mut children = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let mut child = Spawned::start(command, stderr)?;
        let mut session = child.connect().await?;
        let listed = session.peer().list_all_tools().await.map_err(|e| format!("tools/list failed: {e}"))?;
        times_us.push(started.elapsed().as_secs_f64() * 1e6);
        tools = listed.len();
        tokio::time::sleep(settle).await;
        if let Some(m) = procfs::memory(child.pid()) {
            rss.push(m);
        }
        children = procfs::descendants(child.pid()).len();
        let _ = session.close_with_timeout(Duration::from_secs(1)).await;
        child.kill().await;
    }
    let mut rss_kb: Vec<f64> = rss.iter().map(|m| m.rss_kb as f64).collect();
    rss_kb.sort_by(f64::total_cmp);
    Ok(json!({
        "runs": runs,
        "tools": tools,
        "startup": summarize_us(&times_us),
        "samples_ms": times_us.iter().map(|us| round(us / 1000.0)).collect::<Vec<_>>(),
        "idle_rss_kb": crate::stats::median(&rss_kb),
        "idle_hwm_kb": rss.iter().map(|m| m.hwm_kb).max(),
        "settle_ms": settle.as_millis() as u64,
        "descendants_after_start": children,
    }))
}
