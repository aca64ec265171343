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

/// 1.5·2^52: adding it rounds a double of magnitude below 2^51 to an integer, in its low bits.
const ROUND_SHIFT: f64 = 6_755_399_441_055_744.0;
/// ln 2 split for Cody–Waite reduction (fdlibm's constants): LN2_HI has 32 significant bits, so k·LN2_HI is exact for
/// |k| < 2^21; LN2_HI + LN2_LO = ln 2 to about 2^-85.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
/// Table size of [`exp`]: e^x = 2^(k + j/32)·e^r.
const EXP_N: f64 = 32.0;
/// 32·log2(e) (exact: a power of two times `LOG2_E`).
const EXP_SCALE: f64 = EXP_N * std::f64::consts::LOG2_E;
/// ln 2 / 32, split as above (exact divisions by a power of two): n·EXP_LN2_HI is exact for
/// |n| < 2^21.
const EXP_LN2_HI: f64 = LN2_HI / EXP_N;
const EXP_LN2_LO: f64 = LN2_LO / EXP_N;
/// 2^(j/32) for j = 0..32 as hi + lo: hi the nearest double, lo the nearest double to the rest
/// (computed to 60 digits; hi + lo is within 2^-104 of 2^(j/32)).
static EXP2_HI: [f64; 32] = [
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
static EXP2_LO: [f64; 32] = [
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
const EXP_MIN: f64 = -707.0;
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
/// [`exp_scaled_neg`] and `Model::mortality_bounded`).
pub const EXP_SAFE_RATE: f64 = -EXP_MIN;
/// Above this, e^x overflows to +∞.
const EXP_MAX: f64 = 709.8;
/// 1022 in a double's exponent field: adding it to k·2^52 gives the bits of 2^(k−1).
const EXP_BIAS_BITS: i64 = 1022 << 52;

/// e^x within 1 ulp of the exact value for `EXP_MIN ≤ x ≤ EXP_MAX`, 0 below and +∞ above
/// (checked against `f64::exp` in the tests); NaN gives NaN.
///
/// The same arithmetic on every machine: only additions, multiplications, table reads and bit
/// operations in a written order (no fused multiply-add), so every compiled version (and the
/// AVX2 kernels below, lane for lane) gives the same bits, whatever the platform's libm.
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

#[cold]
#[inline(never)]
fn ln_fix(xs: &[f64], out: &mut [f64]) {
    for (o, &v) in out.iter_mut().zip(xs) {
        if !(f64::MIN_POSITIVE..f64::INFINITY).contains(&v) {
            *o = v.ln();
        }
    }
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

/// The largest rate m whose survival e^(−m·c), 0 ≤ c ≤ 1, [`exp_scaled_neg`] may take from the
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
const EXP_SMALL_HORNER: [f64; 8] =
    [1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0];

/// How many leading rates of `m` may use [`exp_small`] in [`exp_scaled_neg`]: the longest prefix
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
