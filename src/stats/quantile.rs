//! Exact quantiles, Hyndman–Fan type 7 (R's default and numpy's `linear`):
//! with the sorted sample x₍₁₎ … x₍ₙ₎ and h = (n − 1)·p, Q(p) = x₍⌊h⌋+1₎ + (h − ⌊h⌋)·(x₍⌊h⌋+2₎ − x₍⌊h⌋+1₎).
//!
//! Only the order statistics that are needed are found, without sorting the series: values are
//! mapped to integer keys ordered as `f64::total_cmp`, counted into 1024 buckets by their high
//! bits (relative to the minimum), and only the buckets that hold a needed rank are gathered and
//! searched again, down to a few hundred values, which are sorted. About three linear passes.

/// Type-7 quantiles of `xs` at increasing probabilities `probs` (reorders `xs`). NaN for an empty
/// sample. Values are ordered by `f64::total_cmp`.
pub fn quantiles_type7<const K: usize>(xs: &mut [f64], probs: &[f64; K]) -> [f64; K] {
    let n = xs.len();
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
    // Select on integer keys that order exactly as f64::total_cmp does (cheaper to compare).
    let mut keys: Vec<i64> = xs.iter().map(|x| total_key(*x)).collect();
    let mut found = [0i64; 64];
    select_ranks(&mut keys, &ranks[..nr], &mut found[..nr]);
    for (&r, &k) in ranks[..nr].iter().zip(&found[..nr]) {
        xs[r] = from_key(k);
    }
    for (o, &p) in out.iter_mut().zip(probs) {
        let (lo, hi) = type7_ranks(n, p);
        *o = type7_interpolate(n, p, xs[lo], xs[hi]);
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
/// Bits of the histogram's bucket index.
const BUCKET_BITS: u32 = 10;

/// The order statistics of `keys` at `ranks` (increasing, below `keys.len()`) into `out`.
/// `keys` is reordered.
pub(crate) fn select_ranks(keys: &mut [i64], ranks: &[usize], out: &mut [i64]) {
    debug_assert_eq!(ranks.len(), out.len());
    if ranks.is_empty() {
        return;
    }
    if keys.len() <= SMALL {
        keys.sort_unstable();
        for (o, &r) in out.iter_mut().zip(ranks) {
            *o = keys[r];
        }
        return;
    }
    let (mut min, mut max) = (i64::MAX, i64::MIN);
    for &k in keys.iter() {
        min = min.min(k);
        max = max.max(k);
    }
    if min == max {
        out.fill(min);
        return;
    }
    // Bucket = (key − min) >> shift, with the shift that puts max in the top bucket's range.
    let span = max.wrapping_sub(min) as u64;
    let shift = (64 - span.leading_zeros()).saturating_sub(BUCKET_BITS);
    let bucket = |k: i64| (k.wrapping_sub(min) as u64 >> shift) as usize;
    let mut counts = [0usize; 1 << BUCKET_BITS];
    for &k in keys.iter() {
        counts[bucket(k)] += 1;
    }
    // The bucket of each needed rank and the rank's place in it.
    let mut slot_of = [u8::MAX; 1 << BUCKET_BITS];
    let mut wanted: [(usize, usize, usize); 64] = [(0, 0, 0); 64]; // (bucket, first rank, count)
    let mut nw = 0;
    let (mut b, mut below) = (0, 0);
    let mut local = [0usize; 64];
    for (i, &r) in ranks.iter().enumerate() {
        while below + counts[b] <= r {
            below += counts[b];
            b += 1;
        }
        if nw == 0 || wanted[nw - 1].0 != b {
            slot_of[b] = nw as u8;
            wanted[nw] = (b, below, counts[b]);
            nw += 1;
        }
        local[i] = r - below;
    }
    // Gather the needed buckets' keys (in one pass), then search each on its own.
    let mut gathered: Vec<Vec<i64>> = wanted[..nw].iter().map(|w| Vec::with_capacity(w.2)).collect();
    for &k in keys.iter() {
        let s = slot_of[bucket(k)];
        if s != u8::MAX {
            gathered[s as usize].push(k);
        }
    }
    let mut i = 0;
    for (w, g) in wanted[..nw].iter().zip(gathered.iter_mut()) {
        let j = i + ranks[i..].iter().take_while(|&&r| r < w.1 + w.2).count();
        select_ranks(g, &local[i..j], &mut out[i..j]);
        i = j;
    }
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
            select_ranks(&mut keys, &ranks, &mut out);
            for (r, v) in ranks.iter().zip(&out) {
                assert_eq!(*v, sorted[*r], "rank {r}");
            }
        }
    }
}
