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
//! - **quantiles**: each needed order statistic r is first bracketed by the ranks' own order
//!   statistics (rank i's ⌊r·mᵢ/N⌋-th and (⌈(r + 1)·mᵢ/N⌉ − 1)-th: at most r values lie below
//!   the smallest of the first, at least r + 1 at or below the largest of the second); the keys
//!   below and inside each bracket are counted (one pass) and all-reduced; a bracket still
//!   holding more than [`CANDIDATES`] values is cut into at most 512 sub-intervals of 2^s keys,
//!   counted the same way, and so on. The values left are gathered to rank 0, which selects the
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

/// What one rank's draws give the distributed summary: each series' keys, the sums of each
/// chunk (in chunk order, [`ChunkSums::write_to`]), the target hits and the diagnostics. Made
/// chunk by chunk as the draws finish ([`Local::taker`]), so no row is kept.
#[derive(Debug, Clone)]
pub struct Local {
    /// The draws (from [`rank_range`]).
    pub range: Range<u64>,
    /// Each series' keys (its values as integers that order as `f64::total_cmp`), in draw order.
    pub keys: Vec<Vec<i64>>,
    /// The chunks' sums, flat, in chunk order.
    pub sums: Vec<f64>,
    /// How many draws meet each target.
    pub hits: Vec<u64>,
    /// The draws' diagnostics.
    pub diagnostics: Diagnostics,
}

/// Makes a [`Local`] from a run's rows in draw order, a chunk at a time (a
/// [`super::partial::TakeRows`] for [`super::partial::InOrder`]).
pub struct Taker<'a> {
    layout: Layout,
    targets: &'a [Target],
    local: Local,
}

impl Local {
    /// A taker of draws `range`'s rows, for `layout` and `targets`.
    pub fn taker(range: Range<u64>, layout: Layout, targets: &[Target]) -> Taker<'_> {
        let m = (range.end - range.start) as usize;
        Taker {
            layout,
            targets,
            local: Local {
                range,
                keys: (0..layout.len()).map(|_| Vec::with_capacity(m)).collect(),
                sums: Vec::new(),
                hits: vec![0; targets.len()],
                diagnostics: Diagnostics::default(),
            },
        }
    }

    /// The [`Local`] of draws `range` whose rows are `rows` (row-major), as a run gives them.
    pub fn of_rows(
        range: Range<u64>,
        rows: &[f64],
        diagnostics: Diagnostics,
        layout: Layout,
        targets: &[Target],
    ) -> Local {
        use super::partial::TakeRows;
        let mut t = Local::taker(range, layout, targets);
        for c in rows.chunks(CHUNK as usize * layout.len()) {
            t.take(c).expect("in memory");
        }
        t.finish(diagnostics).expect("in memory")
    }
}

impl super::partial::TakeRows for Taker<'_> {
    type Output = Local;

    /// One chunk of rows (the runner hands them over a chunk at a time).
    fn take(&mut self, rows: &[f64]) -> std::io::Result<()> {
        let width = self.layout.len();
        let mut s = ChunkSums::new(width);
        s.push_rows(rows);
        s.write_to(&mut self.local.sums);
        for row in rows.chunks_exact(width) {
            count_hits(&self.layout, self.targets, |j| row[j], &mut self.local.hits);
        }
        for (j, v) in self.local.keys.iter_mut().enumerate() {
            v.extend(rows.chunks_exact(width).map(|row| total_key(row[j])));
        }
        Ok(())
    }

    fn finish(mut self, diagnostics: Diagnostics) -> std::io::Result<Local> {
        self.local.diagnostics = diagnostics;
        Ok(self.local)
    }
}

/// The summary of `n` draws spread over the ranks of `coll`, each rank giving what its draws
/// gave (`local`): `Some` on rank 0 (the same [`Summary`] as a single run's), `None` elsewhere.
/// Every rank must call it (the collectives match).
pub fn summarise(
    local: Local,
    layout: Layout,
    targets: &[Target],
    n: u64,
    coll: &dyn Collective,
) -> Option<Summary> {
    let width = layout.len();
    let m = (local.range.end - local.range.start) as usize;
    assert!(local.keys.len() == width && local.keys.iter().all(|v| v.len() == m), "every series' keys");

    // Counts: integers, all-reduced.
    let mut counts = local.hits.clone();
    counts.extend_from_slice(&local.diagnostics.0);
    coll.all_reduce_sum(&mut counts);
    let (hits, diags) = counts.split_at(targets.len());
    let diagnostics = Diagnostics(diags.try_into().expect("the diagnostics' counts"));

    // Chunk sums, gathered and folded in chunk order on rank 0.
    let moments = coll.gather_f64(&local.sums).map(|parts| {
        let mut moments = Moments::new(width);
        for p in parts {
            for c in p.chunks(ChunkSums::flat_len(width)) {
                moments.absorb(&ChunkSums::read_from(c));
            }
        }
        moments
    });
    let keys = local.keys;
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
    // Round 1: each needed rank r is bracketed by the ranks' own order statistics: with mᵢ draws
    // on rank i, its order statistics lᵢ = ⌊r·mᵢ/N⌋ and hᵢ = ⌈(r + 1)·mᵢ/N⌉ − 1. At most Σ lᵢ ≤ r
    // values lie below the smallest key(lᵢ), and at least Σ (hᵢ + 1) ≥ r + 1 at or below the
    // largest key(hᵢ): the r-th value lies between the two.
    let local: Vec<i64> = keys
        .par_iter()
        .map_init(Vec::new, |scratch, v| {
            let mm = v.len() as u128;
            if mm == 0 {
                return [i64::MAX, i64::MIN].repeat(nr);
            }
            let at = |r: u64| {
                let l = (r as u128 * mm / n as u128) as usize;
                let h = ((r as u128 + 1) * mm).div_ceil(n as u128) as usize - 1;
                (l, h)
            };
            let mut want: Vec<usize> = ranks.iter().flat_map(|&r| <[usize; 2]>::from(at(r))).collect();
            want.sort_unstable();
            want.dedup();
            let mut got = vec![0i64; want.len()];
            crate::stats::quantile::select_ranks_of_parts(&[v], &want, &mut got, scratch);
            let key = |k: usize| got[want.binary_search(&k).expect("selected")];
            ranks
                .iter()
                .flat_map(|&r| {
                    let (l, h) = at(r);
                    [key(l), key(h)]
                })
                .collect()
        })
        .flatten()
        .collect();
    let all = coll.all_gather_i64(&local);
    // Per (series, needed rank): the interval [lo, hi] that holds it.
    let mut state: Vec<(i64, i64, u64, u64)> = (0..width * nr)
        .map(|i| {
            let (lo, hi) = all
                .chunks(2 * width * nr)
                .fold((i64::MAX, i64::MIN), |(lo, hi), e| (lo.min(e[2 * i]), hi.max(e[2 * i + 1])));
            (lo, hi, 0, 0)
        })
        .collect();
    // The values below each interval and in it, counted over the ranks: one pass over a series'
    // keys, each placed among the series' sorted interval ends.
    let mut c: Vec<u64> = (0..width)
        .into_par_iter()
        .flat_map_iter(|j| {
            let s = &state[j * nr..(j + 1) * nr];
            let mut ends: Vec<i64> =
                s.iter().flat_map(|&(lo, hi, _, _)| [lo, hi.saturating_add(1)]).collect();
            ends.sort_unstable();
            ends.dedup();
            // seg[p]: keys with exactly p ends at or below them.
            let mut seg = vec![0u64; ends.len() + 1];
            for &x in &keys[j] {
                seg[ends.partition_point(|&e| e <= x)] += 1;
            }
            // Keys below end e (one of `ends`, at q): those with at most q ends at or below them.
            let upto = |e: i64| -> u64 { seg[..=ends.partition_point(|&f| f < e)].iter().sum() };
            s.iter()
                .flat_map(|&(lo, hi, _, _)| {
                    let below = upto(lo);
                    let through = upto(hi.saturating_add(1));
                    [below, through - below]
                })
                .collect::<Vec<u64>>()
        })
        .collect();
    coll.all_reduce_sum(&mut c);
    for (st, cnt) in state.iter_mut().zip(c.chunks(2)) {
        (st.2, st.3) = (cnt[0], cnt[1]);
    }
    // Further rounds, for the intervals still holding many values: NARROW sub-intervals each.
    let active = |s: &(i64, i64, u64, u64)| s.3 > CANDIDATES && s.0 < s.1;
    for _round in 0..16 {
        let live: Vec<usize> = (0..state.len()).filter(|&i| active(&state[i])).collect();
        if live.is_empty() {
            break;
        }
        // The live intervals by series, each series' counts in one pass over its keys.
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
                for &x in &keys[*j] {
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
                for &x in &keys[j] {
                    for u in containing(&uniq, span, x) {
                        found[u].push(x);
                    }
                }
            }
            let lists = of.iter().map(|&u| &found[u]);
            let mut out = Vec::new();
            for l in lists {
                out.push(l.len() as i64);
                out.extend_from_slice(l);
            }
            out
        })
        .collect();
    drop(keys);
    let mine: Vec<i64> = per_series.concat();
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

/// The distinct intervals of `slots` (indices into `state`), sorted; each slot's index among
/// them; and the longest one's length − 1 (so that [`containing`] knows how far back to look).
#[allow(clippy::type_complexity)]
fn distinct(slots: &[usize], state: &[(i64, i64, u64, u64)]) -> (Vec<(i64, i64)>, Vec<usize>, i64) {
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
    fn gather_f64(&self, v: &[f64]) -> Option<Vec<Vec<f64>>> {
        let all = self.group.exchange(self.rank, to_bytes(v, f64::to_le_bytes));
        (self.rank == 0).then(|| {
            all.iter()
                .map(|b| {
                    b.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect()
                })
                .collect()
        })
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
        for size in [1, 3, 4] {
            let group = ThreadGroup::new(size);
            let got = std::thread::scope(|s| {
                let handles: Vec<_> = (0..size)
                    .map(|rank| {
                        let range = rank_range(n, size, rank);
                        let part = &rows[range.start as usize * width..range.end as usize * width];
                        let local = Local::of_rows(range, part, Diagnostics::default(), layout, &[]);
                        let group = &group;
                        s.spawn(move || summarise(local, layout, &[], n, &group.rank(rank)))
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).next().unwrap().unwrap()
            });
            for j in 0..width {
                let mut col: Vec<f64> = (0..n as usize).map(|k| rows[k * width + j]).collect();
                let want = quantiles_type7(&mut col, &PROBS);
                let same = want.iter().zip(&got.stats[j].q).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{size} ranks, position {j}: {:?} vs {want:?}", got.stats[j].q);
            }
        }
    }
}
