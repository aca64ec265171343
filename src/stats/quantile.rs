//! Exact quantiles, Hyndman–Fan type 7 (R's default and numpy's `linear`):
//! with the sorted sample x₍₁₎ … x₍ₙ₎ and h = (n − 1)·p, Q(p) = x₍⌊h⌋+1₎ + (h − ⌊h⌋)·(x₍⌊h⌋+2₎ − x₍⌊h⌋+1₎).
//!
//! Only the order statistics that are needed are found, without sorting the series: values are
//! mapped to integer keys ordered as `f64::total_cmp`, counted into 1024 buckets by their high
//! bits (relative to the minimum), and only the buckets that hold a needed rank are gathered and
//! searched again, down to a few hundred values, which are sorted. About three linear passes.

/// Type-7 quantiles of `xs` at increasing probabilities `probs`. NaN for an empty sample. Values
/// are ordered by `f64::total_cmp`.
pub fn quantiles_type7<const K: usize>(xs: &mut [f64], probs: &[f64; K]) -> [f64; K] {
    let mut keys: Vec<i64> = xs.iter().map(|x| total_key(*x)).collect();
    let mut scratch = vec![0; keys.len()];
    quantiles_of_keys(&mut keys, probs, &mut scratch)
}

/// [`quantiles_type7`] of the values whose [`total_key`]s are `keys` (overwritten), with
/// `scratch` space of at least `keys.len()` keys: selection on integer keys that order exactly
/// as `f64::total_cmp` does (cheaper to compare), and no allocation.
pub(crate) fn quantiles_of_keys<const K: usize>(
    keys: &mut [i64],
    probs: &[f64; K],
    scratch: &mut [i64],
) -> [f64; K] {
    let n = keys.len();
    let mut out = [f64::NAN; K];
    if n == 0 {
        return out;
    }
    // Needed ranks, increasing: for each p, ⌊h⌋ and ⌊h⌋ + 1 (capped at n − 1).
    let mut ranks = [0usize; 64];
    assert!(2 * K <= ranks.len(), "at most 32 probabilities");
    let mut nr = 0;
    for &p in probs {
        let (lo, hi) = type7_ranks(n, p);
        for r in [lo, hi] {
            if nr == 0 || ranks[nr - 1] < r {
                ranks[nr] = r;
                nr += 1;
            }
        }
    }
    let mut found = [0i64; 64];
    select_ranks(keys, &ranks[..nr], &mut found[..nr], scratch);
    let at = |r: usize| from_key(found[ranks[..nr].partition_point(|&x| x < r)]);
    for (o, &p) in out.iter_mut().zip(probs) {
        let (lo, hi) = type7_ranks(n, p);
        *o = type7_interpolate(n, p, at(lo), at(hi));
    }
    out
}

/// [`quantiles_of_keys`] of `n` values that are all `x`: every order statistic is `x` (through
/// its key, as there), interpolated by the same formula.
pub(crate) fn quantiles_of_constant<const K: usize>(n: usize, x: f64, probs: &[f64; K]) -> [f64; K] {
    let mut out = [f64::NAN; K];
    if n > 0 {
        let x = from_key(total_key(x));
        for (o, &p) in out.iter_mut().zip(probs) {
            *o = type7_interpolate(n, p, x, x);
        }
    }
    out
}

/// The two order statistics (0-based ranks, increasing) that the type-7 quantile at `p` of `n`
/// values (`n ≥ 1`) interpolates between.
pub fn type7_ranks(n: usize, p: f64) -> (usize, usize) {
    let h = (n - 1) as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    (lo, (lo + 1).min(n - 1))
}

/// The type-7 quantile at `p` of `n` values whose order statistics at [`type7_ranks`] are `a`
/// and `b`.
pub fn type7_interpolate(n: usize, p: f64, a: f64, b: f64) -> f64 {
    let h = (n - 1) as f64 * p.clamp(0.0, 1.0);
    let q = a + (h - h.floor()) * (b - a);
    // Rounding must not step outside the bracketing order statistics.
    if a <= b { q.clamp(a, b) } else { q }
}

/// The integer whose order is `f64::total_cmp`'s order (the transform `total_cmp` itself uses).
pub(crate) fn total_key(x: f64) -> i64 {
    let b = x.to_bits() as i64;
    b ^ ((((b >> 63) as u64) >> 1) as i64)
}

/// The inverse of [`total_key`] (the transform is its own inverse).
pub(crate) fn from_key(k: i64) -> f64 {
    f64::from_bits((k ^ ((((k >> 63) as u64) >> 1) as i64)) as u64)
}

/// Below this many values, sort them.
const SMALL: usize = 192;
/// From this many keys on, [`Plan::count`] counts in four tallies (below, zeroing and adding
/// them costs more than it saves).
const TALLIES_FROM: usize = 4096;
/// Bits of the histogram's bucket index.
const BUCKET_BITS: u32 = 10;

/// The order statistics of `keys` at `ranks` (increasing, below `keys.len()`) into `out`,
/// with `scratch` space of at least `keys.len()` keys; nothing is allocated. The keys are
/// overwritten: use [`select_ranks_of_parts`] where they are needed afterwards.
///
/// Keys are counted into 1024 buckets by their high bits (relative to the minimum). The keys
/// of the buckets that hold a needed rank are compacted branch-free into `scratch`, sorted by
/// bucket into the front of `keys` (a counting sort of those few), and each bucket is searched
/// on its own, down to a few hundred keys, which are sorted.
pub(crate) fn select_ranks(keys: &mut [i64], ranks: &[usize], out: &mut [i64], scratch: &mut [i64]) {
    debug_assert!(scratch.len() >= keys.len());
    let Some(plan) = Plan::of(keys, ranks, out) else { return };
    let w = plan.compact(keys, scratch);
    debug_assert_eq!(w, plan.total);
    plan.by_bucket(&scratch[..plan.total], &mut keys[..plan.total]);
    plan.search(&mut keys[..plan.total], ranks, out, scratch);
}

/// [`select_ranks`] of the keys of all `parts` together, which are only read: the keys of the
/// needed buckets are compacted into `scratch`, which grows to hold them and their sorted copy
/// (all the keys when there are only a few: they are sorted there).
pub(crate) fn select_ranks_of_parts(
    parts: &[&[i64]],
    ranks: &[usize],
    out: &mut [i64],
    scratch: &mut Vec<i64>,
) {
    debug_assert_eq!(ranks.len(), out.len());
    let n: usize = parts.iter().map(|p| p.len()).sum();
    if ranks.is_empty() {
        return;
    }
    if n <= SMALL {
        if scratch.len() < n {
            scratch.resize(n, 0);
        }
        let mut at = 0;
        for p in parts {
            scratch[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        }
        let all = &mut scratch[..n];
        all.sort_unstable();
        for (o, &r) in out.iter_mut().zip(ranks) {
            *o = all[r];
        }
        return;
    }
    let range =
        parts.iter().map(|p| key_range(p)).fold((i64::MAX, i64::MIN), |a, b| (a.0.min(b.0), a.1.max(b.1)));
    let Some(plan) = Plan::in_range(parts, range, ranks, out) else { return };
    if scratch.len() < n + plan.total {
        scratch.resize(n + plan.total, 0);
    }
    let (compacted, sorted) = scratch.split_at_mut(n);
    let mut w = 0;
    for p in parts {
        w += plan.compact(p, &mut compacted[w..]);
    }
    debug_assert_eq!(w, plan.total);
    let sorted = &mut sorted[..plan.total];
    plan.by_bucket(&compacted[..plan.total], sorted);
    plan.search(sorted, ranks, out, compacted);
}

/// One level of [`select_ranks`]: the buckets, and which of them hold the needed ranks.
struct Plan {
    min: i64,
    shift: u32,
    /// Per bucket: 1 if it holds a needed rank.
    needed: [u8; 1 << BUCKET_BITS],
    /// Per needed bucket, in order: (bucket, keys below it, keys in it).
    wanted: [(usize, usize, usize); 64],
    nw: usize,
    /// Each needed rank's place in its bucket.
    local: [usize; 64],
    /// Keys in the needed buckets.
    total: usize,
}

impl Plan {
    /// The buckets of `keys` and the needed ones; `None` when `out` is already filled (no ranks,
    /// a few keys, which are sorted, or every key the same).
    fn of(keys: &mut [i64], ranks: &[usize], out: &mut [i64]) -> Option<Plan> {
        debug_assert_eq!(ranks.len(), out.len());
        if ranks.is_empty() {
            return None;
        }
        if keys.len() <= SMALL {
            keys.sort_unstable();
            for (o, &r) in out.iter_mut().zip(ranks) {
                *o = keys[r];
            }
            return None;
        }
        Plan::in_range(&[keys], key_range(keys), ranks, out)
    }

    /// [`Plan::of`] the keys of all `parts` together, more than [`SMALL`] of them, whose smallest
    /// and largest are `(min, max)`.
    fn in_range(parts: &[&[i64]], (min, max): (i64, i64), ranks: &[usize], out: &mut [i64]) -> Option<Plan> {
        if min == max {
            out.fill(min);
            return None;
        }
        // Bucket = (key − min) >> shift, with the shift that puts max in the top bucket's range.
        let span = max.wrapping_sub(min) as u64;
        let shift = (64 - span.leading_zeros()).saturating_sub(BUCKET_BITS);
        let mut plan = Plan {
            min,
            shift,
            needed: [0; 1 << BUCKET_BITS],
            wanted: [(0, 0, 0); 64],
            nw: 0,
            local: [0; 64],
            total: 0,
        };
        let mut counts = [0u32; 1 << BUCKET_BITS];
        for p in parts {
            plan.count(p, &mut counts);
        }
        let (mut b, mut below) = (0, 0);
        for (i, &r) in ranks.iter().enumerate() {
            while below + counts[b] as usize <= r {
                below += counts[b] as usize;
                b += 1;
            }
            let here = counts[b] as usize;
            if plan.nw == 0 || plan.wanted[plan.nw - 1].0 != b {
                plan.needed[b] = 1;
                plan.wanted[plan.nw] = (b, below, here);
                plan.nw += 1;
                plan.total += here;
            }
            plan.local[i] = r - below;
        }
        Some(plan)
    }

    /// The number of keys in each bucket, added to `counts`. Consecutive keys often share a bucket, and with one
    /// tally each increment would wait for the one before: long runs of keys are counted in
    /// four tallies.
    fn count(&self, keys: &[i64], counts: &mut [u32; 1 << BUCKET_BITS]) {
        if keys.len() < TALLIES_FROM {
            for &k in keys {
                counts[self.bucket(k)] += 1;
            }
            return;
        }
        let mut tallies = [[0u32; 1 << BUCKET_BITS]; 3];
        let mut quads = keys.chunks_exact(4);
        for q in &mut quads {
            counts[self.bucket(q[0])] += 1;
            for (t, &k) in tallies.iter_mut().zip(&q[1..]) {
                t[self.bucket(k)] += 1;
            }
        }
        for &k in quads.remainder() {
            counts[self.bucket(k)] += 1;
        }
        for (b, c) in counts.iter_mut().enumerate() {
            *c += tallies[0][b] + tallies[1][b] + tallies[2][b];
        }
    }

    #[inline(always)]
    fn bucket(&self, k: i64) -> usize {
        (k.wrapping_sub(self.min) as u64 >> self.shift) as usize & ((1 << BUCKET_BITS) - 1)
    }

    /// The needed buckets' keys into the front of `dst` (at least as long as `keys`), without a
    /// branch: every key is written after the last needed one, and the count grows only for a
    /// needed key; their number.
    fn compact(&self, keys: &[i64], dst: &mut [i64]) -> usize {
        let dst = &mut dst[..keys.len()];
        let mut w = 0;
        for &k in keys {
            dst[w] = k;
            w += self.needed[self.bucket(k)] as usize;
        }
        w
    }

    /// The compacted keys `src`, bucket by bucket, into `dst` (a counting sort).
    fn by_bucket(&self, src: &[i64], dst: &mut [i64]) {
        if self.nw == 1 {
            dst.copy_from_slice(src);
            return;
        }
        let mut slot = [0u8; 1 << BUCKET_BITS];
        let mut at = [0usize; 64];
        let mut start = 0;
        for (i, w) in self.wanted[..self.nw].iter().enumerate() {
            slot[w.0] = i as u8;
            at[i] = start;
            start += w.2;
        }
        for &k in src {
            let s = slot[self.bucket(k)] as usize;
            dst[at[s]] = k;
            at[s] += 1;
        }
    }

    /// The needed ranks, each needed bucket's (the keys `sorted` by [`Plan::by_bucket`]) searched
    /// on its own.
    fn search(&self, sorted: &mut [i64], ranks: &[usize], out: &mut [i64], scratch: &mut [i64]) {
        let (mut i, mut start) = (0, 0);
        for w in &self.wanted[..self.nw] {
            let j = i + ranks[i..].iter().take_while(|&&r| r < w.1 + w.2).count();
            select_ranks(&mut sorted[start..start + w.2], &self.local[i..j], &mut out[i..j], scratch);
            (i, start) = (j, start + w.2);
        }
    }
}

/// The smallest and largest key, in eight independent lanes.
#[inline]
fn key_range(keys: &[i64]) -> (i64, i64) {
    let mut lo = [i64::MAX; 8];
    let mut hi = [i64::MIN; 8];
    let mut chunks = keys.chunks_exact(8);
    for c in &mut chunks {
        for l in 0..8 {
            lo[l] = lo[l].min(c[l]);
            hi[l] = hi[l].max(c[l]);
        }
    }
    for &k in chunks.remainder() {
        lo[0] = lo[0].min(k);
        hi[0] = hi[0].max(k);
    }
    (lo.into_iter().min().unwrap_or(i64::MAX), hi.into_iter().max().unwrap_or(i64::MIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_keys_order_like_total_cmp() {
        let xs = [f64::NEG_INFINITY, -1e300, -1.0, -0.0, 0.0, 1e-300, 1.0, f64::INFINITY, f64::NAN];
        for a in xs {
            assert_eq!(from_key(total_key(a)).to_bits(), a.to_bits());
            for b in xs {
                assert_eq!(total_key(a).cmp(&total_key(b)), a.total_cmp(&b), "{a} {b}");
            }
        }
    }

    #[test]
    fn a_constant_series_has_the_quantiles_of_its_values_bit_for_bit() {
        use crate::stats::PROBS;
        let xs = [366.20099999999996, -0.0, 0.0, -2.5, 1e-310, f64::INFINITY, f64::NEG_INFINITY, f64::NAN];
        for x in xs {
            for n in [1, 2, 3, 191, 192, 193, 4095, 4096, 10_000] {
                let mut keys = vec![total_key(x); n];
                let mut scratch = vec![0; n];
                let selected = quantiles_of_keys(&mut keys, &PROBS, &mut scratch);
                let constant = quantiles_of_constant(n, x, &PROBS);
                assert_eq!(selected.map(f64::to_bits), constant.map(f64::to_bits), "{x} × {n}");
            }
        }
        assert!(quantiles_of_constant(0, 1.0, &PROBS).iter().all(|q| q.is_nan()));
    }

    #[test]
    fn worked_by_hand() {
        // n = 5: h = 4p. p = .25 → h = 1 → x(2) = 2; p = .1 → h = .4 → 1 + .4·(2 − 1) = 1.4;
        // p = .975 → h = 3.9 → 4 + .9·(10 − 4) = 9.4.
        let mut xs = [10.0, 1.0, 4.0, 2.0, 3.0];
        let q = quantiles_type7(&mut xs, &[0.1, 0.25, 0.5, 0.975, 1.0]);
        assert_eq!(q[0], 1.4);
        assert_eq!(q[1], 2.0);
        assert_eq!(q[2], 3.0);
        assert!((q[3] - 9.4).abs() < 1e-12);
        assert_eq!(q[4], 10.0);
        // n = 4: p = .5 → h = 1.5 → 2 + .5·(3 − 2) = 2.5 (the usual median).
        let mut ys = [4.0, 3.0, 2.0, 1.0];
        assert_eq!(quantiles_type7(&mut ys, &[0.5]), [2.5]);
        // n = 1: every quantile is the value.
        let mut one = [7.0];
        assert_eq!(quantiles_type7(&mut one, &[0.025, 0.975]), [7.0, 7.0]);
    }

    #[test]
    fn agrees_with_sorting_on_random_samples() {
        use rand::RngExt;
        let mut r = crate::rng::stream(1, crate::rng::purpose("quantile-test"), 0);
        let probs = crate::stats::PROBS;
        for n in [1usize, 2, 3, 7, 40, 101, 193, 1000, 10_000] {
            let xs: Vec<f64> = (0..n).map(|_| r.random::<f64>() * 100.0 - 50.0).collect();
            let mut sorted = xs.clone();
            sorted.sort_by(f64::total_cmp);
            let mut work = xs.clone();
            let q = quantiles_type7(&mut work, &probs);
            for (p, v) in probs.iter().zip(q) {
                let h = (n - 1) as f64 * p;
                let lo = h.floor() as usize;
                let hi = (lo + 1).min(n - 1);
                let e = sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]);
                assert!((v - e).abs() <= 1e-12 * e.abs().max(1.0), "n={n} p={p}");
            }
            assert!(q.windows(2).all(|w| w[0] <= w[1]));
        }
    }

    #[test]
    fn selection_agrees_with_sorting_on_awkward_samples() {
        use rand::RngExt;
        let mut r = crate::rng::stream(2, crate::rng::purpose("quantile-test"), 0);
        let n = 5000;
        let samples: Vec<Vec<f64>> = vec![
            vec![3.25; n],                                                             // constant
            (0..n).map(|i| (i % 3) as f64).collect(),                                  // three values
            (0..n).map(|i| if i == 17 { 1e300 } else { r.random::<f64>() }).collect(), // one outlier
            (0..n).map(|i| if i % 2 == 0 { -0.0 } else { 0.0 }).collect(),             // signed zeros
            (0..n).map(|_| r.random::<f64>() * 2e-300 - 1e-300).collect(),             // tiny, both signs
            (0..n)
                .map(|i| match i % 7 {
                    0 => f64::NEG_INFINITY,
                    1 => f64::INFINITY,
                    2 => f64::NAN,
                    _ => r.random::<f64>() - 0.5,
                })
                .collect(),
            (0..n).map(|i| (i as f64).exp2().min(f64::MAX)).collect(), // spans every exponent
        ];
        let ranks: Vec<usize> = vec![0, 1, 124, 125, 2499, 2500, 4874, 4875, 4998, 4999];
        for xs in samples {
            let mut keys: Vec<i64> = xs.iter().map(|x| total_key(*x)).collect();
            let mut sorted = keys.clone();
            sorted.sort_unstable();
            let mut out = vec![0; ranks.len()];
            let kept = keys.clone();
            let mut scratch = vec![0; keys.len()];
            select_ranks(&mut keys, &ranks, &mut out, &mut scratch);
            for (r, v) in ranks.iter().zip(&out) {
                assert_eq!(*v, sorted[*r], "rank {r}");
            }
            // The keys split into parts (some empty) give the same keys, and stay as they were.
            let before = kept.clone();
            let cuts = [0, 0, 17, 1200, 1201, 4000, kept.len()];
            let parts: Vec<&[i64]> = cuts.windows(2).map(|c| &kept[c[0]..c[1]]).collect();
            let mut again = vec![0; ranks.len()];
            select_ranks_of_parts(&parts, &ranks, &mut again, &mut Vec::new());
            assert_eq!(again, out);
            assert_eq!(kept, before);
            // And a few keys in parts: sorted in the scratch space.
            let few: Vec<&[i64]> = vec![&kept[..50], &kept[50..50], &kept[3000..3100]];
            let mut small: Vec<i64> = few.concat();
            small.sort_unstable();
            let mut got = [0; 3];
            select_ranks_of_parts(&few, &[0, 75, 149], &mut got, &mut Vec::new());
            assert_eq!(got, [small[0], small[75], small[149]]);
        }
    }
}
