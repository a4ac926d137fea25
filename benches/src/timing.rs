//! Timing: every op is run untimed once or more (warm-up), then timed several
//! times; the figure is the median of the timed runs (`shared/bench/WORKLOADS.md`:
//! the median of at least 5 runs after a warm-up).
//!
//! Each run is split into `setup` (untimed; builds the state the op works on),
//! `timed` (the op; its result goes through [`black_box`]) and `after` (untimed;
//! reads checksums off the state before it is dropped, also untimed).

pub use std::hint::black_box;
use std::time::Instant;

/// How many runs to make of each op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Untimed runs first (their results are discarded).
    pub warmup: usize,
    /// Timed runs; the figure is their median. At least 1.
    pub runs: usize,
    /// Print each op's sorted run times to stderr.
    pub verbose: bool,
}

impl Timing {
    /// The standard setting: one warm-up, then 5 timed runs.
    pub const FULL: Timing = Timing {
        warmup: 1,
        runs: 5,
        verbose: false,
    };

    /// A quick look: no warm-up and a single timed run (figures are indicative only).
    pub const QUICK: Timing = Timing {
        warmup: 0,
        runs: 1,
        verbose: false,
    };

    /// Whether this meets the spec (a warm-up and at least 5 timed runs).
    pub fn is_standard(&self) -> bool {
        self.warmup >= 1 && self.runs >= 5
    }

    /// Runs `setup`, `timed` and `after` `warmup + runs` times and returns the
    /// median seconds of the timed runs with the last run's `after` result.
    pub fn measure<S, T, R>(
        &self,
        mut setup: impl FnMut() -> S,
        mut timed: impl FnMut(&mut S) -> T,
        mut after: impl FnMut(&mut S, T) -> R,
    ) -> Measured<R> {
        let runs = self.runs.max(1);
        let mut secs = Vec::with_capacity(runs);
        let mut last = None;
        for run in 0..self.warmup + runs {
            let mut state = setup();
            let start = Instant::now();
            let out = black_box(timed(black_box(&mut state)));
            let elapsed = start.elapsed().as_secs_f64();
            last = Some(after(&mut state, out));
            drop(state);
            if run >= self.warmup {
                secs.push(elapsed);
            }
        }
        secs.sort_by(f64::total_cmp);
        if self.verbose {
            let runs: Vec<String> = secs.iter().map(|s| format!("{s:.6}")).collect();
            eprintln!("  runs (s, sorted): {}", runs.join(" "));
        }
        Measured {
            secs: median(&secs),
            runs: secs,
            out: last.expect("at least one run"),
        }
    }
}

/// The result of [`Timing::measure`].
#[derive(Clone, Debug)]
pub struct Measured<R> {
    /// Median of the timed runs, in seconds.
    pub secs: f64,
    /// Every timed run, in seconds, sorted ascending.
    pub runs: Vec<f64>,
    /// What the last run's `after` returned.
    pub out: R,
}

/// The median of sorted values (the mean of the middle two for an even count);
/// NaN when empty.
pub fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_sorted() {
        assert_eq!(median(&[1.0, 2.0, 9.0]), 2.0);
        assert_eq!(median(&[1.0, 2.0, 4.0, 9.0]), 3.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn measure_runs_warmup_plus_runs() {
        let t = Timing {
            warmup: 2,
            runs: 5,
            verbose: false,
        };
        let mut setups = 0;
        let m = t.measure(
            || {
                setups += 1;
                setups
            },
            |s| *s * 10,
            |s, out| (*s, out),
        );
        assert_eq!(setups, 7);
        assert_eq!(m.runs.len(), 5);
        assert_eq!(m.out, (7, 70));
        assert!(m.runs.windows(2).all(|w| w[0] <= w[1]));
    }
}
