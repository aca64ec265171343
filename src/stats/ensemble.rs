//! The outcomes of a run's draws, every one kept ([`Ensemble`]): for `draws.csv`, paired
//! comparisons, and the summary of a run small enough to keep.

use super::{CHUNK, ChunkSums, Moments};
use crate::diagnostics::Diagnostics;
use crate::indicators::Layout;
use std::ops::Range;

/// Values per 64-byte cache line.
pub const LINE: usize = 8;

/// [`Ensemble`]'s slot of a base-year position, which is not kept per draw.
const BASE: u32 = u32::MAX;

/// One chunk of [`CHUNK`] consecutive draws (the last may be shorter), series by series: a
/// series is one contiguous run of the chunk's draws.
#[derive(Debug, Clone)]
pub struct Chunk {
    /// The values, from `start` on (the first 64-byte boundary of the allocation, so that whole
    /// cache lines can be written around the caches).
    values: Vec<f64>,
    start: usize,
    /// Draws in the chunk.
    len: usize,
}

impl Chunk {
    /// Room for `len` draws of `kept` values each, its pages mapped now (`populate`).
    pub fn new(len: usize, kept: usize) -> Chunk {
        let mut values = vec![0.0; len * kept + LINE];
        let start = values.as_ptr().align_offset(LINE * size_of::<f64>()).min(LINE);
        populate(&mut values[start..start + len * kept]);
        Chunk { values, start, len }
    }

    /// Kept series s of the chunk's draws.
    #[inline]
    pub fn series_mut(&mut self, s: usize) -> &mut [f64] {
        let at = self.start + s * self.len;
        &mut self.values[at..at + self.len]
    }

    /// Kept series s of the chunk's draws.
    #[inline]
    fn series(&self, s: usize) -> &[f64] {
        let at = self.start + s * self.len;
        &self.values[at..at + self.len]
    }
}

/// Map the whole pages of `dst` (fresh memory) in one system call, before its first stores: on
/// this VM a fresh page costs about 2 µs when a store faults it in, 30% less when populated with
/// its neighbours (see docs/PERFORMANCE.md).
fn populate(dst: &mut [f64]) {
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let (a, b) = (dst.as_mut_ptr() as usize, dst.as_mut_ptr() as usize + std::mem::size_of_val(dst));
        let (a, b) = (a.div_ceil(PAGE) * PAGE, b / PAGE * PAGE);
        if b > a {
            // SAFETY: [a, b) lies inside `dst`, memory this thread may write; populating maps its
            // pages writable without changing what they hold. A kernel without it (before 5.14)
            // says EINVAL, and the stores fault the pages in one by one, as without the call.
            unsafe { libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_POPULATE_WRITE) };
        }
    }
}

/// The outcomes of a run's draws.
#[derive(Debug, Clone)]
pub struct Ensemble {
    /// The draws run.
    pub draws: Range<u64>,
    /// Layout of one draw's values.
    pub layout: Layout,
    /// The outcomes after the base year ([`Layout::base_year_runs`] are the same in every draw:
    /// they are kept once, in `base`), chunk by chunk, each series by series in the order of the
    /// kept positions. A series is thus a few contiguous runs, which the summary and paired comparisons
    /// read without gathering from 20 KB-apart rows.
    chunks: Vec<Chunk>,
    /// Each position's index among the kept ones, or [`BASE`] for the base year's.
    slot: Vec<u32>,
    /// The base year's outcomes, indexed like a row ([`crate::model::Model::base_outcomes`]).
    base: Vec<f64>,
    /// Clamps and caps counted over all draws.
    pub diagnostics: Diagnostics,
    /// Means and sums of squared deviations of every value position, folded from chunks of
    /// [`CHUNK`] draws in draw order while the draws ran (as the streamed summary does).
    pub moments: Moments,
}

/// How an [`Ensemble`] keeps a layout's positions: every one but the base year's (the same in
/// every draw), whose values come from a row of the model's base outcomes.
#[derive(Debug, Clone)]
pub struct Kept {
    layout: Layout,
    kept: Vec<u32>,
    slot: Vec<u32>,
    base: Vec<f64>,
}

impl Kept {
    /// The positions of `layout` kept per draw; `base` the base year's outcomes, indexed like a
    /// row.
    pub fn new(layout: Layout, base: &[f64]) -> Kept {
        let mut slot = vec![0; layout.len()];
        for r in layout.base_year_runs() {
            slot[r].fill(BASE);
        }
        let kept: Vec<u32> = (0..layout.len() as u32).filter(|&j| slot[j as usize] != BASE).collect();
        for (s, &j) in kept.iter().enumerate() {
            slot[j as usize] = s as u32;
        }
        Kept { layout, kept, slot, base: base.to_vec() }
    }

    /// The positions kept per draw, in increasing order.
    pub fn positions(&self) -> &[u32] {
        &self.kept
    }

    /// Bytes `draws` draws take.
    pub fn bytes(&self, draws: u64) -> u64 {
        draws.saturating_mul(self.kept.len() as u64).saturating_mul(size_of::<f64>() as u64)
    }

    /// The ensemble of `draws` made of their chunks (in order) and the chunks' sums (in order).
    pub fn ensemble(
        self,
        draws: Range<u64>,
        chunks: Vec<Chunk>,
        sums: &[ChunkSums],
        diagnostics: Diagnostics,
    ) -> Ensemble {
        let mut moments = Moments::new(self.layout.len());
        for s in sums {
            moments.absorb(s);
        }
        debug_assert_eq!(chunks.iter().map(|c| c.len as u64).sum::<u64>(), draws.end - draws.start);
        Ensemble {
            draws,
            layout: self.layout,
            chunks,
            slot: self.slot,
            base: self.base,
            diagnostics,
            moments,
        }
    }
}

impl Ensemble {
    /// Number of draws.
    pub fn n_draws(&self) -> usize {
        (self.draws.end - self.draws.start) as usize
    }

    /// Value j of draw k (k counts from the first draw of the run).
    #[inline]
    pub fn value(&self, k: usize, j: usize) -> f64 {
        let chunk = CHUNK as usize;
        match self.slot[j] {
            BASE => self.base[j],
            s => self.chunks[k / chunk].series(s as usize)[k % chunk],
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
        let n = self.n_draws();
        let s = match self.slot[j] {
            BASE => return out[..n].fill(self.base[j]),
            s => s as usize,
        };
        for (c, dst) in self.chunks.iter().zip(out[..n].chunks_mut(CHUNK as usize)) {
            dst.copy_from_slice(c.series(s));
        }
    }
}
