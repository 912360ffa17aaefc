//! Hand timing with `Instant`: engines four to six orders of magnitude apart, sampled in
//! alternating rounds (see the header of `main.rs`), and the number formats of the tables.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// An engine under test: runs the first `n` requests of its batch, returns how many it allowed.
pub struct Engine<'a> {
    pub name: String,
    pub run: Box<dyn Fn(usize) -> usize + 'a>,
    pub n: usize,
    pub reps: usize,
    pub samples: Vec<f64>,
}

pub fn time_once(e: &Engine<'_>) -> f64 {
    let t = Instant::now();
    for _ in 0..e.reps {
        black_box((e.run)(black_box(e.n)));
    }
    t.elapsed().as_nanos() as f64 / (e.reps * e.n) as f64
}

pub fn calibrate(e: &mut Engine<'_>, batch: usize, sample: Duration) {
    let probe = 10.min(batch);
    (e.run)(probe); // warm
    let t = Instant::now();
    (e.run)(probe);
    let per = t.elapsed().as_nanos().max(1) as f64 / probe as f64;
    let target = sample.as_nanos() as f64;
    if per * batch as f64 >= target {
        e.n = ((target / per) as usize).clamp(10.min(batch), batch);
        e.reps = 1;
    } else {
        e.n = batch;
        e.reps = ((target / (per * batch as f64)).ceil() as usize).max(1);
    }
}

pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 { v[m] } else { (v[m - 1] + v[m]) / 2.0 }
}

pub fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e4 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

pub fn fmt_rate(r: f64) -> String {
    let s = format!("{:.0}", r);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn fmt_ratio(x: f64) -> String {
    if x >= 100.0 {
        fmt_rate(x)
    } else if x >= 10.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}
