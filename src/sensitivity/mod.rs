//! Which input drives each band: Sobol' first-order and total indices of every outcome (entity ×
//! year × indicator) with respect to a draw's inputs (docs/SENSITIVITY.md).
//!
//! The design is Saltelli's (2010): N base samples, each giving f(A_j), f(B_j) and, for each of
//! the k inputs, f(AB_j^(i)) — A_j with input i taken from B_j — so N·(k + 2) draws. The engine's
//! named random streams make it a mapping of streams: A_j is the run's draw j (stream j of every
//! purpose), B_j its draw N + j, and AB_j^(i) is draw j with the purposes of input i read from
//! stream N + j ([`Streams::moved`]). Every purpose a draw reads belongs to exactly one input
//! ([`crate::model::inputs::sensitivity_inputs`]), so the inputs partition the draw's randomness.
//!
//! Design row `r` is base sample `r / (k + 2)` in role `r % (k + 2)` (0: A, 1: B, 2 + i: AB^(i)).
//! The runner simulates the rows in passes; after each pass the complete base samples are folded
//! into each outcome's sums ([`SobolSums`]) in base-sample order, one outcome per task, so that
//! the bytes of the result are the same whatever the number of threads. Memory is the sums
//! (O(outcomes × k × replicates)) and one pass of rows, whatever N.

pub mod groups;

use crate::diagnostics::Diagnostics;
use crate::error::Error;
use crate::indicators::Indicator;
use crate::isa::Isa;
use crate::model::Model;
use crate::model::engine::BATCH;
use crate::model::inputs::InputGroup;
use crate::rng::Streams;
use crate::runner::{self, Hooks, Pass, RunConfig, Sink};
use crate::stats::CHUNK;
use crate::stats::sobol::{Convergence, Indices, SobolSums, bootstrap_weights, sample_terms};
use rayon::prelude::*;
use std::ops::Range;

/// Bootstrap replicates of the confidence intervals (SALib's default `num_resamples`).
pub const REPLICATES: usize = 100;

/// The smallest base sample size (the convergence table's first prefix, N/8, holds 8).
pub const MIN_SAMPLES: u64 = 64;

/// The default base sample size.
pub const DEFAULT_SAMPLES: u64 = 1024;

/// The base samples whose outputs' mean is subtracted from every output before it enters the
/// sums: S1's estimator is then free of the output's mean (SALib standardises the outputs for
/// the same reason); any constant leaves both estimators unbiased.
const SHIFT_SAMPLES: usize = 8;

/// Base samples per pass (a pass is rounded up to whole chunks of rows).
const PASS_SAMPLES: u64 = 64;

/// A Saltelli design over a model's draws.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    /// N, the base sample size.
    pub samples: u64,
    /// The seed (of the draws and of the bootstrap).
    pub seed: u64,
    /// The inputs, each the purposes of its streams.
    pub inputs: Vec<InputGroup>,
    /// Bootstrap replicates.
    pub replicates: usize,
}

impl Design {
    /// The draws the design runs: N·(k + 2).
    pub fn draws(&self) -> u64 {
        self.samples * (self.inputs.len() as u64 + 2)
    }

    /// The random streams of design row `row` (see the module's documentation).
    pub fn streams(&self, row: u64) -> Streams<'_> {
        let roles = self.inputs.len() as u64 + 2;
        let (j, role) = (row / roles, (row % roles) as usize);
        match role {
            0 => Streams::of(self.seed, j),
            1 => Streams::of(self.seed, self.samples + j),
            i => Streams {
                seed: self.seed,
                draw: j,
                moved: &self.inputs[i - 2].purposes,
                moved_to: self.samples + j,
            },
        }
    }
}

/// One outcome analysed: an entity, a year, an indicator and its place in a draw's outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputKey {
    /// The entity (cities in region order, then the region).
    pub entity: usize,
    /// The year.
    pub year: i32,
    /// The indicator.
    pub indicator: Indicator,
    /// Its position in a draw's outcome vector.
    pub position: usize,
}

/// Every entity × year × indicator of `indicators` after the base year (the base year is data,
/// the same in every draw: it has no variance to explain).
pub fn outputs(model: &Model, indicators: &[Indicator]) -> Vec<OutputKey> {
    let l = &model.layout;
    l.reported()
        .filter(|&(_, y, ind, _)| y > l.base_year && indicators.contains(&ind))
        .map(|(entity, year, indicator, position)| OutputKey { entity, year, indicator, position })
        .collect()
}

/// The indices of one outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputIndices {
    /// Which outcome.
    pub key: OutputKey,
    /// The mean of its 2N values f(A), f(B).
    pub mean: f64,
    /// Their variance (the denominator of every index).
    pub variance: f64,
    /// The indices with their 95 % intervals; `None` when the outcome has no variance.
    pub indices: Option<Indices>,
    /// The point estimates (S1, ST) of each input at the nested prefixes N/8, N/4, N/2, N of
    /// the design (empty when the outcome has no variance).
    pub convergence: Vec<(u64, Vec<(f64, f64)>)>,
}

/// The result of a sensitivity study.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The design.
    pub design: Design,
    /// Each outcome's indices, in the order asked for.
    pub outputs: Vec<OutputIndices>,
    /// The draws' diagnostics.
    pub diagnostics: Diagnostics,
}

/// Run the design on `model` and compute the indices of `outputs` (in parallel on the current
/// rayon pool; the same bytes for any number of threads). `isa` and `memory_budget` as in
/// [`RunConfig`]; [`Error::TooLarge`] when the sums do not fit.
pub fn analyse(
    model: &Model,
    design: &Design,
    outputs: &[OutputKey],
    isa: Isa,
    memory_budget: u64,
    hooks: Hooks<'_>,
) -> Result<Analysis, Error> {
    assert!(design.samples >= MIN_SAMPLES, "a design needs at least {MIN_SAMPLES} base samples");
    let cfg =
        RunConfig { draws: 0..design.draws(), seed: design.seed, deterministic: false, isa, memory_budget };
    let sink = DesignSink::new(model, design, outputs);
    runner::run(&[model], &cfg, sink, hooks)
}

/// The bytes a design's sums and passes hold (for the memory check and the docs).
pub fn memory_bytes(design: &Design, outputs: usize) -> u64 {
    let k = design.inputs.len() as u64;
    let cols = SobolSums::new(design.inputs.len(), 0).cols() as u64;
    let sums = (design.replicates as u64 + 1) * cols + 4 * cols + 1;
    let pass = 2 * (pass_rows(design) + k + 2);
    8 * outputs as u64 * (sums + pass)
}

/// Rows per pass: [`PASS_SAMPLES`] base samples, rounded up to whole chunks.
fn pass_rows(design: &Design) -> u64 {
    (PASS_SAMPLES * (design.inputs.len() as u64 + 2)).div_ceil(CHUNK) * CHUNK
}

/// One outcome's sums.
struct Acc {
    /// Subtracted from every value (the mean of the first base samples' f(A), f(B)).
    shift: f64,
    sums: SobolSums,
    prefixes: Convergence,
}

/// The sink that runs a design: it keeps the selected outcomes of each pass's rows and folds the
/// complete base samples into the sums.
struct DesignSink<'a> {
    design: &'a Design,
    positions: Vec<usize>,
    keys: Vec<OutputKey>,
    layout_len: usize,
    total: u64,
    /// Rows simulated but not yet folded (a base sample cut by a pass's end), row-major.
    pending: Vec<f64>,
    /// Base samples folded.
    folded: u64,
    /// The first row of the next pass.
    next: u64,
    accs: Vec<Acc>,
}

impl<'a> DesignSink<'a> {
    fn new(model: &Model, design: &'a Design, outputs: &[OutputKey]) -> Self {
        DesignSink {
            design,
            positions: outputs.iter().map(|o| o.position).collect(),
            keys: outputs.to_vec(),
            layout_len: model.layout.len(),
            total: design.draws(),
            pending: Vec::new(),
            folded: 0,
            next: 0,
            accs: Vec::new(),
        }
    }

    /// The next pass, if rows are left.
    fn pass(&mut self) -> Option<Pass> {
        let start = self.next;
        self.next = (start + pass_rows(self.design)).min(self.total);
        (start < self.total).then_some(Pass { rows: start..self.next, counted: true })
    }

    /// Fold the complete base samples of `pending` into the sums, in base-sample order.
    fn fold(&mut self) {
        let (o_n, k) = (self.positions.len(), self.design.inputs.len());
        let roles = k + 2;
        let samples = self.pending.len().checked_div(o_n * roles).unwrap_or(0);
        if samples == 0 {
            return;
        }
        let rows = &self.pending[..samples * roles * o_n];
        let at = |s: usize, role: usize, o: usize| rows[(s * roles + role) * o_n + o];
        if self.folded == 0 {
            let first = samples.min(SHIFT_SAMPLES);
            for (o, acc) in self.accs.iter_mut().enumerate() {
                let sum: f64 = (0..first).map(|s| at(s, 0, o) + at(s, 1, o)).sum();
                acc.shift = sum / (2 * first) as f64;
            }
        }
        // Each replicate's weights of the block's samples: row 0 (the estimate) all ones.
        let r = self.design.replicates;
        let mut wt = vec![1.0; (r + 1) * samples];
        let mut w = Vec::with_capacity(r);
        for s in 0..samples {
            bootstrap_weights(self.design.seed, self.folded + s as u64, r, &mut w);
            for (rep, x) in w.iter().enumerate() {
                wt[(rep + 1) * samples + s] = *x;
            }
        }
        let ones = vec![1.0; samples];
        let first = self.folded;
        let cols = self.accs.first().map_or(0, |a| a.sums.cols());
        self.accs.par_iter_mut().enumerate().for_each(|(o, acc)| {
            let (mut d, mut f_ab) = (vec![0.0; samples * cols], vec![0.0; k]);
            let c = acc.shift;
            for (s, terms) in d.chunks_exact_mut(cols).enumerate() {
                let (f_a, f_b) = (at(s, 0, o) - c, at(s, 1, o) - c);
                for (i, x) in f_ab.iter_mut().enumerate() {
                    *x = at(s, 2 + i, o) - c;
                }
                sample_terms(f_a, f_b, &f_ab, terms);
            }
            acc.sums.add_block(&d, &wt, samples);
            acc.prefixes.add_block(first, &d, &ones, samples);
        });
        self.folded += samples as u64;
        self.pending.drain(..samples * roles * o_n);
    }
}

impl Sink for DesignSink<'_> {
    type Worker = Vec<f64>;
    type Chunk = Vec<f64>;
    type Output = Analysis;

    fn plan(&mut self, _models: &[&Model], draws: Range<u64>, cfg: &RunConfig) -> Result<Pass, Error> {
        let needed = memory_bytes(self.design, self.positions.len());
        if !cfg.fits(needed) {
            return Err(Error::TooLarge { needed, budget: cfg.memory_budget });
        }
        let k = self.design.inputs.len();
        self.accs = (0..self.positions.len())
            .map(|_| Acc {
                shift: 0.0,
                sums: SobolSums::new(k, self.design.replicates),
                prefixes: Convergence::new(self.design.samples, k, 0),
            })
            .collect();
        debug_assert_eq!(draws, 0..self.total);
        Ok(self.pass().expect("a design has rows"))
    }

    fn streams(&self, _seed: u64, draw: u64) -> Streams<'_> {
        self.design.streams(draw)
    }

    fn worker(&self) -> Vec<f64> {
        vec![0.0; BATCH * self.layout_len]
    }

    fn start(&self, _w: &mut Vec<f64>, _c: u64, len: usize) -> Vec<f64> {
        vec![0.0; len * self.positions.len()]
    }

    fn buffer<'b>(
        &self,
        w: &'b mut Vec<f64>,
        _chunk: &'b mut Vec<f64>,
        _m: usize,
        _at: usize,
        k: usize,
    ) -> &'b mut [f64] {
        &mut w[..k * self.layout_len]
    }

    fn filled(&self, w: &mut Vec<f64>, chunk: &mut Vec<f64>, at: usize, k: usize) {
        let o_n = self.positions.len();
        for d in 0..k {
            let row = &w[d * self.layout_len..(d + 1) * self.layout_len];
            let dst = &mut chunk[(at + d) * o_n..(at + d + 1) * o_n];
            for (x, &p) in dst.iter_mut().zip(&self.positions) {
                *x = row[p];
            }
        }
    }

    fn end(&self, _w: &mut Vec<f64>, _chunk: &mut Vec<f64>) {}

    fn pass_done(&mut self, chunks: Vec<Vec<f64>>, _workers: Vec<&mut Vec<f64>>) -> Option<Pass> {
        for c in chunks {
            self.pending.extend_from_slice(&c);
        }
        self.fold();
        self.pass()
    }

    fn finish(self, diagnostics: Vec<Diagnostics>) -> Analysis {
        let outputs = self
            .keys
            .iter()
            .zip(&self.accs)
            .map(|(&key, acc)| {
                let (mean, variance) = acc.sums.mean_variance();
                let mean = mean + acc.shift;
                // No variance beyond rounding: nothing to explain.
                let none = variance.is_nan() || variance <= (1e-12 * mean.abs().max(1e-300)).powi(2);
                OutputIndices {
                    key,
                    mean,
                    variance,
                    indices: (!none).then(|| acc.sums.indices()),
                    convergence: if none {
                        Vec::new()
                    } else {
                        acc.prefixes
                            .sizes
                            .iter()
                            .zip(&acc.prefixes.sums)
                            .map(|(&n, s)| {
                                let i = s.indices();
                                (n, i.s1.into_iter().zip(i.st).collect())
                            })
                            .collect()
                    },
                }
            })
            .collect();
        Analysis {
            design: self.design.clone(),
            outputs,
            diagnostics: diagnostics.into_iter().next().unwrap_or_default(),
        }
    }
}
