//! A run's summary from draws spread over ranks (processes), exact: the [`Summary`] a single
//! process computes from all the draws, bit for bit (docs/CLUSTER.md). The ranks talk through a
//! [`Collective`] (MPI under the `mpi` feature; threads in the tests).
//!
//! Each rank runs a contiguous, chunk-aligned range of the draws ([`rank_range`]) and keeps its
//! rows. Then:
//!
//! - **counts** (target hits, diagnostics) are integers: all-reduced by sum;
//! - **means and sds**: each rank's sums of every chunk of [`CHUNK`] draws (the chunks a single
//!   run folds, as no chunk straddles two ranks) are gathered to rank 0 and folded there in chunk
//!   order ([`Moments::absorb`]) — floating-point sums are never all-reduced, whose order would
//!   depend on the reduction;
//! - **quantiles**: each needed order statistic is found by narrowing a key interval known to
//!   hold it: every rank counts its keys in 64 equal sub-intervals (a binary search in its
//!   sorted keys), the counts are all-reduced, and the sub-interval holding the rank is kept,
//!   until at most [`CANDIDATES`] values remain; those are gathered to rank 0, which selects the
//!   order statistic among them and interpolates as a single run does (type 7). Keys order as
//!   `f64::total_cmp`, so the selected value is the one selection over all draws gives.

use crate::diagnostics::Diagnostics;
use crate::indicators::Layout;
use crate::region::Target;
use crate::stats::quantile::{from_key, total_key, type7_interpolate, type7_ranks};
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
    /// Every rank's `v` (any length) to rank 0, in rank order; `None` on the other ranks.
    fn gather_f64(&self, v: &[f64]) -> Option<Vec<Vec<f64>>>;
    /// As [`Collective::gather_f64`], for keys.
    fn gather_i64(&self, v: &[i64]) -> Option<Vec<Vec<i64>>>;
    /// Every rank's `v` to every rank, concatenated in rank order.
    fn all_gather_i64(&self, v: &[i64]) -> Vec<i64>;
}

/// At most this many values per order statistic are gathered to rank 0.
pub const CANDIDATES: u64 = 256;

/// Sub-intervals per narrowing round.
const BUCKETS: usize = 64;

/// Rank `rank`'s draws of `n` over `size` ranks: contiguous, in rank order, each a whole number
/// of chunks (the last rank's may end short), as even as whole chunks allow.
pub fn rank_range(n: u64, size: usize, rank: usize) -> Range<u64> {
    let chunks = n.div_ceil(CHUNK);
    let (size, rank) = (size as u64, rank as u64);
    let at = |r: u64| ((chunks * r / size) * CHUNK).min(n);
    at(rank)..at(rank + 1)
}

/// One rank's draws: their rows (row-major, the layout's width) and what they counted.
#[derive(Debug, Clone)]
pub struct Local {
    /// The draws (from [`rank_range`]).
    pub range: Range<u64>,
    /// Their rows of outcomes.
    pub rows: Vec<f64>,
    /// Their diagnostics.
    pub diagnostics: Diagnostics,
}

/// The summary of `n` draws spread over the ranks of `coll`, each rank giving its `local` draws:
/// `Some` on rank 0 (the same [`Summary`] as a single run's), `None` elsewhere. Every rank must
/// call it (the collectives match).
pub fn summarise(local: Local, layout: Layout, targets: &[Target], n: u64, coll: &dyn Collective) -> Option<Summary> {
    let width = layout.len();
    let m = (local.range.end - local.range.start) as usize;
    assert_eq!(local.rows.len(), m * width, "one row per draw");
    let row = |k: usize| &local.rows[k * width..(k + 1) * width];

    // Counts: integers, all-reduced.
    let mut counts = vec![0u64; targets.len() + local.diagnostics.0.len()];
    let (hits, diags) = counts.split_at_mut(targets.len());
    for k in 0..m {
        count_hits(&layout, targets, |j| row(k)[j], hits);
    }
    diags.copy_from_slice(&local.diagnostics.0);
    coll.all_reduce_sum(&mut counts);
    let (hits, diags) = counts.split_at(targets.len());
    let diagnostics = Diagnostics(diags.try_into().expect("the diagnostics' counts"));

    // Chunk sums, gathered and folded in chunk order on rank 0.
    let mut sums = Vec::new();
    for c in local.rows.chunks(CHUNK as usize * width) {
        let mut s = ChunkSums::new(width);
        s.push_rows(c);
        s.write_to(&mut sums);
    }
    let moments = coll.gather_f64(&sums).map(|parts| {
        let mut moments = Moments::new(width);
        for p in parts {
            for c in p.chunks(ChunkSums::flat_len(width)) {
                moments.absorb(&ChunkSums::read_from(c));
            }
        }
        moments
    });

    // Each series' keys, sorted.
    let keys: Vec<Vec<i64>> = (0..width)
        .into_par_iter()
        .map(|j| {
            let mut v: Vec<i64> = (0..m).map(|k| total_key(local.rows[k * width + j])).collect();
            v.sort_unstable();
            v
        })
        .collect();
    drop(local);
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
    // Every series' range of keys: [min, max] over the ranks.
    let mut ends = Vec::with_capacity(2 * width);
    for v in &keys {
        ends.extend([v.first().copied().unwrap_or(i64::MAX), v.last().copied().unwrap_or(i64::MIN)]);
    }
    let all = coll.all_gather_i64(&ends);
    // Per (series, needed rank): the interval [lo, hi] that holds it, the count below lo, the
    // count inside.
    let mut state: Vec<(i64, i64, u64, u64)> = (0..width)
        .flat_map(|j| {
            let (lo, hi) = all.chunks(2 * width).fold((i64::MAX, i64::MIN), |(lo, hi), e| {
                (lo.min(e[2 * j]), hi.max(e[2 * j + 1]))
            });
            std::iter::repeat_n((lo, hi, 0u64, n), nr)
        })
        .collect();
    let active = |s: &(i64, i64, u64, u64)| s.3 > CANDIDATES && s.0 < s.1;
    for _round in 0..16 {
        let live: Vec<usize> = (0..state.len()).filter(|&i| active(&state[i])).collect();
        if live.is_empty() {
            break;
        }
        let mut c = vec![0u64; live.len() * BUCKETS];
        c.par_chunks_mut(BUCKETS).zip(&live).for_each(|(out, &i)| {
            let (lo, hi, _, _) = state[i];
            let v = &keys[i / nr];
            let edges = edges(lo, hi);
            let mut before = v.partition_point(|&x| x < lo);
            for (b, o) in out.iter_mut().enumerate() {
                let end = v.partition_point(|&x| x <= edges[b + 1]);
                *o = (end - before) as u64;
                before = end;
            }
        });
        coll.all_reduce_sum(&mut c);
        for (counts, &i) in c.chunks(BUCKETS).zip(&live) {
            let (lo, hi, below, _) = state[i];
            let r = ranks[i % nr];
            let edges = edges(lo, hi);
            let mut under = below;
            for (b, &cnt) in counts.iter().enumerate() {
                if r < under + cnt {
                    state[i] = (if b == 0 { lo } else { edges[b] + 1 }, edges[b + 1], under, cnt);
                    break;
                }
                under += cnt;
            }
        }
    }
    // The candidates: each (series, rank)'s keys inside its interval, to rank 0 — none where
    // the interval is one key (a constant series, a run of equal values): that key is the order
    // statistic.
    let mut mine = Vec::new();
    for (i, &(lo, hi, _, _)) in state.iter().enumerate() {
        if lo == hi {
            continue;
        }
        let v = &keys[i / nr];
        let (a, b) = (v.partition_point(|&x| x < lo), v.partition_point(|&x| x <= hi));
        mine.push((b - a) as i64);
        mine.extend_from_slice(&v[a..b]);
    }
    let gathered = coll.gather_i64(&mine)?;
    let moments = moments.expect("rank 0 has the moments");
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
    Some(Summary { draws: 0..n, layout, stats, target_hits: hits.to_vec(), diagnostics, regathered: 0 })
}

/// The upper bounds of [`BUCKETS`] equal sub-intervals of [lo, hi] (inclusive keys), with lo − 1
/// first: sub-interval b holds the keys in (edges[b], edges[b + 1]].
fn edges(lo: i64, hi: i64) -> [i64; BUCKETS + 1] {
    let span = hi as i128 - lo as i128 + 1;
    let step = (span + BUCKETS as i128 - 1) / BUCKETS as i128;
    std::array::from_fn(|b| {
        if b == 0 {
            lo.saturating_sub(1).min(lo)
        } else {
            (lo as i128 + step * b as i128 - 1).min(hi as i128) as i64
        }
    })
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
        ThreadGroup { size, barrier: std::sync::Barrier::new(size), slots: std::sync::Mutex::new(vec![Vec::new(); size]) }
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
    fn gather_f64(&self, v: &[f64]) -> Option<Vec<Vec<f64>>> {
        let all = self.group.exchange(self.rank, to_bytes(v, f64::to_le_bytes));
        (self.rank == 0).then(|| {
            all.iter()
                .map(|b| b.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect())
                .collect()
        })
    }
    fn gather_i64(&self, v: &[i64]) -> Option<Vec<Vec<i64>>> {
        let all = self.group.exchange(self.rank, to_bytes(v, i64::to_le_bytes));
        (self.rank == 0).then(|| {
            all.iter()
                .map(|b| b.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes"))).collect())
                .collect()
        })
    }
    fn all_gather_i64(&self, v: &[i64]) -> Vec<i64> {
        let all = self.group.exchange(self.rank, to_bytes(v, i64::to_le_bytes));
        all.iter().flat_map(|b| b.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))).collect()
    }
}
