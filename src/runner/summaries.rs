//! The summaries of a run or a comparison: every draw kept and then summarised when that fits
//! the memory budget and is the faster way, else streamed through the exact sieve; the same
//! numbers, bit for bit, either way.

use super::keep::{KeepChunk, KeepDraws, KeepWorker};
pub use super::stream::SieveConfig;
use super::stream::{Stream, StreamChunk, StreamWorker};
use super::{Pass, RunConfig, Sink};
use crate::diagnostics::Diagnostics;
use crate::error::Error;
use crate::model::Model;
use crate::region::Target;
use crate::stats::{self, DiffStats, Ensemble, Summary};
use std::ops::Range;

/// Above this many bytes of kept outcomes, [`Summaries`] streams the draws instead of keeping
/// them ([`Strategy::Auto`]); below it, keeping them is faster.
pub const STREAM_ABOVE_BYTES: u64 = 512 << 20;

/// How [`Summaries`] collects the draws.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Strategy {
    /// Keep them up to [`STREAM_ABOVE_BYTES`] (and the memory budget), else stream them.
    Auto,
    /// Keep every draw.
    Keep,
    /// Stream them through a sieve of this configuration.
    Stream(SieveConfig),
}

/// The summaries of a run (one model) or a comparison (several on the same draws; the first is
/// the base): each model's [`Summary`] with its targets' hit counts, and for a comparison each
/// alternative's paired differences from the base.
pub struct Summaries<'a> {
    targets: Vec<&'a [Target]>,
    keep_draws: bool,
    strategy: Strategy,
    draws: Range<u64>,
    inner: Inner<'a>,
}

enum Inner<'a> {
    Undecided,
    Keep(KeepDraws),
    Stream(Box<Stream<'a>>),
}

/// What [`Summaries`] gives.
#[derive(Debug)]
pub struct Outcomes {
    /// One summary per model, in the order given.
    pub summaries: Vec<Summary>,
    /// For alternative a (models 1..), the statistics of its paired differences from the base
    /// over the entity outcomes ([`stats::paired`]).
    pub diffs: Vec<Vec<DiffStats>>,
    /// For alternative a (models 1..), per target of the base's list paired with the same
    /// position of the alternative's, the draws in which only the alternative meets it and
    /// those in which only the base does ([`stats::target_pairs`]); empty when the lists differ
    /// in length.
    pub target_pairs: Vec<Vec<(u64, u64)>>,
    /// Every model's draws when the run kept them (always with
    /// [`Summaries::keeping_draws`]); empty when it streamed them. Giving their memory back
    /// takes a while: a caller may do it off its critical path.
    pub kept: Vec<Ensemble>,
}

impl<'a> Summaries<'a> {
    /// The summaries of models with these targets (one list per model).
    pub fn new(targets: Vec<&'a [Target]>) -> Summaries<'a> {
        Summaries {
            targets,
            keep_draws: false,
            strategy: Strategy::Auto,
            draws: 0..0,
            inner: Inner::Undecided,
        }
    }

    /// Keep every draw as well, for `draws.csv` ([`Outcomes::kept`]).
    pub fn keeping_draws(mut self) -> Self {
        self.keep_draws = true;
        self
    }

    /// Collect the draws this way.
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }
}

/// A worker's state, by the way the run collects the draws.
pub enum SummaryWorker {
    /// Keeping them.
    Keep(KeepWorker),
    /// Streaming them.
    Stream(StreamWorker),
}

/// What a chunk gives, by the way the run collects the draws.
pub enum SummaryChunk {
    /// Keeping them.
    Keep(KeepChunk),
    /// Streaming them.
    Stream(StreamChunk),
}

impl<'a> Sink for Summaries<'a> {
    type Worker = SummaryWorker;
    type Chunk = SummaryChunk;
    type Output = Outcomes;

    fn plan(&mut self, models: &[&Model], draws: Range<u64>, cfg: &RunConfig) -> Result<Pass, Error> {
        assert_eq!(models.len(), self.targets.len(), "a target list per model");
        let n = draws.end - draws.start;
        self.draws = draws.clone();
        let kept = KeepDraws::bytes(models, n);
        let (keep, sieve) = match self.strategy {
            _ if self.keep_draws => (true, SieveConfig::default()),
            Strategy::Keep => (true, SieveConfig::default()),
            Strategy::Stream(s) => (false, s),
            Strategy::Auto => (kept <= STREAM_ABOVE_BYTES && cfg.fits(kept), SieveConfig::default()),
        };
        if keep {
            let mut k = KeepDraws::default();
            let pass = k.plan(models, draws, cfg)?;
            self.inner = Inner::Keep(k);
            return Ok(pass);
        }
        let needed = Stream::bytes(models, n, &sieve);
        if !cfg.fits(needed) {
            return Err(Error::TooLarge { needed, budget: cfg.memory_budget });
        }
        let (s, pass) = Stream::plan(models, self.targets.clone(), n, sieve, cfg);
        self.inner = Inner::Stream(Box::new(s));
        Ok(pass)
    }

    fn worker(&self) -> SummaryWorker {
        match &self.inner {
            Inner::Keep(k) => SummaryWorker::Keep(k.worker()),
            Inner::Stream(s) => SummaryWorker::Stream(s.worker()),
            Inner::Undecided => unreachable!("planned before the first pass"),
        }
    }

    fn start(&self, w: &mut SummaryWorker, c: u64, len: usize) -> SummaryChunk {
        match (&self.inner, w) {
            (Inner::Keep(k), SummaryWorker::Keep(w)) => SummaryChunk::Keep(k.start(w, c, len)),
            (Inner::Stream(s), SummaryWorker::Stream(w)) => SummaryChunk::Stream(s.start(w, len)),
            _ => unreachable!("a worker of the run's way"),
        }
    }

    fn buffer<'b>(
        &self,
        w: &'b mut SummaryWorker,
        chunk: &'b mut SummaryChunk,
        m: usize,
        at: usize,
        k: usize,
    ) -> &'b mut [f64] {
        match (&self.inner, w, chunk) {
            (Inner::Keep(keep), SummaryWorker::Keep(w), SummaryChunk::Keep(c)) => keep.buffer(w, c, m, at, k),
            (Inner::Stream(s), SummaryWorker::Stream(w), _) => s.buffer(w, m, at, k),
            _ => unreachable!("a worker of the run's way"),
        }
    }

    fn filled(&self, w: &mut SummaryWorker, chunk: &mut SummaryChunk, at: usize, k: usize) {
        match (&self.inner, w, chunk) {
            (Inner::Keep(keep), SummaryWorker::Keep(w), SummaryChunk::Keep(c)) => keep.filled(w, c, at, k),
            (Inner::Stream(s), SummaryWorker::Stream(w), _) => s.filled(w, at, k),
            _ => unreachable!("a worker of the run's way"),
        }
    }

    fn end(&self, w: &mut SummaryWorker, chunk: &mut SummaryChunk) {
        match (&self.inner, w, chunk) {
            (Inner::Keep(keep), SummaryWorker::Keep(w), SummaryChunk::Keep(c)) => keep.end(w, c),
            (Inner::Stream(s), SummaryWorker::Stream(w), SummaryChunk::Stream(c)) => s.end(w, c),
            _ => unreachable!("a worker of the run's way"),
        }
    }

    fn pass_done(&mut self, chunks: Vec<SummaryChunk>, workers: Vec<&mut SummaryWorker>) -> Option<Pass> {
        match &mut self.inner {
            Inner::Keep(k) => {
                let chunks = chunks.into_iter().map(|c| match c {
                    SummaryChunk::Keep(c) => c,
                    SummaryChunk::Stream(_) => unreachable!("a chunk of the run's way"),
                });
                let workers = workers.into_iter().map(|w| match w {
                    SummaryWorker::Keep(w) => w,
                    SummaryWorker::Stream(_) => unreachable!("a worker of the run's way"),
                });
                k.pass_done(chunks.collect(), workers.collect())
            }
            Inner::Stream(s) => {
                let chunks = chunks.into_iter().map(|c| match c {
                    SummaryChunk::Stream(c) => c,
                    SummaryChunk::Keep(_) => unreachable!("a chunk of the run's way"),
                });
                let workers = workers.into_iter().map(|w| match w {
                    SummaryWorker::Stream(w) => w,
                    SummaryWorker::Keep(_) => unreachable!("a worker of the run's way"),
                });
                s.pass_done(chunks.collect(), workers.collect())
            }
            Inner::Undecided => None,
        }
    }

    fn finish(self, diagnostics: Vec<Diagnostics>) -> Outcomes {
        let n = (self.draws.end - self.draws.start) as f64;
        match self.inner {
            Inner::Keep(k) => {
                let kept = k.finish(diagnostics);
                let summaries =
                    kept.iter().zip(&self.targets).map(|(e, t)| stats::summary_of(e, t)).collect();
                let diffs = kept.iter().skip(1).map(|alt| stats::paired(&kept[0], alt)).collect();
                let targets = &self.targets;
                let target_pairs = (1..kept.len())
                    .map(|a| {
                        let paired = targets[a].len() == targets[0].len();
                        if paired {
                            stats::target_pairs(&kept[0], &kept[a], targets[0], targets[a])
                        } else {
                            Vec::new()
                        }
                    })
                    .collect();
                Outcomes { summaries, diffs, target_pairs, kept }
            }
            Inner::Stream(s) => {
                let (layouts, rows) = (s.layouts().to_vec(), s.rows().clone());
                let (stats, hits, lost) = s.finish();
                let summaries = (0..layouts.len())
                    .map(|m| Summary {
                        draws: self.draws.clone(),
                        layout: layouts[m],
                        stats: stats[rows.model(m)].to_vec(),
                        target_hits: hits[rows.model_hits(m)].to_vec(),
                        diagnostics: diagnostics[m],
                        regathered: lost.iter().filter(|j| rows.model(m).contains(j)).count(),
                    })
                    .collect();
                let diffs = (1..layouts.len())
                    .map(|a| {
                        let (values, higher) = (rows.diffs(a), rows.higher(a));
                        values
                            .zip(higher)
                            .map(|(j, h)| DiffStats {
                                mean: stats[j].mean,
                                q: stats[j].q,
                                prob_alt_higher: hits[h] as f64 / n,
                            })
                            .collect()
                    })
                    .collect();
                let target_pairs = (1..layouts.len())
                    .map(|a| {
                        let (only_alt, only_base) = rows.pairs(a);
                        hits[only_alt].iter().zip(&hits[only_base]).map(|(&x, &b)| (x, b)).collect()
                    })
                    .collect();
                Outcomes { summaries, diffs, target_pairs, kept: Vec::new() }
            }
            Inner::Undecided => unreachable!("planned before the first pass"),
        }
    }
}
