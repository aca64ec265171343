//! The only place that constructs random generators.
//!
//! Every random quantity has a named purpose (a parameter's name, `shocks.tfp`,
//! `project.<id>.delay`, …). The generator for (seed, purpose, draw) is ChaCha8 keyed by the seed
//! and a stable 64-bit FNV-1a hash of the purpose, with the draw index as its stream number. So a
//! draw's numbers depend on nothing but seed, purpose and draw: not on thread count, draw order,
//! the other draws of the run, or which other purposes a scenario has (common random numbers).
//!
//! Most purposes draw one or a few numbers per draw (a parameter, a project's delay). For them,
//! [`first_blocks`] computes the first 64-byte ChaCha8 block of many purposes at once, eight or
//! sixteen streams in the lanes of each operation, and [`OneShot`] hands out that block's words
//! and then the stream's next blocks: exactly the numbers [`stream`] gives, for a fraction of the
//! work (its generator computes four blocks at a time, for one or two words used). The streams a
//! draw reads a few hundred words from (its shocks) are [`WideStream`]s: the same words again,
//! their blocks computed sixteen at a time (AVX-512) or eight (AVX2, portable lanes).

use rand::SeedableRng;
use rand::rand_core::{Infallible, TryRng};
use rand_chacha::ChaCha8Rng;

use crate::isa::Isa;

/// A random stream: one (seed, purpose, draw).
pub type Stream = ChaCha8Rng;

/// The stable hash of a purpose name (64-bit FNV-1a over its UTF-8 bytes).
pub const fn purpose(name: &str) -> u64 {
    let bytes = name.as_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}

/// The generator of one (seed, purpose hash, draw).
pub fn stream(seed: u64, purpose: u64, draw: u64) -> Stream {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&purpose.to_le_bytes());
    key[16..24].copy_from_slice(b"minxinan");
    let mut rng = ChaCha8Rng::from_seed(key);
    rng.set_stream(draw);
    rng
}

/// Which random streams a draw reads: stream number `draw` of every purpose, except the purposes
/// in `moved`, which it reads from stream number `moved_to` (MODEL.md §8). A run's draw k reads
/// [`Streams::of`]`(seed, k)`; a design that needs some inputs from another draw (a sensitivity
/// study's mixed rows) moves their purposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streams<'a> {
    /// The run's seed.
    pub seed: u64,
    /// The draw's index: the stream number of every purpose not moved, and the draw that errors
    /// name.
    pub draw: u64,
    /// Purposes read from stream `moved_to` instead.
    pub moved: &'a [u64],
    /// Their stream number.
    pub moved_to: u64,
}

impl Streams<'static> {
    /// Draw `draw` of a run with `seed`: stream `draw` of every purpose.
    pub const fn of(seed: u64, draw: u64) -> Streams<'static> {
        Streams { seed, draw, moved: &[], moved_to: 0 }
    }

    /// Draws `draws` of a run with `seed`.
    pub fn run(seed: u64, draws: std::ops::Range<u64>) -> impl Iterator<Item = Streams<'static>> {
        draws.map(move |d| Streams::of(seed, d))
    }
}

impl Streams<'_> {
    /// The stream number of `purpose`.
    #[inline]
    pub fn number(&self, purpose: u64) -> u64 {
        if self.moved.contains(&purpose) { self.moved_to } else { self.draw }
    }

    /// The generator of `purpose` ([`stream`]).
    pub fn stream(&self, purpose: u64) -> Stream {
        stream(self.seed, purpose, self.number(purpose))
    }
}

/// Words of a ChaCha block.
const BLOCK: usize = 16;
/// Double rounds of ChaCha8.
const DOUBLE_ROUNDS: usize = 4;
/// The ChaCha constant "expand 32-byte k".
const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];
/// Streams per lane group of [`first_blocks`] (AVX2 and portable).
const WIDE: usize = 8;
/// Blocks per lane group with AVX-512, and per refill of a [`WideStream`].
const WIDEST: usize = 16;

/// The key words of (seed, purpose), as [`stream`] lays out its key bytes.
fn key_words(seed: u64, purpose: u64) -> [u32; 8] {
    let tag = u64::from_le_bytes(*b"minxinan");
    [
        seed as u32,
        (seed >> 32) as u32,
        purpose as u32,
        (purpose >> 32) as u32,
        tag as u32,
        (tag >> 32) as u32,
        0,
        0,
    ]
}

/// The input state of block `counter` of stream `draw` under `key` (rand_chacha's layout: the
/// 64-bit block counter in words 12–13, the 64-bit stream in words 14–15).
fn state(key: &[u32; 8], draw: u64, counter: u64) -> [u32; BLOCK] {
    let mut x = [0u32; BLOCK];
    x[..4].copy_from_slice(&SIGMA);
    x[4..12].copy_from_slice(key);
    x[12..].copy_from_slice(&[counter as u32, (counter >> 32) as u32, draw as u32, (draw >> 32) as u32]);
    x
}

/// ChaCha's quarter round on words a, b, c, d of `L` states held lane by lane.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // lane l of four rows at once
fn quarter<const L: usize>(x: &mut [[u32; L]; BLOCK], a: usize, b: usize, c: usize, d: usize) {
    for l in 0..L {
        x[a][l] = x[a][l].wrapping_add(x[b][l]);
        x[d][l] = (x[d][l] ^ x[a][l]).rotate_left(16);
        x[c][l] = x[c][l].wrapping_add(x[d][l]);
        x[b][l] = (x[b][l] ^ x[c][l]).rotate_left(12);
        x[a][l] = x[a][l].wrapping_add(x[b][l]);
        x[d][l] = (x[d][l] ^ x[a][l]).rotate_left(8);
        x[c][l] = x[c][l].wrapping_add(x[d][l]);
        x[b][l] = (x[b][l] ^ x[c][l]).rotate_left(7);
    }
}

/// The ChaCha8 blocks of `L` input states (word w of state l in `input[w][l]`): the rounds, then
/// the input added back.
#[inline(always)]
fn blocks<const L: usize>(input: &[[u32; L]; BLOCK]) -> [[u32; L]; BLOCK] {
    let mut x = *input;
    for _ in 0..DOUBLE_ROUNDS {
        quarter(&mut x, 0, 4, 8, 12);
        quarter(&mut x, 1, 5, 9, 13);
        quarter(&mut x, 2, 6, 10, 14);
        quarter(&mut x, 3, 7, 11, 15);
        quarter(&mut x, 0, 5, 10, 15);
        quarter(&mut x, 1, 6, 11, 12);
        quarter(&mut x, 2, 7, 8, 13);
        quarter(&mut x, 3, 4, 9, 14);
    }
    for (x, i) in x.iter_mut().zip(input) {
        for l in 0..L {
            x[l] = x[l].wrapping_add(i[l]);
        }
    }
    x
}

/// Block `counter` of one stream.
fn block(key: &[u32; 8], draw: u64, counter: u64) -> [u32; BLOCK] {
    blocks::<1>(&state(key, draw, counter).map(|w| [w])).map(|[w]| w)
}

/// The first block of the stream of each (seed, `purposes[k]`, draw) into `out[k]`: eight
/// streams at a time (sixteen with AVX-512), word by word in lanes (the same words as
/// [`stream`]'s first 16 `u32`s). `isa`: the compiled version (AVX-512 or AVX2 vectors, or the
/// portable lanes; the same words).
pub fn first_blocks(isa: Isa, seed: u64, draw: u64, purposes: &[u64], out: &mut [[u32; BLOCK]]) {
    assert_eq!(purposes.len(), out.len(), "one block per purpose");
    let base = state(&key_words(seed, 0), draw, 0);
    #[cfg(target_arch = "x86_64")]
    {
        if isa == Isa::Avx512 && Isa::Avx512.available() {
            return first_blocks_in::<WIDEST>(&base, purposes, out, |input| {
                let mut x = [[0; WIDEST]; BLOCK];
                // SAFETY: the processor has AVX-512 F (checked just above).
                unsafe { avx512::blocks16(input, &mut x) };
                x
            });
        }
        if matches!(isa, Isa::Avx2 | Isa::Avx512) && Isa::Avx2.available() {
            // SAFETY: the processor has AVX2 (checked just above).
            return first_blocks_in::<WIDE>(&base, purposes, out, |input| unsafe { avx2::blocks8(input) });
        }
    }
    let _ = isa;
    first_blocks_in::<WIDE>(&base, purposes, out, blocks::<WIDE>);
}

/// [`first_blocks`] in groups of `L` streams, whose blocks `compute` gives (word w of stream l in
/// `[w][l]`, in and out).
#[inline(always)]
fn first_blocks_in<const L: usize>(
    base: &[u32; BLOCK],
    purposes: &[u64],
    out: &mut [[u32; BLOCK]],
    compute: impl Fn(&[[u32; L]; BLOCK]) -> [[u32; L]; BLOCK],
) {
    for (group, dest) in purposes.chunks(L).zip(out.chunks_mut(L)) {
        let mut input = base.map(|w| [w; L]);
        for (l, p) in group.iter().enumerate() {
            input[6][l] = *p as u32;
            input[7][l] = (*p >> 32) as u32;
        }
        let x = compute(&input);
        for (l, d) in dest.iter_mut().enumerate() {
            for w in 0..BLOCK {
                d[w] = x[w][l];
            }
        }
    }
}

/// [`blocks`] of eight states in AVX2 vectors (one vector per state word): the same words.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{BLOCK, DOUBLE_ROUNDS, WIDE};
    use std::arch::x86_64::{
        __m256i, _mm256_add_epi32, _mm256_loadu_si256, _mm256_or_si256, _mm256_setr_epi8,
        _mm256_shuffle_epi8, _mm256_slli_epi32, _mm256_srli_epi32, _mm256_storeu_si256, _mm256_xor_si256,
    };

    /// Rotations left by 12 and 7 (shifts), by 16 and 8 (byte shuffles within each word).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn rol<const L: i32, const R: i32>(v: __m256i) -> __m256i {
        _mm256_or_si256(_mm256_slli_epi32::<L>(v), _mm256_srli_epi32::<R>(v))
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn quarter(x: &mut [__m256i; BLOCK], [a, b, c, d]: [usize; 4], r16: __m256i, r8: __m256i) {
        x[a] = _mm256_add_epi32(x[a], x[b]);
        x[d] = _mm256_shuffle_epi8(_mm256_xor_si256(x[d], x[a]), r16);
        x[c] = _mm256_add_epi32(x[c], x[d]);
        x[b] = rol::<12, 20>(_mm256_xor_si256(x[b], x[c]));
        x[a] = _mm256_add_epi32(x[a], x[b]);
        x[d] = _mm256_shuffle_epi8(_mm256_xor_si256(x[d], x[a]), r8);
        x[c] = _mm256_add_epi32(x[c], x[d]);
        x[b] = rol::<7, 25>(_mm256_xor_si256(x[b], x[c]));
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn blocks8(input: &[[u32; WIDE]; BLOCK]) -> [[u32; WIDE]; BLOCK] {
        // SAFETY: each row holds eight u32 (32 bytes); unaligned loads and stores.
        let load = |row: &[u32; WIDE]| unsafe { _mm256_loadu_si256(row.as_ptr().cast()) };
        let inp: [__m256i; BLOCK] = std::array::from_fn(|w| load(&input[w]));
        let r16 = _mm256_setr_epi8(
            2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14,
            15, 12, 13,
        );
        let r8 = _mm256_setr_epi8(
            3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14, 3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15,
            12, 13, 14,
        );
        let mut x = inp;
        for _ in 0..DOUBLE_ROUNDS {
            quarter(&mut x, [0, 4, 8, 12], r16, r8);
            quarter(&mut x, [1, 5, 9, 13], r16, r8);
            quarter(&mut x, [2, 6, 10, 14], r16, r8);
            quarter(&mut x, [3, 7, 11, 15], r16, r8);
            quarter(&mut x, [0, 5, 10, 15], r16, r8);
            quarter(&mut x, [1, 6, 11, 12], r16, r8);
            quarter(&mut x, [2, 7, 8, 13], r16, r8);
            quarter(&mut x, [3, 4, 9, 14], r16, r8);
        }
        let mut out = [[0u32; WIDE]; BLOCK];
        for w in 0..BLOCK {
            // SAFETY: as above.
            unsafe { _mm256_storeu_si256(out[w].as_mut_ptr().cast(), _mm256_add_epi32(x[w], inp[w])) };
        }
        out
    }
}

/// [`blocks`] of sixteen states in AVX-512 vectors (one vector per state word; the rotations
/// are single instructions): the same words.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{BLOCK, DOUBLE_ROUNDS, WIDEST};
    use std::arch::x86_64::{
        __m512i, _mm512_add_epi32, _mm512_loadu_si512, _mm512_rol_epi32, _mm512_storeu_si512,
        _mm512_xor_si512,
    };

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn quarter(x: &mut [__m512i; BLOCK], [a, b, c, d]: [usize; 4]) {
        x[a] = _mm512_add_epi32(x[a], x[b]);
        x[d] = _mm512_rol_epi32::<16>(_mm512_xor_si512(x[d], x[a]));
        x[c] = _mm512_add_epi32(x[c], x[d]);
        x[b] = _mm512_rol_epi32::<12>(_mm512_xor_si512(x[b], x[c]));
        x[a] = _mm512_add_epi32(x[a], x[b]);
        x[d] = _mm512_rol_epi32::<8>(_mm512_xor_si512(x[d], x[a]));
        x[c] = _mm512_add_epi32(x[c], x[d]);
        x[b] = _mm512_rol_epi32::<7>(_mm512_xor_si512(x[b], x[c]));
    }

    #[target_feature(enable = "avx512f")]
    pub(super) fn blocks16(input: &[[u32; WIDEST]; BLOCK], out: &mut [[u32; WIDEST]; BLOCK]) {
        // SAFETY: each row holds sixteen u32 (64 bytes); unaligned loads and stores.
        let load = |row: &[u32; WIDEST]| unsafe { _mm512_loadu_si512(row.as_ptr().cast()) };
        let inp: [__m512i; BLOCK] = std::array::from_fn(|w| load(&input[w]));
        let mut x = inp;
        for _ in 0..DOUBLE_ROUNDS {
            quarter(&mut x, [0, 4, 8, 12]);
            quarter(&mut x, [1, 5, 9, 13]);
            quarter(&mut x, [2, 6, 10, 14]);
            quarter(&mut x, [3, 7, 11, 15]);
            quarter(&mut x, [0, 5, 10, 15]);
            quarter(&mut x, [1, 6, 11, 12]);
            quarter(&mut x, [2, 7, 8, 13]);
            quarter(&mut x, [3, 4, 9, 14]);
        }
        for w in 0..BLOCK {
            // SAFETY: as above.
            unsafe { _mm512_storeu_si512(out[w].as_mut_ptr().cast(), _mm512_add_epi32(x[w], inp[w])) };
        }
    }
}

/// A ChaCha8 stream of (seed, purpose, draw) that computes its blocks many at a time, in lanes
/// (sixteen with AVX-512, eight with AVX2 or in portable lanes): the same `u32`s, `u64`s and
/// bytes, in the same order, as [`stream`], which computes four blocks at a time after a key
/// set-up of its own. For the streams a draw reads a few hundred words from.
#[derive(Debug, Clone)]
pub struct WideStream {
    /// Word w of block `counter + l` in `words[w][l]`.
    words: [[u32; WIDEST]; BLOCK],
    /// The next word to hand out: word `index % 16` of block `index / 16` (`end`: none left).
    index: usize,
    /// Words per refill: 16 per block computed at once.
    end: usize,
    /// The input state of the next refill's first block (its counter in words 12–13).
    input: [u32; BLOCK],
    isa: Isa,
}

impl WideStream {
    /// The stream of (seed, purpose, draw), computed in the compiled version `isa`.
    pub fn new(isa: Isa, seed: u64, purpose: u64, draw: u64) -> WideStream {
        let mut s = WideStream { words: [[0; WIDEST]; BLOCK], index: 0, end: 0, input: [0; BLOCK], isa };
        s.restart(isa, seed, purpose, draw);
        s
    }

    /// Start over as the stream of (seed, purpose, draw) in `isa`, as [`WideStream::new`] would
    /// (without writing its 1 KB of words).
    pub fn restart(&mut self, isa: Isa, seed: u64, purpose: u64, draw: u64) {
        #[cfg(target_arch = "x86_64")]
        let lanes = if isa == Isa::Avx512 && Isa::Avx512.available() { WIDEST } else { WIDE };
        #[cfg(not(target_arch = "x86_64"))]
        let lanes = WIDE;
        self.end = lanes * BLOCK;
        self.index = self.end;
        self.input = state(&key_words(seed, purpose), draw, 0);
        self.isa = isa;
    }

    /// The next blocks, as many as the lanes.
    #[cold]
    fn refill(&mut self) {
        let lanes = self.end / BLOCK;
        let counter = u64::from(self.input[12]) | (u64::from(self.input[13]) << 32);
        let mut input = self.input.map(|w| [w; WIDEST]);
        for (l, c) in (0..WIDEST as u64).map(|l| counter.wrapping_add(l)).enumerate() {
            input[12][l] = c as u32;
            input[13][l] = (c >> 32) as u32;
        }
        let next = counter.wrapping_add(lanes as u64);
        self.input[12] = next as u32;
        self.input[13] = (next >> 32) as u32;
        #[cfg(target_arch = "x86_64")]
        if lanes == WIDEST {
            // SAFETY: sixteen lanes only with AVX-512 F (`restart` checked it).
            unsafe { avx512::blocks16(&input, &mut self.words) };
            self.index = 0;
            return;
        }
        let eight = input.map(|row| std::array::from_fn::<u32, WIDE, _>(|l| row[l]));
        #[cfg(target_arch = "x86_64")]
        let x = if matches!(self.isa, Isa::Avx2 | Isa::Avx512) && Isa::Avx2.available() {
            // SAFETY: the processor has AVX2 (checked just above).
            unsafe { avx2::blocks8(&eight) }
        } else {
            blocks::<WIDE>(&eight)
        };
        #[cfg(not(target_arch = "x86_64"))]
        let x = blocks::<WIDE>(&eight);
        for (o, x) in self.words.iter_mut().zip(&x) {
            o[..WIDE].copy_from_slice(x);
        }
        self.index = 0;
    }

    #[inline(always)]
    fn word(&mut self) -> u32 {
        if self.index == self.end {
            self.refill();
        }
        let i = self.index;
        self.index += 1;
        self.words[i % BLOCK][i / BLOCK]
    }
}

/// The stream of one (seed, purpose, draw) with its first block already computed (by
/// [`first_blocks`]): the same `u32`s, `u64`s and bytes, in the same order, as [`stream`]; later
/// blocks are computed one at a time when needed.
#[derive(Debug, Clone)]
pub struct OneShot {
    words: [u32; BLOCK],
    /// The next word of `words` to hand out (16: none left).
    index: usize,
    key: [u32; 8],
    draw: u64,
    /// The block counter of `words`.
    counter: u64,
}

impl OneShot {
    /// The stream of (seed, purpose, draw) whose first block is `first`.
    pub fn new(seed: u64, purpose: u64, draw: u64, first: [u32; BLOCK]) -> OneShot {
        OneShot { words: first, index: 0, key: key_words(seed, purpose), draw, counter: 0 }
    }

    fn refill(&mut self) {
        self.counter = self.counter.wrapping_add(1);
        self.words = block(&self.key, self.draw, self.counter);
        self.index = 0;
    }

    #[inline]
    fn word(&mut self) -> u32 {
        if self.index == BLOCK {
            self.refill();
        }
        self.index += 1;
        self.words[self.index - 1]
    }
}

/// The word-stream semantics of rand_core's `BlockRng` (which [`Stream`] uses), for a type with
/// a `word()` method: a `u64` is the next two words, low first, across a block boundary if need
/// be; bytes take whole words, little endian, and a partly used word's rest is dropped.
macro_rules! word_stream {
    ($t:ty) => {
        impl TryRng for $t {
            type Error = Infallible;

            #[inline]
            fn try_next_u32(&mut self) -> Result<u32, Infallible> {
                Ok(self.word())
            }

            #[inline]
            fn try_next_u64(&mut self) -> Result<u64, Infallible> {
                let lo = self.word();
                let hi = self.word();
                Ok((u64::from(hi) << 32) | u64::from(lo))
            }

            fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
                for chunk in dst.chunks_mut(4) {
                    let w = self.word().to_le_bytes();
                    chunk.copy_from_slice(&w[..chunk.len()]);
                }
                Ok(())
            }
        }
    };
}

word_stream!(OneShot);
word_stream!(WideStream);

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn fnv1a_matches_reference_values() {
        // Reference values of 64-bit FNV-1a (from the algorithm's published test vectors).
        assert_eq!(purpose(""), 0xcbf29ce484222325);
        assert_eq!(purpose("a"), 0xaf63dc4c8601ec8c);
        assert_eq!(purpose("foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn one_shot_streams_are_the_chacha8_streams() {
        use rand::Rng;
        // Seeds, purposes and draws with high bits set; a purpose count that leaves a partial
        // lane group; mixed word sizes and byte fills that cross block boundaries.
        let purposes: Vec<u64> = (0..19).map(|k| purpose(&format!("p{k}")) ^ (k << 60)).collect();
        for (seed, draw) in [(0u64, 0u64), (20181231, 7), (u64::MAX, u64::MAX - 1), (1 << 40, 1 << 33)] {
            let mut firsts = vec![[0u32; BLOCK]; purposes.len()];
            first_blocks(Isa::Generic, seed, draw, &purposes, &mut firsts);
            let mut wide = vec![[0u32; BLOCK]; purposes.len()];
            first_blocks(Isa::widest(), seed, draw, &purposes, &mut wide);
            assert_eq!(firsts, wide, "the compiled versions agree");
            for (k, (&p, &first)) in purposes.iter().zip(&firsts).enumerate() {
                let mut want = stream(seed, p, draw);
                let mut got = OneShot::new(seed, p, draw, first);
                for step in 0..120usize {
                    match (step * 7 + k) % 5 {
                        0 => assert_eq!(got.next_u32(), want.next_u32(), "u32 {k} {step}"),
                        1 | 2 => assert_eq!(got.next_u64(), want.next_u64(), "u64 {k} {step}"),
                        3 => {
                            let n = (step + k) % 11;
                            let (mut a, mut b) = ([0u8; 11], [0u8; 11]);
                            got.fill_bytes(&mut a[..n]);
                            want.fill_bytes(&mut b[..n]);
                            assert_eq!(a, b, "bytes {k} {step}");
                        }
                        _ => assert_eq!(got.random::<f64>().to_bits(), want.random::<f64>().to_bits()),
                    }
                }
            }
        }
    }

    #[test]
    fn wide_streams_are_the_chacha8_streams() {
        use rand::Rng;
        // Several refills of sixteen blocks, a block counter whose low word wraps within a
        // refill (set through the input state), and every compiled version.
        for (seed, p, draw) in
            [(0u64, purpose("a"), 0u64), (20181231, purpose("shocks.tfp"), 7), (u64::MAX, 3, u64::MAX)]
        {
            for isa in [Isa::Generic, Isa::Avx2, Isa::Avx512].into_iter().filter(|v| v.available()) {
                let mut want = stream(seed, p, draw);
                // A restarted stream is the new one.
                let mut got = WideStream::new(isa, 1, 2, 3);
                got.next_u64();
                got.restart(isa, seed, p, draw);
                for step in 0..1_500usize {
                    match step % 5 {
                        0 => assert_eq!(got.next_u32(), want.next_u32(), "{isa:?} u32 {step}"),
                        1 | 2 => assert_eq!(got.next_u64(), want.next_u64(), "{isa:?} u64 {step}"),
                        3 => {
                            let n = step % 11;
                            let (mut a, mut b) = ([0u8; 11], [0u8; 11]);
                            got.fill_bytes(&mut a[..n]);
                            want.fill_bytes(&mut b[..n]);
                            assert_eq!(a, b, "{isa:?} bytes {step}");
                        }
                        _ => assert_eq!(got.random::<f64>().to_bits(), want.random::<f64>().to_bits()),
                    }
                }
            }
        }
        // Block 2^32 − 3 onwards: the counter's high word is carried within a refill.
        let mut want = stream(5, 6, 7);
        want.set_word_pos(16 * ((1u128 << 32) - 3));
        for isa in [Isa::Generic, Isa::Avx2, Isa::Avx512].into_iter().filter(|v| v.available()) {
            let mut w = want.clone();
            let mut got = WideStream::new(isa, 5, 6, 7);
            let c = (1u64 << 32) - 3;
            got.input[12] = c as u32;
            got.input[13] = (c >> 32) as u32;
            for k in 0..600 {
                assert_eq!(got.next_u32(), w.next_u32(), "{isa:?} word {k} after the wrap");
            }
        }
    }

    #[test]
    fn streams_depend_only_on_seed_purpose_and_draw() {
        let a: Vec<u64> =
            (0..4).map(|_| 0).scan(stream(1, purpose("x"), 5), |r, _: u64| Some(r.random())).collect();
        let b: Vec<u64> =
            (0..4).map(|_| 0).scan(stream(1, purpose("x"), 5), |r, _: u64| Some(r.random())).collect();
        assert_eq!(a, b);
        let mut c = stream(1, purpose("x"), 6);
        let mut d = stream(1, purpose("y"), 5);
        let mut e = stream(2, purpose("x"), 5);
        let first = a[0];
        assert_ne!(first, c.random::<u64>());
        assert_ne!(first, d.random::<u64>());
        assert_ne!(first, e.random::<u64>());
    }
}
