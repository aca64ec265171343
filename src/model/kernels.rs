//! Kernels over the age-sex cells: sums in a fixed, vectorisable order, and `exp` without a
//! library call.
//!
//! A left-to-right sum is one chain of dependent additions: each waits for the last (4 cycles),
//! so summing a city's 202 cells took ~800 cycles whatever the vector width, and such chains were
//! most of a draw's time. These kernels keep eight running sums (element i goes to sum i mod 8)
//! and add them pairwise at the end. The order is written out here, not chosen by the compiler,
//! so the result is the same on every machine, thread count and instruction set; it differs from
//! a left-to-right sum only by rounding (a few ulps relative to the total).

use super::sim::Isa;
use crate::region::{AGES, MAX_AGE};

/// Number of interleaved partial sums.
const LANES: usize = 8;

#[inline(always)]
fn combine(acc: [f64; LANES]) -> f64 {
    ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))
}

/// Σ xs.
#[inline(always)]
pub fn sum(xs: &[f64]) -> f64 {
    sum_by(xs, |x| x)
}

/// Σ f(x) over xs: element i in lane i mod 8 for the whole groups of eight, the last
/// len mod 8 elements in a sum of their own, added last.
#[inline(always)]
pub fn sum_by(xs: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    let mut acc = [0.0; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..LANES {
            acc[k] += f(c[k]);
        }
    }
    let mut tail = 0.0;
    for x in rest {
        tail += f(*x);
    }
    combine(acc) + tail
}

/// Σ a·b over the common length.
#[inline(always)]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..LANES {
            acc[k] += x[k] * y[k];
        }
    }
    for ((acc, x), y) in acc.iter_mut().zip(ra).zip(rb) {
        *acc += x * y;
    }
    combine(acc)
}

/// Survival and ageing of ages `lo..hi` in place: p[x + 1] = p[x]·s[x] for x from hi − 1 down to
/// lo (so each p[x] is read before it is overwritten; p[hi] must have been used already); returns
/// (Σ survivors, Σ p·q) in one pass, q = 1 − s. Eight cells at a time, top down, in lanes.
#[inline(always)]
pub fn survive_shift(p: &mut [f64], s: &[f64], q: &[f64], lo: usize, hi: usize) -> (f64, f64) {
    assert!(lo <= hi && hi < p.len() && hi <= s.len() && hi <= q.len());
    let (mut alive, mut dead) = ([0.0; LANES], [0.0; LANES]);
    let mut x = hi;
    while x >= lo + LANES {
        x -= LANES;
        let src: [f64; LANES] = p[x..x + LANES].try_into().expect("eight cells");
        let sv: &[f64; LANES] = s[x..x + LANES].try_into().expect("eight rates");
        let qv: &[f64; LANES] = q[x..x + LANES].try_into().expect("eight rates");
        let mut v = [0.0; LANES];
        for k in 0..LANES {
            v[k] = src[k] * sv[k];
            alive[k] += v[k];
            dead[k] += src[k] * qv[k];
        }
        p[x + 1..x + 1 + LANES].copy_from_slice(&v);
    }
    // The lowest (hi − lo) mod 8 cells, one at a time, into their own sums.
    let (mut alive_rest, mut dead_rest) = (0.0, 0.0);
    while x > lo {
        x -= 1;
        let v = p[x] * s[x];
        alive_rest += v;
        dead_rest += p[x] * q[x];
        p[x + 1] = v;
    }
    (combine(alive) + alive_rest, combine(dead) + dead_rest)
}

/// One year's survival and ageing of one sex's cells `p` with rates `s` (q = 1 − s): [`survive_shift`] of
/// the ages (64, 100), (14, 64) and (0, 14) in turn, returning each one's (Σ survivors, Σ deaths),
/// in the chosen compiled version (the same operations in the same lanes, so the same bits).
/// [`Isa::Avx2`] on a processor without AVX2 runs the baseline version.
#[inline(always)]
pub fn survive_ages(isa: Isa, p: &mut [f64; AGES], s: &[f64; AGES], q: &[f64; AGES]) -> [(f64, f64); 3] {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx2 && Isa::Avx2.available() {
        // SAFETY: the processor has AVX2 (checked just above).
        return unsafe { avx2::survive_ages(p, s, q) };
    }
    let _ = isa;
    [survive_shift(p, s, q, 64, MAX_AGE), survive_shift(p, s, q, 14, 64), survive_shift(p, s, q, 0, 14)]
}

/// Kernels written with AVX2 intrinsics where the compiler's own vectorisation of the portable
/// version is poor. Each does exactly the portable version's operations, lane for lane.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{LANES, combine};
    use crate::region::{AGES, MAX_AGE};
    use std::arch::x86_64::{
        __m256d, _mm256_add_pd, _mm256_loadu_pd, _mm256_mul_pd, _mm256_setzero_pd, _mm256_storeu_pd,
    };

    /// The lanes of two vectors as one array (lanes 0–3, then 4–7).
    #[target_feature(enable = "avx2")]
    fn lanes(lo: __m256d, hi: __m256d) -> [f64; LANES] {
        let mut out = [0.0; LANES];
        // SAFETY: `out` holds eight doubles; unaligned stores.
        unsafe {
            _mm256_storeu_pd(out.as_mut_ptr(), lo);
            _mm256_storeu_pd(out.as_mut_ptr().add(4), hi);
        }
        out
    }

    /// [`super::survive_shift`] of the three ranges (64, 100), (14, 64), (0, 14) in turn, with
    /// two 4-lane vectors per chunk of eight cells and one for four of the lowest cells.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) fn survive_ages(p: &mut [f64; AGES], s: &[f64; AGES], q: &[f64; AGES]) -> [(f64, f64); 3] {
        [range(p, s, q, 64, MAX_AGE), range(p, s, q, 14, 64), range(p, s, q, 0, 14)]
    }

    /// One range of [`survive_ages`].
    #[inline]
    #[target_feature(enable = "avx2")]
    fn range(p: &mut [f64; AGES], s: &[f64; AGES], q: &[f64; AGES], lo: usize, hi: usize) -> (f64, f64) {
        assert!(lo <= hi && hi < AGES);
        let (mut a0, mut a1, mut d0, mut d1) =
            (_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd());
        let (pp, sp, qp) = (p.as_mut_ptr(), s.as_ptr(), q.as_ptr());
        let mut x = hi;
        // SAFETY (every block below): lo ≤ x and x + 8 ≤ hi < AGES = p.len() = s.len() (asserted
        // above), so reads of x..x + 8 and shifted stores to x + 1..x + 9 ≤ hi + 1 are in
        // bounds; each block reads all its cells before its shifted stores.
        while x >= lo + LANES {
            x -= LANES;
            unsafe {
                let (c0, c1) = (_mm256_loadu_pd(pp.add(x)), _mm256_loadu_pd(pp.add(x + 4)));
                let (s0, s1) = (_mm256_loadu_pd(sp.add(x)), _mm256_loadu_pd(sp.add(x + 4)));
                let (v0, v1) = (_mm256_mul_pd(c0, s0), _mm256_mul_pd(c1, s1));
                a0 = _mm256_add_pd(a0, v0);
                a1 = _mm256_add_pd(a1, v1);
                d0 = _mm256_add_pd(d0, _mm256_mul_pd(c0, _mm256_loadu_pd(qp.add(x))));
                d1 = _mm256_add_pd(d1, _mm256_mul_pd(c1, _mm256_loadu_pd(qp.add(x + 4))));
                _mm256_storeu_pd(pp.add(x + 1), v0);
                _mm256_storeu_pd(pp.add(x + 5), v1);
            }
        }
        // The lowest (hi − lo) mod 8 cells, top down, into sums of their own: four of them in one
        // vector when there are at least four, then one at a time.
        let (mut alive_rest, mut dead_rest) = (0.0, 0.0);
        if x >= lo + 4 {
            x -= 4;
            let (mut v, mut d) = ([0.0; 4], [0.0; 4]);
            unsafe {
                let (c, sv) = (_mm256_loadu_pd(pp.add(x)), _mm256_loadu_pd(sp.add(x)));
                let vv = _mm256_mul_pd(c, sv);
                _mm256_storeu_pd(v.as_mut_ptr(), vv);
                _mm256_storeu_pd(d.as_mut_ptr(), _mm256_mul_pd(c, _mm256_loadu_pd(qp.add(x))));
                _mm256_storeu_pd(pp.add(x + 1), vv);
            }
            for k in (0..4).rev() {
                alive_rest += v[k];
                dead_rest += d[k];
            }
        }
        while x > lo {
            x -= 1;
            unsafe {
                let (c, sv) = (*pp.add(x), *sp.add(x));
                let v = c * sv;
                alive_rest += v;
                dead_rest += c * *qp.add(x);
                *pp.add(x + 1) = v;
            }
        }
        (combine(lanes(a0, a1)) + alive_rest, combine(lanes(d0, d1)) + dead_rest)
    }
}

/// 1.5·2^52: adding it rounds a double of magnitude below 2^51 to an integer, in its low bits.
const ROUND_SHIFT: f64 = 6_755_399_441_055_744.0;
/// log2(e).
const LOG2_E: f64 = std::f64::consts::LOG2_E;
/// ln 2 split for Cody–Waite reduction (fdlibm's constants): LN2_HI has 32 significant bits, so k·LN2_HI is exact for
/// |k| < 2^21; LN2_HI + LN2_LO = ln 2 to about 2^-85.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
/// Below this, e^x is below the smallest normal double and the kernel returns 0.
const EXP_MIN: f64 = -708.0;
/// Above this, e^x overflows to +∞.
const EXP_MAX: f64 = 709.8;

/// e^x within 2 ulp of the exact value for `EXP_MIN ≤ x ≤ EXP_MAX`, 0 below and +∞ above
/// (checked against `f64::exp` in the tests).
///
/// The same arithmetic on every machine: only additions, multiplications and bit operations in
/// a written order (no fused multiply-add, no table), so a loop over it vectorises with whatever
/// instruction set the build has and gives the same bits. e^x = 2^k·e^r with k = round(x·log2 e),
/// r = x − k·ln 2 (|r| ≤ 0.347), and e^r from its Taylor series to r^13/13! (truncation below
/// 4e-18 relative).
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    let xc = x.clamp(EXP_MIN, EXP_MAX);
    let t = xc * LOG2_E + ROUND_SHIFT;
    let k = t - ROUND_SHIFT;
    let r = (xc - k * LN2_HI) - k * LN2_LO;
    // Horner on r²/2! + r³/3! + … + r^13/13!, then 1 + (r + that): the small terms are summed
    // first, so the final rounding dominates the error.
    let mut q = 1.0 / 6_227_020_800.0;
    q = q * r + 1.0 / 479_001_600.0;
    q = q * r + 1.0 / 39_916_800.0;
    q = q * r + 1.0 / 3_628_800.0;
    q = q * r + 1.0 / 362_880.0;
    q = q * r + 1.0 / 40_320.0;
    q = q * r + 1.0 / 5_040.0;
    q = q * r + 1.0 / 720.0;
    q = q * r + 1.0 / 120.0;
    q = q * r + 1.0 / 24.0;
    q = q * r + 1.0 / 6.0;
    q = q * r + 0.5;
    let er = 1.0 + (r + r * r * q);
    // 2^(k−1) from the integer in t's low bits (k − 1 + 1023 in the exponent field), times 2:
    // k reaches 1024 just below the overflow threshold, where 2^k itself is not a double.
    let ki = (t.to_bits() as i64).wrapping_sub(ROUND_SHIFT.to_bits() as i64);
    let half_scale = f64::from_bits((ki + 1022).wrapping_shl(52) as u64);
    let y = (er * half_scale) * 2.0;
    if x < EXP_MIN {
        0.0
    } else if x > EXP_MAX {
        f64::INFINITY
    } else {
        y
    }
}

/// fdlibm's minimax coefficients of (ln(1+f) − f + f²/2 − s·f²/2…)/s² in s² (e_log.c, Lg1–Lg7).
const LG: [f64; 7] = [
    f64::from_bits(0x3fe5_5555_5555_5593),
    f64::from_bits(0x3fd9_9999_9997_fa04),
    f64::from_bits(0x3fd2_4924_9422_9359),
    f64::from_bits(0x3fcc_71c5_1d8e_78af),
    f64::from_bits(0x3fc7_4664_96cb_03de),
    f64::from_bits(0x3fc3_9a09_d078_c69f),
    f64::from_bits(0x3fc2_f112_df3e_5244),
];

/// ln x for positive normal x (within 1 ulp, tested against `f64::ln`); other inputs give
/// garbage, so callers patch them ([`ln_in_place`] does).
///
/// fdlibm's method without branches: x = 2^k·m with m in [√2/2, √2), f = m − 1, s = f/(2 + f),
/// ln x = k·ln 2 + f − f²/2 + s·(f²/2 + R(s²)). The same operations in the same order on every
/// machine.
#[inline(always)]
pub fn ln_positive(x: f64) -> f64 {
    let bits = x.to_bits();
    let m1 = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    let big = m1 > std::f64::consts::SQRT_2;
    let m = if big { 0.5 * m1 } else { m1 };
    let k = ((bits >> 52) as i64 - 1023 + i64::from(big)) as f64;
    let f = m - 1.0;
    let hfsq = 0.5 * f * f;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG[1] + w * (LG[3] + w * LG[5]));
    let t2 = z * (LG[0] + w * (LG[2] + w * (LG[4] + w * LG[6])));
    let r = t2 + t1;
    k * LN2_HI - ((hfsq - (s * (hfsq + r) + k * LN2_LO)) - f)
}

/// out[i] = ln xs[i]: [`ln_positive`] over the slice (vectorised), then `f64::ln` for any
/// element that is not a positive normal number (0, negative, subnormal, infinite, NaN).
#[inline(always)]
pub fn ln_into(xs: &[f64], out: &mut [f64]) {
    let mut odd = false;
    for (o, &v) in out.iter_mut().zip(xs) {
        odd |= !(f64::MIN_POSITIVE..f64::INFINITY).contains(&v);
        *o = ln_positive(v);
    }
    if odd {
        ln_fix(xs, out);
    }
}

#[cold]
#[inline(never)]
fn ln_fix(xs: &[f64], out: &mut [f64]) {
    for (o, &v) in out.iter_mut().zip(xs) {
        if !(f64::MIN_POSITIVE..f64::INFINITY).contains(&v) {
            *o = v.ln();
        }
    }
}

/// out[i] = e^xs[i] with [`exp`] (vectorised).
#[inline(always)]
pub fn exp_into(xs: &[f64], out: &mut [f64]) {
    for (o, &v) in out.iter_mut().zip(xs) {
        *o = exp(v);
    }
}

/// out[i] = e^(−a[i]·c), with [`exp`].
#[inline(always)]
pub fn exp_scaled_neg(a: &[f64], c: f64, out: &mut [f64]) {
    for (o, v) in out.iter_mut().zip(a) {
        *o = exp(-v * c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exact reference: integers below 2^53 add exactly in any order.
    fn ints(n: usize) -> Vec<f64> {
        (0..n).map(|i| ((i * 7919) % 1000) as f64).collect()
    }

    #[test]
    fn sums_equal_exact_sums_for_every_length() {
        for n in 0..40 {
            let x = ints(n);
            let y: Vec<f64> = (0..n).map(|i| (i % 5) as f64).collect();
            let exact: f64 = x.iter().sum();
            assert_eq!(sum(&x), exact, "n = {n}");
            let d: f64 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
            assert_eq!(dot(&x, &y), d, "n = {n}");
            // Shifting survival over every sub-range of a padded copy.
            for lo in 0..=n {
                let mut p: Vec<f64> = x.iter().copied().chain([7.0]).collect();
                let q: Vec<f64> = y.iter().map(|v| 1.0 - v).collect();
                let (alive, dead) = survive_shift(&mut p, &y, &q, lo, n);
                let want_alive: f64 = (lo..n).map(|i| x[i] * y[i]).sum();
                let want_dead: f64 = (lo..n).map(|i| x[i] * (1.0 - y[i])).sum();
                assert_eq!((alive, dead), (want_alive, want_dead), "n = {n}, lo = {lo}");
                assert!((lo..n).all(|i| p[i + 1] == x[i] * y[i]), "n = {n}, lo = {lo}");
                assert!((0..=lo).all(|i| p[i] == x.get(i).copied().unwrap_or(7.0)), "n = {n}, lo = {lo}");
            }
        }
    }

    #[test]
    fn survival_versions_give_the_same_bits() {
        // Values over many binades, with zeros and negative zeros, so that any change of order
        // or lane shows in the sums.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..200 {
            let mut p = [0.0; AGES];
            let mut s = [0.0; AGES];
            for x in 0..AGES {
                let r = next();
                p[x] = match r % 17 {
                    0 => 0.0,
                    1 => -0.0,
                    _ => (r >> 11) as f64 * 2f64.powi((r % 40) as i32 - 50),
                };
                s[x] = (next() >> 11) as f64 / (1u64 << 53) as f64;
            }
            let (mut a, mut b) = (p, p);
            let q = s.map(|v| 1.0 - v);
            let want = survive_ages(Isa::Generic, &mut a, &s, &q);
            let got = survive_ages(Isa::Avx2, &mut b, &s, &q);
            let bits = |v: [(f64, f64); 3]| v.map(|(x, y)| (x.to_bits(), y.to_bits()));
            assert_eq!(bits(got), bits(want), "round {round}");
            assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()), "round {round}");
        }
    }

    #[test]
    fn the_order_is_the_stated_one() {
        // [1e16, 1, −1e16, 1, 0, 0, 0, 0] left to right loses the first 1 and gives 1; in lanes
        // the large terms meet each other first: ((1e16 + 0) + (−1e16 + 0)) + ((1 + 0) + (1 + 0)).
        let x = [1e16, 1.0, -1e16, 1.0, 0.0, 0.0, 0.0, 0.0];
        assert_eq!(x.iter().sum::<f64>(), 1.0);
        assert_eq!(sum(&x), 2.0);
        // A shorter tail is summed on its own, left to right, after the lanes.
        assert_eq!(sum(&x[..4]), 1.0);
    }

    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn exp_is_within_two_ulp_of_the_library() {
        // Every kind of argument the model gives it (survival: −m·(1−ι)^k from −2 to 0), and the
        // whole range of normal results.
        let mut worst = 0;
        let mut x = -708.0;
        while x <= 709.78 {
            worst = worst.max(ulps(exp(x), x.exp()));
            x += 0.000_731;
        }
        for i in 0..200_000 {
            let x = -2.0 * f64::from(i) / 200_000.0;
            worst = worst.max(ulps(exp(x), x.exp()));
            let tiny = -1e-3 * f64::from(i) / 200_000.0;
            worst = worst.max(ulps(exp(tiny), tiny.exp()));
        }
        assert!(worst <= 2, "worst {worst} ulp");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-1000.0), 0.0);
        assert_eq!(exp(1000.0), f64::INFINITY);
        assert_eq!(exp(709.79), f64::INFINITY);
        assert!((exp(709.78) / 709.78f64.exp() - 1.0).abs() < 1e-15);
        assert_eq!(exp(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert!(exp(f64::NAN).is_nan());
    }

    #[test]
    fn ln_is_within_one_ulp_of_the_library() {
        let mut worst = 0;
        let mut check = |x: f64| {
            let mut out = [0.0];
            ln_into(&[x], &mut out);
            let (a, b) = (out[0], x.ln());
            let d = if a == b { 0 } else { ulps(a, b) };
            worst = worst.max(d);
        };
        // Model inputs (capital, labour, wages: 1e-3 to 1e6) and every binade.
        for i in 0..400_000 {
            check(1e-3 * (1e9f64).powf(f64::from(i) / 400_000.0));
            check(1.0 + (f64::from(i) - 200_000.0) * 1e-6);
        }
        for e in -1022..1024 {
            check(f64::from(e).exp2() * 1.37);
            check(f64::from(e).exp2());
        }
        assert!(worst <= 1, "worst {worst} ulp");
        let specials = [0.0, -0.0, -1.0, f64::INFINITY, f64::NAN, 1e-310, f64::MIN_POSITIVE];
        let mut out = [0.0; 7];
        ln_into(&specials, &mut out);
        for (x, y) in specials.iter().zip(out) {
            assert!(y.to_bits() == x.ln().to_bits() || (y.is_nan() && x.ln().is_nan()), "ln {x} = {y}");
        }
    }
}
