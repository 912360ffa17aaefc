//! [`Choices`]: the one source of every random choice a generator makes.
//!
//! A fuzz target (and a proptest strategy) hands the generator raw bytes, so that the input
//! *is* the policy: the fuzzer mutates bytes, proptest shrinks them towards fewer and smaller
//! ones, and a crash file replays without any other state. The benchmarks hand it a seed, so
//! that the same seed always gives the same workload. Both read through the same calls, so
//! one generator serves both.

/// A stream of choices: the bytes of an input (zeros past its end), or a seeded generator.
#[derive(Debug, Clone)]
pub struct Choices<'a> {
    source: Source<'a>,
}

#[derive(Debug, Clone)]
enum Source<'a> {
    Bytes(&'a [u8]),
    /// A 64-bit linear congruential generator (Knuth's MMIX constants); no `rand`.
    Seeded(u64),
}

impl<'a> Choices<'a> {
    /// Choices read from `data`, one byte per draw; past the end every draw is 0, so a short
    /// input asks for the smallest of everything.
    pub fn from_bytes(data: &'a [u8]) -> Self {
        Choices { source: Source::Bytes(data) }
    }

    /// Choices drawn from a generator seeded with `seed`.
    pub fn seeded(seed: u64) -> Choices<'static> {
        Choices { source: Source::Seeded(seed ^ 0x9E37_79B9_7F4A_7C15) }
    }

    /// One raw draw: the next byte, or the next 31 well-mixed bits.
    fn next(&mut self) -> u64 {
        match &mut self.source {
            Source::Bytes(data) => match data.split_first() {
                Some((b, rest)) => {
                    *data = rest;
                    u64::from(*b)
                }
                None => 0,
            },
            Source::Seeded(state) => {
                *state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                *state >> 33
            }
        }
    }

    /// A number in `0..n`; 0, without a draw, when `n` is 0.
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }

    /// True with probability `percent`/100. A zero chance draws nothing, so a shape that
    /// turns a choice off leaves every other draw where it was.
    pub fn chance(&mut self, percent: u64) -> bool {
        percent > 0 && self.next() % 100 < percent
    }

    /// One of `items`, or `None`, without a draw, when there are none.
    pub fn pick<'t, T>(&mut self, items: &'t [T]) -> Option<&'t T> {
        if items.is_empty() {
            return None;
        }
        let i = self.below(items.len());
        items.get(i)
    }

    /// One of `items`, or `fallback` when there are none.
    pub fn pick_or<T: Copy>(&mut self, items: &[T], fallback: T) -> T {
        self.pick(items).copied().unwrap_or(fallback)
    }

    /// A whole 32-bit word, from four draws.
    pub fn word(&mut self) -> u32 {
        let mut bytes = [0u8; 4];
        for b in &mut bytes {
            *b = (self.next() & 0xff) as u8;
        }
        u32::from_le_bytes(bytes)
    }

    /// Whether the input is used up (a seeded stream never is).
    pub fn is_exhausted(&self) -> bool {
        matches!(self.source, Source::Bytes([]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_read_in_order_then_zeros() {
        let mut c = Choices::from_bytes(&[7, 250, 1]);
        assert_eq!((c.below(5), c.chance(50), c.pick(&["a", "b"])), (2, false, Some(&"b")));
        assert!(c.is_exhausted());
        assert_eq!((c.below(3), c.chance(1), c.pick_or(&[] as &[u8], 9), c.word()), (0, true, 9, 0));
    }

    #[test]
    fn seeds_repeat_and_zero_chances_draw_nothing() {
        let draw = |c: &mut Choices<'_>| (0..8).map(|_| c.below(1000)).collect::<Vec<_>>();
        let (mut a, mut b) = (Choices::seeded(2), Choices::seeded(2));
        assert!(!b.chance(0) && b.below(0) == 0 && b.pick::<u8>(&[]).is_none());
        assert_eq!(draw(&mut a), draw(&mut b), "the calls above drew nothing");
        assert_ne!(draw(&mut Choices::seeded(3)), draw(&mut Choices::seeded(2)));
        assert!(!a.is_exhausted());
    }
}
