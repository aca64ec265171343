//! Variance-based sensitivity indices from a Saltelli design, streamed (for issue 24's
//! `minxinan sensitivity`; docs/SENSITIVITY.md will describe the design over the engine).
//!
//! For k inputs, base sample j gives f(A_j), f(B_j) and f(AB_j^(i)) for each input i (A_j with
//! input i taken from B_j). Over the N base samples, with V the variance of the 2N values f(A),
//! f(B) (as SALib computes it):
//!
//! - first order, Saltelli et al. (2010, *Comput. Phys. Commun.* 181:259, table 2 (b)):
//!   S1_i = mean(f(B)·(f(AB^(i)) − f(A))) / V;
//! - total, Jansen (1999, *Comput. Phys. Commun.* 117:35; Saltelli 2010 table 2 (f)):
//!   ST_i = ½·mean((f(A) − f(AB^(i)))²) / V.
//!
//! Every quantity is a weighted sum over the base samples, so the indices stream: memory is
//! O(k·R) per output, whatever N. The confidence intervals come from a Poisson bootstrap
//! (Hanley & MacGibbon 2006; Chamandy et al. 2012): replicate r weights sample j by a Poisson(1)
//! count drawn from a stream keyed by (seed, j), so that the replicates need no stored sample and
//! are the same whatever order the samples arrive in; the interval is the estimate ± 1.96 times
//! the replicates' standard deviation, as SALib's `conf_level = 0.95`.

use crate::rng::{purpose, stream};
use rand::RngExt;

/// The z of a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

/// The sums of one output: point estimate (replicate 0, weight 1) and R bootstrap replicates.
///
/// One row per replicate (0: the estimate) of 3 + 2k sums: Σw, Σw·(f_A + f_B),
/// Σw·(f_A² + f_B²), then per input Σw·f_B·(f_AB − f_A) and Σw·(f_A − f_AB)². A base sample's
/// terms ([`sample_terms`]) enter every row times the row's weight, samples in order: whether
/// one at a time ([`SobolSums::add`]) or a block at a time ([`SobolSums::add_block`]), each sum
/// sees the same operations in the same order (the same bits).
#[derive(Debug, Clone, PartialEq)]
pub struct SobolSums {
    k: usize,
    rows: usize,
    sums: Vec<f64>,
}

/// A base sample's terms (3 + 2k values, see [`SobolSums`]) into `out` (a row of
/// [`SobolSums::cols`] values; the padding is zeros).
pub fn sample_terms(f_a: f64, f_b: f64, f_ab: &[f64], out: &mut [f64]) {
    out[3 + 2 * f_ab.len()..].fill(0.0);
    out[0] = 1.0;
    out[1] = f_a + f_b;
    out[2] = f_a * f_a + f_b * f_b;
    for (i, &ab) in f_ab.iter().enumerate() {
        out[3 + 2 * i] = f_b * (ab - f_a);
        out[4 + 2 * i] = (f_a - ab) * (f_a - ab);
    }
}

/// `sums[r][c] += Σ_s wt[r][s]·d[s][c]`, s in order, for `rows` rows of `wt` (each `b`
/// weights) and `b` rows of `d` (each `cols` terms): the one loop of the sums, in the widest
/// compiled version the processor runs (multiplications and additions apart, never fused: the
/// same bits in each).
fn accumulate(sums: &mut [f64], wt: &[f64], d: &[f64], b: usize, cols: usize) {
    #[cfg(target_arch = "x86_64")]
    if crate::isa::Isa::Avx2.available() {
        // SAFETY: the processor has AVX2.
        unsafe { accumulate_avx2(sums, wt, d, b, cols) };
        return;
    }
    accumulate_body(sums, wt, d, b, cols);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn accumulate_avx2(sums: &mut [f64], wt: &[f64], d: &[f64], b: usize, cols: usize) {
    accumulate_body(sums, wt, d, b, cols);
}

/// Columns of the sums kept in registers while a block of samples is added (rows are padded to
/// a multiple with zeros).
const TILE: usize = 16;

#[inline(always)]
fn accumulate_body(sums: &mut [f64], wt: &[f64], d: &[f64], b: usize, cols: usize) {
    debug_assert!(cols.is_multiple_of(TILE));
    // Two replicates at a time: each term loaded once feeds both, and their sums are independent
    // chains of additions (the order within each sum is still the samples' order).
    let mut rows = sums.chunks_exact_mut(cols).zip(wt.chunks_exact(b));
    loop {
        match (rows.next(), rows.next()) {
            (Some((row0, w0)), Some((row1, w1))) => {
                for c0 in (0..cols).step_by(TILE) {
                    let mut a0: [f64; TILE] = row0[c0..c0 + TILE].try_into().expect("a tile");
                    let mut a1: [f64; TILE] = row1[c0..c0 + TILE].try_into().expect("a tile");
                    for (s, (&x0, &x1)) in w0.iter().zip(w1).enumerate() {
                        let x: &[f64; TILE] =
                            d[s * cols + c0..s * cols + c0 + TILE].try_into().expect("a tile");
                        for t in 0..TILE {
                            a0[t] += x0 * x[t];
                            a1[t] += x1 * x[t];
                        }
                    }
                    row0[c0..c0 + TILE].copy_from_slice(&a0);
                    row1[c0..c0 + TILE].copy_from_slice(&a1);
                }
            }
            (Some((row, w)), None) => {
                for c0 in (0..cols).step_by(TILE) {
                    let mut a: [f64; TILE] = row[c0..c0 + TILE].try_into().expect("a tile");
                    for (s, &ws) in w.iter().enumerate() {
                        let x: &[f64; TILE] =
                            d[s * cols + c0..s * cols + c0 + TILE].try_into().expect("a tile");
                        for t in 0..TILE {
                            a[t] += ws * x[t];
                        }
                    }
                    row[c0..c0 + TILE].copy_from_slice(&a);
                }
                return;
            }
            _ => return,
        }
    }
}

/// The indices of one output with their 95 % intervals.
#[derive(Debug, Clone, PartialEq)]
pub struct Indices {
    /// First-order index of each input.
    pub s1: Vec<f64>,
    /// Its interval (lo, hi).
    pub s1_ci: Vec<(f64, f64)>,
    /// Total index of each input.
    pub st: Vec<f64>,
    /// Its interval (lo, hi).
    pub st_ci: Vec<(f64, f64)>,
    /// The sum of the first-order indices (1 − it is the share of the variance due to
    /// interactions).
    pub sum_s1: f64,
    /// Its interval (lo, hi).
    pub sum_s1_ci: (f64, f64),
}

/// The Poisson(1) bootstrap weights of base sample `j` for `replicates` replicates (seeded).
pub fn bootstrap_weights(seed: u64, j: u64, replicates: usize, out: &mut Vec<f64>) {
    out.clear();
    let mut r = stream(seed, purpose("sobol.bootstrap"), j);
    // Poisson(1) by inversion: P(0) = P(1) = e⁻¹, P(n) = e⁻¹/n!.
    for _ in 0..replicates {
        let u: f64 = r.random();
        let (mut n, mut p) = (0u32, (-1.0f64).exp());
        let mut cdf = p;
        while u > cdf && n < 20 {
            n += 1;
            p /= f64::from(n);
            cdf += p;
        }
        out.push(f64::from(n));
    }
}

impl SobolSums {
    /// Empty sums for `k` inputs and `replicates` bootstrap replicates.
    pub fn new(k: usize, replicates: usize) -> SobolSums {
        SobolSums {
            k,
            rows: replicates + 1,
            sums: vec![0.0; (replicates + 1) * (3 + 2 * k).div_ceil(TILE) * TILE],
        }
    }

    /// Add base sample j: f(A_j), f(B_j), f(AB_j^(i)) for each input, and its bootstrap weights
    /// ([`bootstrap_weights`]; the estimate's weight is 1).
    pub fn add(&mut self, f_a: f64, f_b: f64, f_ab: &[f64], weights: &[f64]) {
        debug_assert_eq!(f_ab.len(), self.k);
        debug_assert_eq!(weights.len() + 1, self.rows);
        let mut d = vec![0.0; self.cols()];
        sample_terms(f_a, f_b, f_ab, &mut d);
        let wt: Vec<f64> = std::iter::once(1.0).chain(weights.iter().copied()).collect();
        let cols = self.cols();
        accumulate(&mut self.sums, &wt, &d, 1, cols);
    }

    /// Add a block of `b` base samples in order: `d` their terms ([`sample_terms`], b rows of
    /// 3 + 2k), `wt` each replicate's weights of them (R + 1 rows of b, row 0 all ones).
    pub fn add_block(&mut self, d: &[f64], wt: &[f64], b: usize) {
        debug_assert_eq!(d.len(), b * self.cols());
        debug_assert_eq!(wt.len(), b * self.rows);
        let cols = self.cols();
        accumulate(&mut self.sums, wt, d, b, cols);
    }

    /// Sums per replicate: 3 + 2k, padded with zeros to a multiple of the kernel's tile (the
    /// length of a row of [`sample_terms`]).
    pub fn cols(&self) -> usize {
        (3 + 2 * self.k).div_ceil(TILE) * TILE
    }

    /// Fold another part's sums in (parts of one design, any split).
    pub fn merge(&mut self, other: &SobolSums) {
        for (a, b) in self.sums.iter_mut().zip(&other.sums) {
            *a += b;
        }
    }

    /// The mean and variance of the 2N values f(A), f(B) (replicate r's weights).
    fn moments(&self, r: usize) -> (f64, f64, f64) {
        let row = &self.sums[r * self.cols()..];
        let (w, s, s2) = (row[0], row[1], row[2]);
        let mean = s / (2.0 * w);
        (w, mean, s2 / (2.0 * w) - mean * mean)
    }

    /// (S1, ST) of each input from replicate r's sums.
    fn of(&self, r: usize) -> Vec<(f64, f64)> {
        let (w, _, var) = self.moments(r);
        (0..self.k)
            .map(|i| {
                let at = r * self.cols() + 3 + 2 * i;
                let (t1, t2) = (self.sums[at], self.sums[at + 1]);
                (t1 / w / var, 0.5 * t2 / w / var)
            })
            .collect()
    }

    /// The number of base samples added.
    pub fn samples(&self) -> f64 {
        self.sums[0]
    }

    /// The mean and variance of the outputs f(A), f(B) (the variance the indices divide).
    pub fn mean_variance(&self) -> (f64, f64) {
        let (_, mean, var) = self.moments(0);
        (mean, var)
    }

    /// The indices and their intervals.
    pub fn indices(&self) -> Indices {
        let est = self.of(0);
        let reps: Vec<Vec<(f64, f64)>> = (1..self.rows).map(|r| self.of(r)).collect();
        let interval = |est: f64, x: &mut dyn Iterator<Item = f64>| {
            let x: Vec<f64> = x.filter(|v| v.is_finite()).collect();
            let n = x.len() as f64;
            if n < 2.0 {
                return (f64::NAN, f64::NAN);
            }
            let m = x.iter().sum::<f64>() / n;
            let sd = (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
            (est - Z95 * sd, est + Z95 * sd)
        };
        let sum = |r: &[(f64, f64)]| r.iter().map(|p| p.0).sum::<f64>();
        let sum_s1 = sum(&est);
        Indices {
            s1: est.iter().map(|p| p.0).collect(),
            s1_ci: (0..self.k).map(|i| interval(est[i].0, &mut reps.iter().map(|r| r[i].0))).collect(),
            st: est.iter().map(|p| p.1).collect(),
            st_ci: (0..self.k).map(|i| interval(est[i].1, &mut reps.iter().map(|r| r[i].1))).collect(),
            sum_s1,
            sum_s1_ci: interval(sum_s1, &mut reps.iter().map(|r| sum(r))),
        }
    }
}

/// The indices at the nested prefixes N/8, N/4, N/2 and N of one design (a convergence table at
/// no extra cost): base sample j counts in every prefix longer than j.
#[derive(Debug, Clone, PartialEq)]
pub struct Convergence {
    /// The prefixes' lengths, shortest first.
    pub sizes: [u64; 4],
    /// Their sums.
    pub sums: [SobolSums; 4],
}

impl Convergence {
    /// Sums for a design of `n` base samples, `k` inputs and `replicates` bootstrap replicates.
    pub fn new(n: u64, k: usize, replicates: usize) -> Convergence {
        Convergence {
            sizes: [n / 8, n / 4, n / 2, n],
            sums: std::array::from_fn(|_| SobolSums::new(k, replicates)),
        }
    }

    /// Add base samples `first..first + b` ([`SobolSums::add_block`]: `d` their terms, `wt` the
    /// replicates' weights) to every prefix, each prefix the samples it holds.
    pub fn add_block(&mut self, first: u64, d: &[f64], wt: &[f64], b: usize) {
        for (size, sums) in self.sizes.iter().zip(&mut self.sums) {
            let m = size.saturating_sub(first).min(b as u64) as usize;
            if m == 0 {
                continue;
            }
            let rows = wt.len() / b;
            let wt_m: Vec<f64> = wt.chunks_exact(b).take(rows).flat_map(|w| w[..m].iter().copied()).collect();
            sums.add_block(&d[..m * sums.cols()], &wt_m, m);
        }
    }

    /// Add base sample `j` ([`SobolSums::add`]) to every prefix that holds it.
    pub fn add(&mut self, j: u64, f_a: f64, f_b: f64, f_ab: &[f64], weights: &[f64]) {
        for (size, sums) in self.sizes.iter().zip(&mut self.sums) {
            if j < *size {
                sums.add(f_a, f_b, f_ab, weights);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run a Saltelli design of `n` base samples of a function of k inputs uniform on
    /// [lo, hi]^k: matrices A and B from one stream, AB^(i) from them.
    fn design(n: usize, k: usize, lo: f64, hi: f64, f: impl Fn(&[f64]) -> f64) -> Indices {
        let mut r = stream(11, purpose("test.sobol.design"), 0);
        let mut sums = SobolSums::new(k, 100);
        let mut w = Vec::new();
        for j in 0..n {
            let a: Vec<f64> = (0..k).map(|_| lo + (hi - lo) * r.random::<f64>()).collect();
            let b: Vec<f64> = (0..k).map(|_| lo + (hi - lo) * r.random::<f64>()).collect();
            let f_ab: Vec<f64> = (0..k)
                .map(|i| {
                    let mut x = a.clone();
                    x[i] = b[i];
                    f(&x)
                })
                .collect();
            bootstrap_weights(5, j as u64, 100, &mut w);
            sums.add(f(&a), f(&b), &f_ab, &w);
        }
        sums.indices()
    }

    /// How many of the indices' 95 % intervals miss the closed form (each estimate must also lie
    /// within `tol` of it).
    fn misses(got: &Indices, s1: &[f64], st: &[f64], tol: f64) -> usize {
        let mut missed = 0;
        for i in 0..s1.len() {
            for (est, (lo, hi), want, what) in
                [(got.s1[i], got.s1_ci[i], s1[i], "S1"), (got.st[i], got.st_ci[i], st[i], "ST")]
            {
                assert!((est - want).abs() < tol, "{what}[{i}] = {est}, want {want}");
                if !(lo..=hi).contains(&want) {
                    eprintln!("{what}[{i}] = {est} [{lo}, {hi}] misses {want}");
                    missed += 1;
                }
            }
        }
        missed
    }

    #[test]
    fn ishigami_indices_match_their_closed_forms() {
        // f = sin x1 + a sin² x2 + b x3⁴ sin x1, x ~ U(−π, π)³, a = 7, b = 0.1 (Ishigami &
        // Homma 1990): S1 = 0.3139, 0.4424, 0; ST = 0.5576, 0.4424, 0.2437.
        let (a, b) = (7.0, 0.1);
        let pi = std::f64::consts::PI;
        let got = design(1 << 14, 3, -pi, pi, |x| {
            x[0].sin() + a * x[1].sin().powi(2) + b * x[2].powi(4) * x[0].sin()
        });
        let v = a * a / 8.0 + b * pi.powi(4) / 5.0 + b * b * pi.powi(8) / 18.0 + 0.5;
        let v1 = 0.5 * (1.0 + b * pi.powi(4) / 5.0).powi(2);
        let v2 = a * a / 8.0;
        let v13 = b * b * pi.powi(8) * (1.0 / 18.0 - 1.0 / 50.0);
        // All six intervals hold their value.
        assert_eq!(misses(&got, &[v1 / v, v2 / v, 0.0], &[(v1 + v13) / v, v2 / v, v13 / v], 0.03), 0);
        assert!((v1 / v - 0.3139).abs() < 1e-4 && (v13 / v - 0.2437).abs() < 1e-4);
        // ΣS1 = (V1 + V2)/V = 0.7563: the rest, V13/V, is the interaction of x1 and x3.
        let (lo, hi) = got.sum_s1_ci;
        assert!((lo..=hi).contains(&((v1 + v2) / v)), "ΣS1 {} [{lo}, {hi}]", got.sum_s1);
    }

    #[test]
    fn sobol_g_function_indices_match_their_closed_forms() {
        // g = Π (|4x_i − 2| + a_i)/(1 + a_i), x ~ U(0, 1)⁸ (Saltelli & Sobol' 1995):
        // V_i = 1/(3(1 + a_i)²), V = Π(1 + V_i) − 1, S1_i = V_i/V, ST_i = V_i Π_{j≠i}(1 + V_j)/V.
        let a = [0.0, 1.0, 4.5, 9.0, 99.0, 99.0, 99.0, 99.0];
        let got = design(1 << 14, 8, 0.0, 1.0, |x| {
            x.iter().zip(&a).map(|(x, a)| ((4.0 * x - 2.0).abs() + a) / (1.0 + a)).product()
        });
        let vi: Vec<f64> = a.iter().map(|a| 1.0 / (3.0 * (1.0 + a) * (1.0 + a))).collect();
        let v = vi.iter().map(|x| 1.0 + x).product::<f64>() - 1.0;
        let s1: Vec<f64> = vi.iter().map(|x| x / v).collect();
        let st: Vec<f64> = (0..8)
            .map(|i| vi[i] * (0..8).filter(|&j| j != i).map(|j| 1.0 + vi[j]).product::<f64>() / v)
            .collect();
        // Sixteen 95 % intervals: at most two miss (a binomial(16, 0.05) exceeds 2 with
        // probability 0.04).
        assert!(misses(&got, &s1, &st, 0.04) <= 2);
    }

    #[test]
    fn parts_merge_to_the_whole_and_weights_are_poisson() {
        let f = |x: &[f64]| x[0] + 2.0 * x[1] * x[1];
        let mut r = stream(3, purpose("test.sobol.parts"), 0);
        let (mut whole, mut one, mut two) =
            (SobolSums::new(2, 10), SobolSums::new(2, 10), SobolSums::new(2, 10));
        let mut w = Vec::new();
        let mut count = 0.0;
        for j in 0..200u64 {
            let a = [r.random::<f64>(), r.random::<f64>()];
            let b = [r.random::<f64>(), r.random::<f64>()];
            let ab = [f(&[b[0], a[1]]), f(&[a[0], b[1]])];
            bootstrap_weights(9, j, 10, &mut w);
            count += w.iter().sum::<f64>();
            whole.add(f(&a), f(&b), &ab, &w);
            if j < 77 { &mut one } else { &mut two }.add(f(&a), f(&b), &ab, &w);
        }
        one.merge(&two);
        let (x, y) = (whole.indices(), one.indices());
        for i in 0..2 {
            assert!((x.s1[i] - y.s1[i]).abs() < 1e-12 && (x.st[i] - y.st[i]).abs() < 1e-12);
        }
        // Poisson(1): mean 1 (2 000 weights: within 4 standard errors).
        assert!((count / 2000.0 - 1.0).abs() < 4.0 / 2000f64.sqrt(), "{}", count / 2000.0);
    }

    #[test]
    fn a_block_adds_the_same_bits_as_its_samples_one_by_one() {
        // 37 samples of 5 inputs (3 + 10 sums, padded to one tile), 7 replicates: add_block of
        // blocks of 1, 16 and 20 samples equals add of each sample, bit for bit.
        let (k, reps) = (5, 7);
        let mut r = stream(6, purpose("test.sobol.block"), 0);
        let samples: Vec<(f64, f64, Vec<f64>)> = (0..37)
            .map(|_| {
                (
                    r.random::<f64>() * 1e3,
                    r.random::<f64>() * 1e3,
                    (0..k).map(|_| r.random::<f64>() * 1e3).collect(),
                )
            })
            .collect();
        let mut one = SobolSums::new(k, reps);
        let mut weights: Vec<Vec<f64>> = Vec::new();
        let mut w = Vec::new();
        for (j, (a, b, ab)) in samples.iter().enumerate() {
            bootstrap_weights(8, j as u64, reps, &mut w);
            one.add(*a, *b, ab, &w);
            weights.push(w.clone());
        }
        let mut blocked = SobolSums::new(k, reps);
        let cols = blocked.cols();
        assert_eq!(cols, 16);
        let mut at = 0;
        for len in [1, 16, 20] {
            let mut d = vec![0.0; len * cols];
            let mut wt = vec![1.0; (reps + 1) * len];
            for s in 0..len {
                let (a, b, ab) = &samples[at + s];
                sample_terms(*a, *b, ab, &mut d[s * cols..(s + 1) * cols]);
                for (rep, x) in weights[at + s].iter().enumerate() {
                    wt[(rep + 1) * len + s] = *x;
                }
            }
            blocked.add_block(&d, &wt, len);
            at += len;
        }
        assert_eq!(at, 37);
        assert!(one.sums.iter().zip(&blocked.sums).all(|(x, y)| x.to_bits() == y.to_bits()));
    }

    #[test]
    fn each_prefix_holds_exactly_its_first_samples() {
        // The N/8 prefix of a 64-sample design is the design of its first 8 samples.
        let f = |x: &[f64]| x[0] * x[0] + x[1];
        let mut r = stream(4, purpose("test.sobol.prefix"), 0);
        let mut conv = Convergence::new(64, 2, 5);
        let mut first8 = SobolSums::new(2, 5);
        let mut all = SobolSums::new(2, 5);
        let mut w = Vec::new();
        for j in 0..64u64 {
            let a = [r.random::<f64>(), r.random::<f64>()];
            let b = [r.random::<f64>(), r.random::<f64>()];
            let ab = [f(&[b[0], a[1]]), f(&[a[0], b[1]])];
            bootstrap_weights(2, j, 5, &mut w);
            conv.add(j, f(&a), f(&b), &ab, &w);
            all.add(f(&a), f(&b), &ab, &w);
            if j < 8 {
                first8.add(f(&a), f(&b), &ab, &w);
            }
        }
        assert_eq!(conv.sizes, [8, 16, 32, 64]);
        assert_eq!(conv.sums[0], first8);
        assert_eq!(conv.sums[3], all);
        assert_ne!(conv.sums[1], first8);
    }
}
