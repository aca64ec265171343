//! The vector kernels of the draw: the survival of a sex's cells with the year's migrants added
//! as they are stored, `exp` and `ln` over slices, and the births' dot product, each in a
//! portable, an AVX2 and an AVX-512 version that do [`crate::arith`]'s operations lane for lane
//! (the same bits in each).

use crate::arith::*;
use crate::isa::Isa;
use crate::region::{AGES, MAX_AGE};

/// Whether a kernel runs its AVX2 version: `isa` asks for it and the processor has it (so an
/// [`Isa::Avx2`] request on a processor without AVX2 runs the baseline version, never faults).
#[inline(always)]
fn use_avx2(isa: Isa) -> bool {
    matches!(isa, Isa::Avx2 | Isa::Avx512) && Isa::Avx2.available()
}

/// Whether a kernel runs its AVX-512 version (as [`use_avx2`]).
#[inline(always)]
fn use_avx512(isa: Isa) -> bool {
    isa == Isa::Avx512 && Isa::Avx512.available()
}

/// [`dot`] in the chosen compiled version (the same operations in the same lanes, so the same
/// bits).
#[inline(always)]
pub fn dot_on(isa: Isa, a: &[f64], b: &[f64]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if use_avx512(isa) {
        // SAFETY: `use_avx512` checked that the processor has AVX-512 F/VL/DQ.
        return unsafe { avx512::dot(a, b) };
    }
    #[cfg(target_arch = "x86_64")]
    if use_avx2(isa) {
        // SAFETY: `use_avx2` checked that the processor has AVX2.
        return unsafe { avx2::dot(a, b) };
    }
    let _ = isa;
    dot(a, b)
}

/// Sums of one year's survival of one sex's cells 0..=99 ([`survive_ages`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Survived {
    /// Σ survivors of cells 0..14 (aged 1–14 at the end of the year).
    pub young: f64,
    /// Σ survivors of cells 14..64 (aged 15–64).
    pub working: f64,
    /// Σ survivors of cells 64..100 (aged 65–100).
    pub old: f64,
    /// Σ p·q over cells 0..100: their deaths.
    pub dead: f64,
    /// With [`Migrants::Outflow`]: whether every cell stored (1..=99) can lose n·μ without
    /// losing more than the outflow cap of itself (checked in the AVX-512 kernel as the cells
    /// are stored, in a pass of its own over the natural cells elsewhere); true otherwise.
    pub within_cap: bool,
}

/// What [`survive_ages`] does with the year's net migrants n (spread by the profile μ) in the
/// cells it stores, 1..=99 (cells 0 and 100 are the caller's).
#[derive(Debug, Clone, Copy)]
pub enum Migrants<'a> {
    /// Nothing.
    None,
    /// Add an inflow n ≥ 0: store `p[x]·s[x] + n·μ[x + 1]`, the same two roundings as adding n·μ
    /// afterwards.
    Add(f64, &'a [f64; AGES]),
    /// An outflow n < 0: stored as [`Migrants::Add`] stores an inflow, with the survivors
    /// themselves kept in the kernel's `natural` cells (for the caller to put back should the
    /// cap bind), and checked against the cap: −n·μ ≤ `cap`·p for each survivor p (as
    /// `demography::spread_migrants` compares them), into [`Survived::within_cap`].
    Outflow(f64, &'a [f64; AGES], f64),
}

/// [`Migrants`] as a kernel's compile-time mode.
const NONE: u8 = 0;
const ADD: u8 = 1;
const OUTFLOW: u8 = 2;

/// Blocks of eight cells over cells 0..100: block b holds cells 8b..8b + 8, cell x in lane x mod 8;
/// the top block (96..104) has cells only in its lower four lanes.
const SURVIVAL_BLOCKS: usize = MAX_AGE.div_ceil(LANES);
/// The first working-age cell (survivors aged 15) and the first old-age cell (aged 65); the latter
/// starts a block.
const FIRST_WORKING: usize = 14;
const FIRST_OLD: usize = 64;
const _: () = assert!(FIRST_OLD.is_multiple_of(LANES) && FIRST_WORKING / LANES == 1);

/// One year's survival and ageing of one sex's cells in place: `p[x + 1] = p[x]·s[x]` for x = 99
/// down to 0 (`p[100]`, the open group, is the caller's to have read first), with the survivors'
/// sums by age group and Σ p·q, q = 1 − s (computed here, as the deaths need it), in one pass.
///
/// With migrants (n, μ), the cells 1..=99 also receive n·μ as they are stored:
/// `p[x + 1] = p[x]·s[x] + n·μ[x + 1]`, the same two roundings as adding n·μ after the kernel (the
/// sums stay those of the survivors; cells 0 and 100 are left to the caller). With an outflow,
/// `natural[x + 1]` keeps the survivors `p[x]·s[x]` (1..=100; `natural` is not touched
/// otherwise).
///
/// The order is fixed: blocks of eight cells from the top down, cell x in lane x mod 8 of every
/// sum; an age group's sum takes +0 in the lanes of cells outside the group (which leaves it
/// unchanged: the sums start at +0 and never become −0); each sum ends by adding its lanes
/// pairwise, as the module's sums do. Every compiled version does exactly these operations, so
/// it gives the same bits.
#[inline(always)]
pub fn survive_ages(
    isa: Isa,
    p: &mut [f64; AGES],
    s: &[f64; AGES],
    migrants: Migrants<'_>,
    natural: &mut [f64; AGES],
) -> Survived {
    // One compiled copy per mode; `n` is the migrants, `cap` the cap.
    let (mode, n, mu, cap) = match migrants {
        Migrants::None => (NONE, 0.0, s, 0.0),
        Migrants::Add(n, mu) => (ADD, n, mu, 0.0),
        Migrants::Outflow(n, mu, cap) => (OUTFLOW, n, mu, cap),
    };
    // The version's copy for `mode` among the modes it has (any other runs as NONE).
    macro_rules! by_mode {
        ($f:path, $($m:ident),*) => {{
            use $f as kernel;
            match mode {
                $($m => kernel::<$m>(p, s, n, mu, cap, natural),)*
                _ => kernel::<NONE>(p, s, n, mu, cap, natural),
            }
        }};
    }
    #[cfg(target_arch = "x86_64")]
    if use_avx512(isa) {
        // SAFETY: `use_avx512` checked that the processor has AVX-512 F/VL/DQ.
        return unsafe { by_mode!(avx512::survive_ages, ADD, OUTFLOW) };
    }
    // Elsewhere the check is a pass of its own after the kernel (in the AVX2 kernel it cost
    // more instructions than it saved).
    #[cfg(target_arch = "x86_64")]
    let done = if use_avx2(isa) {
        // SAFETY: `use_avx2` checked that the processor has AVX2.
        unsafe { by_mode!(avx2::survive_ages, ADD, OUTFLOW) }
    } else {
        by_mode!(survive_portable, ADD, OUTFLOW)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let done = by_mode!(survive_portable, ADD, OUTFLOW);
    let _ = isa;
    match migrants {
        Migrants::Outflow(..) => Survived {
            within_cap: (1..MAX_AGE).fold(true, |ok, y| ok & (-n * mu[y] <= cap * natural[y])),
            ..done
        },
        _ => done,
    }
}

/// The portable version of [`survive_ages`].
#[inline(always)]
fn survive_portable<const MODE: u8>(
    p: &mut [f64; AGES],
    s: &[f64; AGES],
    n: f64,
    mu: &[f64; AGES],
    cap: f64,
    natural: &mut [f64; AGES],
) -> Survived {
    let mut sums = [[0.0; LANES]; 4]; // young, working, old, dead
    for b in (0..SURVIVAL_BLOCKS).rev() {
        let base = b * LANES;
        let (mut c, mut v, mut d) = ([0.0; LANES], [0.0; LANES], [0.0; LANES]);
        for k in 0..LANES {
            let x = base + k;
            if x < MAX_AGE {
                c[k] = p[x];
                v[k] = c[k] * s[x];
                d[k] = c[k] * (1.0 - s[x]);
            }
        }
        for k in 0..LANES {
            let x = base + k;
            if x < MAX_AGE {
                let group = usize::from(x >= FIRST_WORKING) + usize::from(x >= FIRST_OLD);
                sums[group][k] += v[k];
                sums[3][k] += d[k];
                let added = (MODE == ADD || MODE == OUTFLOW) && x + 1 < MAX_AGE;
                p[x + 1] = if added { v[k] + n * mu[x + 1] } else { v[k] };
                if MODE == OUTFLOW {
                    natural[x + 1] = v[k];
                }
            }
        }
    }
    let [young, working, old, dead] = sums.map(combine);
    // The cap is checked after this kernel.
    let _ = cap;
    Survived { young, working, old, dead, within_cap: true }
}

/// Kernels written with AVX2 intrinsics where the compiler's own vectorisation of the portable
/// version is poor. Each does exactly the portable version's operations, lane for lane.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::LANES;
    use crate::region::{AGES, MAX_AGE};
    use std::arch::x86_64::{
        __m256d, _CMP_GE_OQ, _CMP_GT_OQ, _CMP_LT_OQ, _mm_add_pd, _mm_add_sd, _mm_cvtsd_f64, _mm_unpackhi_pd,
        _mm256_add_epi64, _mm256_add_pd, _mm256_and_pd, _mm256_and_si256, _mm256_andnot_pd, _mm256_blendv_pd,
        _mm256_castpd_si256, _mm256_castpd256_pd128, _mm256_castsi256_pd, _mm256_cmp_pd, _mm256_div_pd,
        _mm256_extractf128_pd, _mm256_i64gather_pd, _mm256_loadu_pd, _mm256_max_pd, _mm256_min_pd,
        _mm256_movemask_pd, _mm256_mul_pd, _mm256_or_pd, _mm256_or_si256, _mm256_set_epi64x,
        _mm256_set1_epi64x, _mm256_set1_pd, _mm256_setzero_pd, _mm256_slli_epi64, _mm256_srli_epi64,
        _mm256_storeu_pd, _mm256_sub_epi64, _mm256_sub_pd, _mm256_xor_pd,
    };

    /// The lanes of two vectors as one array (lanes 0–3, then 4–7).
    #[inline]
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

    /// [`super::combine`] of the eight lanes of `lo` (lanes 0–3) and `hi` (4–7), in vectors:
    /// s = lo + hi holds a_k + a_{k+4}; then (s_0 + s_2) + (s_1 + s_3), the same order.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn combine_lanes(lo: __m256d, hi: __m256d) -> f64 {
        let s = _mm256_add_pd(lo, hi);
        let t = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd::<1>(s));
        _mm_cvtsd_f64(_mm_add_sd(t, _mm_unpackhi_pd(t, t)))
    }

    /// [`super::survive_ages`]: each block of eight cells as two 4-lane vectors (lanes 0–3 and
    /// 4–7); the top block's upper half holds no cell and is left out (its sums would take +0).
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) fn survive_ages<const MODE: u8>(
        p: &mut [f64; AGES],
        s: &[f64; AGES],
        n: f64,
        mu: &[f64; AGES],
        cap: f64,
        natural: &mut [f64; AGES],
    ) -> super::Survived {
        use super::{ADD, FIRST_OLD, FIRST_WORKING, OUTFLOW, SURVIVAL_BLOCKS};
        // The cap is checked after this kernel.
        let _ = cap;
        let np = natural.as_mut_ptr();
        const { assert!(MAX_AGE == 8 * (SURVIVAL_BLOCKS - 1) + 4) };
        let z = _mm256_setzero_pd();
        let (mut young, mut working, mut old, mut dead) = ([z; 2], [z; 2], [z; 2], [z; 2]);
        let (pp, sp, mp, nv, one) =
            (p.as_mut_ptr(), s.as_ptr(), mu.as_ptr(), _mm256_set1_pd(n), _mm256_set1_pd(1.0));
        // Lanes 0–2: the top quad's cells whose survivors are not the open group (cell 100).
        let below_top = _mm256_castsi256_pd(_mm256_set_epi64x(0, -1, -1, -1));
        let top = 8 * (SURVIVAL_BLOCKS - 1);
        // Four cells x..x + 4: survivors (stored at x + 1..x + 5 after the cells are read, with
        // the inflow added) and deaths added into half h of `dead`.
        let quad = |x: usize, dead: &mut [__m256d; 2], h: usize, top_quad: bool| {
            // SAFETY: x + 4 ≤ MAX_AGE, so reads of x..x + 4 (μ: x + 1..x + 5 ≤ AGES) and the
            // shifted store to x + 1..x + 5 ≤ AGES are in bounds; the cells are read before the
            // store.
            unsafe {
                let c = _mm256_loadu_pd(pp.add(x));
                let sv = _mm256_loadu_pd(sp.add(x));
                let v = _mm256_mul_pd(c, sv);
                dead[h] = _mm256_add_pd(dead[h], _mm256_mul_pd(c, _mm256_sub_pd(one, sv)));
                let stored = if MODE == ADD || MODE == OUTFLOW {
                    let w = _mm256_add_pd(v, _mm256_mul_pd(nv, _mm256_loadu_pd(mp.add(x + 1))));
                    if top_quad { _mm256_blendv_pd(v, w, below_top) } else { w }
                } else {
                    v
                };
                if MODE == OUTFLOW {
                    _mm256_storeu_pd(np.add(x + 1), v);
                }
                _mm256_storeu_pd(pp.add(x + 1), stored);
                v
            }
        };
        old[0] = _mm256_add_pd(old[0], quad(top, &mut dead, 0, true));
        for b in (FIRST_OLD / 8..SURVIVAL_BLOCKS - 1).rev() {
            let hi = quad(8 * b + 4, &mut dead, 1, false);
            let lo = quad(8 * b, &mut dead, 0, false);
            old = [_mm256_add_pd(old[0], lo), _mm256_add_pd(old[1], hi)];
        }
        for b in (FIRST_WORKING / 8 + 1..FIRST_OLD / 8).rev() {
            let hi = quad(8 * b + 4, &mut dead, 1, false);
            let lo = quad(8 * b, &mut dead, 0, false);
            working = [_mm256_add_pd(working[0], lo), _mm256_add_pd(working[1], hi)];
        }
        // Cells 8..16: 8–13 young, 14 and 15 working (lanes 6 and 7).
        let hi = quad(12, &mut dead, 1, false);
        let lo = quad(8, &mut dead, 0, false);
        // All-ones bits in lanes 2 and 3 of the upper half (cells 14 and 15).
        let upper = _mm256_castsi256_pd(_mm256_set_epi64x(-1, -1, 0, 0));
        young = [_mm256_add_pd(young[0], lo), _mm256_add_pd(young[1], _mm256_andnot_pd(upper, hi))];
        working[1] = _mm256_add_pd(working[1], _mm256_and_pd(upper, hi));
        let hi = quad(4, &mut dead, 1, false);
        let lo = quad(0, &mut dead, 0, false);
        young = [_mm256_add_pd(young[0], lo), _mm256_add_pd(young[1], hi)];
        let sum = |v: [__m256d; 2]| combine_lanes(v[0], v[1]);
        super::Survived {
            young: sum(young),
            working: sum(working),
            old: sum(old),
            dead: sum(dead),
            within_cap: true,
        }
    }

    /// [`super::ln_positive`] of each value, four lanes at a time with the same operations lane
    /// for lane (the last len mod 4 one at a time); whether any value is not a positive normal
    /// number (those lanes hold garbage: the caller patches them).
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) fn ln_into(xs: &[f64], out: &mut [f64]) -> bool {
        use super::{LG, LN2_HI, LN2_LO};
        let n = xs.len().min(out.len());
        let c = _mm256_set1_pd;
        let mut odd = _mm256_setzero_pd();
        let mut i = 0;
        while i + 4 <= n {
            // SAFETY: i + 4 ≤ n ≤ both lengths; unaligned loads and stores.
            unsafe {
                let x = _mm256_loadu_pd(xs.as_ptr().add(i));
                // Not in [MIN_POSITIVE, ∞), NaN included.
                let inside = _mm256_and_pd(
                    _mm256_cmp_pd::<_CMP_GE_OQ>(x, c(f64::MIN_POSITIVE)),
                    _mm256_cmp_pd::<_CMP_LT_OQ>(x, c(f64::INFINITY)),
                );
                odd =
                    _mm256_or_pd(odd, _mm256_andnot_pd(inside, _mm256_castsi256_pd(_mm256_set1_epi64x(-1))));
                let bits = _mm256_castpd_si256(x);
                let m1 = _mm256_castsi256_pd(_mm256_or_si256(
                    _mm256_and_si256(bits, _mm256_set1_epi64x(0x000f_ffff_ffff_ffff)),
                    _mm256_set1_epi64x(0x3ff0_0000_0000_0000),
                ));
                let big = _mm256_cmp_pd::<_CMP_GT_OQ>(m1, c(std::f64::consts::SQRT_2));
                let m = _mm256_blendv_pd(m1, _mm256_mul_pd(c(0.5), m1), big);
                // k = e − 1023 + big, exactly (small integers): the exponent field as a double
                // through the 2^52 trick.
                let two52 = _mm256_set1_epi64x(0x4330_0000_0000_0000);
                let e = _mm256_sub_pd(
                    _mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64::<52>(bits), two52)),
                    _mm256_castsi256_pd(two52),
                );
                let k = _mm256_add_pd(_mm256_sub_pd(e, c(1023.0)), _mm256_and_pd(big, c(1.0)));
                let f = _mm256_sub_pd(m, c(1.0));
                let hfsq = _mm256_mul_pd(_mm256_mul_pd(c(0.5), f), f);
                let s = _mm256_div_pd(f, _mm256_add_pd(c(2.0), f));
                let z = _mm256_mul_pd(s, s);
                let w = _mm256_mul_pd(z, z);
                let t1 = _mm256_mul_pd(
                    w,
                    _mm256_add_pd(
                        c(LG[1]),
                        _mm256_mul_pd(w, _mm256_add_pd(c(LG[3]), _mm256_mul_pd(w, c(LG[5])))),
                    ),
                );
                let t2 = _mm256_mul_pd(
                    z,
                    _mm256_add_pd(
                        c(LG[0]),
                        _mm256_mul_pd(
                            w,
                            _mm256_add_pd(
                                c(LG[2]),
                                _mm256_mul_pd(w, _mm256_add_pd(c(LG[4]), _mm256_mul_pd(w, c(LG[6])))),
                            ),
                        ),
                    ),
                );
                let r = _mm256_add_pd(t2, t1);
                let inner =
                    _mm256_add_pd(_mm256_mul_pd(s, _mm256_add_pd(hfsq, r)), _mm256_mul_pd(k, c(LN2_LO)));
                let y =
                    _mm256_sub_pd(_mm256_mul_pd(k, c(LN2_HI)), _mm256_sub_pd(_mm256_sub_pd(hfsq, inner), f));
                _mm256_storeu_pd(out.as_mut_ptr().add(i), y);
            }
            i += 4;
        }
        let mut odd_rest = false;
        for (o, &v) in out[i..n].iter_mut().zip(&xs[i..n]) {
            odd_rest |= !(f64::MIN_POSITIVE..f64::INFINITY).contains(&v);
            *o = super::ln_positive(v);
        }
        _mm256_movemask_pd(odd) != 0 || odd_rest
    }

    /// [`super::exp`] of four lanes, the same operations lane for lane. `CHECKED = false` leaves out
    /// the clamp and the handling of arguments outside [`super::EXP_MIN`, `super::EXP_MAX`] (and
    /// NaN): the same results for arguments known to be inside.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn exp_v<const CHECKED: bool>(x: __m256d) -> __m256d {
        use super::{EXP_BIAS_BITS, EXP_LN2_HI, EXP_LN2_LO, EXP_MAX, EXP_MIN, EXP_SCALE, ROUND_SHIFT};
        let c = _mm256_set1_pd;
        let (lo_v, hi_v) = (c(EXP_MIN), c(EXP_MAX));
        // min/max return their second operand when either is NaN: NaN passes through, as with
        // `f64::clamp`.
        let xc = if CHECKED { _mm256_max_pd(lo_v, _mm256_min_pd(hi_v, x)) } else { x };
        let t = _mm256_add_pd(_mm256_mul_pd(xc, c(EXP_SCALE)), c(ROUND_SHIFT));
        let n = _mm256_sub_pd(t, c(ROUND_SHIFT));
        let r = _mm256_sub_pd(
            _mm256_sub_pd(xc, _mm256_mul_pd(n, c(EXP_LN2_HI))),
            _mm256_mul_pd(n, c(EXP_LN2_LO)),
        );
        let mut p = _mm256_add_pd(c(1.0 / 120.0), _mm256_mul_pd(r, c(1.0 / 720.0)));
        p = _mm256_add_pd(c(1.0 / 24.0), _mm256_mul_pd(r, p));
        p = _mm256_add_pd(c(1.0 / 6.0), _mm256_mul_pd(r, p));
        p = _mm256_add_pd(c(0.5), _mm256_mul_pd(r, p));
        let q = _mm256_add_pd(r, _mm256_mul_pd(_mm256_mul_pd(r, r), p));
        let ni = _mm256_sub_epi64(_mm256_castpd_si256(t), _mm256_set1_epi64x(ROUND_SHIFT.to_bits() as i64));
        let j = _mm256_and_si256(ni, _mm256_set1_epi64x(31));
        let kbits = _mm256_add_epi64(
            _mm256_slli_epi64::<47>(_mm256_and_si256(ni, _mm256_set1_epi64x(!31))),
            _mm256_set1_epi64x(EXP_BIAS_BITS),
        );
        // SAFETY: every index is in 0..32 (masked just above), inside the 32-entry tables.
        let (hi, lo) = unsafe {
            (
                _mm256_i64gather_pd::<8>(super::EXP2_HI.as_ptr(), j),
                _mm256_i64gather_pd::<8>(super::EXP2_LO.as_ptr(), j),
            )
        };
        let e = _mm256_add_pd(hi, _mm256_add_pd(lo, _mm256_mul_pd(hi, q)));
        let y = _mm256_mul_pd(_mm256_mul_pd(e, _mm256_castsi256_pd(kbits)), c(2.0));
        if !CHECKED {
            return y;
        }
        let y = _mm256_blendv_pd(y, _mm256_setzero_pd(), _mm256_cmp_pd::<_CMP_LT_OQ>(x, lo_v));
        _mm256_blendv_pd(y, c(f64::INFINITY), _mm256_cmp_pd::<_CMP_GT_OQ>(x, hi_v))
    }

    /// [`super::dot`]: two 4-lane vectors per chunk of eight, the remainder into lanes 0.. as
    /// there, then [`super::combine`].
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) fn dot(a: &[f64], b: &[f64]) -> f64 {
        let n = a.len().min(b.len());
        let (mut a0, mut a1) = (_mm256_setzero_pd(), _mm256_setzero_pd());
        let mut x = 0;
        while x + LANES <= n {
            // SAFETY: x + 8 ≤ n ≤ both lengths.
            unsafe {
                let (pa, pb) = (a.as_ptr().add(x), b.as_ptr().add(x));
                a0 = _mm256_add_pd(a0, _mm256_mul_pd(_mm256_loadu_pd(pa), _mm256_loadu_pd(pb)));
                a1 = _mm256_add_pd(a1, _mm256_mul_pd(_mm256_loadu_pd(pa.add(4)), _mm256_loadu_pd(pb.add(4))));
            }
            x += LANES;
        }
        let mut acc = lanes(a0, a1);
        for (acc, k) in acc.iter_mut().zip(x..n) {
            *acc += a[k] * b[k];
        }
        super::combine(acc)
    }

    /// [`super::exp_scaled_neg`]: four cells at a time, the rest with [`super::exp`].
    #[inline]
    #[target_feature(enable = "avx2")]
    /// `inside`: every argument −a·c is known to lie in [EXP_MIN, 0], so the range checks cannot
    /// change a result and are left out.
    pub(super) fn exp_scaled_neg(a: &[f64], inside: bool, small: usize, c: f64, out: &mut [f64]) {
        let n = a.len().min(out.len());
        let (cv, sign) = (_mm256_set1_pd(c), _mm256_set1_pd(-0.0));
        let mut x = 0;
        // The leading `small` cells (a multiple of 8, at most n) by the short series.
        while x < small {
            // SAFETY: x + 4 ≤ small ≤ n ≤ both lengths.
            unsafe {
                let v = _mm256_mul_pd(_mm256_xor_pd(_mm256_loadu_pd(a.as_ptr().add(x)), sign), cv);
                _mm256_storeu_pd(out.as_mut_ptr().add(x), exp_small_v(v));
            }
            x += 4;
        }
        while x + 4 <= n {
            // SAFETY: x + 4 ≤ n ≤ both lengths.
            unsafe {
                let v = _mm256_mul_pd(_mm256_xor_pd(_mm256_loadu_pd(a.as_ptr().add(x)), sign), cv);
                let y = if inside { exp_v::<false>(v) } else { exp_v::<true>(v) };
                _mm256_storeu_pd(out.as_mut_ptr().add(x), y);
            }
            x += 4;
        }
        for k in x..n {
            out[k] = super::exp(-a[k] * c);
        }
    }

    /// [`super::exp_small`] of four lanes, the same operations lane for lane.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn exp_small_v(x: __m256d) -> __m256d {
        let [first, rest @ ..] = super::EXP_SMALL_HORNER;
        rest.iter().fold(_mm256_set1_pd(first), |p, &c| _mm256_add_pd(_mm256_set1_pd(c), _mm256_mul_pd(x, p)))
    }

    /// [`super::exp_into`] of four values.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) fn exp4(xs: &[f64; 4]) -> [f64; 4] {
        let mut out = [0.0; 4];
        // SAFETY: both arrays hold four doubles.
        unsafe { _mm256_storeu_pd(out.as_mut_ptr(), exp_v::<true>(_mm256_loadu_pd(xs.as_ptr()))) };
        out
    }
}

/// The same kernels with AVX-512 (F, VL, DQ): the eight lanes of [`LANES`] in one 512-bit
/// vector, the same operations lane for lane as the portable versions, so the same bits.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::LANES;
    use crate::region::{AGES, MAX_AGE};
    use std::arch::x86_64::{
        __m512d, __m512i, _CMP_GE_OQ, _CMP_GT_OQ, _CMP_LE_OQ, _CMP_LT_OQ, _mm_add_pd, _mm_add_sd,
        _mm_cvtsd_f64, _mm_unpackhi_pd, _mm256_add_pd, _mm256_castpd256_pd128, _mm256_extractf128_pd,
        _mm512_add_epi64, _mm512_add_pd, _mm512_and_si512, _mm512_castpd_si512, _mm512_castpd512_pd256,
        _mm512_castsi512_pd, _mm512_cmp_pd_mask, _mm512_div_pd, _mm512_extractf64x4_pd, _mm512_loadu_pd,
        _mm512_mask_add_pd, _mm512_mask_blend_pd, _mm512_mask_mul_pd, _mm512_mask_storeu_pd,
        _mm512_maskz_loadu_pd, _mm512_maskz_mov_pd, _mm512_max_pd, _mm512_min_pd, _mm512_mul_pd,
        _mm512_or_si512, _mm512_permutex2var_pd, _mm512_set1_epi64, _mm512_set1_pd, _mm512_setzero_pd,
        _mm512_slli_epi64, _mm512_srli_epi64, _mm512_storeu_pd, _mm512_sub_epi64, _mm512_sub_pd,
        _mm512_test_epi64_mask, _mm512_xor_pd,
    };

    /// [`super::combine`] of the eight lanes of `v`: lanes k and k + 4 first, then
    /// (s_0 + s_2) + (s_1 + s_3), the same order.
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn combine_lanes(v: __m512d) -> f64 {
        let s = _mm256_add_pd(_mm512_castpd512_pd256(v), _mm512_extractf64x4_pd::<1>(v));
        let t = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd::<1>(s));
        _mm_cvtsd_f64(_mm_add_sd(t, _mm_unpackhi_pd(t, t)))
    }

    /// [`super::survive_ages`]: one 8-lane vector per block, the top block's upper four lanes
    /// masked off (loaded as +0, not stored).
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,avx512vl")]
    pub(super) fn survive_ages<const MODE: u8>(
        p: &mut [f64; AGES],
        s: &[f64; AGES],
        n: f64,
        mu: &[f64; AGES],
        cap: f64,
        natural: &mut [f64; AGES],
    ) -> super::Survived {
        use super::{ADD, FIRST_OLD, FIRST_WORKING, OUTFLOW, SURVIVAL_BLOCKS};
        let (capv, negv, np) = (_mm512_set1_pd(cap), _mm512_set1_pd(-n), natural.as_mut_ptr());
        // Lanes of cells over the cap.
        let mut over: u8 = 0;
        const { assert!(MAX_AGE == 8 * (SURVIVAL_BLOCKS - 1) + 4) };
        let z = _mm512_setzero_pd();
        let (mut young, mut working, mut old, mut dead) = (z, z, z, z);
        let (pp, sp, mp, nv, one) =
            (p.as_mut_ptr(), s.as_ptr(), mu.as_ptr(), _mm512_set1_pd(n), _mm512_set1_pd(1.0));
        // The cells of block b in the lanes of `mask`: survivors (stored at 8b + 1.. after the
        // cells are read, with the inflow added but for the open group), deaths added to `dead`.
        let mut block = |b: usize, mask: u8, dead: &mut __m512d| {
            // SAFETY: the lanes in `mask` are cells below MAX_AGE (lanes of the top block above
            // its fourth are masked off: neither read nor written), so reads reach cell 99 (μ:
            // 99 at most, the open group's lane masked off too) and the shifted stores cell
            // 100 < AGES at most; the cells are read before the store.
            unsafe {
                let x = 8 * b;
                let c = _mm512_maskz_loadu_pd(mask, pp.add(x));
                // Lanes off the mask: c = +0, so their death term is +0 whatever 1 − s is.
                let sv = _mm512_maskz_loadu_pd(mask, sp.add(x));
                let v = _mm512_mul_pd(c, sv);
                *dead = _mm512_add_pd(*dead, _mm512_mul_pd(c, _mm512_sub_pd(one, sv)));
                // The top block's fourth lane is the open group's: the caller's.
                let stored_mask = if mask == 0xff { mask } else { mask >> 1 };
                let stored = if MODE == ADD || MODE == OUTFLOW {
                    let mu = _mm512_maskz_loadu_pd(stored_mask, mp.add(x + 1));
                    if MODE == OUTFLOW {
                        // −n·μ against the cap, as `spread_migrants` compares them.
                        let out = _mm512_mul_pd(negv, mu);
                        over |= !_mm512_cmp_pd_mask::<_CMP_LE_OQ>(out, _mm512_mul_pd(capv, v)) & stored_mask;
                        _mm512_mask_storeu_pd(np.add(x + 1), mask, v);
                    }
                    _mm512_mask_add_pd(v, stored_mask, v, _mm512_mul_pd(nv, mu))
                } else {
                    v
                };
                _mm512_mask_storeu_pd(pp.add(x + 1), mask, stored);
                v
            }
        };
        old = _mm512_add_pd(old, block(SURVIVAL_BLOCKS - 1, 0x0f, &mut dead));
        for b in (FIRST_OLD / 8..SURVIVAL_BLOCKS - 1).rev() {
            old = _mm512_add_pd(old, block(b, 0xff, &mut dead));
        }
        for b in (FIRST_WORKING / 8 + 1..FIRST_OLD / 8).rev() {
            working = _mm512_add_pd(working, block(b, 0xff, &mut dead));
        }
        // Cells 8..16: 8–13 young, 14 and 15 working (lanes 6 and 7); the other sum takes +0.
        let v = block(1, 0xff, &mut dead);
        young = _mm512_add_pd(young, _mm512_maskz_mov_pd(0x3f, v));
        working = _mm512_add_pd(working, _mm512_maskz_mov_pd(0xc0, v));
        young = _mm512_add_pd(young, block(0, 0xff, &mut dead));
        super::Survived {
            young: combine_lanes(young),
            working: combine_lanes(working),
            old: combine_lanes(old),
            dead: combine_lanes(dead),
            within_cap: over == 0,
        }
    }

    /// The 32-entry tables of 2^(j/32) (hi and lo parts) in registers, four vectors each.
    #[derive(Clone, Copy)]
    struct Tables {
        hi: [__m512d; 4],
        lo: [__m512d; 4],
    }

    impl Tables {
        #[inline]
        #[target_feature(enable = "avx512f")]
        fn load() -> Tables {
            let part = |t: &[f64; 32], k: usize| {
                // SAFETY: k < 4, so 8k + 8 ≤ 32 doubles are read.
                unsafe { _mm512_loadu_pd(t.as_ptr().add(8 * k)) }
            };
            Tables {
                hi: [0, 1, 2, 3].map(|k| part(&super::EXP2_HI, k)),
                lo: [0, 1, 2, 3].map(|k| part(&super::EXP2_LO, k)),
            }
        }
    }

    /// Entries j (0..32 in each lane) of a 32-entry table held in four vectors: two
    /// 16-entry permutes, chosen between by bit 4 of j.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn lookup(t: &[__m512d; 4], j: __m512i) -> __m512d {
        let low = _mm512_permutex2var_pd(t[0], j, t[1]);
        let high = _mm512_permutex2var_pd(t[2], j, t[3]);
        _mm512_mask_blend_pd(_mm512_test_epi64_mask(j, _mm512_set1_epi64(16)), low, high)
    }

    /// [`super::exp`] of eight lanes, the same operations lane for lane (see the AVX2
    /// `exp_v`; `CHECKED = false` leaves out the range handling for arguments known to be
    /// inside).
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn exp_v<const CHECKED: bool>(x: __m512d, tables: &Tables) -> __m512d {
        use super::{EXP_BIAS_BITS, EXP_LN2_HI, EXP_LN2_LO, EXP_MAX, EXP_MIN, EXP_SCALE, ROUND_SHIFT};
        let c = _mm512_set1_pd;
        let (lo_v, hi_v) = (c(EXP_MIN), c(EXP_MAX));
        // min/max return their second operand when either is NaN: NaN passes through.
        let xc = if CHECKED { _mm512_max_pd(lo_v, _mm512_min_pd(hi_v, x)) } else { x };
        let t = _mm512_add_pd(_mm512_mul_pd(xc, c(EXP_SCALE)), c(ROUND_SHIFT));
        let n = _mm512_sub_pd(t, c(ROUND_SHIFT));
        let r = _mm512_sub_pd(
            _mm512_sub_pd(xc, _mm512_mul_pd(n, c(EXP_LN2_HI))),
            _mm512_mul_pd(n, c(EXP_LN2_LO)),
        );
        let mut p = _mm512_add_pd(c(1.0 / 120.0), _mm512_mul_pd(r, c(1.0 / 720.0)));
        p = _mm512_add_pd(c(1.0 / 24.0), _mm512_mul_pd(r, p));
        p = _mm512_add_pd(c(1.0 / 6.0), _mm512_mul_pd(r, p));
        p = _mm512_add_pd(c(0.5), _mm512_mul_pd(r, p));
        let q = _mm512_add_pd(r, _mm512_mul_pd(_mm512_mul_pd(r, r), p));
        let ni = _mm512_sub_epi64(_mm512_castpd_si512(t), _mm512_set1_epi64(ROUND_SHIFT.to_bits() as i64));
        let j = _mm512_and_si512(ni, _mm512_set1_epi64(31));
        let kbits = _mm512_add_epi64(
            _mm512_slli_epi64::<47>(_mm512_and_si512(ni, _mm512_set1_epi64(!31))),
            _mm512_set1_epi64(EXP_BIAS_BITS),
        );
        let (hi, lo) = (lookup(&tables.hi, j), lookup(&tables.lo, j));
        let e = _mm512_add_pd(hi, _mm512_add_pd(lo, _mm512_mul_pd(hi, q)));
        let y = _mm512_mul_pd(_mm512_mul_pd(e, _mm512_castsi512_pd(kbits)), c(2.0));
        if !CHECKED {
            return y;
        }
        let y = _mm512_mask_blend_pd(_mm512_cmp_pd_mask::<_CMP_LT_OQ>(x, lo_v), y, _mm512_setzero_pd());
        _mm512_mask_blend_pd(_mm512_cmp_pd_mask::<_CMP_GT_OQ>(x, hi_v), y, c(f64::INFINITY))
    }

    /// [`super::exp_small`] of eight lanes, the same operations lane for lane.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn exp_small_v(x: __m512d) -> __m512d {
        let [first, rest @ ..] = super::EXP_SMALL_HORNER;
        rest.iter().fold(_mm512_set1_pd(first), |p, &c| _mm512_add_pd(_mm512_set1_pd(c), _mm512_mul_pd(x, p)))
    }

    /// [`super::dot`]: one 8-lane vector per chunk of eight, the remainder into lanes 0.. as
    /// there, then [`super::combine`].
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) fn dot(a: &[f64], b: &[f64]) -> f64 {
        let n = a.len().min(b.len());
        let mut acc = _mm512_setzero_pd();
        let mut x = 0;
        while x + LANES <= n {
            // SAFETY: x + 8 ≤ n ≤ both lengths.
            unsafe {
                let (pa, pb) = (a.as_ptr().add(x), b.as_ptr().add(x));
                acc = _mm512_add_pd(acc, _mm512_mul_pd(_mm512_loadu_pd(pa), _mm512_loadu_pd(pb)));
            }
            x += LANES;
        }
        let mut lanes = [0.0; LANES];
        // SAFETY: `lanes` holds eight doubles.
        unsafe { _mm512_storeu_pd(lanes.as_mut_ptr(), acc) };
        for (acc, k) in lanes.iter_mut().zip(x..n) {
            *acc += a[k] * b[k];
        }
        super::combine(lanes)
    }

    /// [`super::ln_positive`] of each value, eight lanes at a time with the same operations lane
    /// for lane, the last len mod 8 under a mask; whether any value is not a positive normal
    /// number (those lanes hold garbage: the caller patches them).
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) fn ln_into(xs: &[f64], out: &mut [f64]) -> bool {
        use super::{LG, LN2_HI, LN2_LO};
        let n = xs.len().min(out.len());
        let c = _mm512_set1_pd;
        let one = |x: __m512d| {
            let bits = _mm512_castpd_si512(x);
            let m1 = _mm512_castsi512_pd(_mm512_or_si512(
                _mm512_and_si512(bits, _mm512_set1_epi64(0x000f_ffff_ffff_ffff)),
                _mm512_set1_epi64(0x3ff0_0000_0000_0000),
            ));
            let big = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(m1, c(std::f64::consts::SQRT_2));
            let m = _mm512_mask_mul_pd(m1, big, c(0.5), m1);
            // k = e − 1023 + big, exactly (small integers): the exponent field as a double
            // through the 2^52 trick.
            let two52 = _mm512_set1_epi64(0x4330_0000_0000_0000);
            let e = _mm512_sub_pd(
                _mm512_castsi512_pd(_mm512_or_si512(_mm512_srli_epi64::<52>(bits), two52)),
                _mm512_castsi512_pd(two52),
            );
            let k = _mm512_mask_add_pd(_mm512_sub_pd(e, c(1023.0)), big, _mm512_sub_pd(e, c(1023.0)), c(1.0));
            let f = _mm512_sub_pd(m, c(1.0));
            let hfsq = _mm512_mul_pd(_mm512_mul_pd(c(0.5), f), f);
            let s = _mm512_div_pd(f, _mm512_add_pd(c(2.0), f));
            let z = _mm512_mul_pd(s, s);
            let w = _mm512_mul_pd(z, z);
            let t1 = _mm512_mul_pd(
                w,
                _mm512_add_pd(
                    c(LG[1]),
                    _mm512_mul_pd(w, _mm512_add_pd(c(LG[3]), _mm512_mul_pd(w, c(LG[5])))),
                ),
            );
            let t2 = _mm512_mul_pd(
                z,
                _mm512_add_pd(
                    c(LG[0]),
                    _mm512_mul_pd(
                        w,
                        _mm512_add_pd(
                            c(LG[2]),
                            _mm512_mul_pd(w, _mm512_add_pd(c(LG[4]), _mm512_mul_pd(w, c(LG[6])))),
                        ),
                    ),
                ),
            );
            let r = _mm512_add_pd(t2, t1);
            let inner = _mm512_add_pd(_mm512_mul_pd(s, _mm512_add_pd(hfsq, r)), _mm512_mul_pd(k, c(LN2_LO)));
            _mm512_sub_pd(_mm512_mul_pd(k, c(LN2_HI)), _mm512_sub_pd(_mm512_sub_pd(hfsq, inner), f))
        };
        // Lanes not in [MIN_POSITIVE, ∞), NaN included.
        let outside = |x: __m512d, mask: u8| {
            let inside = _mm512_cmp_pd_mask::<_CMP_GE_OQ>(x, c(f64::MIN_POSITIVE))
                & _mm512_cmp_pd_mask::<_CMP_LT_OQ>(x, c(f64::INFINITY));
            !inside & mask
        };
        let mut odd = 0u8;
        let mut i = 0;
        while i + LANES <= n {
            // SAFETY: i + 8 ≤ n ≤ both lengths; unaligned loads and stores.
            unsafe {
                let x = _mm512_loadu_pd(xs.as_ptr().add(i));
                odd |= outside(x, 0xff);
                _mm512_storeu_pd(out.as_mut_ptr().add(i), one(x));
            }
            i += LANES;
        }
        if i < n {
            let mask = (1u8 << (n - i)) - 1;
            // SAFETY: the mask covers lanes i..n only (n − i < 8), inside both slices; masked-off
            // lanes are neither read nor written (they hold +0 here, not counted as odd).
            unsafe {
                let x = _mm512_maskz_loadu_pd(mask, xs.as_ptr().add(i));
                odd |= outside(x, mask);
                _mm512_mask_storeu_pd(out.as_mut_ptr().add(i), mask, one(x));
            }
        }
        odd != 0
    }

    /// [`super::exp_into`]: eight values at a time, the last len mod 8 under a mask (lane for
    /// lane the same operations as [`super::exp`]).
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) fn exp_into(xs: &[f64], out: &mut [f64]) {
        let n = xs.len().min(out.len());
        let tables = Tables::load();
        let mut i = 0;
        while i + LANES <= n {
            // SAFETY: i + 8 ≤ n ≤ both lengths.
            unsafe {
                let y = exp_v::<true>(_mm512_loadu_pd(xs.as_ptr().add(i)), &tables);
                _mm512_storeu_pd(out.as_mut_ptr().add(i), y);
            }
            i += LANES;
        }
        if i < n {
            let mask = (1u8 << (n - i)) - 1;
            // SAFETY: the mask covers lanes i..n only, inside both slices.
            unsafe {
                let y = exp_v::<true>(_mm512_maskz_loadu_pd(mask, xs.as_ptr().add(i)), &tables);
                _mm512_mask_storeu_pd(out.as_mut_ptr().add(i), mask, y);
            }
        }
    }

    /// [`super::exp_scaled_neg`]: eight cells at a time, the last n mod 8 with masked loads
    /// and stores (lane for lane the same operations).
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) fn exp_scaled_neg(a: &[f64], inside: bool, small: usize, c: f64, out: &mut [f64]) {
        let n = a.len().min(out.len());
        let (cv, sign) = (_mm512_set1_pd(c), _mm512_set1_pd(-0.0));
        let tables = Tables::load();
        let one = |v: __m512d| {
            let v = _mm512_mul_pd(_mm512_xor_pd(v, sign), cv);
            if inside { exp_v::<false>(v, &tables) } else { exp_v::<true>(v, &tables) }
        };
        let mut x = 0;
        // The leading `small` cells (a multiple of 8, at most n) by the short series.
        while x < small {
            // SAFETY: x + 8 ≤ small ≤ n ≤ both lengths.
            unsafe {
                let v = _mm512_mul_pd(_mm512_xor_pd(_mm512_loadu_pd(a.as_ptr().add(x)), sign), cv);
                _mm512_storeu_pd(out.as_mut_ptr().add(x), exp_small_v(v));
            }
            x += LANES;
        }
        while x + LANES <= n {
            // SAFETY: x + 8 ≤ n ≤ both lengths.
            unsafe {
                let y = one(_mm512_loadu_pd(a.as_ptr().add(x)));
                _mm512_storeu_pd(out.as_mut_ptr().add(x), y);
            }
            x += LANES;
        }
        if x < n {
            let mask = (1u8 << (n - x)) - 1;
            // SAFETY: the mask covers lanes x..n only (n − x < 8), inside both slices; masked-off
            // lanes are neither read nor written.
            unsafe {
                let y = one(_mm512_maskz_loadu_pd(mask, a.as_ptr().add(x)));
                _mm512_mask_storeu_pd(out.as_mut_ptr().add(x), mask, y);
            }
        }
    }
}

/// [`ln_into`] in the chosen compiled version (the same bits in each): with AVX2, four lanes at a
/// time (the compiler leaves the portable loop over a slice scalar).
#[inline(always)]
pub fn ln_into_on(isa: Isa, xs: &[f64], out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if use_avx512(isa) {
        // SAFETY: `use_avx512` checked that the processor has AVX-512 F/DQ.
        if unsafe { avx512::ln_into(xs, out) } {
            ln_fix(xs, out);
        }
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if use_avx2(isa) {
        // SAFETY: `use_avx2` checked that the processor has AVX2.
        if unsafe { avx2::ln_into(xs, out) } {
            ln_fix(xs, out);
        }
        return;
    }
    let _ = isa;
    ln_into(xs, out);
}

/// e^x of four values with [`exp`], in the chosen compiled version (the same bits in each).
#[inline(always)]
pub fn exp4(isa: Isa, xs: &[f64; 4]) -> [f64; 4] {
    #[cfg(target_arch = "x86_64")]
    if use_avx2(isa) {
        // SAFETY: `use_avx2` checked that the processor has AVX2.
        return unsafe { avx2::exp4(xs) };
    }
    let _ = isa;
    xs.map(exp)
}

/// `out[i] = e^xs[i]` with [`exp`]: four at a time with [`exp4`], the rest one by one (the same
/// bits in each lane).
#[inline(always)]
pub fn exp_into(isa: Isa, xs: &[f64], out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if use_avx512(isa) {
        // SAFETY: `use_avx512` checked that the processor has AVX-512 F/DQ.
        return unsafe { avx512::exp_into(xs, out) };
    }
    let mut o = out.chunks_exact_mut(4);
    let mut x = xs.chunks_exact(4);
    for (o, x) in (&mut o).zip(&mut x) {
        o.copy_from_slice(&exp4(isa, x.try_into().expect("four values")));
    }
    for (o, &x) in o.into_remainder().iter_mut().zip(x.remainder()) {
        *o = exp(x);
    }
}

/// `out[i] = e^(−a[i]·c)`, with [`exp`], in the chosen compiled version (the same bits in each).
/// `bounded` says that every `a[i]` lies in 0..=[`EXP_SAFE_RATE`]: with 0 ≤ c ≤ 1 the arguments are then inside
/// `exp`'s range and the AVX2 version leaves out the range checks (the same results).
#[inline(always)]
pub fn exp_scaled_neg(isa: Isa, a: &[f64], bounded: bool, small: usize, c: f64, out: &mut [f64]) {
    let inside = bounded && (0.0..=1.0).contains(&c);
    // Whole groups of eight, so that every compiled version takes the same cells by the series.
    let small = if inside { small.min(a.len()).min(out.len()) / LANES * LANES } else { 0 };
    #[cfg(target_arch = "x86_64")]
    if use_avx512(isa) {
        // SAFETY: `use_avx512` checked that the processor has AVX-512 F/VL/DQ.
        return unsafe { avx512::exp_scaled_neg(a, inside, small, c, out) };
    }
    #[cfg(target_arch = "x86_64")]
    if use_avx2(isa) {
        // SAFETY: `use_avx2` checked that the processor has AVX2.
        return unsafe { avx2::exp_scaled_neg(a, inside, small, c, out) };
    }
    let _ = (isa, inside);
    for (k, (o, v)) in out.iter_mut().zip(a).enumerate() {
        *o = if k < small { exp_small(-v * c) } else { exp(-v * c) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survival_sums_are_the_exact_sums_by_age_group() {
        // Integer cells and rates of 0, 1 or 2 (not survival rates, but every product and sum is
        // an exact integer, so any order gives the exact sums).
        for round in 0..20usize {
            let x: [f64; AGES] = std::array::from_fn(|i| ((i * 7919 + round * 31) % 1000) as f64);
            let s: [f64; AGES] = std::array::from_fn(|i| ((i + round) % 3) as f64);
            let q = s.map(|v| 1.0 - v);
            for isa in std::iter::once(Isa::Generic).chain(wide()) {
                let mut p = x;
                let mut nat = [7.0; AGES];
                let got = survive_ages(isa, &mut p, &s, Migrants::None, &mut nat);
                assert!(nat.iter().all(|&v| v == 7.0), "natural cells untouched without an outflow");
                let group = |lo: usize, hi: usize| (lo..hi).map(|i| x[i] * s[i]).sum::<f64>();
                let want = Survived {
                    young: group(0, 14),
                    working: group(14, 64),
                    old: group(64, 100),
                    dead: (0..100).map(|i| x[i] * q[i]).sum(),
                    within_cap: true,
                };
                assert_eq!(got, want, "round {round} {isa:?}");
                assert!((0..100).all(|i| p[i + 1] == x[i] * s[i]), "round {round} {isa:?}: shifted cells");
                assert_eq!(p[0], x[0], "cell 0 is the caller's (infants)");
                // An inflow lands in cells 1..=99 as they are stored; the sums stay the survivors'.
                let mu: [f64; AGES] = std::array::from_fn(|i| (i % 4) as f64);
                let mut p = x;
                let with = survive_ages(isa, &mut p, &s, Migrants::Add(3.0, &mu), &mut nat);
                assert_eq!(with, want, "round {round} {isa:?}: sums with an inflow");
                assert!((0..99).all(|i| p[i + 1] == x[i] * s[i] + 3.0 * mu[i + 1]), "round {round} {isa:?}");
                assert_eq!((p[0], p[100]), (x[0], x[99] * s[99]), "cells 0 and 100 are the caller's");
                // An outflow lands as an inflow does, is checked against the cap in cells 1..=99,
                // and leaves the survivors themselves in the natural cells 1..=100.
                let mu: [f64; AGES] =
                    std::array::from_fn(|y| if y == 0 || s[y - 1] == 0.0 { 0.0 } else { (y % 4) as f64 });
                for n in [-0.25, -40.0, -1e9] {
                    let mut p = x;
                    let checked = survive_ages(isa, &mut p, &s, Migrants::Outflow(n, &mu, 0.9), &mut nat);
                    let within = (1..100).all(|y| -n * mu[y] <= 0.9 * (x[y - 1] * s[y - 1]));
                    assert_eq!(
                        checked,
                        Survived { within_cap: within, ..want },
                        "round {round} {isa:?} n = {n}"
                    );
                    assert!(
                        (0..99).all(|i| p[i + 1] == x[i] * s[i] + n * mu[i + 1]),
                        "round {round} {isa:?}: cells with the outflow"
                    );
                    assert_eq!((p[0], p[100]), (x[0], x[99] * s[99]), "cells 0 and 100 are the caller's");
                    assert!(
                        (0..100).all(|i| nat[i + 1] == x[i] * s[i]),
                        "round {round} {isa:?}: natural cells"
                    );
                    if n == -1e9 {
                        assert!(!within, "some cell is over the cap");
                    }
                }
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
            let mu: [f64; AGES] = std::array::from_fn(|_| (next() >> 11) as f64 / (1u64 << 60) as f64);
            let n = (next() >> 11) as f64 / 1024.0;
            for inflow in [Migrants::None, Migrants::Add(n, &mu), Migrants::Outflow(-n, &mu, 0.9)] {
                let (mut a, mut nat_a) = (p, [0.0; AGES]);
                let want = survive_ages(Isa::Generic, &mut a, &s, inflow, &mut nat_a);
                for isa in wide() {
                    let (mut b, mut nat_b) = (p, [0.0; AGES]);
                    let got = survive_ages(isa, &mut b, &s, inflow, &mut nat_b);
                    let same = nat_a.iter().zip(&nat_b).all(|(x, y)| x.to_bits() == y.to_bits());
                    assert!(same, "round {round} {isa:?} {inflow:?}: natural cells");
                    let bits =
                        |v: Survived| ([v.young, v.working, v.old, v.dead].map(f64::to_bits), v.within_cap);
                    assert_eq!(bits(got), bits(want), "round {round} {isa:?} {inflow:?}");
                    let same = a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits());
                    assert!(same, "round {round} {isa:?} {inflow:?}");
                }
            }
        }
    }

    /// The vector versions this processor runs, each compared with the portable one.
    fn wide() -> impl Iterator<Item = Isa> {
        [Isa::Avx2, Isa::Avx512].into_iter().filter(|v| v.available())
    }

    /// A small xorshift generator for test inputs.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn exp_and_dot_versions_give_the_same_bits() {
        let mut st = 0x2545_f491_4f6c_dd1du64;
        let mut unit = || (xorshift(&mut st) >> 11) as f64 / (1u64 << 53) as f64;
        for round in 0..300 {
            let n = round % 40;
            // Survival-like arguments (the range-check-free path) and arbitrary ones, including
            // values beyond exp's range, negative rates and NaN.
            let a: Vec<f64> = (0..n).map(|_| EXP_SAFE_RATE * unit() * unit()).collect();
            let wild: Vec<f64> = (0..n)
                .map(|i| match i % 7 {
                    0 => f64::NAN,
                    1 => -3.0 * unit(),
                    2 => 2000.0 * unit(),
                    _ => 10.0 * unit(),
                })
                .collect();
            let c = unit();
            let four = [wild.first().copied().unwrap_or(1.0), -750.0 * unit(), 30.0 * unit(), 800.0];
            let b: Vec<f64> = (0..n).map(|_| unit() - 0.25).collect();
            for isa in wide() {
                for (xs, bounded) in [(&a, true), (&wild, false)] {
                    let (mut want, mut got) = (vec![0.0; n], vec![0.0; n]);
                    // Any prefix for the short series (each version rounds it down to the same
                    // multiple of eight).
                    let small = if bounded { n.min(round % 50) } else { n };
                    let small_a: Vec<f64> = xs
                        .iter()
                        .enumerate()
                        .map(|(k, v)| if k < small { v * SMALL_RATE / EXP_SAFE_RATE } else { *v })
                        .collect();
                    let xs = if bounded { &small_a } else { xs };
                    exp_scaled_neg(Isa::Generic, xs, bounded, small, c, &mut want);
                    exp_scaled_neg(isa, xs, bounded, small, c, &mut got);
                    for (w, g) in want.iter().zip(&got) {
                        assert!(
                            w.to_bits() == g.to_bits() || (w.is_nan() && g.is_nan()),
                            "round {round} {isa:?}: {w} vs {g}"
                        );
                    }
                }
                // A batch of any length is the scalar exp of each value.
                let mut got = vec![0.0; n];
                exp_into(isa, &wild, &mut got);
                for (x, g) in wild.iter().zip(&got) {
                    let w = exp(*x);
                    assert!(w.to_bits() == g.to_bits() || (w.is_nan() && g.is_nan()), "exp_into {isa:?} {x}");
                }
                let (w, g) = (exp4(Isa::Generic, &four), exp4(isa, &four));
                assert!(
                    w.iter().zip(&g).all(|(w, g)| w.to_bits() == g.to_bits() || (w.is_nan() && g.is_nan()))
                );
                assert_eq!(dot_on(isa, &a, &b).to_bits(), dot(&a, &b).to_bits(), "round {round} {isa:?}");
            }
        }
    }

    #[test]
    fn the_short_series_takes_whole_groups_of_small_rates() {
        let mut m = vec![0.004; 101];
        for (x, v) in m.iter_mut().enumerate().skip(1) {
            *v = 0.0002 + 2e-5 * (0.09 * x as f64).exp();
        }
        let k = small_prefix(&m);
        assert_eq!(k % 8, 0);
        assert!(m[..k].iter().all(|v| *v <= SMALL_RATE) && m[k..k + 8].iter().any(|v| *v > SMALL_RATE));
        assert_eq!(small_prefix(&[-1e-9; 16]), 0, "a negative rate is not taken");
        assert_eq!(small_prefix(&[0.001; 7]), 0, "fewer than eight");
        // Outside 0 ≤ c ≤ 1 nothing takes the series: every version then equals plain `exp`.
        let mut out = vec![0.0; 101];
        exp_scaled_neg(Isa::Generic, &m, true, k, 1.5, &mut out);
        assert!(out.iter().zip(&m).all(|(o, v)| o.to_bits() == exp(-v * 1.5).to_bits()));
    }

    #[test]
    fn ln_versions_give_the_same_bits() {
        let mut st = 0x0123_4567_89ab_cdefu64;
        for round in 0..400 {
            let n = round % 23;
            // Any double at all (every exponent and sign, NaN, infinities, subnormals), and some
            // around 1 where the reduction switches at √2.
            let xs: Vec<f64> = (0..n)
                .map(|i| {
                    let r = xorshift(&mut st);
                    if i % 3 == 0 { 0.6 + (r >> 11) as f64 / (1u64 << 53) as f64 } else { f64::from_bits(r) }
                })
                .collect();
            let mut want = vec![0.0; n];
            ln_into(&xs, &mut want);
            for isa in wide() {
                let mut got = vec![0.0; n];
                ln_into_on(isa, &xs, &mut got);
                for ((x, w), g) in xs.iter().zip(&want).zip(&got) {
                    assert!(
                        w.to_bits() == g.to_bits() || (w.is_nan() && g.is_nan()),
                        "{isa:?} ln {x}: {w} vs {g}"
                    );
                }
            }
        }
    }
}
