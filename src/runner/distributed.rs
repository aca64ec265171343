//! A run's summary from draws spread over ranks (processes), exact: the [`Summary`] a single
//! process computes from all the draws, bit for bit (docs/CLUSTER.md). The ranks talk through a
//! [`Collective`] (MPI under the `mpi` feature; threads in the tests).
//!
//! Each rank runs a contiguous, chunk-aligned range of the draws ([`rank_range`]) through the
//! streamed summary's sieve ([`RankSink`]): as its draws finish it keeps each chunk's sums, its
//! counts, and of each series only the values near its own quantiles ([`Window`]s). Then:
//!
//! - **counts** (target hits, diagnostics) are integers: all-reduced by sum;
//! - **means and sds**: the chunks' sums (the chunks a single run folds, as no chunk straddles
//!   two ranks) go to rank 0 a rank at a time and are folded there in chunk order
//!   ([`Moments::absorb`]) —
//!   floating-point sums are never all-reduced, whose order would depend on the reduction;
//! - **quantiles**: each needed order statistic r is first bracketed by the ranks' own order
//!   statistics (rank i's ⌊r·mᵢ/N⌋-th and (⌈(r + 1)·mᵢ/N⌉ − 1)-th: at most r values lie below
//!   the smallest of the first, at least r + 1 at or below the largest of the second); the keys
//!   below and inside each bracket are counted and all-reduced; a bracket still holding more
//!   than [`CANDIDATES`] values is cut into at most 512 sub-intervals of 2^s keys, counted the
//!   same way, and so on. The values left are gathered to rank 0, which selects the order
//!   statistic among them and interpolates as a single run does (type 7). Keys order as
//!   `f64::total_cmp`, so the selected value is the one selection over all draws gives.
//!
//! A rank answers these questions from its windows when the keys asked about lie inside one of
//! a series' windows, which holds unless the ranks' quantiles differ by several times their
//! sampling spread. Where some rank cannot answer, the series is marked (all-reduced), and at
//! the end every rank gathers the marked series' keys in full (`regather`: its draws run
//! again) and the same algorithm runs on them: exact in every case, slower in that one.

use super::partial::TakeRows;
use super::stream::{SieveConfig, Stream, StreamChunk, StreamWorker};
use super::{Pass, RunConfig, Sink};
use crate::diagnostics::Diagnostics;
use crate::error::Error;
use crate::indicators::Layout;
use crate::model::Model;
use crate::region::Target;
use crate::stats::quantile::{from_key, total_key, type7_interpolate, type7_ranks};
use crate::stats::sieve::Window;
use crate::stats::{CHUNK, ChunkSums, Moments, PROBS, SeriesStats, Summary, count_hits};
use rayon::prelude::*;
use std::ops::Range;

/// The collective operations a distributed summary needs over `size` ranks (rank 0 the root).
pub trait Collective {
    /// This rank.
    fn rank(&self) -> usize;
    /// The number of ranks.
    fn size(&self) -> usize;
    /// Element-wise sum over the ranks of every rank's `v` (the same length on every rank),
    /// into `v` on every rank.
    fn all_reduce_sum(&self, v: &mut [u64]);
    /// Every rank's `v` (any length) to rank 0 one rank at a time, in rank order: rank 0 calls
    /// `f` on each (its own first) and holds at most one other rank's at a time; `f` is not
    /// called on the other ranks.
    fn fold_f64(&self, v: &[f64], f: &mut dyn FnMut(&[f64]));
    /// Every rank's `v` (any length) to rank 0, in rank order; `None` on the other ranks.
    fn gather_i64(&self, v: &[i64]) -> Option<Vec<Vec<i64>>>;
    /// Every rank's `v` to every rank, concatenated in rank order.
    fn all_gather_i64(&self, v: &[i64]) -> Vec<i64>;
}

/// At most this many values per order statistic are gathered to rank 0.
pub const CANDIDATES: u64 = 256;

/// Sub-intervals of an interval in each later round.
const NARROW: usize = 512;

/// Rank `rank`'s draws of `n` over `size` ranks: contiguous, in rank order, each a whole number
/// of chunks (the last rank's may end short), as even as whole chunks allow.
pub fn rank_range(n: u64, size: usize, rank: usize) -> Range<u64> {
    let chunks = n.div_ceil(CHUNK);
    let (size, rank) = (size as u64, rank as u64);
    let at = |r: u64| ((chunks * r / size) * CHUNK).min(n);
    at(rank)..at(rank + 1)
}

/// What one rank's draws give the distributed summary: what it kept of each series, the sums of
/// each chunk (in chunk order, [`ChunkSums::write_to`]), the target hits and the diagnostics.
#[derive(Debug, Clone)]
pub struct Local {
    /// The draws (from [`rank_range`]).
    pub range: Range<u64>,
    /// Each series' window (`None`: its sieve lost a needed rank; it is gathered again).
    pub windows: Vec<Option<Window>>,
    /// The chunks' sums, flat, in chunk order.
    pub sums: Vec<f64>,
    /// How many draws meet each target.
    pub hits: Vec<u64>,
    /// The draws' diagnostics.
    pub diagnostics: Diagnostics,
}

impl Local {
    /// The [`Local`] of draws `range` whose rows are `rows` (row-major), every value kept (one
    /// window per series holding all its keys): for tests, and to show what a rank gives.
    pub fn of_rows(
        range: Range<u64>,
        rows: &[f64],
        diagnostics: Diagnostics,
        layout: Layout,
        targets: &[Target],
    ) -> Local {
        let width = layout.len();
        let mut sums = Vec::new();
        let mut hits = vec![0; targets.len()];
        for c in rows.chunks(CHUNK as usize * width) {
            let mut s = ChunkSums::new(width);
            s.push_rows(c);
            s.write_to(&mut sums);
        }
        for row in rows.chunks_exact(width) {
            count_hits(&layout, targets, |j| row[j], &mut hits);
        }
        let windows = (0..width)
            .map(|j| Some(Window::full(rows.chunks_exact(width).map(|row| total_key(row[j])).collect())))
            .collect();
        Local { range, windows, sums, hits, diagnostics }
    }
}

/// The sieve of a rank ([`RankSink`]): brackets of 8 standard deviations instead of a single
/// run's 5. A rank's windows must also hold the other ranks' order statistics, which differ
/// from its own by about √2 standard deviations of a quantile's rank (two independent samples);
/// at 5 the baseline's 100,000 draws over 3 ranks lost about a dozen of 2,487 series (each
/// gathered again by running the draws again), at 8 a loss has a probability of about 10⁻⁸ per
/// order statistic and rank (|Z| > 8/√2), at a cost of 1.6 times the kept keys.
pub fn rank_sieve() -> SieveConfig {
    SieveConfig { z: 8.0, ..SieveConfig::default() }
}

/// A rank's sink: its draws through the streamed summary's sieve, giving
/// its [`Local`] without keeping the rows.
pub struct RankSink<'a> {
    targets: &'a [Target],
    sieve: SieveConfig,
    range: Range<u64>,
    inner: Option<Stream<'a>>,
}

impl<'a> RankSink<'a> {
    /// The sink of a rank's draws of a model with `targets`, sieved as `sieve` says.
    pub fn new(targets: &'a [Target], sieve: SieveConfig) -> Self {
        RankSink { targets, sieve, range: 0..0, inner: None }
    }

    fn stream(&self) -> &Stream<'a> {
        self.inner.as_ref().expect("planned before the first pass")
    }
}

impl<'a> Sink for RankSink<'a> {
    type Worker = StreamWorker;
    type Chunk = StreamChunk;
    type Output = Local;

    fn plan(&mut self, models: &[&Model], draws: Range<u64>, cfg: &RunConfig) -> Result<Pass, Error> {
        assert_eq!(models.len(), 1, "a rank runs one model");
        let n = draws.end - draws.start;
        let needed = Stream::bytes(models, n, &self.sieve);
        if !cfg.fits(needed) {
            return Err(Error::TooLarge { needed, budget: cfg.memory_budget });
        }
        self.range = draws;
        let (s, pass) = Stream::plan(models, vec![self.targets], n, self.sieve, cfg);
        self.inner = Some(s.for_rank());
        Ok(pass)
    }

    fn worker(&self) -> StreamWorker {
        self.stream().worker()
    }

    fn start(&self, w: &mut StreamWorker, _c: u64, len: usize) -> StreamChunk {
        self.stream().start(w, len)
    }

    fn buffer<'b>(
        &self,
        w: &'b mut StreamWorker,
        _chunk: &'b mut StreamChunk,
        m: usize,
        at: usize,
        k: usize,
    ) -> &'b mut [f64] {
        self.stream().buffer(w, m, at, k)
    }

    fn filled(&self, w: &mut StreamWorker, _chunk: &mut StreamChunk, at: usize, k: usize) {
        self.stream().filled(w, at, k);
    }

    fn end(&self, w: &mut StreamWorker, chunk: &mut StreamChunk) {
        self.stream().end(w, chunk);
    }

    fn pass_done(&mut self, chunks: Vec<StreamChunk>, workers: Vec<&mut StreamWorker>) -> Option<Pass> {
        self.inner.as_mut().and_then(|s| s.pass_done(chunks, workers))
    }

    fn finish(self, diagnostics: Vec<Diagnostics>) -> Local {
        let (sums, windows, hits) = self.inner.expect("planned").finish_rank();
        Local { range: self.range, windows, sums, hits, diagnostics: diagnostics[0] }
    }
}

/// Keeps the keys of some series of a run's rows, in draw order (a [`TakeRows`] for
/// [`super::partial::InOrder`]): what a rank gathers again of the series its windows could not
/// answer for.
pub struct KeysOf {
    series: Vec<usize>,
    width: usize,
    keys: Vec<Vec<i64>>,
}

impl KeysOf {
    /// The keys of `series` (positions in rows of `width` values).
    pub fn new(series: &[usize], width: usize) -> Self {
        KeysOf { series: series.to_vec(), width, keys: vec![Vec::new(); series.len()] }
    }
}

impl TakeRows for KeysOf {
    type Output = Vec<Vec<i64>>;

    fn take(&mut self, rows: &[f64]) -> std::io::Result<()> {
        for (&j, keys) in self.series.iter().zip(&mut self.keys) {
            keys.extend(rows.chunks_exact(self.width).map(|row| total_key(row[j])));
        }
        Ok(())
    }

    fn finish(self, _diagnostics: Diagnostics) -> std::io::Result<Vec<Vec<i64>>> {
        Ok(self.keys)
    }
}

/// Gives a rank's keys of the listed series, in draw order, one list per series: its draws run
/// again ([`KeysOf`]), or read from wherever they are.
pub type Regather<'a> = dyn FnMut(&[usize]) -> Result<Vec<Vec<i64>>, Error> + 'a;

/// The summary of `n` draws spread over the ranks of `coll`, each rank giving what its draws
/// gave (`local`): `Some` on rank 0 (the same [`Summary`] as a single run's), `None` elsewhere.
/// Every rank must call it (the collectives match). `regather` gives this rank's keys of the
/// listed series in draw order (the same list on every rank; called on every rank, or on none,
/// when some rank's windows cannot answer for a series); its error is returned.
pub fn summarise(
    local: Local,
    layout: Layout,
    targets: &[Target],
    n: u64,
    coll: &dyn Collective,
    regather: &mut Regather<'_>,
) -> Result<Option<Summary>, Error> {
    let width = layout.len();
    let m = local.range.end - local.range.start;
    assert!(local.windows.len() == width, "a window per series");
    assert!(local.windows.iter().flatten().all(|w| w.n == m), "windows of the rank's draws");

    // Counts: integers, all-reduced.
    let mut counts = local.hits.clone();
    counts.extend_from_slice(&local.diagnostics.0);
    coll.all_reduce_sum(&mut counts);
    let (hits, diags) = counts.split_at(targets.len());
    let diagnostics = Diagnostics(diags.try_into().expect("the diagnostics' counts"));

    // Chunk sums, folded in chunk order on rank 0 as each rank's arrive.
    let mut moments = Moments::new(width);
    coll.fold_f64(&local.sums, &mut |part| {
        for c in part.chunks(ChunkSums::flat_len(width)) {
            moments.absorb(&ChunkSums::read_from(c));
        }
    });
    // The order statistics needed (the same for every series).
    let mut ranks: Vec<u64> = Vec::new();
    if n > 0 {
        for &p in &PROBS {
            let (lo, hi) = type7_ranks(n as usize, p);
            ranks.extend([lo as u64, hi as u64]);
        }
    }
    ranks.sort_unstable();
    ranks.dedup();
    let nr = ranks.len();
    let (mut found, failed) = order_statistics(&local.windows, m, &ranks, n, coll);
    drop(local);
    if !failed.is_empty() {
        // Every rank's keys of those series, in full; the same algorithm cannot fail on them.
        let full: Vec<Option<Window>> =
            regather(&failed)?.into_iter().map(|k| Some(Window::full(k))).collect();
        assert_eq!(full.len(), failed.len(), "keys of every series asked for");
        let (again, still) = order_statistics(&full, m, &ranks, n, coll);
        assert!(still.is_empty(), "every key is in a full window");
        if let (Some(found), Some(again)) = (&mut found, again) {
            for (i, &j) in failed.iter().enumerate() {
                found[j * nr..(j + 1) * nr].copy_from_slice(&again[i * nr..(i + 1) * nr]);
            }
        }
    }
    let Some(found) = found else { return Ok(None) };
    let stats = (0..width)
        .map(|j| {
            let (mean, sd) = moments.mean_sd(j);
            let key = |r: usize| found[j * nr + ranks.partition_point(|&x| x < r as u64)];
            let q = std::array::from_fn(|k| {
                let p = PROBS[k];
                let (lo, hi) = type7_ranks(n as usize, p);
                type7_interpolate(n as usize, p, from_key(key(lo)), from_key(key(hi)))
            });
            SeriesStats { mean, sd, q }
        })
        .collect();
    let regathered = failed.len();
    Ok(Some(Summary { draws: 0..n, layout, stats, target_hits: hits.to_vec(), diagnostics, regathered }))
}

/// An interval of keys [lo, hi] that holds an order statistic, with the values below it and
/// in it (over all ranks).
type Interval = (i64, i64, u64, u64);

/// The keys of order statistics `ranks` (sorted, distinct, of `n` values) of every series, from
/// each rank's `windows` of its `m` values: on rank 0 `Some`, series by series (`ranks.len()`
/// each); and on every rank, the series some rank's windows could not answer for (their keys
/// in the result are not the order statistics).
fn order_statistics(
    windows: &[Option<Window>],
    m: u64,
    ranks: &[u64],
    n: u64,
    coll: &dyn Collective,
) -> (Option<Vec<i64>>, Vec<usize>) {
    let (width, nr) = (windows.len(), ranks.len());
    // Round 1: each needed rank r is bracketed by the ranks' own order statistics: with mᵢ draws
    // on rank i, its order statistics lᵢ = ⌊r·mᵢ/N⌋ and hᵢ = ⌈(r + 1)·mᵢ/N⌉ − 1. At most Σ lᵢ ≤ r
    // values lie below the smallest key(lᵢ), and at least Σ (hᵢ + 1) ≥ r + 1 at or below the
    // largest key(hᵢ): the r-th value lies between the two. A rank with no draws, or whose
    // window does not hold one of its order statistics, gives the empty interval [MAX, MIN].
    let at = |r: u64| {
        let l = (r as u128 * m as u128 / n as u128) as u64;
        let h = ((r as u128 + 1) * m as u128).div_ceil(n as u128) as u64 - 1;
        (l, h)
    };
    let own: Vec<Vec<i64>> = windows
        .par_iter()
        .map_init(Vec::new, |scratch, w| {
            let none = [i64::MAX, i64::MIN].repeat(nr);
            let Some(w) = w.as_ref().filter(|_| m > 0) else { return none };
            let mut keys = vec![0i64; 2 * nr];
            let mut want: Vec<(usize, usize)> = Vec::new();
            for (i, &r) in ranks.iter().enumerate() {
                let (l, h) = at(r);
                for (s, k) in [l, h].into_iter().enumerate() {
                    match w.key_at(k) {
                        Some(Ok(key)) => keys[2 * i + s] = key,
                        Some(Err(kept)) => want.push((kept, 2 * i + s)),
                        None => return none,
                    }
                }
            }
            let mut kr: Vec<usize> = want.iter().map(|&(k, _)| k).collect();
            kr.sort_unstable();
            kr.dedup();
            let mut got = vec![0i64; kr.len()];
            crate::stats::quantile::select_ranks_of_parts(&[&w.kept], &kr, &mut got, scratch);
            for (k, slot) in want {
                keys[slot] = got[kr.binary_search(&k).expect("selected")];
            }
            keys
        })
        .collect();
    // The series whose order statistics this rank could not give (and has draws of).
    let lost: Vec<bool> = own.iter().map(|k| m > 0 && k[0] == i64::MAX && k[1] == i64::MIN).collect();
    let all = coll.all_gather_i64(&own.concat());
    let mut state: Vec<Interval> = (0..width * nr)
        .map(|i| {
            let (lo, hi) = all
                .chunks(2 * width * nr)
                .fold((i64::MAX, i64::MIN), |(lo, hi), e| (lo.min(e[2 * i]), hi.max(e[2 * i + 1])));
            (lo, hi, 0, 0)
        })
        .collect();
    // The values below each interval and in it, counted over the ranks: one pass over a series'
    // kept keys, each placed among the series' sorted interval ends; then per series a flag,
    // set where this rank cannot answer (no window, or an interval outside its brackets). The
    // same pass keeps the keys inside the intervals (`near`): the later rounds need no others.
    let (counted, near): (Vec<Vec<u64>>, Vec<Vec<i64>>) = (0..width)
        .into_par_iter()
        .map(|j| {
            let s = &state[j * nr..(j + 1) * nr];
            let fail = || {
                let mut v = vec![0u64; 2 * nr + 1];
                v[2 * nr] = 1;
                (v, Vec::new())
            };
            let w = match &windows[j] {
                _ if m == 0 => return (vec![0u64; 2 * nr + 1], Vec::new()),
                Some(w) if !lost[j] => w,
                _ => return fail(),
            };
            if s.iter().any(|&(lo, hi, _, _)| lo > hi) {
                return fail();
            }
            let held: Option<Vec<_>> = s.iter().map(|&(lo, hi, _, _)| w.covering(lo, hi)).collect();
            let Some(held) = held else { return fail() };
            let mut ends: Vec<i64> =
                s.iter().flat_map(|&(lo, hi, _, _)| [lo, hi.saturating_add(1)]).collect();
            ends.sort_unstable();
            ends.dedup();
            // seg[p]: kept keys with exactly p ends at or below them. Every interval starts and
            // ends at an end, so each segment lies inside some interval or outside all.
            let inside: Vec<bool> = (0..=ends.len())
                .map(|p| p > 0 && s.iter().any(|&(lo, hi, _, _)| lo <= ends[p - 1] && ends[p - 1] <= hi))
                .collect();
            let mut seg = vec![0u64; ends.len() + 1];
            let mut near = Vec::new();
            for &x in &w.kept {
                let p = ends.partition_point(|&e| e <= x);
                seg[p] += 1;
                if inside[p] {
                    near.push(x);
                }
            }
            // Kept keys below end e (one of `ends`, at q): those with at most q ends at or below.
            let upto = |e: i64| -> u64 { seg[..=ends.partition_point(|&f| f < e)].iter().sum() };
            let mut v: Vec<u64> = s
                .iter()
                .zip(held)
                .flat_map(|(&(lo, hi, _, _), h)| {
                    let below = h.count_below(lo, upto(lo));
                    let end = hi.saturating_add(1);
                    [below, h.count_below(end, upto(end)) - below]
                })
                .collect();
            v.push(0);
            (v, near)
        })
        .unzip();
    let mut c = counted.concat();
    coll.all_reduce_sum(&mut c);
    let failed: Vec<usize> = (0..width).filter(|&j| c[j * (2 * nr + 1) + 2 * nr] > 0).collect();
    for (j, cs) in c.chunks(2 * nr + 1).enumerate() {
        for (st, cnt) in state[j * nr..(j + 1) * nr].iter_mut().zip(cs.chunks(2)) {
            // A failed series' intervals are made single keys: no round or candidate touches them.
            *st = if cs[2 * nr] > 0 { (0, 0, 0, 0) } else { (st.0, st.1, cnt[0], cnt[1]) };
        }
    }
    // Further rounds, for the intervals still holding many values: NARROW sub-intervals each.
    let active = |s: &Interval| s.3 > CANDIDATES && s.0 < s.1;
    for _round in 0..16 {
        let live: Vec<usize> = (0..state.len()).filter(|&i| active(&state[i])).collect();
        if live.is_empty() {
            break;
        }
        // The live intervals by series, each series' counts in one pass over its kept keys.
        let mut series: Vec<(usize, Vec<usize>)> = Vec::new();
        for &i in &live {
            match series.last_mut() {
                Some((j, v)) if *j == i / nr => v.push(i),
                _ => series.push((i / nr, vec![i])),
            }
        }
        let counted: Vec<Vec<u64>> = series
            .par_iter()
            .map(|(j, slots)| {
                // Needed ranks in one interval (a series of near-equal values) count once.
                let (uniq, of, span) = distinct(slots, &state);
                let shifts: Vec<u32> = uniq.iter().map(|&(a, z)| shift_for(a, z, NARROW)).collect();
                let mut hist = vec![0u64; uniq.len() * NARROW];
                for &x in &near[*j] {
                    for u in containing(&uniq, span, x) {
                        hist[u * NARROW + bucket(x, uniq[u].0, shifts[u])] += 1;
                    }
                }
                of.iter().flat_map(|&u| hist[u * NARROW..(u + 1) * NARROW].iter().copied()).collect()
            })
            .collect();
        let mut c: Vec<u64> = counted.concat();
        coll.all_reduce_sum(&mut c);
        for (counts, &i) in c.chunks(NARROW).zip(&live) {
            let (lo, hi, below, _) = state[i];
            let (b, under, cnt) = locate(counts, ranks[i % nr], below);
            let (a, z) = bounds(lo, hi, shift_for(lo, hi, NARROW), b);
            state[i] = (a, z, under, cnt);
        }
    }
    // The candidates: each (series, rank)'s keys inside its interval, to rank 0 — none where
    // the interval is one key (a constant series, a run of equal values): that key is the order
    // statistic.
    let per_series: Vec<Vec<i64>> = (0..width)
        .into_par_iter()
        .map(|j| {
            let slots: Vec<usize> = (j * nr..(j + 1) * nr).filter(|&i| state[i].0 < state[i].1).collect();
            let (uniq, of, span) = distinct(&slots, &state);
            let mut found: Vec<Vec<i64>> = vec![Vec::new(); uniq.len()];
            if !slots.is_empty() {
                for &x in &near[j] {
                    for u in containing(&uniq, span, x) {
                        found[u].push(x);
                    }
                }
            }
            let mut out = Vec::new();
            for l in of.iter().map(|&u| &found[u]) {
                out.push(l.len() as i64);
                out.extend_from_slice(l);
            }
            out
        })
        .collect();
    let mine: Vec<i64> = per_series.concat();
    let Some(gathered) = coll.gather_i64(&mine) else { return (None, failed) };
    // Rank 0: select each order statistic among its candidates.
    let mut at: Vec<usize> = vec![0; gathered.len()];
    let mut found = vec![0i64; state.len()];
    let mut cand = Vec::new();
    for (i, f) in found.iter_mut().enumerate() {
        let (lo, hi, below, _) = state[i];
        if lo == hi {
            *f = lo;
            continue;
        }
        cand.clear();
        for (p, g) in gathered.iter().enumerate() {
            let len = g[at[p]] as usize;
            cand.extend_from_slice(&g[at[p] + 1..at[p] + 1 + len]);
            at[p] += 1 + len;
        }
        cand.sort_unstable();
        *f = cand[(ranks[i % nr] - below) as usize];
    }
    (Some(found), failed)
}

/// The distinct intervals of `slots` (indices into `state`), sorted; each slot's index among
/// them; and the longest one's length − 1 (so that [`containing`] knows how far back to look).
#[allow(clippy::type_complexity)]
fn distinct(slots: &[usize], state: &[Interval]) -> (Vec<(i64, i64)>, Vec<usize>, i64) {
    let key = |i: usize| (state[i].0, state[i].1);
    let mut uniq: Vec<(i64, i64)> = slots.iter().map(|&i| key(i)).collect();
    uniq.sort_unstable();
    uniq.dedup();
    let of = slots.iter().map(|&i| uniq.binary_search(&key(i)).expect("listed")).collect();
    let span = uniq.iter().map(|&(a, z)| z.saturating_sub(a)).max().unwrap_or(0);
    (uniq, of, span)
}

/// The intervals of `uniq` ([`distinct`]) that hold key `x`: among those starting at or below
/// `x`, the ones starting no more than `span` below it that end at or above it.
fn containing(uniq: &[(i64, i64)], span: i64, x: i64) -> impl Iterator<Item = usize> + '_ {
    let end = uniq.partition_point(|e| e.0 <= x);
    (0..end).rev().take_while(move |&u| uniq[u].0 >= x.saturating_sub(span)).filter(move |&u| uniq[u].1 >= x)
}

/// The shift that cuts [lo, hi] (lo < hi) into at most `parts` sub-intervals of 2^shift keys:
/// the smallest with (hi − lo) >> shift < parts.
fn shift_for(lo: i64, hi: i64, parts: usize) -> u32 {
    let d = hi.wrapping_sub(lo) as u64;
    (0..64).find(|&s| (d >> s) < parts as u64).unwrap_or(64)
}

/// The sub-interval (of [`shift_for`]'s, of [lo, hi]) that holds key `x` ≥ lo: (x − lo) >> shift.
#[inline]
fn bucket(x: i64, lo: i64, shift: u32) -> usize {
    (x.wrapping_sub(lo) as u64).checked_shr(shift).unwrap_or(0) as usize
}

/// The keys [a, z] of sub-interval `b` of [lo, hi] ([`bucket`]).
fn bounds(lo: i64, hi: i64, shift: u32, b: usize) -> (i64, i64) {
    let start = lo as i128 + ((b as i128) << shift);
    let end = (start + (1i128 << shift) - 1).min(hi as i128);
    (start as i64, end as i64)
}

/// The sub-interval holding rank `r` (0-based) of a histogram whose first sub-interval starts
/// after `below` values: (its index, the values before it, the values in it).
fn locate(counts: &[u64], r: u64, below: u64) -> (usize, u64, u64) {
    let mut under = below;
    for (b, &c) in counts.iter().enumerate() {
        if r < under + c {
            return (b, under, c);
        }
        under += c;
    }
    unreachable!("rank {r} is not below the {under} values counted")
}

/// A [`Collective`] of threads in one process: `size` ranks, each a thread holding one
/// [`ThreadRank`] (for tests, and to show the algorithm without MPI).
pub struct ThreadGroup {
    size: usize,
    barrier: std::sync::Barrier,
    slots: std::sync::Mutex<Vec<Vec<u8>>>,
}

impl ThreadGroup {
    /// A group of `size` ranks.
    pub fn new(size: usize) -> ThreadGroup {
        ThreadGroup {
            size,
            barrier: std::sync::Barrier::new(size),
            slots: std::sync::Mutex::new(vec![Vec::new(); size]),
        }
    }

    /// Rank `rank`'s handle.
    pub fn rank(&self, rank: usize) -> ThreadRank<'_> {
        ThreadRank { group: self, rank }
    }

    /// Every rank's bytes, to every rank.
    fn exchange(&self, rank: usize, bytes: Vec<u8>) -> Vec<Vec<u8>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())[rank] = bytes;
        self.barrier.wait();
        let all = self.slots.lock().unwrap_or_else(|e| e.into_inner()).clone();
        self.barrier.wait();
        all
    }
}

/// One rank of a [`ThreadGroup`].
pub struct ThreadRank<'a> {
    group: &'a ThreadGroup,
    rank: usize,
}

fn to_bytes<T: Copy>(v: &[T], f: impl Fn(T) -> [u8; 8]) -> Vec<u8> {
    v.iter().flat_map(|&x| f(x)).collect()
}

impl Collective for ThreadRank<'_> {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.group.size
    }
    fn all_reduce_sum(&self, v: &mut [u64]) {
        let all = self.group.exchange(self.rank, to_bytes(v, u64::to_le_bytes));
        v.fill(0);
        for b in all {
            for (x, c) in v.iter_mut().zip(b.chunks_exact(8)) {
                *x += u64::from_le_bytes(c.try_into().expect("8 bytes"));
            }
        }
    }
    fn fold_f64(&self, v: &[f64], f: &mut dyn FnMut(&[f64])) {
        let all = self.group.exchange(self.rank, to_bytes(v, f64::to_le_bytes));
        if self.rank == 0 {
            for b in all {
                let part: Vec<f64> =
                    b.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect();
                f(&part);
            }
        }
    }
    fn gather_i64(&self, v: &[i64]) -> Option<Vec<Vec<i64>>> {
        let all = self.group.exchange(self.rank, to_bytes(v, i64::to_le_bytes));
        (self.rank == 0).then(|| {
            all.iter()
                .map(|b| {
                    b.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes"))).collect()
                })
                .collect()
        })
    }
    fn all_gather_i64(&self, v: &[i64]) -> Vec<i64> {
        let all = self.group.exchange(self.rank, to_bytes(v, i64::to_le_bytes));
        all.iter()
            .flat_map(|b| b.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes"))))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{purpose, stream};
    use crate::stats::quantile::quantiles_type7;
    use rand::RngExt;

    #[test]
    fn clustered_and_tied_values_need_more_rounds_and_still_select_exactly() {
        // 20 000 draws of a small layout: each position's values mostly in a cluster a few keys
        // wide (ties, and one round-1 sub-interval holding thousands), the rest spread over
        // twelve orders of magnitude, some negative, some equal to the cluster's edge.
        let layout = Layout { cities: 1, base_year: 2018, horizon: 2019, parks: 0 };
        let (width, n) = (layout.len(), 20_000u64);
        let mut r = stream(3, purpose("test.distributed"), 0);
        let rows: Vec<f64> = (0..n as usize * width)
            .map(|i| match r.random_range(0..10) {
                0 => -r.random::<f64>() * 1e6,
                1 => r.random::<f64>() * 10f64.powi(r.random_range(-6..6)),
                _ => 1.0 + f64::from(r.random_range(0..40u8)) * f64::EPSILON * (1 + i % 3) as f64,
            })
            .collect();
        // Every key kept (None), and sieved in stages from 512 draws with brackets of 5 and of 1
        // standard deviation (the narrow ones lose ranks: those series are gathered again).
        for (size, sieve) in [(1, None), (3, None), (4, None), (2, Some(5.0)), (3, Some(5.0)), (3, Some(1.0))]
        {
            let group = ThreadGroup::new(size);
            let got = std::thread::scope(|s| {
                let handles: Vec<_> = (0..size)
                    .map(|rank| {
                        let range = rank_range(n, size, rank);
                        let part = &rows[range.start as usize * width..range.end as usize * width];
                        let mut local = Local::of_rows(range, part, Diagnostics::default(), layout, &[]);
                        if let Some(z) = sieve {
                            local.windows = sieved(part, width, 512, z);
                        }
                        let group = &group;
                        let mut regather = move |series: &[usize]| -> Result<Vec<Vec<i64>>, Error> {
                            assert!(sieve.is_some(), "full windows answer for every series, not {series:?}");
                            Ok(series
                                .iter()
                                .map(|&j| part.chunks_exact(width).map(|row| total_key(row[j])).collect())
                                .collect())
                        };
                        // A rank that panics would leave the others waiting: end the process.
                        s.spawn(move || {
                            let run = || summarise(local, layout, &[], n, &group.rank(rank), &mut regather);
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
                                .unwrap_or_else(|_| std::process::abort())
                                .unwrap()
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).next().unwrap().unwrap()
            });
            if sieve == Some(1.0) {
                assert!(got.regathered > 0, "the narrow sieve gathered nothing again");
            }
            for j in 0..width {
                let mut col: Vec<f64> = (0..n as usize).map(|k| rows[k * width + j]).collect();
                let want = quantiles_type7(&mut col, &PROBS);
                let same = want.iter().zip(&got.stats[j].q).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{size} ranks, {sieve:?}, position {j}: {:?} vs {want:?}", got.stats[j].q);
            }
        }
    }

    /// The windows of `rows` (row-major, `width` values) sieved as a rank's stream does: stages
    /// doubling from `first` draws, brackets of `z` standard deviations.
    fn sieved(rows: &[f64], width: usize, first: usize, z: f64) -> Vec<Option<Window>> {
        use crate::stats::sieve::{Brackets, Sieve, Store};
        let n = rows.len() / width;
        let (mut br, mut store) = (Brackets::everything(width), Store::new(width, crate::isa::Isa::widest()));
        let (mut start, mut end) = (0, first.min(n));
        loop {
            let mut sieve = Sieve::new(&store, 1.0, 16);
            sieve.push_rows(&br, &rows[start * width..end * width], width);
            store.absorb(vec![sieve], (end - start) as u64);
            if end == n {
                return store.windows(&br);
            }
            store.rebracket(&mut br, z);
            (start, end) = (end, (2 * end).min(n));
        }
    }
}
