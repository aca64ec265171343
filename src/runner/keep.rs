//! The sink that keeps every outcome: one [`Ensemble`] per model.

use super::{Pass, RunConfig, Sink};
use crate::diagnostics::Diagnostics;
use crate::error::Error;
use crate::model::Model;
use crate::model::engine::BATCH;
use crate::stats::ensemble::{Chunk, Kept, LINE};
use crate::stats::{ChunkSums, Ensemble};
use std::ops::Range;

/// Keeps every draw's outcomes of every model ([`Ensemble`]s, in model order): for `draws.csv`,
/// paired comparisons and analysis. Each chunk of draws is stored series by series as its draws
/// finish (a batch's values of one series fill whole cache lines, written around the caches),
/// and its sums for the means are taken while the values are in cache.
#[derive(Debug, Default)]
pub struct KeepDraws {
    models: Vec<Kept>,
    widths: Vec<usize>,
    draws: Range<u64>,
    chunks: Vec<Vec<Chunk>>,
    sums: Vec<Vec<ChunkSums>>,
}

impl KeepDraws {
    /// Bytes the kept outcomes of `draws` draws of `models` take.
    pub fn bytes(models: &[&Model], draws: u64) -> u64 {
        models.iter().map(|m| m.layout.after_base_len() as u64 * draws * size_of::<f64>() as u64).sum()
    }
}

/// A worker's rows of a batch, per model.
pub struct KeepWorker {
    rows: Vec<Vec<f64>>,
}

/// A chunk of every model.
pub struct KeepChunk {
    chunks: Vec<Chunk>,
    sums: Vec<ChunkSums>,
}

impl Sink for KeepDraws {
    type Worker = KeepWorker;
    type Chunk = KeepChunk;
    type Output = Vec<Ensemble>;

    fn plan(&mut self, models: &[&Model], draws: Range<u64>, cfg: &RunConfig) -> Result<Pass, Error> {
        let needed = KeepDraws::bytes(models, draws.end - draws.start);
        if !cfg.fits(needed) {
            return Err(Error::TooLarge { needed, budget: cfg.memory_budget });
        }
        self.models = models.iter().map(|m| Kept::new(m.layout, &m.base_outcomes)).collect();
        self.widths = models.iter().map(|m| m.layout.len()).collect();
        self.chunks = vec![Vec::new(); models.len()];
        self.sums = vec![Vec::new(); models.len()];
        self.draws = draws.clone();
        Ok(Pass { rows: 0..draws.end - draws.start, counted: true })
    }

    fn worker(&self) -> KeepWorker {
        KeepWorker { rows: self.widths.iter().map(|w| vec![0.0; BATCH * w]).collect() }
    }

    fn start(&self, _: &mut KeepWorker, _: u64, len: usize) -> KeepChunk {
        KeepChunk {
            chunks: self.models.iter().map(|k| Chunk::new(len, k.positions().len())).collect(),
            sums: self.widths.iter().map(|&w| ChunkSums::new(w)).collect(),
        }
    }

    fn buffer<'b>(
        &self,
        w: &'b mut KeepWorker,
        _: &'b mut KeepChunk,
        m: usize,
        _: usize,
        k: usize,
    ) -> &'b mut [f64] {
        &mut w.rows[m][..k * self.widths[m]]
    }

    fn filled(&self, w: &mut KeepWorker, chunk: &mut KeepChunk, at: usize, k: usize) {
        for (m, kept) in self.models.iter().enumerate() {
            let width = self.widths[m];
            let rows = &w.rows[m][..k * width];
            chunk.sums[m].push_rows(rows);
            for (s, &j) in kept.positions().iter().enumerate() {
                let (j, run) = (j as usize, &mut chunk.chunks[m].series_mut(s)[at..at + k]);
                if k == LINE {
                    store_line(run, std::array::from_fn(|i| rows[i * width + j]));
                } else {
                    for (i, v) in run.iter_mut().enumerate() {
                        *v = rows[i * width + j];
                    }
                }
            }
        }
    }

    fn end(&self, _: &mut KeepWorker, _: &mut KeepChunk) {
        stores_done();
    }

    fn pass_done(&mut self, chunks: Vec<KeepChunk>, _: Vec<&mut KeepWorker>) -> Option<Pass> {
        for c in chunks {
            for (m, (chunk, sums)) in c.chunks.into_iter().zip(c.sums).enumerate() {
                self.chunks[m].push(chunk);
                self.sums[m].push(sums);
            }
        }
        None
    }

    fn finish(self, diagnostics: Vec<Diagnostics>) -> Vec<Ensemble> {
        let parts = self.models.into_iter().zip(self.chunks).zip(self.sums).zip(diagnostics);
        parts.map(|(((kept, chunks), sums), d)| kept.ensemble(self.draws.clone(), chunks, &sums, d)).collect()
    }
}

/// `dst = src`, written around the caches when `dst` is one whole aligned cache line: the kept
/// outcomes are written once and read only by the summary after every draw is done, so
/// ordinary stores would first read each line of fresh memory (the store's ownership request)
/// and then push other data out of the caches. [`stores_done`] must follow before other threads
/// read them.
#[inline(always)]
fn store_line(dst: &mut [f64], src: [f64; LINE]) {
    #[cfg(target_arch = "x86_64")]
    if dst.len() == LINE && dst.as_ptr().align_offset(LINE * size_of::<f64>()) == 0 {
        use std::arch::x86_64::{_mm_set_pd, _mm_stream_pd};
        let p = dst.as_mut_ptr();
        for (k, pair) in src.chunks_exact(2).enumerate() {
            // SAFETY: SSE2 is part of x86-64; `p + 2k` is inside `dst` (LINE values) and 16-byte
            // aligned (the line is 64-byte aligned).
            unsafe { _mm_stream_pd(p.add(2 * k), _mm_set_pd(pair[1], pair[0])) };
        }
        return;
    }
    dst.copy_from_slice(&src[..dst.len()]);
}

/// Order the [`store_line`] stores of this thread before its later stores (such as handing its
/// results to another thread).
#[inline(always)]
fn stores_done() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of x86-64.
    unsafe {
        std::arch::x86_64::_mm_sfence()
    };
}
