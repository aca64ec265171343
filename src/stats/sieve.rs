//! Exact quantiles of a stream of draws without keeping every draw.
//!
//! A run that keeps every outcome needs draws × values × 8 bytes (2 GB at 100 000 baseline
//! draws). The quantiles need only the order statistics at a few ranks, so each series keeps
//! only the values in a few key intervals around its current quantile estimates ("brackets"), and
//! counts the values that fall between the brackets:
//!
//! 1. The first stage keeps everything (one interval holding every key).
//! 2. At the end of each stage (the draws so far, m, double from stage to stage), the exact
//!    quantiles of the m draws are found from the counts and the kept values, and each bracket
//!    shrinks to the ranks within `z · √(m·p·(1 − p))` (+ a few) of them: about
//!    `2z·Σ√(p(1−p))/√m` of the draws stay (0.09 at m = 100 000, z = 5). Kept values outside the
//!    new brackets become counts.
//! 3. At the end, each needed rank is found in its bracket and selected there: the same order
//!    statistic, bit for bit, as selection over the whole series.
//!
//! A bracket is wide enough that the sample quantile leaves it with probability far below 1e-12
//! (at z = 5 the bracket is 7 standard deviations of the quantile's drift from m to 2m draws).
//! Should it happen, the series is marked and the caller gathers that series again in full:
//! the result is exact in every case, only slower in that one.
//!
//! Keys are the integers that order like `f64::total_cmp`, so NaN, −0 and infinities have their
//! places as in [`super::quantile`].

use super::PROBS;
use super::quantile::{from_key, select_ranks_of_parts, total_key, type7_interpolate, type7_ranks};
use crate::isa::Isa;
use rayon::prelude::*;

/// Number of probabilities, hence of brackets per series at most.
const NP: usize = PROBS.len();
/// Counting slots per series: the gaps before, between and after the brackets, and the brackets.
const SLOTS: usize = 2 * NP + 1;
/// Bounds per series: a low and a high bound per bracket.
const NB: usize = 2 * NP;
/// The largest key classified as itself; `i64::MAX` (one NaN payload) is classified as this.
const TOP: i64 = i64::MAX - 1;
/// Ranks added on each side of a bracket beyond `z` standard deviations.
const SLACK: f64 = 4.0;

/// Where each series keeps values: up to `NP` (9) disjoint key intervals, stored as sorted bounds
/// `[lo₀, hi₀ + 1, lo₁, hi₁ + 1, …]` padded with `i64::MAX`, so that the number of bounds at or
/// below a key is its slot (even: a gap, odd: a bracket).
#[derive(Debug, Clone)]
pub struct Brackets {
    bounds: Vec<[i64; NB]>,
}

impl Brackets {
    /// One interval holding every key, for each of `width` series.
    pub fn everything(width: usize) -> Self {
        let mut b = [i64::MAX; NB];
        b[0] = i64::MIN;
        Brackets { bounds: vec![b; width] }
    }

    /// The bounds of series `j` that count for some key (see [`active`]).
    fn active(&self, j: usize) -> &[i64] {
        active(&self.bounds[j])
    }

    /// For each bracket of series `j`, its one key if it holds only one (then only its count is
    /// kept); `None` for a bracket of several keys and past the last bracket.
    fn points(&self, j: usize) -> [Option<i64>; NP] {
        let mut p = [None; NP];
        for (o, (lo, hi)) in p.iter_mut().zip(self.intervals(j)) {
            if is_point(lo, hi) {
                *o = Some(lo);
            }
        }
        p
    }

    /// The brackets of series `j` as inclusive (lo, hi) key pairs.
    fn intervals(&self, j: usize) -> impl Iterator<Item = (i64, i64)> + '_ {
        let b = &self.bounds[j];
        // A high bound of i64::MAX stands for hi = i64::MAX (see `set`).
        (0..NP)
            .take_while(move |t| b[2 * *t] != i64::MAX)
            .map(move |t| (b[2 * t], if b[2 * t + 1] == i64::MAX { i64::MAX } else { b[2 * t + 1] - 1 }))
    }

    fn set(&mut self, j: usize, intervals: &[(i64, i64)]) {
        self.bounds[j] = encode(intervals);
    }
}

/// The bounds of brackets given as inclusive (lo, hi) key pairs, in order.
fn encode(intervals: &[(i64, i64)]) -> [i64; NB] {
    let mut b = [i64::MAX; NB];
    for (t, &(lo, hi)) in intervals.iter().enumerate() {
        // A bracket's low bound is at most TOP and its high bound is not TOP, so that
        // classifying i64::MAX as TOP puts it where it belongs.
        b[2 * t] = lo.min(TOP);
        b[2 * t + 1] = if hi >= TOP { i64::MAX } else { hi + 1 };
    }
    b
}

/// The bounds that count for some key: those below `i64::MAX`. A bound of `i64::MAX` stands for
/// "above every key" (see [`encode`]); the others are at most TOP, so a key of `i64::MAX`
/// compares with them as TOP would.
fn active(b: &[i64; NB]) -> &[i64] {
    &b[..b.iter().take_while(|&&x| x != i64::MAX).count()]
}

/// Which slots keep their keys: brackets of more than one key.
fn keep_mask(points: &[Option<i64>; NP], brackets: usize) -> u32 {
    (0..brackets).filter(|&t| points[t].is_none()).fold(0, |m, t| m | 1 << (2 * t + 1))
}

/// The number of keys in the slots that `keep` keeps ([`keep_mask`]), from the slot counts.
fn kept_in(keep: u32, counts: &[u64; SLOTS]) -> usize {
    (0..SLOTS).filter(|&s| (keep >> s) & 1 == 1).map(|s| counts[s] as usize).sum()
}

/// Slot counts of `n` keys from the numbers of keys at or above each of the `bounds` bounds.
fn slot_counts(n: u64, ge: &[u64; NB], bounds: usize) -> [u64; SLOTS] {
    let mut c = [0; SLOTS];
    let mut above = n;
    for (s, &g) in ge[..bounds].iter().enumerate() {
        c[s] = above - g;
        above = g;
    }
    c[bounds] = above;
    c
}

/// One thread's share of a stage: counts per slot and the bracketed keys (of every bracket,
/// in arrival order: one growing buffer per series keeps the writes of a draw close together).
#[derive(Debug)]
pub struct Sieve {
    counts: Vec<[u32; SLOTS]>,
    kept: Vec<Tail>,
    /// Scratch: the keys of [`GATHER`] series of a block of draws, series-major.
    cols: Vec<i64>,
    /// Scratch: the slot of each key of one series.
    pos: Vec<i64>,
    /// The compiled version of the kernels (the same slots and keys in each).
    isa: Isa,
}

/// A buffer written without a branch on whether the value is kept: the key is always written
/// after the last kept one, and the length grows only when it is kept.
#[derive(Debug, Default)]
struct Tail {
    buf: Vec<i64>,
    len: usize,
}

impl Sieve {
    /// An empty sieve for the series of `store`, with room for `share` (a fraction) of the values
    /// each series kept so far, and for `room` values at least.
    pub fn new(store: &Store, share: f64, room: usize) -> Self {
        let kept = store
            .kept
            .iter()
            .map(|v| Tail { buf: vec![0; ((v.len() as f64 * share) as usize).max(room)], len: 0 })
            .collect();
        let counts = vec![[0; SLOTS]; store.counts.len()];
        Sieve { counts, kept, cols: Vec::new(), pos: Vec::new(), isa: store.isa }
    }

    /// Sort one draw's values into their slots.
    pub fn push_row(&mut self, br: &Brackets, row: &[f64]) {
        self.push_rows(br, row, row.len());
    }

    /// Sort a block of draws (row-major, `width` values each) into their slots, series by series:
    /// a series' bounds, counts and buffer are touched once per block, and the slots of a
    /// series' keys are found side by side (vectorised where the processor has AVX2).
    pub fn push_rows(&mut self, br: &Brackets, rows: &[f64], width: usize) {
        let (n, isa) = (rows.len() / width, self.isa);
        self.cols.resize(GATHER * n, 0);
        self.pos.resize(n, 0);
        for j0 in (0..width).step_by(GATHER) {
            let g = GATHER.min(width - j0);
            let done = if g == GATHER { transposed_keys(isa, rows, width, j0, n, &mut self.cols) } else { 0 };
            for (r, row) in rows.chunks_exact(width).enumerate().skip(done) {
                for (i, x) in row[j0..j0 + g].iter().enumerate() {
                    self.cols[i * n + r] = total_key(*x);
                }
            }
            for i in 0..g {
                let j = j0 + i;
                let keys = &self.cols[i * n..(i + 1) * n];
                let bounds = br.active(j);
                let mut ge = [0u64; NB];
                slots(isa, bounds, keys, &mut self.pos, &mut ge);
                let added = slot_counts(n as u64, &ge, bounds.len());
                for (c, add) in self.counts[j].iter_mut().zip(added) {
                    *c += add as u32;
                }
                // A bracket of one key needs only its count.
                let keep = keep_mask(&br.points(j), bounds.len().div_ceil(2));
                if keep == 0 {
                    continue;
                }
                // The kept keys go straight to the end of the series' buffer, which the counts
                // say how far to grow (with room for one vector of keys past them: the vector
                // version writes whole vectors).
                let w = kept_in(keep, &added);
                let t = &mut self.kept[j];
                let end = t.len + w + PICK_SLACK;
                if t.buf.len() < end {
                    t.buf.resize(end + t.len / 4, 0);
                }
                let picked = pick(isa, keys, &self.pos[..n], keep, &mut t.buf[t.len..end]);
                debug_assert_eq!(picked, w);
                t.len += w;
            }
        }
    }
}

/// Series gathered together by [`Sieve::push_rows`] (one cache line of each row).
const GATHER: usize = 8;
/// Room [`pick`] needs past the keys it keeps.
const PICK_SLACK: usize = 8;

/// The keys whose slot (`pos`) is set in `keep`, in order, into the front of `dst` (which has
/// [`PICK_SLACK`] more room than that: what lies past the kept keys is overwritten); their
/// number. Without a branch: a key is written after the last kept one either way, and the count
/// grows only when it is kept; eight at a time where the processor has AVX-512.
fn pick(isa: Isa, keys: &[i64], pos: &[i64], keep: u32, dst: &mut [i64]) -> usize {
    match isa {
        // SAFETY: the processor has AVX-512 F (checked in the guard).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if Isa::Avx512.available() => unsafe { pick_avx512(keys, pos, keep, dst) },
        _ => pick_from(keys, pos, keep, dst, 0, 0),
    }
}

/// [`pick`] of keys `x..` one at a time, `w` kept so far.
#[inline(always)]
fn pick_from(keys: &[i64], pos: &[i64], keep: u32, dst: &mut [i64], x: usize, mut w: usize) -> usize {
    let last = dst.len() - 1;
    for (&key, &s) in keys[x..].iter().zip(&pos[x..]) {
        dst[w.min(last)] = key;
        w += ((keep >> s) & 1) as usize;
    }
    w
}

/// [`pick`] with AVX-512: per eight keys, the kept ones compressed to the front of a vector,
/// which is stored whole after the last kept key.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn pick_avx512(keys: &[i64], pos: &[i64], keep: u32, dst: &mut [i64]) -> usize {
    use std::arch::x86_64::{
        _mm512_loadu_si512, _mm512_maskz_compress_epi64, _mm512_set1_epi64, _mm512_srlv_epi64,
        _mm512_storeu_si512, _mm512_test_epi64_mask,
    };
    let n = keys.len().min(pos.len());
    let (mask, one) = (_mm512_set1_epi64(i64::from(keep)), _mm512_set1_epi64(1));
    let (mut x, mut w) = (0, 0);
    while x + 8 <= n {
        // The kept keys number at most dst.len() − PICK_SLACK in all, so w + 8 ≤ dst.len().
        assert!(w + 8 <= dst.len(), "room for a vector past the kept keys");
        // SAFETY: x + 8 ≤ n, the length of keys and pos; w + 8 ≤ dst.len() (asserted); unaligned
        // loads and stores.
        unsafe {
            let k = _mm512_loadu_si512(keys.as_ptr().add(x).cast());
            let s = _mm512_loadu_si512(pos.as_ptr().add(x).cast());
            let m = _mm512_test_epi64_mask(_mm512_srlv_epi64(mask, s), one);
            _mm512_storeu_si512(dst.as_mut_ptr().add(w).cast(), _mm512_maskz_compress_epi64(m, k));
            w += m.count_ones() as usize;
        }
        x += 8;
    }
    pick_from(keys, pos, keep, dst, x, w)
}

/// The keys of values `j0..j0 + GATHER` of the first rows of `rows` (`n` rows of `width`), series
/// by series, into `cols` (`cols[i·n + r]`, as [`Sieve::push_rows`] lays them out), eight rows
/// at a time where the processor has AVX-512; the number of rows done (the caller does the
/// rest one by one).
fn transposed_keys(isa: Isa, rows: &[f64], width: usize, j0: usize, n: usize, cols: &mut [i64]) -> usize {
    match isa {
        // SAFETY: the processor has AVX-512 F (checked in the guard).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if Isa::Avx512.available() => unsafe { transposed_keys_avx512(rows, width, j0, n, cols) },
        _ => 0,
    }
}

/// [`transposed_keys`] with AVX-512: eight rows' eight values loaded, transposed in registers
/// ([`super::transpose::transpose8`]), made keys ([`total_key`]) and stored as eight series' runs.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn transposed_keys_avx512(rows: &[f64], width: usize, j0: usize, n: usize, cols: &mut [i64]) -> usize {
    use super::transpose::transpose8;
    use std::arch::x86_64::{
        __m512i, _MM_HINT_T0, _mm_prefetch, _mm512_loadu_si512, _mm512_srai_epi64, _mm512_srli_epi64,
        _mm512_storeu_si512, _mm512_xor_si512,
    };
    assert!(j0 + GATHER <= width && rows.len() >= n * width && cols.len() >= GATHER * n);
    // The key of each lane: the bits, with the others flipped where the sign is set.
    let key = |b: __m512i| _mm512_xor_si512(b, _mm512_srli_epi64::<1>(_mm512_srai_epi64::<63>(b)));
    let mut r = 0;
    while r + 8 <= n {
        // SAFETY: rows r..r + 8 hold values j0..j0 + 8 (asserted above), and the stores go to
        // cols[i·n + r..i·n + r + 8] for i < 8, inside cols; unaligned loads and stores.
        unsafe {
            let p = rows.as_ptr().add(r * width + j0);
            if j0 + 2 * GATHER <= width {
                for k in 0..8 {
                    _mm_prefetch::<_MM_HINT_T0>(p.add(k * width + GATHER).cast());
                    _mm_prefetch::<_MM_HINT_T0>(p.add(k * width + 2 * GATHER - 1).cast());
                }
            }
            let a: [__m512i; 8] = std::array::from_fn(|k| _mm512_loadu_si512(p.add(k * width).cast()));
            let c = transpose8(a);
            for (i, ci) in c.into_iter().enumerate() {
                _mm512_storeu_si512(cols.as_mut_ptr().add(i * n + r).cast(), key(ci));
            }
        }
        r += 8;
    }
    r
}

/// The slot of each key: the number of `bounds` at or below it, into `pos`; and for each bound,
/// the number of keys at or above it, into `ge` (the first `bounds.len()` entries). `bounds` are
/// the active ones (all below `i64::MAX`), so a key of `i64::MAX` counts as TOP would. Keys go
/// eight at a time through every bound, counting the bounds above each key ([`above_eight`]);
/// then [`slot_histogram`] gives the numbers at or above each bound.
#[inline(always)]
fn slots_inner(bounds: &[i64], keys: &[i64], pos: &mut [i64], ge: &mut [u64; NB]) {
    let n = keys.len();
    let pos = &mut pos[..n];
    let mut kc = keys.chunks_exact(8);
    let mut pc = pos.chunks_exact_mut(8);
    for (p, k) in (&mut pc).zip(&mut kc) {
        above_eight(bounds, k.try_into().expect("eight keys"), p.try_into().expect("eight slots"));
    }
    for (p, &x) in pc.into_remainder().iter_mut().zip(kc.remainder()) {
        *p = slot_of(bounds, x);
    }
    slot_histogram(pos, bounds.len(), ge);
}

/// The slot of one key (the keys past the last whole group of eight).
#[inline(always)]
fn slot_of(bounds: &[i64], key: i64) -> i64 {
    bounds.iter().filter(|&&b| b <= key).count() as i64
}

/// The slots of eight keys: `nb − #(bounds above the key)`, counted in i64 lanes.
#[inline(always)]
fn above_eight(bounds: &[i64], k: &[i64; 8], p: &mut [i64; 8]) {
    let mut above = [0i64; 8];
    for &b in bounds {
        for (a, &x) in above.iter_mut().zip(k) {
            *a += i64::from(b > x);
        }
    }
    let nb = bounds.len() as i64;
    for (o, a) in p.iter_mut().zip(above) {
        *o = nb - a;
    }
}

/// `ge[b]` = the number of slots above b, for b < `nb`: a histogram of the slots in eight
/// independent copies (consecutive keys mostly share a slot, and one copy would make each
/// increment wait for the one before), summed from the top.
#[inline(always)]
fn slot_histogram(pos: &[i64], nb: usize, ge: &mut [u64; NB]) {
    let mut hist = [[0u32; SLOTS]; 8];
    let mut chunks = pos.chunks_exact(8);
    for c in &mut chunks {
        for (h, &s) in hist.iter_mut().zip(c) {
            h[(s as usize).min(SLOTS - 1)] += 1;
        }
    }
    for &s in chunks.remainder() {
        hist[0][(s as usize).min(SLOTS - 1)] += 1;
    }
    let mut at_or_above = 0u64;
    for s in (1..=nb).rev() {
        at_or_above += hist.iter().map(|h| u64::from(h[s])).sum::<u64>();
        ge[s - 1] = at_or_above;
    }
}

/// [`slots_inner`] with AVX2 intrinsics for [`above_eight`] (the compiler's version reduced
/// across bounds instead): per bound, a broadcast and a compare and subtract per four keys.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn slots_avx2(bounds: &[i64], keys: &[i64], pos: &mut [i64], ge: &mut [u64; NB]) {
    use std::arch::x86_64::{
        _mm256_cmpgt_epi64, _mm256_loadu_si256, _mm256_set1_epi64x, _mm256_setzero_si256,
        _mm256_storeu_si256, _mm256_sub_epi64,
    };
    let n = keys.len();
    let pos = &mut pos[..n];
    let nb = _mm256_set1_epi64x(bounds.len() as i64);
    let mut x = 0;
    while x + 8 <= n {
        // SAFETY: x + 8 ≤ n = keys.len() = pos.len(); unaligned loads and stores.
        unsafe {
            let k0 = _mm256_loadu_si256(keys.as_ptr().add(x).cast());
            let k1 = _mm256_loadu_si256(keys.as_ptr().add(x + 4).cast());
            let (mut a0, mut a1) = (_mm256_setzero_si256(), _mm256_setzero_si256());
            for &b in bounds {
                let bv = _mm256_set1_epi64x(b);
                // A compare gives −1 where the bound is above the key.
                a0 = _mm256_sub_epi64(a0, _mm256_cmpgt_epi64(bv, k0));
                a1 = _mm256_sub_epi64(a1, _mm256_cmpgt_epi64(bv, k1));
            }
            _mm256_storeu_si256(pos.as_mut_ptr().add(x).cast(), _mm256_sub_epi64(nb, a0));
            _mm256_storeu_si256(pos.as_mut_ptr().add(x + 4).cast(), _mm256_sub_epi64(nb, a1));
        }
        x += 8;
    }
    finish_slots(bounds, keys, pos, x, ge);
}

/// [`slots_inner`] with AVX-512 intrinsics for [`above_eight`]: per bound, a broadcast, and a
/// compare into a mask and a masked increment per eight keys (half the operations per key of
/// [`slots_avx2`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn slots_avx512(bounds: &[i64], keys: &[i64], pos: &mut [i64], ge: &mut [u64; NB]) {
    use std::arch::x86_64::{
        _mm512_cmpgt_epi64_mask, _mm512_loadu_si512, _mm512_mask_add_epi64, _mm512_set1_epi64,
        _mm512_setzero_si512, _mm512_storeu_si512, _mm512_sub_epi64,
    };
    let n = keys.len();
    let pos = &mut pos[..n];
    let nb = _mm512_set1_epi64(bounds.len() as i64);
    let one = _mm512_set1_epi64(1);
    let mut x = 0;
    while x + 16 <= n {
        // SAFETY: x + 16 ≤ n = keys.len() = pos.len(); unaligned loads and stores.
        unsafe {
            let k0 = _mm512_loadu_si512(keys.as_ptr().add(x).cast());
            let k1 = _mm512_loadu_si512(keys.as_ptr().add(x + 8).cast());
            let (mut a0, mut a1) = (_mm512_setzero_si512(), _mm512_setzero_si512());
            for &b in bounds {
                let bv = _mm512_set1_epi64(b);
                // One more bound above the key in each lane where the bound is greater.
                a0 = _mm512_mask_add_epi64(a0, _mm512_cmpgt_epi64_mask(bv, k0), a0, one);
                a1 = _mm512_mask_add_epi64(a1, _mm512_cmpgt_epi64_mask(bv, k1), a1, one);
            }
            _mm512_storeu_si512(pos.as_mut_ptr().add(x).cast(), _mm512_sub_epi64(nb, a0));
            _mm512_storeu_si512(pos.as_mut_ptr().add(x + 8).cast(), _mm512_sub_epi64(nb, a1));
        }
        x += 16;
    }
    finish_slots(bounds, keys, pos, x, ge);
}

/// The vector versions' last part: the slots of the keys from `x` on (fewer than a vector's
/// worth), one at a time, then the counts at or above each bound.
#[inline(always)]
fn finish_slots(bounds: &[i64], keys: &[i64], pos: &mut [i64], x: usize, ge: &mut [u64; NB]) {
    for (p, &k) in pos[x..].iter_mut().zip(&keys[x..]) {
        *p = slot_of(bounds, k);
    }
    slot_histogram(pos, bounds.len(), ge);
}

/// [`slots_inner`] compiled for `isa` (the result is the same integers either way).
fn slots(isa: Isa, bounds: &[i64], keys: &[i64], pos: &mut [i64], ge: &mut [u64; NB]) {
    match isa {
        // SAFETY: the processor has AVX-512 F (checked in the guard).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if Isa::Avx512.available() => unsafe { slots_avx512(bounds, keys, pos, ge) },
        // SAFETY: the processor has AVX2 (checked in the guard).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Avx512 if Isa::Avx2.available() => unsafe { slots_avx2(bounds, keys, pos, ge) },
        _ => slots_inner(bounds, keys, pos, ge),
    }
}

/// One series' part of a [`Store`] ([`Store::series`]).
type SeriesParts<'a> = (((&'a [u64; SLOTS], &'a mut Vec<i64>), &'a mut Vec<Vec<i64>>), &'a bool);

/// The stages' counts and kept keys merged, per series.
#[derive(Debug)]
pub struct Store {
    /// Draws absorbed.
    n: u64,
    counts: Vec<[u64; SLOTS]>,
    /// Kept keys, grouped by bracket after each rebracketing.
    kept: Vec<Vec<i64>>,
    /// Keys absorbed since, as the sieves left them (moved, not copied).
    pending: Vec<Vec<Vec<i64>>>,
    failed: Vec<bool>,
    /// The compiled version of the kernels, which the sieves of its stages use too.
    isa: Isa,
}

impl Store {
    /// An empty store for `width` series, its kernels in the compiled version `isa`.
    pub fn new(width: usize, isa: Isa) -> Self {
        Store {
            isa,
            n: 0,
            counts: vec![[0; SLOTS]; width],
            kept: vec![Vec::new(); width],
            pending: vec![Vec::new(); width],
            failed: vec![false; width],
        }
    }

    /// Add the sieves of a stage that ran `draws` draws (their buffers move into the store).
    pub fn absorb(&mut self, sieves: Vec<Sieve>, draws: u64) {
        self.n += draws;
        self.counts.par_iter_mut().enumerate().for_each(|(j, c)| {
            for s in &sieves {
                for (a, b) in c.iter_mut().zip(&s.counts[j]) {
                    *a += u64::from(*b);
                }
            }
        });
        for s in sieves {
            for (pending, t) in self.pending.iter_mut().zip(s.kept) {
                let mut buf = t.buf;
                buf.truncate(t.len);
                if !buf.is_empty() {
                    pending.push(buf);
                }
            }
        }
    }

    /// Shrink every series' brackets to `z` standard deviations around its current quantiles.
    pub fn rebracket(&mut self, br: &mut Brackets, z: f64) {
        let (m, isa) = (self.n, self.isa);
        let old = &*br;
        let new: Vec<Option<Vec<(i64, i64)>>> = self
            .counts
            .par_iter_mut()
            .zip(self.kept.par_iter_mut())
            .zip(self.pending.par_iter_mut())
            .zip(self.failed.par_iter_mut())
            .enumerate()
            .map_init(
                || (Vec::new(), Vec::new()),
                |(pos, scratch), (j, (((c, kept), pending), failed))| {
                    if *failed {
                        return None;
                    }
                    let r = rebracket_one(isa, m, z, old, j, c, kept, pending, pos, scratch);
                    if r.is_none() {
                        *failed = true;
                        *c = [0; SLOTS];
                        c[0] = m;
                        *kept = Vec::new();
                        *pending = Vec::new();
                    }
                    Some(r.unwrap_or_default())
                },
            )
            .collect();
        for (j, iv) in new.iter().enumerate() {
            if let Some(iv) = iv {
                br.set(j, iv);
            }
        }
    }

    /// Each series (numbered) in parallel: its counts, kept keys, keys absorbed since, and
    /// whether it lost a needed rank.
    fn series(&mut self) -> impl IndexedParallelIterator<Item = (usize, SeriesParts<'_>)> {
        self.counts
            .par_iter()
            .zip(self.kept.par_iter_mut())
            .zip(self.pending.par_iter_mut())
            .zip(self.failed.par_iter())
            .enumerate()
    }

    /// The exact type-7 quantiles at [`PROBS`] of every series, `None` for a series whose
    /// brackets lost a needed rank (gather it in full instead).
    pub fn quantiles(&mut self, br: &Brackets) -> Vec<Option<[f64; NP]>> {
        let m = self.n;
        self.series()
            .map_init(Vec::new, |scratch, (j, (((c, kept), pending), failed))| {
                if *failed || m == 0 {
                    return None;
                }
                let (below, lens, points) = (below(c), lens(c), br.points(j));
                let (parts, off) = parts(kept, pending, &lens, &points)?;
                // Each probability's two ranks, local to the bracket that holds them.
                let mut want = Wanted::default();
                let mut local = [(0usize, 0u64, 0u64); NP];
                for (l, &p) in local.iter_mut().zip(&PROBS) {
                    let (lo, hi) = type7_ranks(m as usize, p);
                    let t = home(&below, &lens, lo as u64, hi as u64)?;
                    *l = (t, lo as u64 - below[t], hi as u64 - below[t]);
                    want.add(t, l.1);
                    want.add(t, l.2);
                }
                let keys = want.select(&parts, &off, &points, scratch);
                let mut out = [f64::NAN; NP];
                for ((o, &p), &(t, a, b)) in out.iter_mut().zip(&PROBS).zip(&local) {
                    *o = type7_interpolate(m as usize, p, from_key(keys.get(t, a)), from_key(keys.get(t, b)));
                }
                Some(out)
            })
            .collect()
    }
}

impl Store {
    /// What the sieve kept of each series, for a rank of a distributed run
    /// ([`crate::runner::distributed`]): `None` for a series whose brackets lost a needed rank.
    /// The kept keys move into the windows.
    pub fn windows(&mut self, br: &Brackets) -> Vec<Option<Window>> {
        let n = self.n;
        self.series()
            .map(|(j, (((c, kept), pending), failed))| {
                if *failed {
                    return None;
                }
                let (below, lens, points) = (below(c), lens(c), br.points(j));
                let off = parts(kept, pending, &lens, &points)?.1;
                let mut keys = std::mem::take(kept);
                for p in pending.drain(..) {
                    keys.extend_from_slice(&p);
                }
                let brackets = br
                    .intervals(j)
                    .enumerate()
                    .map(|(t, (lo, hi))| Held {
                        lo,
                        hi,
                        below: below[t],
                        len: lens[t],
                        off: off[t],
                        point: points[t].is_some(),
                    })
                    .collect();
                Some(Window { n, brackets, kept: keys })
            })
            .collect()
    }
}

/// What a sieve kept of one series of `n` values: key intervals ("brackets"), each with the
/// number of values below it and in it, and every key of the brackets of more than one key, in
/// no particular order. It answers, exactly, the questions about order statistics whose keys lie
/// inside one bracket: [`Window::key_at`] and [`Held::count_below`].
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Values in the series.
    pub n: u64,
    /// The brackets, in key order.
    pub brackets: Vec<Held>,
    /// The keys of the brackets that are not points; once sorted, bracket t's are
    /// `off..off + len` of them.
    pub kept: Vec<i64>,
}

/// One bracket of a [`Window`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Held {
    /// Its keys, inclusive.
    pub lo: i64,
    /// See `lo`.
    pub hi: i64,
    /// Values below `lo`.
    pub below: u64,
    /// Values in `lo..=hi`.
    pub len: u64,
    /// Kept keys of the brackets before it.
    pub off: usize,
    /// Whether it holds one key, of which only the count is kept.
    pub point: bool,
}

impl Window {
    /// The window of a whole series: every key in one bracket.
    pub fn full(keys: Vec<i64>) -> Window {
        let n = keys.len() as u64;
        let all = Held { lo: i64::MIN, hi: i64::MAX, below: 0, len: n, off: 0, point: false };
        Window { n, brackets: vec![all], kept: keys }
    }

    /// Where the series' order statistic `k` (0-based) is: `Ok(key)` when its bracket holds one
    /// key, `Err(rank)` when it is that rank of the kept keys (select it there); `None` when no
    /// bracket holds it.
    pub fn key_at(&self, k: u64) -> Option<Result<i64, usize>> {
        let h = self.brackets.iter().find(|h| h.below <= k && k < h.below + h.len)?;
        Some(if h.point { Ok(h.lo) } else { Err(h.off + (k - h.below) as usize) })
    }

    /// The bracket that holds every key of `lo..=hi`, if one does.
    pub fn covering(&self, lo: i64, hi: i64) -> Option<&Held> {
        self.brackets.iter().find(|h| h.lo <= lo && hi <= h.hi)
    }
}

impl Held {
    /// The number of the series' values below key `x` in `lo..=hi + 1`, given the number of
    /// kept keys below it (`kept_below`).
    pub fn count_below(&self, x: i64, kept_below: u64) -> u64 {
        if self.point {
            self.below + if x > self.lo { self.len } else { 0 }
        } else {
            self.below + kept_below - self.off as u64
        }
    }
}

/// The kept keys of a series and the keys absorbed since (`pending`), as one list of parts, in
/// no particular order, and where each bracket's keys would be in their sorted order: brackets
/// are disjoint and in key order, and every key of a bracket of several keys is kept, so once
/// sorted, bracket t's keys are `off[t]..off[t + 1]` with the lengths from the counts (a
/// bracket of one key keeps none). `None` if the keys do not add up to those lengths (never, by
/// construction: the caller then treats the series as lost and gathers it in full).
fn parts<'a>(
    kept: &'a [i64],
    pending: &'a [Vec<i64>],
    lens: &[u64; NP],
    points: &[Option<i64>; NP],
) -> Option<(Vec<&'a [i64]>, [usize; NP + 1])> {
    let parts: Vec<&[i64]> = std::iter::once(kept).chain(pending.iter().map(Vec::as_slice)).collect();
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let mut off = [0; NP + 1];
    for t in 0..NP {
        off[t + 1] = off[t] + if points[t].is_none() { lens[t] as usize } else { 0 };
    }
    (off[NP] == total).then_some((parts, off))
}

/// The number of values below each bracket, from the slot counts.
fn below(c: &[u64; SLOTS]) -> [u64; NP] {
    let mut below = [0; NP];
    let mut acc = 0;
    for (t, b) in below.iter_mut().enumerate() {
        acc += c[2 * t];
        *b = acc;
        acc += c[2 * t + 1];
    }
    below
}

/// Whether a bracket holds one key and keeps only its count (not for the two largest keys, which
/// [`Brackets::set`] widens to `i64::MAX`).
fn is_point(lo: i64, hi: i64) -> bool {
    lo == hi && lo < TOP
}

/// The number of values in each bracket, from the slot counts.
fn lens(c: &[u64; SLOTS]) -> [u64; NP] {
    std::array::from_fn(|t| c[2 * t + 1])
}

/// The bracket holding both ranks, if any.
fn home(below: &[u64; NP], lens: &[u64; NP], lo: u64, hi: u64) -> Option<usize> {
    (0..NP).find(|&t| lens[t] > 0 && below[t] <= lo && hi < below[t] + lens[t])
}

/// Local ranks wanted in each bracket (made increasing and distinct by [`Wanted::select`]).
#[derive(Default)]
struct Wanted {
    ranks: [[u64; 2 * NP + 4]; NP],
    n: [usize; NP],
}

impl Wanted {
    fn add(&mut self, t: usize, r: u64) {
        self.ranks[t][self.n[t]] = r;
        self.n[t] += 1;
    }

    /// Select every wanted rank of every bracket, in one multi-selection over all the kept keys
    /// (`parts`, only read; `scratch` grows as the selection needs): local rank r of bracket t is rank `off[t] + r` of the kept keys
    /// ([`merge`]). A bracket of one key has that key at every rank.
    fn select(
        mut self,
        parts: &[&[i64]],
        off: &[usize; NP + 1],
        points: &[Option<i64>; NP],
        scratch: &mut Vec<i64>,
    ) -> Found {
        let mut found = Found { ranks: [[0; 2 * NP + 4]; NP], keys: [[0; 2 * NP + 4]; NP], n: [0; NP] };
        // Global ranks, increasing (brackets in key order, each's ranks sorted and distinct).
        let mut global = [0usize; NP * (2 * NP + 4)];
        let mut n = 0;
        for t in 0..NP {
            let rs = &mut self.ranks[t][..self.n[t]];
            rs.sort_unstable();
            let mut k = 0;
            for &r in rs.iter() {
                if k == 0 || found.ranks[t][k - 1] != r {
                    found.ranks[t][k] = r;
                    k += 1;
                }
            }
            found.n[t] = k;
            if let Some(v) = points[t] {
                found.keys[t][..k].fill(v);
            } else {
                for &r in &found.ranks[t][..k] {
                    global[n] = off[t] + r as usize;
                    n += 1;
                }
            }
        }
        let mut keys = [0i64; NP * (2 * NP + 4)];
        select_ranks_of_parts(parts, &global[..n], &mut keys[..n], scratch);
        let mut at = 0;
        for t in (0..NP).filter(|&t| points[t].is_none()) {
            let k = found.n[t];
            found.keys[t][..k].copy_from_slice(&keys[at..at + k]);
            at += k;
        }
        found
    }
}

/// Keys found at the wanted ranks.
struct Found {
    ranks: [[u64; 2 * NP + 4]; NP],
    keys: [[i64; 2 * NP + 4]; NP],
    n: [usize; NP],
}

impl Found {
    fn get(&self, t: usize, r: u64) -> i64 {
        let i = self.ranks[t][..self.n[t]].iter().position(|&x| x == r).expect("a wanted rank");
        self.keys[t][i]
    }
}

/// New brackets of series `j` after `m` draws (and its counts and kept keys to match), or `None`
/// when a needed rank is not inside a bracket. `pos` and `scratch` are scratch space.
#[allow(clippy::too_many_arguments)]
fn rebracket_one(
    isa: Isa,
    m: u64,
    z: f64,
    br: &Brackets,
    j: usize,
    c: &mut [u64; SLOTS],
    kept: &mut Vec<i64>,
    pending: &mut Vec<Vec<i64>>,
    pos: &mut Vec<i64>,
    scratch: &mut Vec<i64>,
) -> Option<Vec<(i64, i64)>> {
    let old: Vec<(i64, i64)> = br.intervals(j).collect();
    let (below, lens, points) = (below(c), lens(c), br.points(j));
    let (parts, off) = parts(kept, pending, &lens, &points)?;
    // Each probability's new bracket in ranks, clipped to the bracket that holds its ranks.
    let mut want = Wanted::default();
    let mut plan = [(0usize, 0u64, 0u64, false, false); NP]; // (bracket, a, b, a clipped, b clipped)
    for (i, &p) in PROBS.iter().enumerate() {
        let (lo, hi) = type7_ranks(m as usize, p);
        let t = home(&below, &lens, lo as u64, hi as u64)?;
        let d = (z * (m as f64 * p * (1.0 - p)).sqrt() + SLACK).ceil() as u64;
        let (first, last) = (below[t], below[t] + lens[t] - 1);
        let a = (lo as u64).saturating_sub(d);
        let b = hi as u64 + d;
        let (ca, cb) = (a <= first, b >= last);
        let (a, b) = (a.max(first), b.min(last));
        if !ca {
            want.add(t, a - first);
        }
        if !cb {
            want.add(t, b - first);
        }
        plan[i] = (t, a - first, b - first, ca, cb);
    }
    let keys = want.select(&parts, &off, &points, scratch);
    let mut new: Vec<(usize, i64, i64)> = plan
        .iter()
        .map(|&(t, a, b, ca, cb)| {
            let lo = if ca { old[t].0 } else { keys.get(t, a) };
            let hi = if cb { old[t].1 } else { keys.get(t, b) };
            (t, lo, hi)
        })
        .collect();
    new.sort_unstable_by_key(|&(t, lo, _)| (t, lo));
    let mut merged: Vec<(usize, i64, i64)> = Vec::with_capacity(NP);
    for (t, lo, hi) in new {
        match merged.last_mut() {
            Some(last) if last.0 == t && lo <= last.2 => last.2 = last.2.max(hi),
            _ => merged.push((t, lo, hi)),
        }
    }
    // Classify the kept keys against the new brackets in one pass, keeping those in brackets of
    // more than one key: they go to a new buffer, part by part (the parts are not merged first).
    // Counts that are not kept keys (the old gaps, old brackets of one key) go to the new slot
    // that holds their place: after every new bracket made from an old bracket before them.
    let c_old = *c;
    let iv: Vec<(i64, i64)> = merged.iter().map(|&(_, lo, hi)| (lo, hi)).collect();
    let bounds = encode(&iv);
    let bounds = active(&bounds);
    let new_points: [Option<i64>; NP] =
        std::array::from_fn(|u| iv.get(u).and_then(|&(lo, hi)| is_point(lo, hi).then_some(lo)));
    let keep = keep_mask(&new_points, iv.len());
    let total = off[NP];
    let mut fresh = vec![0; total + PICK_SLACK];
    let (mut ge, mut w) = ([0u64; NB], 0);
    for part in &parts {
        pos.resize(part.len(), 0);
        let mut part_ge = [0u64; NB];
        slots(isa, bounds, part, pos, &mut part_ge);
        let added = slot_counts(part.len() as u64, &part_ge, bounds.len());
        let k = kept_in(keep, &added);
        let picked = pick(isa, part, &pos[..part.len()], keep, &mut fresh[w..w + k + PICK_SLACK]);
        debug_assert_eq!(picked, k);
        w += k;
        for (a, b) in ge.iter_mut().zip(part_ge) {
            *a += b;
        }
    }
    *c = slot_counts(total as u64, &ge, bounds.len());
    let gap_after = |t: usize| 2 * merged.iter().filter(|u| u.0 < t).count();
    for g in 0..=old.len() {
        c[gap_after(g)] += c_old[2 * g];
    }
    for (t, p) in points.iter().enumerate().take(old.len()) {
        if p.is_some() {
            let slot = merged.iter().position(|u| u.0 == t).map_or(gap_after(t), |u| 2 * u + 1);
            c[slot] += lens[t];
        }
    }
    // The new buffer shrunk to its keys (in place: the allocator keeps the front).
    fresh.truncate(w);
    fresh.shrink_to_fit();
    drop(parts);
    *kept = fresh;
    pending.clear();
    Some(iv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::quantile::quantiles_type7;

    /// A xorshift64 generator of test values.
    fn xorshift(mut st: u64) -> impl FnMut() -> u64 {
        move || {
            st ^= st << 13;
            st ^= st >> 7;
            st ^= st << 17;
            st
        }
    }

    #[test]
    fn slots_are_counts_of_bounds_in_every_version() {
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        for round in 0..300 {
            let nb = round % (NB + 1);
            let mut bounds: Vec<i64> = (0..nb).map(|_| (next() % 200) as i64 - 100).collect();
            bounds.sort_unstable();
            let n = round % 37;
            let keys: Vec<i64> = (0..n)
                .map(|i| match i % 9 {
                    0 => i64::MAX,
                    1 => i64::MIN,
                    _ => (next() % 240) as i64 - 120,
                })
                .collect();
            // The definition: a key's slot is the number of bounds at or below it (i64::MAX as
            // TOP); ge[b] the number of keys at or above bound b.
            let want_pos: Vec<i64> =
                keys.iter().map(|&x| bounds.iter().filter(|&&b| b <= x.min(TOP)).count() as i64).collect();
            let want_ge: Vec<u64> =
                bounds.iter().map(|&b| keys.iter().filter(|&&x| x.min(TOP) >= b).count() as u64).collect();
            let mut versions = vec![Isa::Generic];
            versions.extend([Isa::Avx2, Isa::Avx512].into_iter().filter(|v| v.available()));
            for isa in versions {
                let (mut pos, mut ge) = (vec![-1; n], [u64::MAX; NB]);
                slots(isa, &bounds, &keys, &mut pos, &mut ge);
                assert_eq!(pos, want_pos, "round {round} {isa:?}");
                assert_eq!(&ge[..nb], &want_ge[..], "round {round} {isa:?}");
            }
        }
    }

    #[test]
    fn picks_and_transposed_keys_agree_with_their_definitions_in_every_version() {
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let mut versions = vec![Isa::Generic];
        versions.extend([Isa::Avx2, Isa::Avx512].into_iter().filter(|v| v.available()));
        for round in 0..200 {
            // Picks: the keys whose slot is in `keep`, in order, and nothing else changed
            // before them.
            let n = round % 41;
            let keys: Vec<i64> = (0..n).map(|_| next() as i64).collect();
            let pos: Vec<i64> = (0..n).map(|_| (next() % SLOTS as u64) as i64).collect();
            let keep = (next() as u32) & ((1 << SLOTS) - 1);
            let want: Vec<i64> =
                keys.iter().zip(&pos).filter(|&(_, &s)| (keep >> s) & 1 == 1).map(|(&k, _)| k).collect();
            for &isa in &versions {
                let mut dst = vec![7; want.len() + PICK_SLACK];
                assert_eq!(pick(isa, &keys, &pos, keep, &mut dst), want.len(), "round {round} {isa:?}");
                assert_eq!(&dst[..want.len()], &want[..], "round {round} {isa:?}");
            }
            // Transposed keys: cols[i·n + r] is the key of value j0 + i of row r, for the rows
            // a version says it did (and every row of whole groups of eight with AVX-512).
            let (width, rows_n) = (GATHER + round % 13, round % 27);
            let rows: Vec<f64> = (0..rows_n * width)
                .map(|i| match i % 11 {
                    0 => -0.0,
                    1 => f64::NAN,
                    2 => f64::NEG_INFINITY,
                    _ => f64::from_bits(next()),
                })
                .collect();
            let j0 = round % (width - GATHER + 1);
            for &isa in &versions {
                let mut cols = vec![0; GATHER * rows_n];
                let done = transposed_keys(isa, &rows, width, j0, rows_n, &mut cols);
                if isa == Isa::Avx512 {
                    assert_eq!(done, rows_n / 8 * 8, "round {round}");
                }
                for r in 0..done {
                    for i in 0..GATHER {
                        assert_eq!(
                            cols[i * rows_n + r],
                            total_key(rows[r * width + j0 + i]),
                            "round {round} {isa:?}"
                        );
                    }
                }
            }
        }
    }

    /// Stream `cols` (series × draws) through stages doubling from `first`, as the runner does.
    fn stream(cols: &[Vec<f64>], first: usize, z: f64, threads: usize) -> Vec<Option<[f64; NP]>> {
        let (mut store, br) = staged(cols, first, z, threads);
        store.quantiles(&br)
    }

    /// The store and brackets after streaming `cols` as [`stream`] does.
    fn staged(cols: &[Vec<f64>], first: usize, z: f64, threads: usize) -> (Store, Brackets) {
        let width = cols.len();
        let n = cols[0].len();
        let mut br = Brackets::everything(width);
        let mut store = Store::new(width, Isa::widest());
        let (mut start, mut end) = (0, first.min(n));
        loop {
            let mut sieves: Vec<Sieve> = (0..threads).map(|_| Sieve::new(&store, 1.0, 16)).collect();
            for (k, sieve) in (start..end).zip((0..threads).cycle()) {
                let row: Vec<f64> = cols.iter().map(|c| c[k]).collect();
                sieves[sieve].push_row(&br, &row);
            }
            store.absorb(sieves, (end - start) as u64);
            if end == n {
                break;
            }
            store.rebracket(&mut br, z);
            (start, end) = (end, (2 * end).min(n));
        }
        (store, br)
    }

    #[test]
    fn windows_hold_exact_counts_and_every_key_of_their_brackets() {
        // Each bracket's counts against the whole series: the values below it and in it; the
        // kept keys are exactly those of the brackets of more than one key; the questions a
        // window answers agree with the sorted series.
        let mut cols = samples(5000);
        for z in [1.0, 5.0] {
            let (mut store, br) = staged(&cols, 256, z, 3);
            let windows = store.windows(&br);
            assert!(windows.iter().any(|w| w.as_ref().is_some_and(|w| w.brackets.len() > 1)), "z {z}");
            for (j, w) in windows.iter().enumerate() {
                let Some(w) = w else { continue };
                let mut all: Vec<i64> = cols[j].iter().map(|&x| total_key(x)).collect();
                all.sort_unstable();
                assert_eq!(w.n, all.len() as u64);
                let mut want_kept = Vec::new();
                for h in &w.brackets {
                    let below = all.partition_point(|&k| k < h.lo) as u64;
                    let len = all.partition_point(|&k| k <= h.hi) as u64 - below;
                    assert_eq!((h.below, h.len), (below, len), "z {z} series {j} {h:?}");
                    if !h.point {
                        assert_eq!(h.off, want_kept.len(), "z {z} series {j}");
                        want_kept.extend_from_slice(&all[below as usize..(below + len) as usize]);
                    }
                }
                let mut kept = w.kept.clone();
                kept.sort_unstable();
                assert_eq!(kept, want_kept, "z {z} series {j}");
                for k in (0..w.n).step_by(7) {
                    match w.key_at(k) {
                        Some(Ok(key)) => assert_eq!(key, all[k as usize]),
                        Some(Err(r)) => assert_eq!(kept[r], all[k as usize]),
                        None => assert!(w.brackets.iter().all(|h| k < h.below || k >= h.below + h.len)),
                    }
                }
                for h in &w.brackets {
                    for x in [h.lo, h.lo.saturating_add(1), h.hi, h.hi.saturating_add(1)] {
                        if x > h.hi.saturating_add(1) || (h.point && x != h.lo && x != h.lo + 1) {
                            continue;
                        }
                        let kept_below = kept.partition_point(|&k| k < x) as u64;
                        let want = all.partition_point(|&k| k < x) as u64;
                        assert_eq!(h.count_below(x, kept_below), want, "z {z} series {j} {h:?} at {x}");
                    }
                }
            }
        }
        cols.clear();
    }

    fn samples(n: usize) -> Vec<Vec<f64>> {
        use rand::RngExt;
        let mut r = crate::rng::stream(3, crate::rng::purpose("sieve-test"), 0);
        vec![
            (0..n).map(|_| r.random::<f64>() * 100.0 - 50.0).collect(),
            vec![3.25; n],
            (0..n).map(|i| (i % 3) as f64).collect(),
            (0..n).map(|i| if i == 17 { 1e300 } else { r.random::<f64>() }).collect(),
            (0..n).map(|i| if i % 2 == 0 { -0.0 } else { 0.0 }).collect(),
            (0..n)
                .map(|i| match i % 7 {
                    0 => f64::NEG_INFINITY,
                    1 => f64::INFINITY,
                    2 => f64::NAN,
                    3 => f64::from_bits(u64::MAX >> 1), // the NaN whose key is i64::MAX
                    _ => r.random::<f64>() - 0.5,
                })
                .collect(),
            // A drift: the early draws are unlike the late ones, so brackets must follow.
            (0..n).map(|i| i as f64 + r.random::<f64>()).collect(),
            (0..n).map(|i| -((i * 7919 % n) as f64)).collect(),
        ]
    }

    #[test]
    fn streamed_quantiles_equal_selection_over_the_whole_series() {
        for (n, first) in [(1, 4), (5, 4), (100, 8), (3000, 64), (20_000, 256)] {
            let cols = samples(n);
            let got = stream(&cols, first, 5.0, 3);
            for (j, col) in cols.iter().enumerate() {
                let mut all = col.clone();
                let want = quantiles_type7(&mut all, &PROBS);
                let Some(q) = got[j] else {
                    // Only the drifting series may lose its brackets (and be gathered again).
                    assert!(j >= 6, "n={n} series {j} lost a rank");
                    continue;
                };
                for (a, b) in q.iter().zip(&want) {
                    assert_eq!(a.to_bits(), b.to_bits(), "n={n} series {j}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn brackets_shrink_to_a_few_percent_of_the_draws() {
        use rand::RngExt;
        let mut r = crate::rng::stream(4, crate::rng::purpose("sieve-test"), 0);
        let n = 100_000;
        let rows: Vec<[f64; 4]> = (0..n).map(|_| [(); 4].map(|_| r.random::<f64>())).collect();
        let width = 4;
        let mut br = Brackets::everything(width);
        let mut store = Store::new(width, Isa::widest());
        let (mut start, mut end) = (0, 2048);
        while end <= n {
            let mut s = Sieve::new(&store, 1.0, 16);
            for row in rows[start..end].iter() {
                s.push_row(&br, row);
            }
            store.absorb(vec![s], (end - start) as u64);
            store.rebracket(&mut br, 5.0);
            (start, end) = (end, 2 * end);
        }
        let kept: usize = store.kept.iter().map(Vec::len).sum::<usize>() / width;
        let m = store.n as f64;
        // 2·z·Σ√(p(1−p))/√m of the draws, plus the slack ranks.
        let expected = 2.0 * 5.0 * PROBS.iter().map(|p| (p * (1.0 - p)).sqrt()).sum::<f64>() * m.sqrt();
        assert!(
            (kept as f64) < 1.1 * expected + 2.0 * SLACK * NP as f64 + 20.0,
            "kept {kept}, expected {expected}"
        );
        assert!((kept as f64) > 0.8 * expected, "kept {kept}, expected {expected}");
    }

    #[test]
    fn a_bracket_of_one_key_keeps_a_count_not_the_values() {
        // A constant series keeps nothing after a first stage long enough that its brackets do not
        // reach the first stage's open ends (its one bracket then holds one key);
        // one with three values keeps only the brackets that span two keys. Quantiles stay exact.
        let n = 20_000;
        let rows: Vec<[f64; 2]> = (0..n).map(|i| [3.25, (i % 3) as f64]).collect();
        let mut br = Brackets::everything(2);
        let mut store = Store::new(2, Isa::widest());
        let (mut start, mut end) = (0, 4096);
        loop {
            let mut s = Sieve::new(&store, 1.0, 16);
            for row in &rows[start..end] {
                s.push_row(&br, row);
            }
            store.absorb(vec![s], (end - start) as u64);
            if end == n {
                break;
            }
            store.rebracket(&mut br, 5.0);
            assert!(store.kept[0].is_empty(), "constant series: kept after {end} draws");
            assert!(store.kept[1].len() < end / 2, "three values: {} kept of {end}", store.kept[1].len());
            (start, end) = (end, (2 * end).min(n));
        }
        let q = store.quantiles(&br);
        for (j, col) in [vec![3.25; n], (0..n).map(|i| (i % 3) as f64).collect()].iter().enumerate() {
            assert_eq!(q[j], Some(quantiles_type7(&mut col.clone(), &PROBS)), "series {j}");
        }
    }

    #[test]
    fn a_lost_rank_is_reported_not_guessed() {
        // z = 0 with no slack beyond four ranks: a series whose later draws are all larger than the
        // earlier ones moves its quantiles out of the brackets.
        let n = 4096;
        let cols = vec![(0..n).map(|i| i as f64).collect::<Vec<_>>()];
        let got = stream(&cols, 256, 0.0, 2);
        assert!(got[0].is_none());
    }
}
