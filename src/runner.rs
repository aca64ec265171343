//! Draws in parallel, results independent of the thread count.
//!
//! Each draw is a pure function of (model, seed, draw index): draws `a..b` of a long run equal a
//! run of just those draws, whatever the thread count. [`run`] keeps every outcome (for
//! `draws.csv` and paired comparisons), in chunks of [`CHUNK`] draws stored series by series
//! ([`Ensemble`]); [`summarise_run`] summarises the draws as they come and keeps only what the
//! exact quantiles need (memory ∝ √draws).

use crate::diagnostics::Diagnostics;
use crate::error::{ModelError, keep_lowest};
use crate::isa::Isa;
use crate::model::Mode;
use crate::model::Model;
use crate::model::engine::{self, BATCH, Batch};
use crate::region::Target;
use crate::rng::Streams;
use crate::stats::sieve::{Brackets, Sieve, Store};
use crate::stats::{
    CHUNK, ChunkSums, DiffStats, Ensemble, Moments, PROBS, SeriesStats, Summary, count_hits, kept_positions,
    paired_width, quantile,
};
use rayon::prelude::*;
use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Draws `draws` (at most [`BATCH`]) of a run with `seed`, simulated together into `rows`; a
/// failure gives the draw's index.
fn simulate_batch(
    model: &Model,
    seed: u64,
    draws: Range<u64>,
    mode: Mode,
    batch: &mut Batch,
    rows: &mut [f64],
) -> Result<Diagnostics, (u64, ModelError)> {
    let mut streams = [Streams::of(seed, 0); BATCH];
    for (s, d) in streams.iter_mut().zip(draws.clone()) {
        *s = Streams::of(seed, d);
    }
    let k = (draws.end - draws.start) as usize;
    engine::simulate_batch(model, &streams[..k], mode, batch, rows)
        .map_err(|(row, e)| (draws.start + row as u64, e))
}

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
}

impl RunConfig {
    /// Draws `draws` of a run with `seed`, every parameter drawn, in the widest version the
    /// processor runs.
    pub fn new(draws: Range<u64>, seed: u64) -> RunConfig {
        RunConfig { draws, seed, deterministic: false, isa: Isa::widest() }
    }
}

/// Bytes a run of `draws` draws needs for its outcomes (the matrix that dominates its memory).
pub fn memory_needed(model: &Model, draws: u64) -> u64 {
    draws
        .saturating_mul(model.layout.after_base_len() as u64)
        .saturating_mul(std::mem::size_of::<f64>() as u64)
}

/// Above this many bytes of outcomes, `minxinan run` summarises the draws as they finish
/// ([`summarise_run`]) instead of keeping them all ([`run`]); below it, keeping them is faster.
pub const STREAM_ABOVE_BYTES: u64 = 512 << 20;

/// Whether a run of `draws` draws is better summarised as it goes (see [`STREAM_ABOVE_BYTES`]).
pub fn streams(model: &Model, draws: u64) -> bool {
    memory_needed(model, draws) > STREAM_ABOVE_BYTES
}

/// Bytes [`summarise_run`] needs at most, about: the first stage keeps every value, later stages
/// about 40·√draws values per series (see [`crate::stats::sieve`]), with room to grow.
pub fn memory_needed_streaming(model: &Model, draws: u64, sieve: &SieveConfig) -> u64 {
    streaming_bytes(model.layout.len(), draws, sieve)
}

/// [`memory_needed_streaming`] of rows of `width` values.
fn streaming_bytes(width: usize, draws: u64, sieve: &SieveConfig) -> u64 {
    let per_series =
        (draws.min(sieve.first_stage) as f64).max(2.0 * 40.0 * (sieve.z / 5.0) * (draws as f64).sqrt());
    (per_series.min(draws as f64) * 8.0 * width as f64) as u64
}

/// Whether a comparison of `models` over `draws` draws is better summarised as it goes
/// ([`compare`]) than by keeping every scenario's draws: as for a run, when the kept outcomes
/// would exceed [`STREAM_ABOVE_BYTES`].
pub fn compare_streams(models: &[Model], draws: u64) -> bool {
    models.iter().map(|m| memory_needed(m, draws)).fold(0, u64::saturating_add) > STREAM_ABOVE_BYTES
}

/// Bytes a comparison needs, about: every scenario's outcomes kept, or with
/// [`compare_streams`], the streamed rows of every scenario's values and each alternative's
/// differences (see [`memory_needed_streaming`]).
pub fn compare_memory_needed(models: &[Model], draws: u64, sieve: &SieveConfig) -> u64 {
    if !compare_streams(models, draws) {
        return models.iter().map(|m| memory_needed(m, draws)).fold(0, u64::saturating_add);
    }
    let diffs = models.len().saturating_sub(1) * models.first().map_or(0, |m| paired_width(&m.layout));
    let width = models.iter().map(|m| m.layout.len()).sum::<usize>() + diffs;
    streaming_bytes(width, draws, sieve)
}

/// How [`summarise_run`] brackets the quantiles. The defaults suit every run; tests narrow them
/// to exercise the rare path where a series is gathered again in full.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SieveConfig {
    /// Draws of the first stage, which keeps every value (rounded up to a multiple of
    /// [`CHUNK`]); later stages double the draws so far.
    pub first_stage: u64,
    /// Half-width of each bracket in standard deviations of the sample quantile's rank.
    pub z: f64,
}

impl Default for SieveConfig {
    fn default() -> Self {
        SieveConfig { first_stage: 8192, z: 5.0 }
    }
}

/// One thread's results of a stage.
struct StageOut {
    sieve: Sieve,
    sums: Vec<(u64, ChunkSums)>,
    hits: Vec<u64>,
    error: Option<(u64, ModelError)>,
}

/// Fills the rows of draws `ks` (counted from 0: the run's first draw; at most [`BATCH`] of
/// them) with a worker's state, one after another; on a failure, gives the lowest failing draw.
type Fill<'a, S> = dyn Fn(&mut S, Range<u64>, &mut [f64]) -> Result<(), (u64, ModelError)> + Sync + 'a;

/// What [`stream`] summarises: rows of `width` values, one per draw, filled by `fill` with a
/// state of each worker thread's own (made by `init`, kept from stage to stage), and counters
/// (`hits`, `n_hits` of them) that `count` adds each row to.
struct Rows<'a, S> {
    width: usize,
    n_hits: usize,
    init: &'a (dyn Fn() -> S + Sync),
    fill: &'a Fill<'a, S>,
    count: &'a (dyn Fn(&[f64], &mut [u64]) + Sync),
    /// Called with `per_row` as each row is filled (not when rows are filled again).
    progress: &'a (dyn Fn(u64) + Sync),
    per_row: u64,
}

/// What [`stream`] found: every position's statistics, the counters, the number of positions
/// gathered again in full (see [`crate::stats::sieve`]), and the workers' states.
struct Streamed<S> {
    stats: Vec<SeriesStats>,
    hits: Vec<u64>,
    lost: Vec<usize>,
    states: Vec<S>,
}

/// The streamed summary of `n` rows (see [`summarise_run`]): chunks of [`CHUNK`] rows go to the
/// threads in order; each thread fills a chunk's rows, counts them, sums them for the moments and
/// sorts them into its sieve; the stages' sieves are merged and rebracketed in between.
fn stream<S: Send>(
    isa: Isa,
    rows: &Rows<'_, S>,
    n: u64,
    sieve: SieveConfig,
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<Streamed<S>, ModelError> {
    let width = rows.width;
    let threads = rayon::current_num_threads();
    let states: Vec<Mutex<Option<S>>> = (0..threads).map(|_| Mutex::new(None)).collect();
    let mut brackets = Brackets::everything(width);
    let mut store = Store::new(width, isa);
    let mut moments = Moments::new(width);
    let mut hits = vec![0u64; rows.n_hits];
    let first = sieve.first_stage.max(1).div_ceil(CHUNK) * CHUNK;
    let (mut done, mut end) = (0, first.min(n));
    loop {
        let (next, limit) = (AtomicU64::new(done / CHUNK), AtomicU64::new(end.div_ceil(CHUNK)));
        // Room in each thread's buffers: a share of what each series kept so far, or the whole
        // first stage.
        let share = 1.1 * (end - done) as f64 / done.max(1) as f64 / threads as f64;
        let room = if done == 0 { (end as usize).div_ceil(threads) + CHUNK as usize } else { 16 };
        let (br, st) = (&brackets, &store);
        let outs: Vec<StageOut> = rayon::broadcast(|ctx| {
            let mut slot = states[ctx.index() % threads].lock().unwrap_or_else(|e| e.into_inner());
            let state = slot.get_or_insert_with(rows.init);
            let mut out = StageOut {
                sieve: Sieve::new(st, share, room),
                sums: Vec::new(),
                hits: vec![0; rows.n_hits],
                error: None,
            };
            // One chunk's draws, row-major: summarised together once the chunk is done.
            let mut buf = vec![0.0; CHUNK as usize * width];
            loop {
                let c = next.fetch_add(1, Ordering::Relaxed);
                if c >= limit.load(Ordering::Relaxed) {
                    break;
                }
                let (first, last) = ((c * CHUNK).max(done), ((c + 1) * CHUNK).min(end));
                let mut ran = 0;
                for r in (first..last).step_by(BATCH) {
                    let g = (last - r).min(BATCH as u64);
                    let span = &mut buf[ran * width..(ran + g as usize) * width];
                    let result = if cancelled() {
                        Err((r, ModelError::Cancelled))
                    } else {
                        (rows.fill)(state, r..r + g, span)
                    };
                    if let Err(e) = result {
                        // Chunks are handed out in order: every chunk before this one is
                        // already running, and none after it need start.
                        limit.fetch_min(c, Ordering::Relaxed);
                        out.error = Some(e);
                        break;
                    }
                    ran += g as usize;
                    (rows.progress)(rows.per_row * g);
                }
                if out.error.is_some() {
                    break;
                }
                let filled = &buf[..ran * width];
                let mut sums = ChunkSums::new(width);
                sums.push_rows(filled);
                for row in filled.chunks_exact(width) {
                    (rows.count)(row, &mut out.hits);
                }
                out.sieve.push_rows(br, filled, width);
                out.sums.push((c, sums));
            }
            out
        });
        let mut sieves = Vec::with_capacity(outs.len());
        let mut sums = Vec::new();
        let mut error: Option<(u64, ModelError)> = None;
        for o in outs {
            if let Some((r, e)) = o.error {
                if matches!(e, ModelError::Cancelled) {
                    return Err(e);
                }
                keep_lowest(&mut error, r, e);
            }
            sieves.push(o.sieve);
            sums.extend(o.sums);
            for (a, b) in hits.iter_mut().zip(&o.hits) {
                *a += b;
            }
        }
        if let Some((_, e)) = error {
            return Err(e);
        }
        sums.sort_unstable_by_key(|(c, _)| *c);
        for (_, c) in &sums {
            moments.absorb(c);
        }
        drop(sums);
        store.absorb(sieves, end - done);
        if end == n {
            break;
        }
        store.rebracket(&mut brackets, sieve.z);
        (done, end) = (end, (2 * end).min(n));
    }
    let quantiles = store.quantiles(&brackets);
    drop(store);
    let lost: Vec<usize> = (0..width).filter(|&j| quantiles[j].is_none()).collect();
    let regathered = if lost.is_empty() { Vec::new() } else { gather(rows, n, &lost, cancelled)? };
    let mut stats: Vec<SeriesStats> = quantiles
        .iter()
        .enumerate()
        .map(|(j, q)| {
            let (mean, sd) = moments.mean_sd(j);
            SeriesStats { mean, sd, q: q.unwrap_or([f64::NAN; PROBS.len()]) }
        })
        .collect();
    for (i, &j) in lost.iter().enumerate() {
        let mut col: Vec<f64> = regathered.iter().skip(i).step_by(lost.len()).copied().collect();
        stats[j].q = quantile::quantiles_type7(&mut col, &PROBS);
    }
    let states =
        states.into_iter().filter_map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner())).collect();
    Ok(Streamed { stats, hits, lost, states })
}

/// Fill the `n` rows again, with states of their own, and keep only the value positions `cols`
/// (row-major `n × cols`).
fn gather<S: Send>(
    rows: &Rows<'_, S>,
    n: u64,
    cols: &[usize],
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<f64>, ModelError> {
    let mut out = vec![0.0; n as usize * cols.len()];
    out.par_chunks_mut(cols.len())
        .enumerate()
        .map_init(
            || ((rows.init)(), vec![0.0; rows.width]),
            |(state, row), (k, dst)| {
                if cancelled() {
                    return Err(ModelError::Cancelled);
                }
                (rows.fill)(state, k as u64..k as u64 + 1, row).map_err(|(_, e)| e)?;
                for (d, &j) in dst.iter_mut().zip(cols) {
                    *d = row[j];
                }
                Ok(())
            },
        )
        .collect::<Result<(), ModelError>>()?;
    Ok(out)
}

/// Run the draws of `cfg` and summarise them as they finish: the same [`Summary`], bit for bit,
/// as [`crate::stats::summary_of`] of [`run`], without keeping every draw. Draws go to the
/// threads in chunks of [`CHUNK`] in draw order; means and sds are folded chunk by chunk in draw
/// order, quantiles are exact order statistics (see [`crate::stats::sieve`]), so the result
/// does not depend on the thread count. On a failing draw, the error of the lowest failing draw
/// is returned, as [`run`] does.
pub fn summarise_run(
    model: &Model,
    cfg: &RunConfig,
    targets: &[Target],
    sieve: SieveConfig,
    progress: &(dyn Fn(u64) + Sync),
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<Summary, ModelError> {
    let draws = if cfg.deterministic { 0..1 } else { cfg.draws.clone() };
    let mode = if cfg.deterministic { Mode::Deterministic } else { Mode::Stochastic };
    let rows = Rows {
        width: model.layout.len(),
        n_hits: targets.len(),
        init: &|| (Batch::on(cfg.isa, model), Diagnostics::default()),
        fill: &|(batch, diagnostics): &mut (Batch, Diagnostics), ks, rows| {
            let at = draws.start + ks.start..draws.start + ks.end;
            let d = simulate_batch(model, cfg.seed, at, mode, batch, rows)
                .map_err(|(draw, e)| (draw - draws.start, e))?;
            diagnostics.merge(&d);
            Ok(())
        },
        count: &|row, hits| count_hits(&model.layout, targets, |j| row[j], hits),
        progress,
        per_row: 1,
    };
    let s = stream(cfg.isa, &rows, draws.end - draws.start, sieve, cancelled)?;
    let mut diagnostics = Diagnostics::default();
    for (_, d) in &s.states {
        diagnostics.merge(d);
    }
    Ok(Summary {
        draws,
        layout: model.layout,
        stats: s.stats,
        target_hits: s.hits,
        diagnostics,
        regathered: s.lost.len(),
    })
}

/// [`compare`]'s result: each scenario's summary, and for each alternative (scenarios 1..) the
/// statistics of its paired differences from the base (scenario 0).
#[derive(Debug, Clone)]
pub struct Comparison {
    /// One summary per scenario, in the order given.
    pub summaries: Vec<Summary>,
    /// For alternative k (1..), [`crate::stats::paired`] of the base and it.
    pub diffs: Vec<Vec<DiffStats>>,
}

/// Run every model on the same draws and summarise them as they finish, with the paired
/// differences of each alternative from the base: the same numbers, bit for bit, as
/// [`crate::stats::summary_of`] and [`crate::stats::paired`] of [`run`]'s ensembles, in memory
/// that grows with √draws (see [`summarise_run`]). Each row holds every scenario's values, then
/// each alternative's differences from the base over the entity outcomes (the positions
/// [`crate::stats::paired`] compares).
pub fn compare(
    models: &[Model],
    targets: &[&[Target]],
    cfg: &RunConfig,
    sieve: SieveConfig,
    progress: &(dyn Fn(u64) + Sync),
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<Comparison, ModelError> {
    assert!(!models.is_empty() && models.len() == targets.len(), "a target list per model");
    let draws = if cfg.deterministic { 0..1 } else { cfg.draws.clone() };
    let mode = if cfg.deterministic { Mode::Deterministic } else { Mode::Stochastic };
    let k = models.len();
    // Where each scenario's values, each alternative's differences and each list of hit
    // counters start in a row; the differences' "alternative higher" counters follow the hits.
    let mut off = vec![0usize; k + 1];
    for (i, m) in models.iter().enumerate() {
        off[i + 1] = off[i] + m.layout.len();
    }
    let diff_width = paired_width(&models[0].layout);
    assert!(models.iter().all(|m| paired_width(&m.layout) == diff_width), "the same entities and years");
    let diff_at = |a: usize| off[k] + (a - 1) * diff_width;
    let mut hit_off = vec![0usize; k + 1];
    for (i, t) in targets.iter().enumerate() {
        hit_off[i + 1] = hit_off[i] + t.len();
    }
    let higher_at = |a: usize| hit_off[k] + (a - 1) * diff_width;
    let rows = Rows {
        width: diff_at(k),
        n_hits: higher_at(k),
        init: &|| {
            let scratch = vec![0.0; BATCH * models.iter().map(|m| m.layout.len()).max().unwrap_or(0)];
            (
                models.iter().map(|m| Batch::on(cfg.isa, m)).collect::<Vec<_>>(),
                scratch,
                vec![Diagnostics::default(); k],
            )
        },
        fill: &|(batches, scratch, diagnostics): &mut (Vec<Batch>, Vec<f64>, Vec<Diagnostics>), ks, rows| {
            let width = diff_at(k);
            let at = draws.start + ks.start..draws.start + ks.end;
            // Each scenario's draws run as a batch, then go to their places in the rows. A
            // failure is reported as the row-by-row order would meet it: the lowest failing
            // draw, and in it the first scenario.
            let mut failed: Option<(u64, ModelError)> = None;
            for (i, m) in models.iter().enumerate() {
                let w = m.layout.len();
                let scratch = &mut scratch[..rows.len() / width * w];
                match simulate_batch(m, cfg.seed, at.clone(), mode, &mut batches[i], scratch) {
                    Ok(d) => diagnostics[i].merge(&d),
                    Err((draw, e)) => {
                        keep_lowest(&mut failed, draw - draws.start, e);
                        continue;
                    }
                }
                for (row, values) in rows.chunks_exact_mut(width).zip(scratch.chunks_exact(w)) {
                    row[off[i]..off[i + 1]].copy_from_slice(values);
                }
            }
            if let Some(f) = failed {
                return Err(f);
            }
            for row in rows.chunks_exact_mut(width) {
                let (base, rest) = row.split_at_mut(off[1]);
                for a in 1..k {
                    let (alt, diff) = (off[a] - off[1], diff_at(a) - off[1]);
                    for j in 0..diff_width {
                        rest[diff + j] = rest[alt + j] - base[j];
                    }
                }
            }
            Ok(())
        },
        count: &|row, hits| {
            for (i, m) in models.iter().enumerate() {
                count_hits(&m.layout, targets[i], |j| row[off[i] + j], &mut hits[hit_off[i]..hit_off[i + 1]]);
            }
            for a in 1..k {
                let (alt, h) =
                    (&row[off[a]..off[a] + diff_width], &mut hits[higher_at(a)..higher_at(a) + diff_width]);
                for ((c, &x), &b) in h.iter_mut().zip(alt).zip(&row[..diff_width]) {
                    *c += u64::from(x > b);
                }
            }
        },
        progress,
        per_row: k as u64,
    };
    let n = draws.end - draws.start;
    let s = stream(cfg.isa, &rows, n, sieve, cancelled)?;
    let mut diagnostics = vec![Diagnostics::default(); k];
    for (_, _, d) in &s.states {
        for (a, b) in diagnostics.iter_mut().zip(d) {
            a.merge(b);
        }
    }
    let lost_in = |lo: usize, hi: usize| s.lost.iter().filter(|&&j| (lo..hi).contains(&j)).count();
    let summaries = (0..k)
        .map(|i| Summary {
            draws: draws.clone(),
            layout: models[i].layout,
            stats: s.stats[off[i]..off[i + 1]].to_vec(),
            target_hits: s.hits[hit_off[i]..hit_off[i + 1]].to_vec(),
            diagnostics: diagnostics[i],
            regathered: lost_in(off[i], off[i + 1]),
        })
        .collect();
    let diffs = (1..k)
        .map(|a| {
            (0..diff_width)
                .map(|j| {
                    let st = s.stats[diff_at(a) + j];
                    DiffStats {
                        mean: st.mean,
                        q: st.q,
                        prob_alt_higher: s.hits[higher_at(a) + j] as f64 / n as f64,
                    }
                })
                .collect()
        })
        .collect();
    Ok(Comparison { summaries, diffs })
}

/// Run the draws of `cfg`, calling `progress(n)` as draws finish (from any thread).
pub fn run(model: &Model, cfg: &RunConfig, progress: &(dyn Fn(u64) + Sync)) -> Result<Ensemble, ModelError> {
    run_cancellable(model, cfg, progress, &|| false)
}

/// [`run`], stopping with [`ModelError::Cancelled`] as soon as `cancelled()` says so (checked
/// before each batch of draws, `engine::BATCH` at most).
pub fn run_cancellable(
    model: &Model,
    cfg: &RunConfig,
    progress: &(dyn Fn(u64) + Sync),
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<Ensemble, ModelError> {
    let draws = if cfg.deterministic { 0..1 } else { cfg.draws.clone() };
    let width = model.layout.len();
    let n = (draws.end - draws.start) as usize;
    // The base year's outcomes are the same in every draw (`Model::base_outcomes`, which each
    // draw copies): they are kept once, and every draw's other values in the matrix.
    let (kept, slot) = kept_positions(&model.layout);
    let kw = kept.len();
    // Room for the outcomes from the first 64-byte boundary on (a fresh allocation is zeroed
    // pages from the kernel, mapped chunk by chunk by the workers: `populate`).
    let mut values = vec![0.0; n * kw + LINE];
    let start = values.as_ptr().align_offset(LINE * size_of::<f64>()).min(LINE);
    let mode = if cfg.deterministic { Mode::Deterministic } else { Mode::Stochastic };
    // Chunks of CHUNK draws, each run in draw order by one thread, which also sums its draws'
    // values while they are in cache (no second pass over the matrix for the means). The draws
    // go to a few rows of the thread's own (a batch, see `engine::simulate_batch`), then into the
    // chunk series by series: each row of GROUP draws then fills whole cache lines of the chunk.
    const GROUP: usize = BATCH;
    let chunk = CHUNK as usize;
    let results: Vec<Result<(Diagnostics, ChunkSums), ModelError>> = values[start..start + n * kw]
        .par_chunks_mut(kw * chunk)
        .enumerate()
        .map_init(
            || (Batch::on(cfg.isa, model), vec![0.0; GROUP * width]),
            |(batch, rows), (c, dst)| {
                let m = dst.len() / kw;
                populate(dst);
                let (mut diagnostics, mut sums) = (Diagnostics::default(), ChunkSums::new(width));
                for i0 in (0..m).step_by(GROUP) {
                    let g = GROUP.min(m - i0);
                    if cancelled() {
                        return Err(ModelError::Cancelled);
                    }
                    let first = draws.start + (c * chunk + i0) as u64;
                    let filled = &mut rows[..g * width];
                    let at = first..first + g as u64;
                    let d = simulate_batch(model, cfg.seed, at, mode, batch, filled).map_err(|(_, e)| e)?;
                    diagnostics.merge(&d);
                    progress(g as u64);
                    sums.push_rows(filled);
                    for (&j, run) in kept.iter().zip(dst.chunks_exact_mut(m)) {
                        let (j, run) = (j as usize, &mut run[i0..i0 + g]);
                        if g == LINE {
                            store_line(run, std::array::from_fn(|i| rows[i * width + j]));
                        } else {
                            for (i, v) in run.iter_mut().enumerate() {
                                *v = rows[i * width + j];
                            }
                        }
                    }
                }
                stores_done();
                Ok((diagnostics, sums))
            },
        )
        .collect();
    if results.iter().any(|r| matches!(r, Err(ModelError::Cancelled))) {
        return Err(ModelError::Cancelled);
    }
    // The first failing chunk holds the lowest failing draw (each chunk stops at its first).
    let (mut diagnostics, mut moments) = (Diagnostics::default(), Moments::new(width));
    for r in results {
        let (d, sums) = r?;
        diagnostics.merge(&d);
        moments.absorb(&sums);
    }
    Ok(Ensemble {
        draws,
        layout: model.layout,
        values,
        start,
        kept,
        slot,
        base: model.base_outcomes.clone(),
        diagnostics,
        moments,
    })
}

/// Map the whole pages of `dst` (fresh memory) in one system call, before its first stores: on
/// this VM a fresh page costs about 2 µs when a store faults it in, 30% less when populated with
/// its neighbours (10 000 draws end to end: 0.265 → 0.25 s, see docs/PERFORMANCE.md).
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

/// Values per 64-byte cache line.
const LINE: usize = 8;

/// `dst = src`, written around the caches when `dst` is one whole cache line: the kept
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
