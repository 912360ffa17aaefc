//! Rate limiting for log lines a misbehaving peer can cause without bound (a child flooding
//! stderr, a server printing junk on stdout): a burst per second is logged, the rest counted
//! and reported once the second is over.

use std::time::{Duration, Instant};

/// A one-second window of allowed log lines.
#[derive(Debug)]
pub struct LogLimit {
    per_second: u32,
    window: Instant,
    used: u32,
    suppressed: u64,
}

impl LogLimit {
    /// Allows `per_second` lines in each second.
    pub fn new(per_second: u32) -> Self {
        LogLimit { per_second, window: Instant::now(), used: 0, suppressed: 0 }
    }

    /// Whether to log one more line now; counts it otherwise. When a new second starts, the
    /// count left over from the last one is handed to `report` first.
    pub fn allow(&mut self, report: impl FnOnce(u64)) -> bool {
        if self.window.elapsed() >= Duration::from_secs(1) {
            if let Some(n) = self.take_suppressed() {
                report(n);
            }
            self.window = Instant::now();
            self.used = 0;
        }
        self.used += 1;
        if self.used > self.per_second {
            self.suppressed += 1;
            false
        } else {
            true
        }
    }

    /// When the current second ends, if lines were suppressed in it (to report them on time
    /// even if no further line comes).
    pub fn window_end(&self) -> Option<Instant> {
        (self.suppressed > 0).then(|| self.window + Duration::from_secs(1))
    }

    /// The count of lines suppressed and not yet reported, if any.
    pub fn take_suppressed(&mut self) -> Option<u64> {
        (self.suppressed > 0).then(|| std::mem::take(&mut self.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_burst_and_counts_the_rest() {
        let mut l = LogLimit::new(3);
        let allowed = (0..10).filter(|_| l.allow(|_| panic!("no new window yet"))).count();
        assert_eq!(allowed, 3);
        assert!(l.window_end().is_some());
        assert_eq!(l.take_suppressed(), Some(7));
        assert_eq!(l.take_suppressed(), None);
    }
}
