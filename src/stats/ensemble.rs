//! The outcomes of a run's draws, every one kept ([`Ensemble`]): for `draws.csv`, paired
//! comparisons, and the summary of a run small enough to keep.

use super::{CHUNK, Moments};
use crate::diagnostics::Diagnostics;
use crate::indicators::Layout;
use std::ops::Range;

/// The outcomes of a run's draws.
#[derive(Debug, Clone)]
pub struct Ensemble {
    /// The draws run.
    pub draws: Range<u64>,
    /// Layout of one draw's values.
    pub layout: Layout,
    /// The outcomes after the base year ([`Layout::base_year_runs`] are the same in every
    /// draw: they are kept once, in `base`), in chunks of [`CHUNK`] consecutive draws (the
    /// last may be shorter), each chunk series by series in the order of `kept`. A series is
    /// thus a few contiguous runs, which the summary and paired comparisons read without
    /// gathering from 20 KB-apart rows. Read through [`Ensemble::values`],
    /// [`Ensemble::value`], [`Ensemble::row`] and [`Ensemble::series_into`].
    pub(crate) values: Vec<f64>,
    /// Where the outcomes start in `values` (the first cache-line boundary: the runner writes
    /// whole lines).
    pub(crate) start: usize,
    /// The positions kept per draw, in increasing order (every one but the base year's).
    pub(crate) kept: Vec<u32>,
    /// Each position's index in `kept`, or [`BASE`] for the base year's.
    pub(crate) slot: Vec<u32>,
    /// The base year's outcomes, indexed like a row ([`crate::Model::base_outcomes`]).
    pub(crate) base: Vec<f64>,
    /// Clamps and caps counted over all draws.
    pub diagnostics: Diagnostics,
    /// Means and sums of squared deviations of every value position, folded from chunks of
    /// [`CHUNK`] draws in draw order while the draws ran (as the streamed summary does).
    pub moments: Moments,
}

/// [`Ensemble`]'s slot of a base-year position, which is not kept per draw.
pub(crate) const BASE: u32 = u32::MAX;

/// The positions of `layout` kept per draw (all but the base year's), and each position's index
/// among them ([`BASE`] for the base year's).
pub(crate) fn kept_positions(layout: &Layout) -> (Vec<u32>, Vec<u32>) {
    let mut slot = vec![0; layout.len()];
    for r in layout.base_year_runs() {
        slot[r].fill(BASE);
    }
    let kept: Vec<u32> = (0..layout.len() as u32).filter(|&j| slot[j as usize] != BASE).collect();
    for (s, &j) in kept.iter().enumerate() {
        slot[j as usize] = s as u32;
    }
    (kept, slot)
}

impl Ensemble {
    /// The kept outcomes (every draw's values after the base year), laid out in chunks of
    /// [`CHUNK`] draws, series by series.
    pub fn values(&self) -> &[f64] {
        &self.values[self.start..self.start + self.n_draws() * self.kept.len()]
    }

    /// Number of draws.
    pub fn n_draws(&self) -> usize {
        (self.draws.end - self.draws.start) as usize
    }

    /// Where kept series s of draw k (counting from the first draw of the run) is in `values`.
    #[inline]
    fn at(&self, k: usize, s: usize) -> usize {
        let chunk = CHUNK as usize;
        let (c, r) = (k / chunk, k % chunk);
        let m = chunk.min(self.n_draws() - c * chunk);
        self.start + c * chunk * self.kept.len() + s * m + r
    }

    /// Value j of draw k (k counts from the first draw of the run).
    #[inline]
    pub fn value(&self, k: usize, j: usize) -> f64 {
        match self.slot[j] {
            BASE => self.base[j],
            s => self.values[self.at(k, s as usize)],
        }
    }

    /// Value j of every draw when j is a base-year position ([`Layout::base_year_runs`]).
    #[inline]
    pub fn base_year_value(&self, j: usize) -> Option<f64> {
        (self.slot[j] == BASE).then(|| self.base[j])
    }

    /// One draw's values, into `out` (indexed like a draw's row; at most `layout.len()` of them).
    pub fn row_into(&self, k: usize, out: &mut [f64]) {
        for (j, o) in out.iter_mut().enumerate().take(self.layout.len()) {
            *o = self.value(k, j);
        }
    }

    /// One draw's values (k counts from the first draw of the run).
    pub fn row(&self, k: usize) -> Vec<f64> {
        let mut out = vec![0.0; self.layout.len()];
        self.row_into(k, &mut out);
        out
    }

    /// Every draw's value j, in draw order, into the first [`Ensemble::n_draws`] values of `out`
    /// (one contiguous copy per chunk).
    pub fn series_into(&self, j: usize, out: &mut [f64]) {
        let (n, width, chunk) = (self.n_draws(), self.kept.len(), CHUNK as usize);
        let s = match self.slot[j] {
            BASE => return out[..n].fill(self.base[j]),
            s => s as usize,
        };
        for (c, dst) in out[..n].chunks_mut(chunk).enumerate() {
            let m = dst.len();
            let at = self.start + c * chunk * width + s * m;
            dst.copy_from_slice(&self.values[at..at + m]);
        }
    }
}
