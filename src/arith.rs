//! Arithmetic written out, so that a draw gives the same bits on every machine and in every
//! compiled version: sums in eight fixed lanes, `exp` and `ln` by plain operations, `powi`.
//!
//! A left-to-right sum is one chain of dependent additions: each waits for the last (4 cycles),
//! so summing a city's 202 cells took ~800 cycles whatever the vector width. These sums keep eight
//! running sums (element i goes to sum i mod 8) and add them pairwise at the end. The order is
//! written out here, not chosen by the compiler, so the result is the same on every machine,
//! thread count and instruction set; it differs from a left-to-right sum only by rounding (a few
//! ulps relative to the total). The engine's vector kernels (`model::engine::kernels`) do these
//! very operations lane for lane; the model's equations and its reference path call the scalar
//! forms here.

/// Number of interleaved partial sums.
pub(crate) const LANES: usize = 8;

#[inline(always)]
pub(crate) fn combine(acc: [f64; LANES]) -> f64 {
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

/// Eight running sums built one element at a time: element x goes to sum x mod 8, and the sums
/// are added pairwise at the end ([`Lanes::total`]), as [`sum`] and the engine's survival kernel
/// add them. Lanes are independent, so elements may come in any order that keeps each lane's own
/// order (the survival kernel adds the cells of each lane from the oldest down).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Lanes([f64; LANES]);

impl Lanes {
    /// Add element x's value to its lane.
    #[inline]
    pub fn add(&mut self, x: usize, v: f64) {
        self.0[x % LANES] += v;
    }

    /// The lanes added pairwise.
    #[inline]
    pub fn total(self) -> f64 {
        combine(self.0)
    }
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

/// 1.5·2^52: adding it rounds a double of magnitude below 2^51 to an integer, in its low bits.
pub(crate) const ROUND_SHIFT: f64 = 6_755_399_441_055_744.0;
/// ln 2 split for Cody–Waite reduction (fdlibm's constants): LN2_HI has 32 significant bits, so k·LN2_HI is exact for
/// |k| < 2^21; LN2_HI + LN2_LO = ln 2 to about 2^-85.
pub(crate) const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
pub(crate) const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
/// Table size of [`exp`]: e^x = 2^(k + j/32)·e^r.
pub(crate) const EXP_N: f64 = 32.0;
/// 32·log2(e) (exact: a power of two times `LOG2_E`).
pub(crate) const EXP_SCALE: f64 = EXP_N * std::f64::consts::LOG2_E;
/// ln 2 / 32, split as above (exact divisions by a power of two): n·EXP_LN2_HI is exact for
/// |n| < 2^21.
pub(crate) const EXP_LN2_HI: f64 = LN2_HI / EXP_N;
pub(crate) const EXP_LN2_LO: f64 = LN2_LO / EXP_N;
/// 2^(j/32) for j = 0..32 as hi + lo: hi the nearest double, lo the nearest double to the rest
/// (computed to 60 digits; hi + lo is within 2^-104 of 2^(j/32)).
pub(crate) static EXP2_HI: [f64; 32] = [
    f64::from_bits(0x3ff0_0000_0000_0000),
    f64::from_bits(0x3ff0_59b0_d315_8574),
    f64::from_bits(0x3ff0_b558_6cf9_890f),
    f64::from_bits(0x3ff1_1301_d012_5b51),
    f64::from_bits(0x3ff1_72b8_3c7d_517b),
    f64::from_bits(0x3ff1_d487_3168_b9aa),
    f64::from_bits(0x3ff2_387a_6e75_6238),
    f64::from_bits(0x3ff2_9e9d_f51f_dee1),
    f64::from_bits(0x3ff3_06fe_0a31_b715),
    f64::from_bits(0x3ff3_71a7_373a_a9cb),
    f64::from_bits(0x3ff3_dea6_4c12_3422),
    f64::from_bits(0x3ff4_4e08_6061_892d),
    f64::from_bits(0x3ff4_bfda_d536_2a27),
    f64::from_bits(0x3ff5_342b_569d_4f82),
    f64::from_bits(0x3ff5_ab07_dd48_5429),
    f64::from_bits(0x3ff6_247e_b03a_5585),
    f64::from_bits(0x3ff6_a09e_667f_3bcd),
    f64::from_bits(0x3ff7_1f75_e8ec_5f74),
    f64::from_bits(0x3ff7_a114_73eb_0187),
    f64::from_bits(0x3ff8_2589_994c_ce13),
    f64::from_bits(0x3ff8_ace5_422a_a0db),
    f64::from_bits(0x3ff9_3737_b0cd_c5e5),
    f64::from_bits(0x3ff9_c491_82a3_f090),
    f64::from_bits(0x3ffa_5503_b23e_255d),
    f64::from_bits(0x3ffa_e89f_995a_d3ad),
    f64::from_bits(0x3ffb_7f76_f2fb_5e47),
    f64::from_bits(0x3ffc_199b_dd85_529c),
    f64::from_bits(0x3ffc_b720_dcef_9069),
    f64::from_bits(0x3ffd_5818_dcfb_a487),
    f64::from_bits(0x3ffd_fc97_337b_9b5f),
    f64::from_bits(0x3ffe_a4af_a2a4_90da),
    f64::from_bits(0x3fff_5076_5b6e_4540),
];
pub(crate) static EXP2_LO: [f64; 32] = [
    f64::from_bits(0x0000_0000_0000_0000),
    f64::from_bits(0x3c8d_73e2_a475_b465),
    f64::from_bits(0x3c98_a62e_4adc_610b),
    f64::from_bits(0xbc96_c510_3944_9b3a),
    f64::from_bits(0xbc81_9041_b9d7_8a76),
    f64::from_bits(0x3c9e_016e_00a2_643c),
    f64::from_bits(0x3c99_b07e_b6c7_0573),
    f64::from_bits(0x3c86_12e8_afad_1255),
    f64::from_bits(0x3c86_f46a_d231_82e4),
    f64::from_bits(0xbc96_3aea_bf42_eae2),
    f64::from_bits(0x3c8a_da09_11f0_9ebc),
    f64::from_bits(0x3c48_9b7a_04ef_80d0),
    f64::from_bits(0x3c7d_4397_afec_42e2),
    f64::from_bits(0xbc80_7abe_1db1_3cad),
    f64::from_bits(0x3c96_324c_0546_47ad),
    f64::from_bits(0xbc93_83c1_7e40_b497),
    f64::from_bits(0xbc9b_dd34_13b2_6456),
    f64::from_bits(0xbc81_6e47_8688_7a99),
    f64::from_bits(0xbc84_1577_ee04_992f),
    f64::from_bits(0xbc9d_4c1d_d415_32d8),
    f64::from_bits(0x3c96_e9f1_5686_4b27),
    f64::from_bits(0xbc67_5fc7_81b5_7ebc),
    f64::from_bits(0x3c7c_7c46_b071_f2be),
    f64::from_bits(0xbc9d_2f6e_db8d_41e1),
    f64::from_bits(0x3c97_a1cd_345d_cc81),
    f64::from_bits(0xbc75_584f_7e54_ac3b),
    f64::from_bits(0x3c81_1065_8950_48dd),
    f64::from_bits(0x3c75_03cb_d1e9_49db),
    f64::from_bits(0x3c82_ed02_d75b_3707),
    f64::from_bits(0xbc91_a5cd_4f18_4b5c),
    f64::from_bits(0xbc9e_9c23_179c_2893),
    f64::from_bits(0x3c99_d3e1_2dd8_a18b),
];
/// Below this, the kernel returns 0 (e^-707 ≈ 1e-307 is still a normal double; the scale
/// 2^(k−1) below must be one).
pub(crate) const EXP_MIN: f64 = -707.0;
/// x^n by the binary powering of `f64::powi` (compiler-builtins' `__powidf2`: the product takes
/// x^(2^j) for each set bit j of n, from the lowest), inlined: the same bits (tested), without
/// a library call.
#[inline(always)]
pub fn powi(x: f64, n: u32) -> f64 {
    let (mut acc, mut x, mut n) = (1.0, x, n);
    loop {
        if n & 1 != 0 {
            acc *= x;
        }
        n >>= 1;
        if n == 0 {
            return acc;
        }
        x *= x;
    }
}

/// The largest rate m for which −m·c, 0 ≤ c ≤ 1, stays inside `exp`'s range (see
/// the survival kernel (`exp_scaled_neg`) and `Model::mortality_bounded`).
pub const EXP_SAFE_RATE: f64 = -EXP_MIN;
/// Above this, e^x overflows to +∞.
pub(crate) const EXP_MAX: f64 = 709.8;
/// 1022 in a double's exponent field: adding it to k·2^52 gives the bits of 2^(k−1).
pub(crate) const EXP_BIAS_BITS: i64 = 1022 << 52;

/// e^x within 1 ulp of the exact value for `EXP_MIN ≤ x ≤ EXP_MAX`, 0 below and +∞ above
/// (checked against `f64::exp` in the tests); NaN gives NaN.
///
/// The same arithmetic on every machine: only additions, multiplications, table reads and bit
/// operations in a written order (no fused multiply-add), so every compiled version (and the
/// engine's vector kernels, lane for lane) gives the same bits, whatever the platform's libm.
/// e^x = 2^k·2^(j/32)·e^r with n = 32k + j = round(x·32/ln 2), r = x − n·ln 2/32 (|r| ≤ 0.0109),
/// e^r − 1 from its Taylor series to r^6/6! (truncation below 4e-18 relative) and 2^(j/32)
/// from a table of hi + lo pairs.
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    let xc = x.clamp(EXP_MIN, EXP_MAX);
    let t = xc * EXP_SCALE + ROUND_SHIFT;
    let n = t - ROUND_SHIFT;
    let r = (xc - n * EXP_LN2_HI) - n * EXP_LN2_LO;
    let q = r + r * r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0)))));
    // n = 32k + j in t's low bits; (n − j)·2^47 = k·2^52 is k in the exponent field.
    let ni = (t.to_bits() as i64).wrapping_sub(ROUND_SHIFT.to_bits() as i64);
    let j = (ni & 31) as usize;
    let half_scale = f64::from_bits((ni & !31).wrapping_shl(47).wrapping_add(EXP_BIAS_BITS) as u64);
    let (hi, lo) = (EXP2_HI[j], EXP2_LO[j]);
    // 2^(k−1) times 2: k reaches 1024 just below the overflow threshold, where 2^k itself is not
    // a double.
    let y = ((hi + (lo + hi * q)) * half_scale) * 2.0;
    if x < EXP_MIN {
        0.0
    } else if x > EXP_MAX {
        f64::INFINITY
    } else {
        y
    }
}

/// fdlibm's minimax coefficients of (ln(1+f) − f + f²/2 − s·f²/2…)/s² in s² (e_log.c, Lg1–Lg7).
pub(crate) const LG: [f64; 7] = [
    f64::from_bits(0x3fe5_5555_5555_5593),
    f64::from_bits(0x3fd9_9999_9997_fa04),
    f64::from_bits(0x3fd2_4924_9422_9359),
    f64::from_bits(0x3fcc_71c5_1d8e_78af),
    f64::from_bits(0x3fc7_4664_96cb_03de),
    f64::from_bits(0x3fc3_9a09_d078_c69f),
    f64::from_bits(0x3fc2_f112_df3e_5244),
];

/// ln x for positive normal x (within 1 ulp, tested against `f64::ln`); other inputs give
/// garbage, so callers patch them ([`ln_into`] does).
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

/// ln x with [`ln_positive`] for positive normal x (the same bits on every platform) and
/// `f64::ln` for the rest (0, negative, subnormal, infinite, NaN).
#[inline(always)]
pub fn ln(x: f64) -> f64 {
    if (f64::MIN_POSITIVE..f64::INFINITY).contains(&x) { ln_positive(x) } else { x.ln() }
}

/// `out[i] = ln xs[i]`: [`ln_positive`] over the slice (vectorised), then `f64::ln` for any
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
pub(crate) fn ln_fix(xs: &[f64], out: &mut [f64]) {
    for (o, &v) in out.iter_mut().zip(xs) {
        if !(f64::MIN_POSITIVE..f64::INFINITY).contains(&v) {
            *o = v.ln();
        }
    }
}

/// The largest rate m whose survival e^(−m·c), 0 ≤ c ≤ 1, the survival kernel (`exp_scaled_neg`) may take from the
/// short series [`exp_small`] (the leading cells of a schedule up to this rate).
pub const SMALL_RATE: f64 = 1.0 / 64.0;

/// e^x for −[`SMALL_RATE`] ≤ x ≤ 0 from its Taylor series to x^7/7! (the next term is below
/// 1e-19, a thousandth of an ulp of the result), by Horner's rule in a written order: within an
/// ulp of the exact value, and the same bits in every compiled version. A third of the
/// operations of [`exp`], which needs a range reduction and a table for arguments of any size.
#[inline(always)]
pub fn exp_small(x: f64) -> f64 {
    let [first, rest @ ..] = EXP_SMALL_HORNER;
    rest.iter().fold(first, |p, &c| c + x * p)
}

/// [`exp_small`]'s Horner steps p ← c + x·p, from p = 1/7!: e^x = 1 + x·(1 + x·(1/2 + …)).
pub(crate) const EXP_SMALL_HORNER: [f64; 8] =
    [1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0];

/// How many leading rates of `m` may use [`exp_small`] in the survival kernel (`exp_scaled_neg`): the longest prefix
/// of rates in [0, [`SMALL_RATE`]], rounded down to a multiple of eight.
pub fn small_prefix(m: &[f64]) -> usize {
    m.iter().take_while(|v| (0.0..=SMALL_RATE).contains(*v)).count() / LANES * LANES
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
        }
    }

    /// A small xorshift generator for test inputs.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn powi_is_the_library_powi() {
        let mut st = 0x9e37_79b9_7f4a_7c15u64;
        let mut unit = || (xorshift(&mut st) >> 11) as f64 / (1u64 << 53) as f64;
        for _ in 0..2_000 {
            // Mortality-improvement bases near 1, and any positive or negative base.
            for x in [1.0 - 0.05 * unit(), 4.0 * unit() - 2.0, 1e3 * unit()] {
                for n in (0..70).chain([127, 128, 255, 1000]) {
                    let (got, want) = (powi(x, n), x.powi(n as i32));
                    assert!(got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()), "{x}^{n}");
                }
            }
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
    fn exp_is_within_one_ulp_of_the_library() {
        // Every kind of argument the model gives it (survival: −m·(1−ι)^k from −2 to 0), and the
        // whole range of normal results.
        let mut worst = 0;
        let mut x = -707.0;
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
        assert!(worst <= 1, "worst {worst} ulp");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-707.5), 0.0);
        assert_eq!(exp(-1000.0), 0.0);
        assert_eq!(exp(1000.0), f64::INFINITY);
        assert_eq!(exp(709.79), f64::INFINITY);
        assert!((exp(709.78) / 709.78f64.exp() - 1.0).abs() < 1e-15);
        assert_eq!(exp(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert!(exp(f64::NAN).is_nan());
    }

    #[test]
    fn the_short_series_is_within_one_ulp_of_the_library_and_of_exp() {
        let (mut worst, mut worst_exp) = (0, 0);
        for i in 0..=400_000 {
            let x = -SMALL_RATE * f64::from(i) / 400_000.0;
            worst = worst.max(ulps(exp_small(x), x.exp()));
            worst_exp = worst_exp.max(ulps(exp_small(x), exp(x)));
        }
        for x in [-SMALL_RATE, -SMALL_RATE.next_down().abs(), -1e-300, -0.0, 0.0] {
            worst = worst.max(ulps(exp_small(x), x.exp()));
        }
        assert!(worst <= 1 && worst_exp <= 1, "worst {worst} ulp from the library, {worst_exp} from exp");
        assert_eq!(exp_small(0.0), 1.0);
    }

    #[test]
    fn exp_table_is_two_to_the_j_over_32() {
        for j in 0..32 {
            let want = (f64::from(j) / 32.0).exp2();
            assert!(ulps(EXP2_HI[j as usize], want) <= 1, "j = {j}");
            // lo is below half an ulp of hi.
            assert!(EXP2_LO[j as usize].abs() <= 0.5 * (EXP2_HI[j as usize].next_up() - EXP2_HI[j as usize]));
        }
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
