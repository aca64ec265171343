//! Exact quantiles, Hyndman–Fan type 7 (R's default and numpy's `linear`):
//! with the sorted sample x₍₁₎ … x₍ₙ₎ and h = (n − 1)·p, Q(p) = x₍⌊h⌋+1₎ + (h − ⌊h⌋)·(x₍⌊h⌋+2₎ − x₍⌊h⌋+1₎).
//!
//! Only the order statistics that are needed are found, by multi-selection: select the middle
//! one of the needed ranks, then recurse into the two partitions with the ranks on each side
//! (O(n log k) for k ranks), not by sorting the series.

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
    for p in probs {
        let h = (n - 1) as f64 * p.clamp(0.0, 1.0);
        let lo = h.floor() as usize;
        for r in [lo, (lo + 1).min(n - 1)] {
            if nr == 0 || ranks[nr - 1] < r {
                ranks[nr] = r;
                nr += 1;
            }
        }
    }
    // Select on integer keys that order exactly as f64::total_cmp does (cheaper to compare).
    let mut keys: Vec<i64> = xs.iter().map(|x| total_key(*x)).collect();
    multiselect(&mut keys, &ranks[..nr], 0);
    for &r in &ranks[..nr] {
        xs[r] = from_key(keys[r]);
    }
    for (o, p) in out.iter_mut().zip(probs) {
        let h = (n - 1) as f64 * p.clamp(0.0, 1.0);
        let lo = h.floor() as usize;
        let hi = (lo + 1).min(n - 1);
        let (a, b) = (xs[lo], xs[hi]);
        let q = a + (h - lo as f64) * (b - a);
        // Rounding must not step outside the bracketing order statistics.
        *o = if a <= b { q.clamp(a, b) } else { q };
    }
    out
}

/// The integer whose order is `f64::total_cmp`'s order (the transform `total_cmp` itself uses).
fn total_key(x: f64) -> i64 {
    let b = x.to_bits() as i64;
    b ^ ((((b >> 63) as u64) >> 1) as i64)
}

/// The inverse of [`total_key`] (the transform is its own inverse).
fn from_key(k: i64) -> f64 {
    f64::from_bits((k ^ ((((k >> 63) as u64) >> 1) as i64)) as u64)
}

/// Put the elements of ranks `ranks` (increasing, absolute ranks of the whole series, the slice
/// starting at rank `offset`) in their sorted places.
fn multiselect(xs: &mut [i64], ranks: &[usize], offset: usize) {
    if ranks.is_empty() || xs.is_empty() {
        return;
    }
    let mid = ranks.len() / 2;
    let r = ranks[mid] - offset;
    let (left, _, right) = xs.select_nth_unstable(r);
    multiselect(left, &ranks[..mid], offset);
    multiselect(right, &ranks[mid + 1..], offset + r + 1);
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
        for n in [1usize, 2, 3, 7, 40, 101, 1000] {
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
}
