//! Summaries of the draws: exact type-7 quantiles, mean, sample sd (n − 1), and plan-target
//! probabilities. Quantiles are exact order statistics, so they do not depend on the order the
//! draws arrive in; means and sds are folded from fixed chunks of [`CHUNK`] consecutive draws in
//! draw order ([`Moments`]). Either way the result does not depend on the thread count, and a run
//! that keeps every draw ([`summarise`]) gives the same bits as one that streams them
//! (the runner's streamed summary, which keeps only the values near each quantile: [`sieve`]).

pub mod backtest;
pub mod ensemble;
pub mod quantile;
pub mod sieve;
pub mod sobol;
pub(crate) mod transpose;

use crate::arith::sum_by;
use crate::diagnostics::Diagnostics;
use crate::indicators::Layout;
use crate::region::Target;
pub use ensemble::Ensemble;
use rayon::prelude::*;
use std::ops::Range;

/// Draws per chunk of the moment sums, counted from the run's first draw.
pub const CHUNK: u64 = 256;

/// Sums of one chunk of consecutive draws, per value position, shifted by the chunk's first draw
/// (so a constant series sums to exactly zero).
#[derive(Debug, Clone)]
pub struct ChunkSums {
    n: u64,
    shift: Vec<f64>,
    s1: Vec<f64>,
    s2: Vec<f64>,
}

impl ChunkSums {
    /// Empty sums over `width` value positions.
    pub fn new(width: usize) -> Self {
        ChunkSums { n: 0, shift: vec![0.0; width], s1: vec![0.0; width], s2: vec![0.0; width] }
    }

    /// Start again (keeps the memory).
    pub fn clear(&mut self) {
        self.n = 0;
        self.s1.fill(0.0);
        self.s2.fill(0.0);
    }

    /// Add the next draw's values.
    #[inline]
    pub fn push(&mut self, row: &[f64]) {
        if self.n == 0 {
            self.shift.copy_from_slice(row);
        }
        self.n += 1;
        for (((x, c), s1), s2) in row.iter().zip(&self.shift).zip(&mut self.s1).zip(&mut self.s2) {
            let d = x - c;
            *s1 += d;
            *s2 += d * d;
        }
    }

    /// Add the next draws' values (`rows`, row-major, [`ChunkSums::width`] each): the same sums,
    /// bit for bit, as [`ChunkSums::push`] of each row in turn, with the sums read and written
    /// once per eight rows instead of once per row.
    pub fn push_rows(&mut self, rows: &[f64]) {
        let width = self.width();
        if width == 0 {
            return;
        }
        let mut groups = rows.chunks_exact(ROWS_TOGETHER * width);
        for g in &mut groups {
            if self.n == 0 {
                self.shift.copy_from_slice(&g[..width]);
            }
            self.n += ROWS_TOGETHER as u64;
            let r: [&[f64]; ROWS_TOGETHER] = std::array::from_fn(|k| &g[k * width..(k + 1) * width]);
            for (j, ((c, s1), s2)) in self.shift.iter().zip(&mut self.s1).zip(&mut self.s2).enumerate() {
                let (mut a, mut b) = (*s1, *s2);
                for row in r {
                    let d = row[j] - c;
                    a += d;
                    b += d * d;
                }
                (*s1, *s2) = (a, b);
            }
        }
        for row in groups.remainder().chunks_exact(width) {
            self.push(row);
        }
    }

    /// The number of value positions.
    pub fn width(&self) -> usize {
        self.shift.len()
    }

    /// The values [`ChunkSums::write_to`] writes for `width` positions.
    pub fn flat_len(width: usize) -> usize {
        1 + 3 * width
    }

    /// Append the sums to `out` as plain numbers (the count, then shift, s1, s2), to send them to
    /// another process ([`crate::runner::distributed`]).
    pub fn write_to(&self, out: &mut Vec<f64>) {
        out.push(self.n as f64);
        out.extend_from_slice(&self.shift);
        out.extend_from_slice(&self.s1);
        out.extend_from_slice(&self.s2);
    }

    /// The sums [`ChunkSums::write_to`] wrote (`flat` of [`ChunkSums::flat_len`] values).
    pub fn read_from(flat: &[f64]) -> ChunkSums {
        let width = (flat.len() - 1) / 3;
        ChunkSums {
            n: flat[0] as u64,
            shift: flat[1..1 + width].to_vec(),
            s1: flat[1 + width..1 + 2 * width].to_vec(),
            s2: flat[1 + 2 * width..1 + 3 * width].to_vec(),
        }
    }
}

/// Rows [`ChunkSums::push_rows`] adds together (a batch of draws).
const ROWS_TOGETHER: usize = 8;

/// Mean and sum of squared deviations per value position, folded chunk by chunk in draw order
/// (Chan, Golub and LeVeque's pairwise update).
#[derive(Debug, Clone)]
pub struct Moments {
    n: u64,
    mean: Vec<f64>,
    m2: Vec<f64>,
}

impl Moments {
    /// No draws yet, over `width` value positions.
    pub fn new(width: usize) -> Self {
        Moments { n: 0, mean: vec![0.0; width], m2: vec![0.0; width] }
    }

    /// Fold in the next chunk.
    pub fn absorb(&mut self, c: &ChunkSums) {
        if c.n == 0 {
            return;
        }
        let (na, nb) = (self.n as f64, c.n as f64);
        let n = na + nb;
        for ((((mean, m2), s), s1), s2) in
            self.mean.iter_mut().zip(&mut self.m2).zip(&c.shift).zip(&c.s1).zip(&c.s2)
        {
            let mean_b = s + s1 / nb;
            let m2_b = (s2 - s1 * s1 / nb).max(0.0);
            if self.n == 0 {
                *mean = mean_b;
                *m2 = m2_b;
            } else {
                let d = mean_b - *mean;
                *mean += d * (nb / n);
                *m2 += m2_b + d * d * (na * nb / n);
            }
        }
        self.n += c.n;
    }

    /// Mean and sample sd (n − 1; 0 for one draw) of value position `j`.
    pub fn mean_sd(&self, j: usize) -> (f64, f64) {
        match self.n {
            0 => (f64::NAN, f64::NAN),
            1 => (self.mean[j], 0.0),
            n => (self.mean[j], (self.m2[j] / (n - 1) as f64).sqrt()),
        }
    }
}

/// What a run's outputs are made of: the statistics of every value position, the plan-target
/// hit counts and the diagnostics, for the draws run.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The draws run.
    pub draws: Range<u64>,
    /// Layout of one draw's values.
    pub layout: Layout,
    /// Statistics per value position (indexed like a draw's row).
    pub stats: Vec<SeriesStats>,
    /// For each target given, the draws in which it holds.
    pub target_hits: Vec<u64>,
    /// Clamps and caps counted over all draws.
    pub diagnostics: Diagnostics,
    /// Series whose quantiles were gathered again in full because a rank left its bracket
    /// (0 almost always; see [`sieve`]).
    pub regathered: usize,
}

impl Summary {
    /// Number of draws.
    pub fn n_draws(&self) -> usize {
        (self.draws.end - self.draws.start) as usize
    }

    /// The share of draws in which target `i` (in the order given) holds.
    pub fn target_probability(&self, i: usize) -> f64 {
        self.target_hits[i] as f64 / self.n_draws() as f64
    }
}

/// Whether each target holds in one draw's values, `value(j)` being its value j (adds to
/// `hits`).
#[inline]
pub fn count_hits(layout: &Layout, targets: &[Target], value: impl Fn(usize) -> f64, hits: &mut [u64]) {
    for (t, h) in targets.iter().zip(hits) {
        let v = value(layout.index(t.entity, t.year, t.indicator));
        *h += u64::from(t.comparison.holds(v, t.threshold));
    }
}

/// For each target (the base's `base_targets[k]` against the alternative's `alt_targets[k]`,
/// the same target), the paired draws in which only the alternative meets it, and those in which
/// only the base does.
pub fn target_pairs(
    base: &Ensemble,
    alt: &Ensemble,
    base_targets: &[Target],
    alt_targets: &[Target],
) -> Vec<(u64, u64)> {
    base_targets
        .iter()
        .zip(alt_targets)
        .map(|(tb, ta)| {
            let (jb, ja) = (
                base.layout.index(tb.entity, tb.year, tb.indicator),
                alt.layout.index(ta.entity, ta.year, ta.indicator),
            );
            let (mut only_alt, mut only_base) = (0, 0);
            for k in 0..base.n_draws().min(alt.n_draws()) {
                let b = tb.comparison.holds(base.value(k, jb), tb.threshold);
                let x = ta.comparison.holds(alt.value(k, ja), ta.threshold);
                only_alt += u64::from(x && !b);
                only_base += u64::from(b && !x);
            }
            (only_alt, only_base)
        })
        .collect()
}

/// The [`Summary`] of an ensemble that kept every draw, for `targets`.
pub fn summary_of(ens: &Ensemble, targets: &[Target]) -> Summary {
    // Target by target down its series, which lies in runs of CHUNK draws (draw by draw, each
    // target's value would be a read from a different part of the matrix, mostly a miss).
    let hits = targets
        .iter()
        .map(|t| {
            let j = ens.layout.index(t.entity, t.year, t.indicator);
            (0..ens.n_draws()).filter(|&k| t.comparison.holds(ens.value(k, j), t.threshold)).count() as u64
        })
        .collect();
    Summary {
        draws: ens.draws.clone(),
        layout: ens.layout,
        stats: summarise(ens),
        target_hits: hits,
        diagnostics: ens.diagnostics,
        regathered: 0,
    }
}

/// The probabilities reported, in column order (`p025 … p975`).
pub const PROBS: [f64; 9] = [0.025, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.975];
/// Column names of [`PROBS`].
pub const PROB_NAMES: [&str; 9] = ["p025", "p05", "p10", "p25", "p50", "p75", "p90", "p95", "p975"];

/// Statistics of one (entity, year, indicator) series over the draws.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeriesStats {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1; 0 when n = 1).
    pub sd: f64,
    /// Type-7 quantiles at [`PROBS`].
    pub q: [f64; 9],
}

/// Mean and sample sd of a series, shifted by its first value so that a constant series gives
/// exactly that constant and sd 0. Sums run in eight lanes in a fixed order (as
/// [`crate::arith`] does), so they vectorise and do not depend on the machine.
pub fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let x0 = xs[0];
    let d = sum_by(xs, |x| x - x0) / n as f64;
    let mean = x0 + d;
    if n == 1 {
        return (mean, 0.0);
    }
    let ss = sum_by(xs, |x| {
        let e = (x - x0) - d;
        e * e
    });
    (mean, (ss / (n - 1) as f64).sqrt())
}

/// Statistics of one series (reorders `buf`).
pub fn series_stats(buf: &mut [f64]) -> SeriesStats {
    let (mean, sd) = mean_sd(buf);
    let q = quantile::quantiles_type7(buf, &PROBS);
    SeriesStats { mean, sd, q }
}

/// Statistics of every value position of an ensemble (indexed like a draw's row).
pub fn summarise(ens: &Ensemble) -> Vec<SeriesStats> {
    let width = ens.layout.len();
    let n = ens.n_draws();
    if n == 0 {
        return vec![series_stats(&mut []); width];
    }
    let moments = &ens.moments;
    (0..width)
        .into_par_iter()
        .map_init(
            || (vec![0; n], vec![0; n], vec![0.0; n]),
            |(keys, scratch, col): &mut (Vec<i64>, Vec<i64>, Vec<f64>), j| {
                let (mean, sd) = moments.mean_sd(j);
                if let Some(x) = ens.base_year_value(j) {
                    // The same in every draw.
                    return SeriesStats { mean, sd, q: quantile::quantiles_of_constant(n, x, &PROBS) };
                }
                // A copy of the series' runs first (wide loads keep many misses in flight),
                // then its keys, made in the core's cache.
                ens.series_into(j, col);
                for (k, &x) in keys.iter_mut().zip(col.iter()) {
                    *k = quantile::total_key(x);
                }
                SeriesStats { mean, sd, q: quantile::quantiles_of_keys(keys, &PROBS, scratch) }
            },
        )
        .collect()
}

/// Statistics of the paired difference alternative − base of one series over the same draws.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiffStats {
    /// Mean difference.
    pub mean: f64,
    /// Type-7 quantiles of the difference at [`PROBS`].
    pub q: [f64; 9],
    /// Share of draws in which the alternative is strictly higher.
    pub prob_alt_higher: f64,
}

/// The value positions that paired comparisons compare: the entity outcomes, which come first
/// and at the same positions in every layout of a region with the same years.
pub fn paired_width(layout: &Layout) -> usize {
    layout.entities() * layout.years() * crate::indicators::N_INDICATORS
}

/// Paired differences of every value position of two ensembles run over the same draws (common
/// random numbers: draw k of each shares every random quantity the two scenarios have in common),
/// over the [`paired_width`] entity outcomes. The mean difference is folded from chunks of
/// [`CHUNK`] draws in draw order, as [`Moments`] folds a run's means, so that a streamed
/// comparison gives the same bits.
pub fn paired(base: &Ensemble, alt: &Ensemble) -> Vec<DiffStats> {
    assert_eq!(base.draws, alt.draws, "paired ensembles need the same draws");
    let n = base.n_draws();
    (0..paired_width(&base.layout))
        .into_par_iter()
        .map_init(
            || (vec![0.0; n], vec![0.0; n], ChunkSums::new(1), vec![0; n], vec![0; n]),
            |(buf, alt_j, sums, keys, scratch): &mut (Vec<f64>, Vec<f64>, ChunkSums, Vec<i64>, Vec<i64>),
             j| {
                base.series_into(j, buf);
                alt.series_into(j, alt_j);
                let mut higher = 0usize;
                for (d, &a) in buf.iter_mut().zip(alt_j.iter()) {
                    let b = *d;
                    higher += usize::from(a > b);
                    *d = a - b;
                }
                let mut moments = Moments::new(1);
                for chunk in buf.chunks(CHUNK as usize) {
                    sums.clear();
                    for x in chunk {
                        sums.push(std::slice::from_ref(x));
                    }
                    moments.absorb(sums);
                }
                let (mean, _) = moments.mean_sd(0);
                for (k, &d) in keys.iter_mut().zip(buf.iter()) {
                    *k = quantile::total_key(d);
                }
                let q = quantile::quantiles_of_keys(keys, &PROBS, scratch);
                DiffStats { mean, q, prob_alt_higher: higher as f64 / n as f64 }
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_of_rows_together_are_the_sums_of_rows_one_by_one() {
        let width = 5;
        let mut st = 0x853c_49e6_748f_ea9bu64;
        let mut next = move || {
            st ^= st << 13;
            st ^= st >> 7;
            st ^= st << 17;
            // Values of every size and sign, so that the order of the additions shows.
            (st >> 11) as f64 / (1u64 << 53) as f64 * 2e6 - 1e6
                + if st.is_multiple_of(3) { 1e-9 } else { 0.0 }
        };
        for first in 0..20 {
            for second in [0, 1, 7, 8, 9, 17] {
                let rows: Vec<f64> = (0..(first + second) * width).map(|_| next()).collect();
                let mut one = ChunkSums::new(width);
                for row in rows.chunks_exact(width) {
                    one.push(row);
                }
                let mut together = ChunkSums::new(width);
                together.push_rows(&rows[..first * width]);
                together.push_rows(&rows[first * width..]);
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(together.n, one.n, "{first} + {second} rows");
                assert_eq!(bits(&together.shift), bits(&one.shift), "{first} + {second} rows");
                assert_eq!(bits(&together.s1), bits(&one.s1), "{first} + {second} rows");
                assert_eq!(bits(&together.s2), bits(&one.s2), "{first} + {second} rows");
            }
        }
    }
}
