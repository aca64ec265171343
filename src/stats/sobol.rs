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
#[derive(Debug, Clone, PartialEq)]
pub struct SobolSums {
    k: usize,
    /// Per replicate (0: the estimate): Σw, Σw·(f_A + f_B), Σw·(f_A² + f_B²).
    moments: Vec<[f64; 3]>,
    /// Per replicate and input: Σw·f_B·(f_AB − f_A) and Σw·(f_A − f_AB)².
    terms: Vec<[f64; 2]>,
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
        SobolSums { k, moments: vec![[0.0; 3]; replicates + 1], terms: vec![[0.0; 2]; (replicates + 1) * k] }
    }

    /// Add base sample j: f(A_j), f(B_j), f(AB_j^(i)) for each input, and its bootstrap weights
    /// ([`bootstrap_weights`]; the estimate's weight is 1).
    pub fn add(&mut self, f_a: f64, f_b: f64, f_ab: &[f64], weights: &[f64]) {
        debug_assert_eq!(f_ab.len(), self.k);
        debug_assert_eq!(weights.len() + 1, self.moments.len());
        let k = self.k;
        for (r, m) in self.moments.iter_mut().enumerate() {
            let w = if r == 0 { 1.0 } else { weights[r - 1] };
            if w == 0.0 {
                continue;
            }
            m[0] += w;
            m[1] += w * (f_a + f_b);
            m[2] += w * (f_a * f_a + f_b * f_b);
            for (i, &ab) in f_ab.iter().enumerate() {
                let t = &mut self.terms[r * k + i];
                t[0] += w * f_b * (ab - f_a);
                t[1] += w * (f_a - ab) * (f_a - ab);
            }
        }
    }

    /// Fold another part's sums in (parts of one design, any split).
    pub fn merge(&mut self, other: &SobolSums) {
        for (a, b) in self.moments.iter_mut().zip(&other.moments) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
        for (a, b) in self.terms.iter_mut().zip(&other.terms) {
            a[0] += b[0];
            a[1] += b[1];
        }
    }

    /// (S1, ST) of each input from replicate r's sums.
    fn of(&self, r: usize) -> Vec<(f64, f64)> {
        let [w, s, s2] = self.moments[r];
        // The 2N values f(A), f(B) carry weight w each: mean and variance over 2w.
        let mean = s / (2.0 * w);
        let var = s2 / (2.0 * w) - mean * mean;
        (0..self.k)
            .map(|i| {
                let [t1, t2] = self.terms[r * self.k + i];
                (t1 / w / var, 0.5 * t2 / w / var)
            })
            .collect()
    }

    /// The indices and their intervals.
    pub fn indices(&self) -> Indices {
        let est = self.of(0);
        let reps: Vec<Vec<(f64, f64)>> = (1..self.moments.len()).map(|r| self.of(r)).collect();
        let sd = |pick: &dyn Fn(&(f64, f64)) -> f64, i: usize| {
            let x: Vec<f64> = reps.iter().map(|r| pick(&r[i])).filter(|v| v.is_finite()).collect();
            let n = x.len() as f64;
            if n < 2.0 {
                return f64::NAN;
            }
            let m = x.iter().sum::<f64>() / n;
            (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        };
        let first = |p: &(f64, f64)| p.0;
        let total = |p: &(f64, f64)| p.1;
        Indices {
            s1: est.iter().map(first).collect(),
            s1_ci: (0..self.k)
                .map(|i| (est[i].0 - Z95 * sd(&first, i), est[i].0 + Z95 * sd(&first, i)))
                .collect(),
            st: est.iter().map(total).collect(),
            st_ci: (0..self.k)
                .map(|i| (est[i].1 - Z95 * sd(&total, i), est[i].1 + Z95 * sd(&total, i)))
                .collect(),
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
