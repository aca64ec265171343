//! The streamed summary: rows of every model's values (and, for a comparison, each
//! alternative's differences from the base) summarised as the draws finish, in stages whose
//! draws double, keeping only the values near each quantile ([`crate::stats::sieve`]). Means and
//! sds are folded from the chunks' sums in chunk order, quantiles are exact order statistics:
//! the same bits as summarising every draw kept.

use super::{Pass, RunConfig};
use crate::indicators::Layout;
use crate::model::Model;
use crate::model::engine::BATCH;
use crate::region::Target;
use crate::stats::sieve::{Brackets, Sieve, Store, Window};
use crate::stats::{CHUNK, ChunkSums, Moments, PROBS, SeriesStats, count_hits, paired_width, quantile};

/// How the sieve brackets the quantiles. The defaults suit every run; tests narrow them to
/// exercise the rare path where a series is gathered again in full.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SieveConfig {
    /// Draws of the first stage, which keeps every value (rounded up to a multiple of
    /// [`CHUNK`]); later stages double the draws so far.
    pub first_stage: u64,
    /// Half-width of each bracket in standard deviations of the sample quantile's rank.
    pub z: f64,
}

impl Default for SieveConfig {
    fn default() -> Self {
        SieveConfig { first_stage: 8192, z: 5.0 }
    }
}

impl SieveConfig {
    /// Bytes the sieve of `draws` rows of `width` values needs at most, about: the first stage
    /// keeps every value, later stages about 40·√draws values per series, with room to grow.
    pub fn bytes(&self, width: usize, draws: u64) -> u64 {
        let per_series =
            (draws.min(self.first_stage) as f64).max(2.0 * 40.0 * (self.z / 5.0) * (draws as f64).sqrt());
        (per_series.min(draws as f64) * 8.0 * width as f64) as u64
    }
}

/// Where each model's values, each alternative's differences and each list of counters sit in
/// a row.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    /// Each model's layout.
    layouts: Vec<Layout>,
    /// Each model's first value, then the end of the last (`off[k]`, where the differences
    /// start).
    off: Vec<usize>,
    /// Values compared per alternative ([`paired_width`]).
    diff_width: usize,
    /// Each model's first hit counter, then the end of the last (where the "alternative
    /// higher" counters start).
    hit_off: Vec<usize>,
    /// Targets paired between the base and each alternative (their lists are the same length:
    /// a comparison's union of targets; 0 otherwise). Each alternative's "only the alternative
    /// meets it" and "only the base" counters follow the "higher" counters.
    pair_width: usize,
}

impl Rows {
    fn new(models: &[&Model], targets: &[&[Target]]) -> Rows {
        let mut off = vec![0];
        for m in models {
            off.push(off.last().copied().unwrap_or(0) + m.layout.len());
        }
        let diff_width = if models.len() > 1 { paired_width(&models[0].layout) } else { 0 };
        assert!(
            models.iter().all(|m| diff_width == 0 || paired_width(&m.layout) == diff_width),
            "the same entities and years"
        );
        let mut hit_off = vec![0];
        for t in targets {
            hit_off.push(hit_off.last().copied().unwrap_or(0) + t.len());
        }
        let pair_width = if models.len() > 1 && targets.iter().all(|t| t.len() == targets[0].len()) {
            targets[0].len()
        } else {
            0
        };
        Rows { layouts: models.iter().map(|m| m.layout).collect(), off, diff_width, hit_off, pair_width }
    }

    fn models(&self) -> usize {
        self.off.len() - 1
    }

    /// Where alternative a's differences start.
    fn diff_at(&self, a: usize) -> usize {
        self.off[self.models()] + (a - 1) * self.diff_width
    }

    /// Values per row.
    pub fn width(&self) -> usize {
        self.diff_at(self.models())
    }

    /// Where alternative a's "higher" counters start.
    fn higher_at(&self, a: usize) -> usize {
        self.hit_off[self.models()] + (a - 1) * self.diff_width
    }

    /// Where alternative a's paired target counters start (only the alternative meets it, then
    /// only the base).
    fn pairs_at(&self, a: usize) -> usize {
        self.higher_at(self.models()) + (a - 1) * 2 * self.pair_width
    }

    fn counters(&self) -> usize {
        self.pairs_at(self.models())
    }
}

/// The streamed summary of a run.
pub struct Stream<'a> {
    targets: Vec<&'a [Target]>,
    rows: Rows,
    cfg: SieveConfig,
    n: u64,
    brackets: Brackets,
    store: Store,
    moments: Moments,
    hits: Vec<u64>,
    /// The stage running: rows `done..end`.
    stage: (u64, u64),
    /// Room of each new sieve: a share of what each series kept so far, and at least this.
    room: (f64, usize),
    /// Series gathered again in full, and their values (rows in draw order).
    lost: Vec<usize>,
    gathered: Vec<f64>,
    quantiles: Vec<Option<[f64; PROBS.len()]>>,
    /// For a rank of a distributed run ([`Stream::for_rank`]): its chunks' sums, flat in chunk
    /// order, and at the end what the sieve kept of each series.
    rank: Option<(Vec<f64>, Vec<Option<Window>>)>,
}

/// A worker's rows of the chunk it runs, each model's rows of a batch (a comparison's), and
/// its sieve of the stage.
pub struct StreamWorker {
    buf: Vec<f64>,
    models: Vec<Vec<f64>>,
    sieve: Option<Sieve>,
}

/// What a chunk gives: its sums and counts, or (gathering) its values of the lost series.
pub struct StreamChunk {
    len: usize,
    sums: ChunkSums,
    hits: Vec<u64>,
    gathered: Vec<f64>,
}

impl<'a> Stream<'a> {
    /// The streamed summary of `models` over `n` rows, the first pass.
    pub fn plan(
        models: &[&Model],
        targets: Vec<&'a [Target]>,
        n: u64,
        cfg: SieveConfig,
        run: &RunConfig,
    ) -> (Self, Pass) {
        let rows = Rows::new(models, &targets);
        let width = rows.width();
        let first = cfg.first_stage.max(1).div_ceil(CHUNK) * CHUNK;
        let end = first.min(n);
        let threads = rayon::current_num_threads();
        let s = Stream {
            hits: vec![0; rows.counters()],
            targets,
            cfg,
            n,
            brackets: Brackets::everything(width),
            store: Store::new(width, run.isa),
            moments: Moments::new(width),
            stage: (0, end),
            room: (1.1 * end as f64 / threads as f64, (end as usize).div_ceil(threads) + CHUNK as usize),
            lost: Vec::new(),
            gathered: Vec::new(),
            quantiles: Vec::new(),
            rank: None,
            rows,
        };
        (s, Pass { rows: 0..end, counted: true })
    }

    /// The stream of a rank of a distributed run ([`super::distributed`]): the chunks' sums are
    /// kept, not folded, and the sieve's windows are its result ([`Stream::finish_rank`]), not the
    /// quantiles; a series whose brackets lost a needed rank is not gathered again here (its
    /// window is `None`: the ranks gather it together).
    pub(super) fn for_rank(mut self) -> Self {
        self.rank = Some((Vec::new(), Vec::new()));
        self
    }

    /// A rank's chunk sums (flat, in chunk order, [`ChunkSums::write_to`]), its windows and its
    /// counters.
    pub(super) fn finish_rank(self) -> (Vec<f64>, Vec<Option<Window>>, Vec<u64>) {
        let (sums, windows) = self.rank.expect("a rank's stream");
        (sums, windows, self.hits)
    }

    /// Bytes the streamed summary of `models` over `n` draws needs, about.
    pub fn bytes(models: &[&Model], n: u64, cfg: &SieveConfig) -> u64 {
        let diffs = if models.len() > 1 { (models.len() - 1) * paired_width(&models[0].layout) } else { 0 };
        cfg.bytes(models.iter().map(|m| m.layout.len()).sum::<usize>() + diffs, n)
    }

    pub(super) fn worker(&self) -> StreamWorker {
        let k = self.rows.models();
        let models = if k > 1 {
            (0..k).map(|m| vec![0.0; BATCH * (self.rows.off[m + 1] - self.rows.off[m])]).collect()
        } else {
            Vec::new()
        };
        StreamWorker { buf: vec![0.0; CHUNK as usize * self.rows.width()], models, sieve: None }
    }

    pub(super) fn start(&self, w: &mut StreamWorker, len: usize) -> StreamChunk {
        if w.sieve.is_none() && self.lost.is_empty() {
            let (share, room) = self.room;
            w.sieve = Some(Sieve::new(&self.store, share, room));
        }
        StreamChunk {
            len,
            sums: ChunkSums::new(self.rows.width()),
            hits: vec![0; self.hits.len()],
            gathered: Vec::new(),
        }
    }

    pub(super) fn buffer<'b>(&self, w: &'b mut StreamWorker, m: usize, at: usize, k: usize) -> &'b mut [f64] {
        let width = self.rows.width();
        if self.rows.models() == 1 {
            &mut w.buf[at * width..(at + k) * width]
        } else {
            let wm = self.rows.off[m + 1] - self.rows.off[m];
            &mut w.models[m][..k * wm]
        }
    }

    /// A comparison's rows: every model's values, then each alternative's differences from the
    /// base over the entity outcomes.
    pub(super) fn filled(&self, w: &mut StreamWorker, at: usize, k: usize) {
        let (r, width) = (&self.rows, self.rows.width());
        if r.models() == 1 {
            return;
        }
        for (i, row) in w.buf[at * width..(at + k) * width].chunks_exact_mut(width).enumerate() {
            for (m, values) in w.models.iter().enumerate() {
                let wm = r.off[m + 1] - r.off[m];
                row[r.off[m]..r.off[m + 1]].copy_from_slice(&values[i * wm..(i + 1) * wm]);
            }
            let (base, rest) = row.split_at_mut(r.off[1]);
            for a in 1..r.models() {
                let (alt, diff) = (r.off[a] - r.off[1], r.diff_at(a) - r.off[1]);
                for j in 0..r.diff_width {
                    rest[diff + j] = rest[alt + j] - base[j];
                }
            }
        }
    }

    pub(super) fn end(&self, w: &mut StreamWorker, chunk: &mut StreamChunk) {
        let width = self.rows.width();
        let filled = &w.buf[..chunk.len * width];
        if !self.lost.is_empty() {
            for row in filled.chunks_exact(width) {
                chunk.gathered.extend(self.lost.iter().map(|&j| row[j]));
            }
            return;
        }
        chunk.sums.push_rows(filled);
        for row in filled.chunks_exact(width) {
            self.count(row, &mut chunk.hits);
        }
        if let Some(sieve) = &mut w.sieve {
            sieve.push_rows(&self.brackets, filled, width);
        }
    }

    /// Whether each target holds in a row, and for each alternative's compared values whether
    /// it is higher than the base (adds to `hits`).
    fn count(&self, row: &[f64], hits: &mut [u64]) {
        let r = &self.rows;
        for (m, targets) in self.targets.iter().enumerate() {
            let values = &row[r.off[m]..r.off[m + 1]];
            count_hits(&r.layouts[m], targets, |j| values[j], &mut hits[r.hit_off[m]..r.hit_off[m + 1]]);
        }
        for a in 1..r.models() {
            let alt = &row[r.off[a]..r.off[a] + r.diff_width];
            let h = &mut hits[r.higher_at(a)..r.higher_at(a) + r.diff_width];
            for ((c, &x), &b) in h.iter_mut().zip(alt).zip(&row[..r.diff_width]) {
                *c += u64::from(x > b);
            }
            let (base, alt) = (&row[..r.off[1]], &row[r.off[a]..r.off[a + 1]]);
            let at = r.pairs_at(a);
            for (k, (tb, ta)) in self.targets[0].iter().zip(self.targets[a]).enumerate().take(r.pair_width) {
                let met = |t: &Target, values: &[f64], l: &Layout| {
                    t.comparison.holds(values[l.index(t.entity, t.year, t.indicator)], t.threshold)
                };
                let (b, x) = (met(tb, base, &r.layouts[0]), met(ta, alt, &r.layouts[a]));
                hits[at + k] += u64::from(x && !b);
                hits[at + r.pair_width + k] += u64::from(b && !x);
            }
        }
    }

    /// The end of a pass: a stage's sums, counts and sieves absorbed, the brackets narrowed
    /// for the next stage; after the last, the quantiles, and a pass over every draw again for
    /// the series whose brackets lost a needed rank (almost never).
    pub(super) fn pass_done(
        &mut self,
        chunks: Vec<StreamChunk>,
        workers: Vec<&mut StreamWorker>,
    ) -> Option<Pass> {
        if !self.lost.is_empty() {
            for c in chunks {
                self.gathered.extend(c.gathered);
            }
            return None;
        }
        for c in &chunks {
            match &mut self.rank {
                Some((sums, _)) => c.sums.write_to(sums),
                None => self.moments.absorb(&c.sums),
            }
            for (a, b) in self.hits.iter_mut().zip(&c.hits) {
                *a += b;
            }
        }
        let (done, end) = self.stage;
        self.store.absorb(workers.into_iter().filter_map(|w| w.sieve.take()).collect(), end - done);
        if end == self.n {
            if let Some((_, windows)) = &mut self.rank {
                *windows = self.store.windows(&self.brackets);
                self.store = Store::new(0, crate::isa::Isa::Generic);
                return None;
            }
            self.quantiles = self.store.quantiles(&self.brackets);
            self.store = Store::new(0, crate::isa::Isa::Generic);
            self.lost = (0..self.rows.width()).filter(|&j| self.quantiles[j].is_none()).collect();
            return (!self.lost.is_empty()).then_some(Pass { rows: 0..self.n, counted: false });
        }
        self.store.rebracket(&mut self.brackets, self.cfg.z);
        let (done, end) = (end, (2 * end).min(self.n));
        self.stage = (done, end);
        self.room = (1.1 * (end - done) as f64 / done as f64 / rayon::current_num_threads() as f64, 16);
        Some(Pass { rows: done..end, counted: true })
    }

    /// Every value position's statistics (model by model, then each alternative's differences),
    /// the counters, and the positions whose series were gathered again.
    pub(super) fn finish(self) -> (Vec<SeriesStats>, Vec<u64>, Vec<usize>) {
        let mut stats: Vec<SeriesStats> = self
            .quantiles
            .iter()
            .enumerate()
            .map(|(j, q)| {
                let (mean, sd) = self.moments.mean_sd(j);
                SeriesStats { mean, sd, q: q.unwrap_or([f64::NAN; PROBS.len()]) }
            })
            .collect();
        for (i, &j) in self.lost.iter().enumerate() {
            let mut col: Vec<f64> = self.gathered.iter().skip(i).step_by(self.lost.len()).copied().collect();
            stats[j].q = quantile::quantiles_type7(&mut col, &PROBS);
        }
        (stats, self.hits, self.lost)
    }

    /// Each model's layout.
    pub(super) fn layouts(&self) -> &[Layout] {
        &self.rows.layouts
    }

    /// Where model m's values and alternative a's differences sit in a row, and their counters.
    pub(super) fn rows(&self) -> &Rows {
        &self.rows
    }
}

impl Rows {
    /// Model m's values in a row.
    pub(super) fn model(&self, m: usize) -> std::ops::Range<usize> {
        self.off[m]..self.off[m + 1]
    }

    /// Alternative a's differences in a row.
    pub(super) fn diffs(&self, a: usize) -> std::ops::Range<usize> {
        self.diff_at(a)..self.diff_at(a) + self.diff_width
    }

    /// Model m's target counters.
    pub(super) fn model_hits(&self, m: usize) -> std::ops::Range<usize> {
        self.hit_off[m]..self.hit_off[m + 1]
    }

    /// Alternative a's "higher" counters.
    pub(super) fn higher(&self, a: usize) -> std::ops::Range<usize> {
        self.higher_at(a)..self.higher_at(a) + self.diff_width
    }

    /// Alternative a's paired target counters: only the alternative meets it, then only the base
    /// (each `pair_width` long; empty when the target lists differ in length).
    pub(super) fn pairs(&self, a: usize) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let at = self.pairs_at(a);
        (at..at + self.pair_width, at + self.pair_width..at + 2 * self.pair_width)
    }
}
