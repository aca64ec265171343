//! Draws in parallel, results independent of the thread count: the one entry point [`run`].
//!
//! A run is a [`RunConfig`] (the draws, the seed, the compiled version, the memory it may use)
//! and a [`Sink`] that takes the draws' outcomes. The runner hands out the draws in chunks of
//! [`CHUNK`] (counted from the run's first draw) to the worker threads; each worker simulates
//! its chunk in batches of [`BATCH`] draws, every model of the run on the same draws (common
//! random numbers), into buffers the sink gives, and the sink makes of each chunk what it
//! needs. What each chunk gives comes back to the sink in chunk order, so nothing depends on
//! which thread ran which chunk. A sink that needs the draws again (the streamed summary's later
//! stages, a series gathered again) asks for another pass.
//!
//! The sinks here: [`KeepDraws`] keeps every outcome ([`crate::stats::Ensemble`]s, for `draws.csv` and
//! analysis); [`Summaries`] summarises a run or a comparison, keeping the draws when that fits
//! and is faster, else streaming them through the exact sieve ([`crate::stats::sieve`]): the
//! same numbers, bit for bit, either way.

pub mod distributed;
pub mod history;
mod keep;
pub mod partial;
mod stream;
mod summaries;

pub use keep::KeepDraws;
pub use summaries::{Outcomes, STREAM_ABOVE_BYTES, SieveConfig, Strategy, Summaries};

use crate::diagnostics::Diagnostics;
use crate::error::{Error, ModelError, keep_lowest};
use crate::isa::Isa;
use crate::model::engine::{self, BATCH, Batch};
use crate::model::{Mode, Model};
use crate::rng::Streams;
use crate::stats::CHUNK;
use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunConfig {
    /// The draws to run (half-open); `--deterministic` runs one draw.
    pub draws: Range<u64>,
    /// The seed.
    pub seed: u64,
    /// Every parameter at its central value and no shocks.
    pub deterministic: bool,
    /// The compiled version of the kernels (every version gives the same bits).
    pub isa: Isa,
    /// Bytes the run may use for the draws' outcomes (the memory available): a sink that keeps
    /// or sieves them plans within it, and a run that cannot is refused before it starts.
    pub memory_budget: u64,
}

impl RunConfig {
    /// Draws `draws` of a run with `seed`, every parameter drawn, in the widest version the
    /// processor runs, with no memory limit.
    pub fn new(draws: Range<u64>, seed: u64) -> RunConfig {
        RunConfig { draws, seed, deterministic: false, isa: Isa::widest(), memory_budget: u64::MAX }
    }

    /// The draws run: `draws`, or draw 0 alone when deterministic.
    pub fn run_draws(&self) -> Range<u64> {
        if self.deterministic { 0..1 } else { self.draws.clone() }
    }

    /// Whether `bytes` (with a tenth more for the summaries) fit in the memory budget.
    pub fn fits(&self, bytes: u64) -> bool {
        bytes.saturating_add(bytes / 10) <= self.memory_budget
    }
}

/// What the runner tells as it goes, and asks: how many draws finished (from any thread, a
/// batch at a time; a comparison's draw counts once per scenario), and whether to stop (checked
/// before each batch).
#[derive(Clone, Copy)]
pub struct Hooks<'a> {
    /// Called with the number of draws just finished.
    pub progress: &'a (dyn Fn(u64) + Sync),
    /// Whether the run should stop now ([`ModelError::Cancelled`]).
    pub cancelled: &'a (dyn Fn() -> bool + Sync),
}

impl Hooks<'static> {
    /// No progress reported, never cancelled.
    pub fn none() -> Hooks<'static> {
        Hooks { progress: &|_| {}, cancelled: &|| false }
    }
}

/// A pass over draws of the run: rows `rows` (counted from the run's first draw; starting on a
/// chunk boundary), and whether its diagnostics and progress count (the first time each draw
/// runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pass {
    /// The rows.
    pub rows: Range<u64>,
    /// Whether it counts.
    pub counted: bool,
}

/// Where a run's outcomes go. Each chunk of draws is run by one worker thread with a state of
/// its own ([`Sink::Worker`], made once and kept from pass to pass): [`Sink::start`], then for
/// each batch of its draws a buffer per model ([`Sink::buffer`]) that the draws are simulated
/// into and [`Sink::filled`], then [`Sink::end`]; what the chunk gives ([`Sink::Chunk`]) comes
/// back in chunk order at the end of the pass ([`Sink::pass_done`]).
pub trait Sink: Sync {
    /// Each worker thread's state.
    type Worker: Send;
    /// What one chunk of draws gives.
    type Chunk: Send;
    /// The result.
    type Output;

    /// Plan the run of `models` over `draws` within `cfg`'s memory budget ([`Error::TooLarge`]
    /// when it cannot): the first pass.
    fn plan(&mut self, models: &[&Model], draws: Range<u64>, cfg: &RunConfig) -> Result<Pass, Error>;

    /// The random streams of draw `draw` of the run (a design that mixes draws overrides it).
    fn streams(&self, seed: u64, draw: u64) -> Streams<'_> {
        Streams::of(seed, draw)
    }

    /// A worker's state.
    fn worker(&self) -> Self::Worker;

    /// Start chunk `c` (rows c·CHUNK.. of the run), `len` draws of it in this pass.
    fn start(&self, w: &mut Self::Worker, c: u64, len: usize) -> Self::Chunk;

    /// Where model `m`'s outcomes of the chunk's draws `at..at + k` go (k rows of the model's
    /// layout).
    fn buffer<'b>(
        &self,
        w: &'b mut Self::Worker,
        chunk: &'b mut Self::Chunk,
        m: usize,
        at: usize,
        k: usize,
    ) -> &'b mut [f64];

    /// Every model's outcomes of draws `at..at + k` of the chunk are in their buffers.
    fn filled(&self, w: &mut Self::Worker, chunk: &mut Self::Chunk, at: usize, k: usize);

    /// The chunk's draws are all in.
    fn end(&self, w: &mut Self::Worker, chunk: &mut Self::Chunk);

    /// The pass is over: every chunk's result, in chunk order, and the workers' states. The
    /// next pass, if any.
    fn pass_done(&mut self, chunks: Vec<Self::Chunk>, workers: Vec<&mut Self::Worker>) -> Option<Pass>;

    /// The result, with each model's diagnostics over the counted passes.
    fn finish(self, diagnostics: Vec<Diagnostics>) -> Self::Output;
}

/// A worker thread's state: each model's batch buffers, its diagnostics, the sink's state.
struct Worker<W> {
    batches: Vec<Batch>,
    diagnostics: Vec<Diagnostics>,
    sink: W,
}

/// Run the draws of `cfg` of every model (on the same draws: common random numbers) into
/// `sink`, in parallel on the current rayon pool. On failing draws, the error of the lowest
/// failing draw (and in it the first model) is returned, as running the draws one by one in
/// order would meet it; [`ModelError::Cancelled`] when `hooks` say so.
///
/// # Panics
/// If `models` is empty.
pub fn run<S: Sink>(
    models: &[&Model],
    cfg: &RunConfig,
    sink: S,
    hooks: Hooks<'_>,
) -> Result<S::Output, Error> {
    run_with(models, cfg, sink, hooks, None)
}

/// Where a replayed run's outcomes come from: each draw's row of outcomes, as the engine gave
/// it when the draw ran (`minxinan merge` reads them from the parts' files).
pub trait Rows: Sync {
    /// Draw `draw`'s outcomes of model `m` into `out` (one row of the model's layout).
    fn row(&self, m: usize, draw: u64, out: &mut [f64]) -> Result<(), ModelError>;
}

/// [`run`] with the draws' outcomes read from `rows` instead of simulated: the sink sees the
/// same rows in the same chunks and passes, so it gives the same result, bit for bit. The
/// diagnostics are none (the rows' own were counted when they ran).
pub fn replay<S: Sink>(
    models: &[&Model],
    cfg: &RunConfig,
    sink: S,
    hooks: Hooks<'_>,
    rows: &dyn Rows,
) -> Result<S::Output, Error> {
    run_with(models, cfg, sink, hooks, Some(rows))
}

fn run_with<S: Sink>(
    models: &[&Model],
    cfg: &RunConfig,
    mut sink: S,
    hooks: Hooks<'_>,
    rows: Option<&dyn Rows>,
) -> Result<S::Output, Error> {
    assert!(!models.is_empty(), "a run needs a model");
    let draws = cfg.run_draws();
    let mut pass = Some(sink.plan(models, draws.clone(), cfg)?);
    let threads = rayon::current_num_threads();
    let mut workers: Vec<Mutex<Option<Worker<S::Worker>>>> = (0..threads).map(|_| Mutex::new(None)).collect();
    while let Some(p) = pass {
        let job = Job { models, cfg, first_draw: draws.start, sink: &sink, pass: &p, hooks, rows };
        let chunks = job.run(&workers)?;
        let states =
            workers.iter_mut().filter_map(|w| w.get_mut().unwrap_or_else(|e| e.into_inner()).as_mut());
        pass = sink.pass_done(chunks, states.map(|w| &mut w.sink).collect());
    }
    let mut diagnostics = vec![Diagnostics::default(); models.len()];
    for w in workers.into_iter().filter_map(|w| w.into_inner().unwrap_or_else(|e| e.into_inner())) {
        for (a, b) in diagnostics.iter_mut().zip(&w.diagnostics) {
            a.merge(b);
        }
    }
    Ok(sink.finish(diagnostics))
}

/// A thread's chunks of a pass (numbered), and its failure if one of its draws failed (the row).
type ThreadPass<C> = (Vec<(u64, C)>, Option<(u64, ModelError)>);

/// One pass's settings, shared by its threads.
struct Job<'a, S> {
    models: &'a [&'a Model],
    cfg: &'a RunConfig,
    /// The run's first draw (row 0).
    first_draw: u64,
    sink: &'a S,
    pass: &'a Pass,
    hooks: Hooks<'a>,
    /// Outcomes read back instead of simulated ([`replay`]).
    rows: Option<&'a dyn Rows>,
}

impl<S: Sink> Job<'_, S> {
    /// Run the pass: the chunks of its rows go to the threads in order (each thread takes the
    /// next chunk when it is done with one), and come back in chunk order.
    fn run(&self, workers: &[Mutex<Option<Worker<S::Worker>>>]) -> Result<Vec<S::Chunk>, ModelError> {
        let rows = self.pass.rows.clone();
        debug_assert!(rows.start.is_multiple_of(CHUNK));
        let (next, limit) = (AtomicU64::new(rows.start / CHUNK), AtomicU64::new(rows.end.div_ceil(CHUNK)));
        let threads = workers.len();
        let outs: Vec<ThreadPass<S::Chunk>> = rayon::broadcast(|ctx| {
            let mut slot = workers[ctx.index() % threads].lock().unwrap_or_else(|e| e.into_inner());
            let w = slot.get_or_insert_with(|| Worker {
                batches: self.models.iter().map(|m| Batch::on(self.cfg.isa, m)).collect(),
                diagnostics: vec![Diagnostics::default(); self.models.len()],
                sink: self.sink.worker(),
            });
            let (mut done, mut error) = (Vec::new(), None);
            loop {
                let c = next.fetch_add(1, Ordering::Relaxed);
                if c >= limit.load(Ordering::Relaxed) {
                    break;
                }
                match self.chunk(w, c) {
                    Ok(chunk) => done.push((c, chunk)),
                    Err(f) => {
                        // Chunks are handed out in order: every chunk before this one is
                        // already running, and none after it need start.
                        limit.fetch_min(c, Ordering::Relaxed);
                        error = Some(f);
                        break;
                    }
                }
            }
            (done, error)
        });
        let mut chunks = Vec::new();
        let mut error: Option<(u64, ModelError)> = None;
        for (done, e) in outs {
            chunks.extend(done);
            if let Some((r, e)) = e {
                if matches!(e, ModelError::Cancelled) {
                    return Err(e);
                }
                keep_lowest(&mut error, r, e);
            }
        }
        if let Some((_, e)) = error {
            return Err(e);
        }
        chunks.sort_unstable_by_key(|(c, _)| *c);
        Ok(chunks.into_iter().map(|(_, chunk)| chunk).collect())
    }

    /// Chunk c of the pass, batch by batch; a failure gives the lowest failing row.
    fn chunk(&self, w: &mut Worker<S::Worker>, c: u64) -> Result<S::Chunk, (u64, ModelError)> {
        let (first, last) = (c * CHUNK, ((c + 1) * CHUNK).min(self.pass.rows.end));
        let mut chunk = self.sink.start(&mut w.sink, c, (last - first) as usize);
        for r in (first..last).step_by(BATCH) {
            let k = (last - r).min(BATCH as u64) as usize;
            if (self.hooks.cancelled)() {
                return Err((r, ModelError::Cancelled));
            }
            self.batch(w, &mut chunk, r, (r - first) as usize, k).map_err(|(row, e)| (r + row as u64, e))?;
            if self.pass.counted {
                (self.hooks.progress)(k as u64 * self.models.len() as u64);
            }
        }
        self.sink.end(&mut w.sink, &mut chunk);
        Ok(chunk)
    }

    /// Rows `row..row + k` of the run (at `at` in their chunk) of every model, into the sink's
    /// buffers; a failure gives the lowest failing row of the batch, and in it the first model.
    fn batch(
        &self,
        w: &mut Worker<S::Worker>,
        chunk: &mut S::Chunk,
        row: u64,
        at: usize,
        k: usize,
    ) -> Result<(), (usize, ModelError)> {
        let (seed, mode) =
            (self.cfg.seed, if self.cfg.deterministic { Mode::Deterministic } else { Mode::Stochastic });
        let mut streams: [Streams<'_>; BATCH] = [Streams::of(seed, 0); BATCH];
        for (s, d) in streams.iter_mut().zip(self.first_draw + row..) {
            *s = self.sink.streams(seed, d);
        }
        let mut failed = None;
        for (m, model) in self.models.iter().enumerate() {
            let buf = self.sink.buffer(&mut w.sink, chunk, m, at, k);
            if let Some(rows) = self.rows {
                let width = model.layout.len();
                for (d, out) in buf.chunks_exact_mut(width).enumerate().take(k) {
                    if let Err(e) = rows.row(m, self.first_draw + row + d as u64, out) {
                        keep_lowest(&mut failed, d, e);
                        break;
                    }
                }
                continue;
            }
            let result = match (&model.conditioned, mode) {
                // A conditioned model (docs/MODEL.md §12): each draw's particle and its observed
                // years' shocks, then shocks from the draw's own streams.
                (Some(c), Mode::Stochastic) => {
                    let mut inputs = Vec::with_capacity(k);
                    for (i, s) in streams[..k].iter().enumerate() {
                        match history::planned_inputs(model, c, seed, s.draw) {
                            Ok(x) => inputs.push(x),
                            Err(e) => return Err((i, e)),
                        }
                    }
                    let plans: Vec<engine::Plan<'_>> = inputs
                        .iter()
                        .zip(&streams[..k])
                        .map(|(x, s)| engine::Plan {
                            inputs: x,
                            shocks: &c.particle(s.draw).shocks,
                            later: Some(engine::ShockSource {
                                seed,
                                purposes: crate::model::purposes::SHOCKS,
                                number: s.draw,
                            }),
                            stop: model.horizon,
                        })
                        .collect();
                    engine::simulate_batch_planned(model, &streams[..k], &plans, &mut w.batches[m], buf)
                }
                _ => engine::simulate_batch(model, &streams[..k], mode, &mut w.batches[m], buf),
            };
            match result {
                Ok(d) if self.pass.counted => w.diagnostics[m].merge(&d),
                Ok(_) => {}
                Err((row, e)) => keep_lowest(&mut failed, row, e),
            }
        }
        if let Some(f) = failed {
            return Err(f);
        }
        self.sink.filled(&mut w.sink, chunk, at, k);
        Ok(())
    }
}
