//! Draws in parallel, results in draw order.
//!
//! Each draw is a pure function of (model, seed, draw index): draws `a..b` of a long run equal a
//! run of just those draws, whatever the thread count. Outcomes land in a row-major
//! `draws × values` matrix, each row written by the thread that ran the draw.

use crate::error::ModelError;
use crate::indicators::Layout;
use crate::model::Model;
use crate::model::sim::{self, Diagnostics, Mode, Workspace};
use rayon::prelude::*;
use std::ops::Range;

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunConfig {
    /// The draws to run (half-open); `--deterministic` runs one draw.
    pub draws: Range<u64>,
    /// The seed.
    pub seed: u64,
    /// Every parameter at its central value and no shocks.
    pub deterministic: bool,
}

/// The outcomes of a run's draws.
#[derive(Debug, Clone)]
pub struct Ensemble {
    /// The draws run.
    pub draws: Range<u64>,
    /// Layout of one draw's values.
    pub layout: Layout,
    /// Row-major `draws × layout.len()` outcomes.
    pub values: Vec<f64>,
    /// Clamps and caps counted over all draws.
    pub diagnostics: Diagnostics,
}

impl Ensemble {
    /// Number of draws.
    pub fn n_draws(&self) -> usize {
        (self.draws.end - self.draws.start) as usize
    }

    /// One draw's values (k counts from the first draw of the run).
    pub fn row(&self, k: usize) -> &[f64] {
        let n = self.layout.len();
        &self.values[k * n..(k + 1) * n]
    }
}

/// Bytes a run of `draws` draws needs for its outcomes (the matrix that dominates its memory).
pub fn memory_needed(model: &Model, draws: u64) -> u64 {
    draws.saturating_mul(model.layout.len() as u64).saturating_mul(std::mem::size_of::<f64>() as u64)
}

/// Run the draws of `cfg`, calling `progress(n)` as draws finish (from any thread).
pub fn run(model: &Model, cfg: &RunConfig, progress: &(dyn Fn(u64) + Sync)) -> Result<Ensemble, ModelError> {
    run_cancellable(model, cfg, progress, &|| false)
}

/// [`run`], stopping with [`ModelError::Cancelled`] as soon as `cancelled()` says so (checked
/// before each draw).
pub fn run_cancellable(
    model: &Model,
    cfg: &RunConfig,
    progress: &(dyn Fn(u64) + Sync),
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<Ensemble, ModelError> {
    let draws = if cfg.deterministic { 0..1 } else { cfg.draws.clone() };
    let width = model.layout.len();
    let n = (draws.end - draws.start) as usize;
    let mut values = vec![0.0; n * width];
    let mode = if cfg.deterministic { Mode::Deterministic } else { Mode::Stochastic };
    let results: Vec<Result<Diagnostics, ModelError>> = values
        .par_chunks_mut(width)
        .enumerate()
        .map_init(
            || Workspace::new(model),
            |ws, (k, row)| {
                if cancelled() {
                    return Err(ModelError::Cancelled);
                }
                let r = sim::simulate(model, cfg.seed, draws.start + k as u64, mode, ws, row);
                progress(1);
                r
            },
        )
        .collect();
    let mut diagnostics = Diagnostics::default();
    if results.iter().any(|r| matches!(r, Err(ModelError::Cancelled))) {
        return Err(ModelError::Cancelled);
    }
    for r in results {
        diagnostics.merge(&r?);
    }
    Ok(Ensemble { draws, layout: model.layout, values, diagnostics })
}
