//! Summaries of the draws: exact type-7 quantiles, mean, sample sd (n − 1), and plan-target
//! probabilities. Every statistic is computed from one series in draw order, so the result does
//! not depend on the thread count.

pub mod quantile;

use crate::Ensemble;
use crate::model::kernels::sum_by;
use crate::region::Target;
use rayon::prelude::*;

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
/// [`crate::model::kernels`] does), so they vectorise and do not depend on the machine.
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

/// Series gathered together, at most: a row's values of one block are contiguous (eight cache
/// lines), so gathering a block reads whole lines and each row's page is visited once per block.
const BLOCK: usize = 64;
/// Bytes of gathered series per thread, at most (fewer series per block for many draws).
const GATHER_BYTES: usize = 8 << 20;

/// How many rows ahead [`summarise`] prefetches.
const AHEAD: usize = 8;

/// Hint that `xs` will be read soon (one hint per cache line; nothing on other architectures).
#[inline(always)]
fn prefetch(xs: &[f64]) {
    #[cfg(target_arch = "x86_64")]
    for line in xs.chunks(8) {
        // SAFETY: a prefetch hint never faults and changes no state visible to the program; SSE
        // is part of every x86-64 processor.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line.as_ptr().cast())
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = xs;
}

/// Statistics of every value position of an ensemble (indexed like a draw's row).
pub fn summarise(ens: &Ensemble) -> Vec<SeriesStats> {
    let width = ens.layout.len();
    let n = ens.n_draws();
    if n == 0 {
        return vec![series_stats(&mut []); width];
    }
    let block = (GATHER_BYTES / (8 * n)).clamp(8, BLOCK);
    let blocks: Vec<Vec<SeriesStats>> = (0..width.div_ceil(block))
        .into_par_iter()
        .map_init(
            || vec![0.0; block * n],
            |cols: &mut Vec<f64>, b| {
                let (lo, hi) = (b * block, ((b + 1) * block).min(width));
                for k in 0..n {
                    // Rows are a page apart: the hardware does not prefetch across pages, so
                    // ask for the row a few ahead while this one is copied.
                    if k + AHEAD < n {
                        prefetch(&ens.values[(k + AHEAD) * width + lo..(k + AHEAD) * width + hi]);
                    }
                    let row = &ens.values[k * width + lo..k * width + hi];
                    for (j, v) in row.iter().enumerate() {
                        cols[j * n + k] = *v;
                    }
                }
                cols.chunks_exact_mut(n).take(hi - lo).map(series_stats).collect()
            },
        )
        .collect();
    blocks.into_iter().flatten().collect()
}

/// The share of draws in which a target holds.
pub fn target_probability(ens: &Ensemble, target: &Target) -> f64 {
    let j = ens.layout.index(target.entity, target.year, target.indicator);
    let n = ens.n_draws();
    let hits = (0..n).filter(|k| target.comparison.holds(ens.row(*k)[j], target.threshold)).count();
    hits as f64 / n as f64
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

/// Paired differences of every value position of two ensembles run over the same draws (common
/// random numbers: draw k of each shares every random quantity the two scenarios have in common).
pub fn paired(base: &Ensemble, alt: &Ensemble) -> Vec<DiffStats> {
    assert_eq!(base.draws, alt.draws, "paired ensembles need the same draws");
    let n = base.n_draws();
    let (wb, wa) = (base.layout.len(), alt.layout.len());
    // Entity outcomes come first in every layout, at the same positions.
    let width = base.layout.entities() * base.layout.years() * crate::indicators::N_INDICATORS;
    (0..width)
        .into_par_iter()
        .map_init(
            || Vec::with_capacity(n),
            |buf: &mut Vec<f64>, j| {
                buf.clear();
                let mut higher = 0usize;
                for k in 0..n {
                    let (b, a) = (base.values[k * wb + j], alt.values[k * wa + j]);
                    higher += usize::from(a > b);
                    buf.push(a - b);
                }
                let (mean, _) = mean_sd(buf);
                let q = quantile::quantiles_type7(buf, &PROBS);
                DiffStats { mean, q, prob_alt_higher: higher as f64 / n as f64 }
            },
        )
        .collect()
}
