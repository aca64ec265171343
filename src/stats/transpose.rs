//! An 8 × 8 transpose of 64-bit values in AVX-512 registers, for copies that turn rows of
//! draws (a draw's values side by side) into runs of series (a series' draws side by side), as
//! the sieve's blocks of keys are made. (The kept matrix's copy gained nothing from it: its
//! 64-byte streaming stores wait on memory, not on instructions.)

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{__m512i, _mm512_shuffle_i64x2, _mm512_unpackhi_epi64, _mm512_unpacklo_epi64};

/// Lane i of vector k out is lane k of vector i in: eight rows of eight values in, eight
/// columns out. Pairs of rows are interleaved, then pairs of pairs, then 128-bit lanes are
/// exchanged: 24 shuffles.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn transpose8(a: [__m512i; 8]) -> [__m512i; 8] {
    // t0 = a0₀ a1₀ a0₂ a1₂ a0₄ a1₄ a0₆ a1₆, t1 = the odd lanes, and so on for the other pairs.
    let t0 = _mm512_unpacklo_epi64(a[0], a[1]);
    let t1 = _mm512_unpackhi_epi64(a[0], a[1]);
    let t2 = _mm512_unpacklo_epi64(a[2], a[3]);
    let t3 = _mm512_unpackhi_epi64(a[2], a[3]);
    let t4 = _mm512_unpacklo_epi64(a[4], a[5]);
    let t5 = _mm512_unpackhi_epi64(a[4], a[5]);
    let t6 = _mm512_unpacklo_epi64(a[6], a[7]);
    let t7 = _mm512_unpackhi_epi64(a[6], a[7]);
    // 0x88 takes 128-bit lanes 0, 2 of the first and 0, 2 of the second; 0xDD lanes 1, 3.
    // u0 = a0₀ a1₀ a0₄ a1₄ a2₀ a3₀ a2₄ a3₄, …
    let u0 = _mm512_shuffle_i64x2::<0x88>(t0, t2);
    let u1 = _mm512_shuffle_i64x2::<0xDD>(t0, t2);
    let u2 = _mm512_shuffle_i64x2::<0x88>(t1, t3);
    let u3 = _mm512_shuffle_i64x2::<0xDD>(t1, t3);
    let u4 = _mm512_shuffle_i64x2::<0x88>(t4, t6);
    let u5 = _mm512_shuffle_i64x2::<0xDD>(t4, t6);
    let u6 = _mm512_shuffle_i64x2::<0x88>(t5, t7);
    let u7 = _mm512_shuffle_i64x2::<0xDD>(t5, t7);
    [
        _mm512_shuffle_i64x2::<0x88>(u0, u4),
        _mm512_shuffle_i64x2::<0x88>(u2, u6),
        _mm512_shuffle_i64x2::<0x88>(u1, u5),
        _mm512_shuffle_i64x2::<0x88>(u3, u7),
        _mm512_shuffle_i64x2::<0xDD>(u0, u4),
        _mm512_shuffle_i64x2::<0xDD>(u2, u6),
        _mm512_shuffle_i64x2::<0xDD>(u1, u5),
        _mm512_shuffle_i64x2::<0xDD>(u3, u7),
    ]
}
