//! One draw: sample its inputs, run the calibration pass, then step year by year from the base
//! year to the horizon, writing every outcome into the draw's slice (MODEL.md §0 order).
//!
//! The [`Workspace`] holds every buffer a draw needs; it is built once per thread and reused, so
//! the per-year step allocates nothing. [`simulate_batch`] runs up to [`BATCH`] draws through
//! each year's phases together (a [`Batch`] holds their workspaces), each draw's outcomes the
//! bits it gets alone; [`simulate`] is a batch of one.
// Loops over ages, sexes and sectors index several parallel arrays at once.
#![allow(clippy::needless_range_loop)]

use super::demography::{self, Natural};
use super::kernels;
use super::*;
use crate::arith;
use crate::diagnostics::{Diag, Diagnostics};
use crate::error::{ModelError, keep_lowest};
use crate::indicators::{INDICATORS, Indicator};
pub use crate::isa::Isa;
use crate::params::P;
use crate::region::Statistics;
use crate::rng::{OneShot, WideStream};
use crate::scenario::Lever;
use rand::RngExt;
use rand::distr::Distribution;
use rand_distr::StandardNormal;

/// For each live draw d of a batch, with its workspace.
macro_rules! each_live {
    ($wss:expr, $live:expr, |$d:ident, $ws:pat_param| $body:expr) => {
        for ($d, $ws) in $wss.iter_mut().enumerate() {
            if $live[$d] {
                $body;
            }
        }
    };
}

/// How a draw is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Parameters and shocks drawn from their streams.
    Stochastic,
    /// Every parameter at its central value, no shocks (`--deterministic`).
    Deterministic,
}

/// State of one city at the end of a year, with the year's flows.
#[derive(Debug, Clone, Copy)]
struct CityState {
    pop: [[f64; AGES]; 2],
    p: f64,
    p_prev: f64,
    urban: f64,
    y: f64,
    y_prev: f64,
    ys: [f64; 3],
    k: [f64; 3],
    ln_a: [f64; 3],
    e: [f64; 3],
    emp: f64,
    working: f64,
    old: f64,
    zeta: f64,
    /// Δg_i of this year (used by next year's urbanization).
    dg: f64,
    births: f64,
    deaths: f64,
    net_mig: f64,
}

/// One city's values carried from the demography phase of a year step to the later phases.
#[derive(Debug, Clone, Copy, Default)]
struct Pending {
    nat: Natural,
    intended: f64,
    capped: bool,
    net: f64,
    pop: f64,
    migrant_urban: f64,
    p_prev: f64,
    y_prev: f64,
}

/// Buffers for one draw, reused across draws of a thread.
pub struct Workspace {
    p: [f64; crate::params::N_PARAMS],
    offset: Vec<f64>,
    open: Vec<i32>,
    tfp_size: Vec<f64>,
    /// First ChaCha8 blocks of the draw's one-shot streams ([`Model::one_shot`]).
    blocks: Vec<[u32; 16]>,
    /// One-shot streams the last draw took, and how many of them were not in the batch.
    one_shot_used: (usize, usize),
    gain: Vec<f64>,
    travel: Vec<f64>,
    lnma: Vec<f64>,
    ma: Vec<f64>,
    ma_changed: Vec<bool>,
    /// MA levels whose logs a draw needs, their logs, and where each difference goes in `dlnma`.
    ma_args: Vec<f64>,
    ma_logs: Vec<f64>,
    ma_where: Vec<usize>,
    /// (opening year, project) of the projects that open within the run, sorted.
    opening: Vec<(i32, usize)>,
    /// Where each year's openings start in `opening` (a counting sort by year).
    opening_at: Vec<usize>,
    dlnma: Vec<f64>,
    surv: Vec<demography::Survival>,
    /// The year `surv` holds (it depends on the draw's ι: cleared when a draw starts).
    surv_year: Option<i32>,
    removal: [[f64; AGES]; 2],
    capped: [[bool; AGES]; 2],
    /// A city's cells without this year's outflow (see `demography::project_year`).
    natural: [[f64; AGES]; 2],
    cities: Vec<CityState>,
    base: Vec<CityState>,
    base_logs: Vec<[[f64; 3]; 3]>,
    z: Vec<f64>,
    eps: Vec<f64>,
    eta: Vec<f64>,
    eps_u: Vec<f64>,
    gamma0: Vec<f64>,
    m0: Vec<f64>,
    r0: Vec<f64>,
    /// The draw's convergence factors of each year b + 1.. (`decay_factors`), their arguments
    /// first.
    decay_args: Vec<f64>,
    decays: Vec<f64>,
    /// (1 − ι)^k of each year b + k, k = 1...
    improve: Vec<f64>,
    /// The draw's shock streams.
    shocks: ShockStreams,
    /// A single draw's joined batches (a [`Batch`] has its own, for all its draws).
    joined: Joined,
    /// The population-weighted mean of Δ ln MA of year t − 1 (the year step's first phase).
    dma_mean: f64,
    pend: Vec<Pending>,
    price: f64,
    disaster: f64,
    recovery: f64,
    eps_pi: f64,
    diag: Diagnostics,
    lever: Levers,
    /// The compiled version the draw runs in (its kernels dispatch on it).
    isa: Isa,
}

/// Per-draw state and per-year effects of the policy levers (MODEL.md §7). Every effect is a
/// number added to a model quantity; with no lever on they are all exactly zero.
#[derive(Debug, Clone, Default)]
struct Levers {
    /// Shift sums of the year: tfp (n×3), investment rate, TFR, migration rate, participation.
    tfp: Vec<f64>,
    inv: Vec<f64>,
    tfr: Vec<f64>,
    mig: Vec<f64>,
    part: Vec<f64>,
    /// Each shift's drawn delta.
    shift_delta: Vec<f64>,
    /// Transfer: drawn rate, efficiency, composition gain.
    transfer: [f64; 3],
    /// Transferable stock X_o, cumulative moves C_o, relocated stock R_j (by city).
    stock: Vec<f64>,
    moved: Vec<f64>,
    relocated: Vec<f64>,
    /// This year's move of secondary capital and secondary TFP change (by city).
    k2_move: Vec<f64>,
    tfp2: Vec<f64>,
    /// Parks: drawn fields; capital of last year; this year's ramp, capital, worker demand, value
    /// added, realised workers, tax; ln A of the host sector at the end of the start year.
    park: Vec<[f64; 6]>,
    park_k_prev: Vec<f64>,
    park_ramp: Vec<f64>,
    park_k: Vec<f64>,
    park_l: Vec<f64>,
    park_y: Vec<f64>,
    park_l_real: Vec<f64>,
    park_tax: Vec<f64>,
    park_ln_a0: Vec<f64>,
    /// Park worker demand and the share granted, by host city-sector (n×3).
    park_demand: Vec<f64>,
    park_scale: Vec<f64>,
    /// Partner funding of park investment (capital removed, by city).
    fund: Vec<f64>,
    /// Assessment adjustment and tax received (by city).
    assess: Vec<f64>,
    tax: Vec<f64>,
    /// Whether the per-year effects may be other than cleared (so [`Levers::clear_year`] must
    /// clear them).
    dirty: bool,
}

impl Levers {
    fn new(model: &Model) -> Levers {
        let (n, np) = (model.n, model.parks.len());
        Levers {
            tfp: vec![0.0; 3 * n],
            inv: vec![0.0; n],
            tfr: vec![0.0; n],
            mig: vec![0.0; n],
            part: vec![0.0; n],
            shift_delta: vec![0.0; model.shifts.len()],
            transfer: [0.0; 3],
            stock: vec![0.0; n],
            moved: vec![0.0; n],
            relocated: vec![0.0; n],
            k2_move: vec![0.0; n],
            tfp2: vec![0.0; n],
            park: vec![[0.0; 6]; np],
            park_k_prev: vec![0.0; np],
            park_ramp: vec![0.0; np],
            park_k: vec![0.0; np],
            park_l: vec![0.0; np],
            park_y: vec![0.0; np],
            park_l_real: vec![0.0; np],
            park_tax: vec![0.0; np],
            park_ln_a0: vec![0.0; np],
            park_demand: vec![0.0; 3 * n],
            park_scale: vec![1.0; 3 * n],
            fund: vec![0.0; n],
            assess: vec![0.0; n],
            tax: vec![0.0; n],
            dirty: true,
        }
    }

    /// Clear the per-year effects (all levers off, as in the calibration pass). `levers`: whether
    /// the model has any lever (transfer, park or shift), the only writers of these effects;
    /// without one, they stay cleared and are not cleared again.
    fn clear_year(&mut self, levers: bool) {
        if !self.dirty {
            return;
        }
        self.dirty = levers;
        for v in [
            &mut self.tfp,
            &mut self.inv,
            &mut self.tfr,
            &mut self.mig,
            &mut self.part,
            &mut self.k2_move,
            &mut self.tfp2,
            &mut self.park_demand,
            &mut self.fund,
            &mut self.assess,
            &mut self.tax,
            &mut self.park_ramp,
            &mut self.park_k,
            &mut self.park_l,
            &mut self.park_y,
            &mut self.park_l_real,
            &mut self.park_tax,
        ] {
            v.fill(0.0);
        }
        self.park_scale.fill(1.0);
    }
}

impl Workspace {
    /// Buffers sized for a model.
    pub fn new(model: &Model) -> Workspace {
        let n = model.n;
        let years = (model.horizon - model.base_year) as usize;
        let (base, base_logs) = base_state(model);
        Workspace {
            p: [0.0; crate::params::N_PARAMS],
            offset: vec![0.0; n],
            open: vec![i32::MAX; model.projects.len()],
            tfp_size: vec![0.0; model.projects.iter().map(|p| p.tfp.len()).sum()],
            blocks: vec![[0; 16]; model.one_shot.len()],
            one_shot_used: (0, 0),
            gain: vec![0.0; 3 * n],
            travel: model.travel_times.clone(),
            lnma: vec![0.0; n],
            ma: vec![0.0; n],
            ma_changed: vec![false; n],
            ma_args: vec![0.0; (years + 1) * n],
            ma_logs: vec![0.0; (years + 1) * n],
            ma_where: vec![0; (years + 1) * n],
            opening: vec![(0, 0); model.projects.len()],
            opening_at: vec![0; years + 1],
            dlnma: vec![0.0; years.max(1) * n],
            surv: vec![demography::Survival::new([[0.0; AGES]; 2]); model.mortality.len()],
            surv_year: None,
            removal: [[0.0; AGES]; 2],
            capped: [[false; AGES]; 2],
            natural: [[0.0; AGES]; 2],
            cities: base.clone(),
            base,
            base_logs,
            z: vec![0.0; n],
            eps: vec![0.0; n],
            eta: vec![0.0; n],
            eps_u: vec![0.0; n],
            gamma0: vec![0.0; n],
            m0: vec![0.0; n],
            r0: vec![0.0; n],
            decay_args: vec![0.0; DECAYS * years.max(1)],
            decays: vec![0.0; DECAYS * years.max(1)],
            improve: vec![0.0; years.max(1)],
            shocks: ShockStreams::new(),
            joined: Joined::new(n, 1),
            dma_mean: 0.0,
            pend: vec![Pending::default(); n],
            price: 1.0,
            disaster: 0.0,
            recovery: 0.0,
            eps_pi: 0.0,
            diag: Diagnostics::default(),
            lever: Levers::new(model),
            isa: Isa::Generic,
        }
    }

    /// The calibration constants of the last draw: (γ_i0, m_i0, r_i0) per city.
    pub fn calibration(&self) -> (&[f64], &[f64], &[f64]) {
        (&self.gamma0, &self.m0, &self.r0)
    }
}

/// The one-shot streams of a draw's inputs, handed out in the order of [`Model::one_shot`].
struct OneShots<'a> {
    seed: u64,
    draw: u64,
    purposes: &'a [u64],
    blocks: &'a [[u32; 16]],
    next: usize,
    /// Streams whose purpose was not the next in the list (computed on their own).
    misses: usize,
}

impl OneShots<'_> {
    /// The stream of `purpose`, the next one in [`Model::one_shot`].
    fn take(&mut self, purpose: u64) -> OneShot {
        let j = self.next;
        self.next += 1;
        match (self.purposes.get(j), self.blocks.get(j)) {
            (Some(&p), Some(&first)) if p == purpose => OneShot::new(self.seed, purpose, self.draw, first),
            // Not reached (the order is `Model::one_shot`'s, tested); the same numbers, slower.
            _ => {
                self.misses += 1;
                let mut first = [[0u32; 16]];
                crate::rng::first_blocks(Isa::Generic, self.seed, self.draw, &[purpose], &mut first);
                OneShot::new(self.seed, purpose, self.draw, first[0])
            }
        }
    }
}

fn sample(
    u: &Uncertain,
    streams: &mut OneShots<'_>,
    purpose: u64,
    name: &str,
    mode: Mode,
) -> Result<f64, ModelError> {
    match mode {
        Mode::Deterministic => Ok(u.central()),
        Mode::Stochastic if u.is_fixed() => Ok(u.central()),
        Mode::Stochastic => {
            let mut r = streams.take(purpose);
            u.sample(&mut r).ok_or_else(|| {
                let (lo, hi) = u.truncate().unwrap_or((f64::NAN, f64::NAN));
                ModelError::Truncation { draw: streams.draw, purpose: name.to_string(), lo, hi }
            })
        }
    }
}

fn normal<R: rand::Rng + ?Sized>(r: &mut R) -> f64 {
    StandardNormal.sample(r)
}

/// The generators of a draw's shocks (the streams of [`crate::rng::stream`], sixteen blocks at a
/// time).
struct ShockStreams {
    tfp: WideStream,
    disaster: WideStream,
    migration: WideStream,
    urbanization: WideStream,
    inflation: WideStream,
}

impl ShockStreams {
    fn new() -> ShockStreams {
        let wide = |purpose| WideStream::new(Isa::Generic, 0, purpose, 0);
        ShockStreams {
            tfp: wide(purposes::TFP),
            disaster: wide(purposes::DISASTER),
            migration: wide(purposes::MIGRATION),
            urbanization: wide(purposes::URBANIZATION),
            inflation: wide(purposes::INFLATION),
        }
    }

    /// The streams of (seed, draw), in `isa`.
    fn restart(&mut self, isa: Isa, seed: u64, draw: u64) {
        self.tfp.restart(isa, seed, purposes::TFP, draw);
        self.disaster.restart(isa, seed, purposes::DISASTER, draw);
        self.migration.restart(isa, seed, purposes::MIGRATION, draw);
        self.urbanization.restart(isa, seed, purposes::URBANIZATION, draw);
        self.inflation.restart(isa, seed, purposes::INFLATION, draw);
    }
}

/// The state of every city at the end of a simulated year, as an observer sees it.
pub struct YearView<'a> {
    /// The year.
    pub year: i32,
    ws: &'a Workspace,
}

impl YearView<'_> {
    /// Number of cities.
    pub fn n(&self) -> usize {
        self.ws.cities.len()
    }
    /// Population by sex and single year of age, `[sex][age]`.
    pub fn cells(&self, i: usize) -> &[[f64; AGES]; 2] {
        &self.ws.cities[i].pop
    }
    /// End-of-year population P(t).
    pub fn population(&self, i: usize) -> f64 {
        self.ws.cities[i].p
    }
    /// Population at the end of the previous year P(t−1).
    pub fn population_prev(&self, i: usize) -> f64 {
        self.ws.cities[i].p_prev
    }
    /// Births, deaths and realised net migrants of the year.
    pub fn flows(&self, i: usize) -> (f64, f64, f64) {
        let c = &self.ws.cities[i];
        (c.births, c.deaths, c.net_mig)
    }
    /// Urban population U(t).
    pub fn urban(&self, i: usize) -> f64 {
        self.ws.cities[i].urban
    }
    /// Sector capital K_s(t).
    pub fn capital(&self, i: usize) -> [f64; 3] {
        self.ws.cities[i].k
    }
    /// ln A_s(t) of each sector.
    pub fn ln_tfp(&self, i: usize) -> [f64; 3] {
        self.ws.cities[i].ln_a
    }
    /// The draw's value of a parameter.
    pub fn param(&self, p: P) -> f64 {
        self.ws.p[p as usize]
    }
}

/// Simulate draw `draw` of a run with `seed`, writing its outcomes (laid out by `model.layout`)
/// into `out`. Returns the draw's diagnostics.
pub fn simulate(
    model: &Model,
    seed: u64,
    draw: u64,
    mode: Mode,
    ws: &mut Workspace,
    out: &mut [f64],
) -> Result<Diagnostics, ModelError> {
    simulate_observed(model, seed, draw, mode, ws, out, |_| {})
}

/// [`simulate`], calling `observe` with the state at the end of each year b+1..=H.
pub fn simulate_observed(
    model: &Model,
    seed: u64,
    draw: u64,
    mode: Mode,
    ws: &mut Workspace,
    out: &mut [f64],
    observe: impl FnMut(YearView<'_>),
) -> Result<Diagnostics, ModelError> {
    simulate_on(Isa::widest(), model, seed, draw, mode, ws, out, observe)
}

/// [`simulate_observed`] with a chosen compiled version (for tests and benchmarks that compare
/// them). A version the processor lacks runs as [`Isa::Generic`].
#[allow(clippy::too_many_arguments)]
pub fn simulate_on(
    isa: Isa,
    model: &Model,
    seed: u64,
    draw: u64,
    mode: Mode,
    ws: &mut Workspace,
    out: &mut [f64],
    mut observe: impl FnMut(YearView<'_>),
) -> Result<Diagnostics, ModelError> {
    // A batch of one: the workspace's own joined batches (taking them out moves three words each).
    let mut joined = std::mem::take(&mut ws.joined);
    let result =
        run_on(isa, model, seed, draw, mode, std::slice::from_mut(ws), &mut joined, out, |_, v| observe(v));
    ws.joined = joined;
    result.map_err(|(_, e)| e)
}

/// Draws that [`simulate_batch`] runs together, at most.
pub const BATCH: usize = 8;

/// Buffers for up to [`BATCH`] draws run together, reused across batches of a thread.
pub struct Batch {
    ws: Vec<Workspace>,
    joined: Joined,
}

impl Batch {
    /// Buffers sized for a model.
    pub fn new(model: &Model) -> Batch {
        Batch { ws: (0..BATCH).map(|_| Workspace::new(model)).collect(), joined: Joined::new(model.n, BATCH) }
    }
}

/// Simulate the draws `draws` (at most [`BATCH`] of them) of a run with `seed` together, draw
/// `draws.start + d` into row d of `out` (rows of `model.layout.len()` values). Each row holds
/// what [`simulate`] writes for its draw, bit for bit: the draws go through each year's phases
/// together, and each batched logarithm or exponential of a year takes every draw's arguments
/// at once (long batches keep the vector units busy where one draw's short ones wait on their
/// latency). Returns the draws' diagnostics summed, or the lowest failing draw with its error.
///
/// # Panics
/// If `draws` holds more than [`BATCH`] draws or `out` is not one row per draw.
pub fn simulate_batch(
    model: &Model,
    seed: u64,
    draws: std::ops::Range<u64>,
    mode: Mode,
    batch: &mut Batch,
    out: &mut [f64],
) -> Result<Diagnostics, (u64, ModelError)> {
    simulate_batch_on(Isa::widest(), model, seed, draws, mode, batch, out)
}

/// [`simulate_batch`] with a chosen compiled version, as [`simulate_on`].
///
/// # Panics
/// As [`simulate_batch`].
pub fn simulate_batch_on(
    isa: Isa,
    model: &Model,
    seed: u64,
    draws: std::ops::Range<u64>,
    mode: Mode,
    batch: &mut Batch,
    out: &mut [f64],
) -> Result<Diagnostics, (u64, ModelError)> {
    let k = draws.end.saturating_sub(draws.start) as usize;
    assert!(k <= BATCH, "a batch runs at most {BATCH} draws, not {k}");
    assert_eq!(out.len(), k * model.layout.len(), "one row per draw");
    if k == 0 {
        return Ok(Diagnostics::default());
    }
    let wss = &mut batch.ws[..k];
    run_on(isa, model, seed, draws.start, mode, wss, &mut batch.joined, out, |_, _| {})
        .map_err(|(d, e)| (draws.start + d as u64, e))
}

/// The draws `first..` (one per workspace) in the chosen compiled version; a failing draw is
/// given by its place in the batch.
#[allow(clippy::too_many_arguments)]
fn run_on(
    isa: Isa,
    model: &Model,
    seed: u64,
    first: u64,
    mode: Mode,
    wss: &mut [Workspace],
    joined: &mut Joined,
    out: &mut [f64],
    observe: impl FnMut(usize, YearView<'_>),
) -> Result<Diagnostics, (usize, ModelError)> {
    #[cfg(target_arch = "x86_64")]
    if matches!(isa, Isa::Avx2 | Isa::Avx512) && Isa::Avx2.available() {
        // The AVX-512 version is this draw with the AVX-512 kernels: compiling the whole draw
        // for AVX-512 was slower (its 512-bit code outside the kernels gains nothing here).
        let chosen = if isa == Isa::Avx512 && Isa::Avx512.available() { Isa::Avx512 } else { Isa::Avx2 };
        for ws in wss.iter_mut() {
            ws.isa = chosen;
        }
        // SAFETY: the processor has AVX2 (checked just above).
        return unsafe { simulate_avx2(model, seed, first, mode, wss, joined, out, observe) };
    }
    let _ = isa;
    for ws in wss.iter_mut() {
        ws.isa = Isa::Generic;
    }
    simulate_inner(model, seed, first, mode, wss, joined, out, observe)
}

/// The draws compiled with AVX2: the hot functions below are `#[inline(always)]`, so they are
/// compiled into this function with its instruction set.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
fn simulate_avx2(
    model: &Model,
    seed: u64,
    first: u64,
    mode: Mode,
    wss: &mut [Workspace],
    joined: &mut Joined,
    out: &mut [f64],
    observe: impl FnMut(usize, YearView<'_>),
) -> Result<Diagnostics, (usize, ModelError)> {
    simulate_inner(model, seed, first, mode, wss, joined, out, observe)
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn simulate_inner(
    model: &Model,
    seed: u64,
    first: u64,
    mode: Mode,
    wss: &mut [Workspace],
    joined: &mut Joined,
    out: &mut [f64],
    mut observe: impl FnMut(usize, YearView<'_>),
) -> Result<Diagnostics, (usize, ModelError)> {
    let width = model.layout.len();
    debug_assert_eq!(out.len(), wss.len() * width);
    debug_assert!(!wss.is_empty() && wss.len() <= BATCH);
    let b = model.base_year;
    // A draw that fails leaves the batch; the others go on.
    let mut live = [false; BATCH];
    let mut failed = None;
    let mut saved = [Diagnostics::default(); BATCH];
    for (d, ws) in wss.iter_mut().enumerate() {
        ws.diag = Diagnostics::default();
        ws.surv_year = None;
        if let Err(e) = sample_inputs(model, seed, first + d as u64, mode, ws) {
            keep_lowest(&mut failed, d, e);
            continue;
        }
        live[d] = true;
        decay_factors(model, ws);
        market_access(model, ws);
        prepare_base(model, ws);
        // Calibration pass: year b+1 with zero shocks, levers off, infrastructure frozen.
        reset(model, ws);
        ws.z.fill(0.0);
        ws.eta.fill(0.0);
        ws.eps_u.fill(0.0);
        ws.disaster = 0.0;
        ws.eps_pi = 0.0;
        saved[d] = ws.diag;
    }
    step(model, wss, &live, joined, b + 1, true);
    // The draws themselves.
    let stochastic = mode == Mode::Stochastic;
    for ((d, ws), row) in wss.iter_mut().enumerate().zip(out.chunks_exact_mut(width)) {
        if !live[d] {
            continue;
        }
        ws.diag = saved[d];
        reset(model, ws);
        let base_year = if model.base_finite {
            for r in model.layout.base_year_runs() {
                row[r.clone()].copy_from_slice(&model.base_outcomes[r]);
            }
            Ok(())
        } else {
            write_year(model, ws, b, first + d as u64, row)
        };
        if let Err(e) = base_year {
            live[d] = false;
            keep_lowest(&mut failed, d, e);
            continue;
        }
        if stochastic {
            ws.shocks.restart(ws.isa, seed, first + d as u64);
        }
    }
    for t in b + 1..=model.horizon {
        if stochastic {
            each_live!(wss, live, |_d, ws| draw_shocks(model, ws));
        }
        step(model, wss, &live, joined, t, false);
        for ((d, ws), row) in wss.iter_mut().enumerate().zip(out.chunks_exact_mut(width)) {
            if !live[d] {
                continue;
            }
            match write_year(model, ws, t, first + d as u64, row) {
                Ok(()) => observe(d, YearView { year: t, ws }),
                Err(e) => {
                    live[d] = false;
                    keep_lowest(&mut failed, d, e);
                }
            }
        }
    }
    if let Some(f) = failed {
        return Err(f);
    }
    let mut total = Diagnostics::default();
    for ws in wss.iter() {
        total.merge(&ws.diag);
    }
    Ok(total)
}

/// Convergence factors per year.
const DECAYS: usize = 4;

/// The draw's convergence factors of every year t = b + 1.. (k = t − b), in one batch of
/// exponentials: e^(−k/T_TFR), e^(−k/T_m), e^(−k/10) (investment rate) and e^(−(k−1)/T_c)
/// (TFP growth), `DECAYS` per year in `ws.decays`.
fn decay_factors(model: &Model, ws: &mut Workspace) {
    let p = &ws.p;
    let (t_tfr, t_m, t_c) = (
        p[P::TfrConvergenceYears as usize],
        p[P::MigrationDecayYears as usize],
        p[P::TfpConvergenceYears as usize],
    );
    let years = (model.horizon - model.base_year) as usize;
    for (y, a) in ws.decay_args.chunks_exact_mut(DECAYS).take(years).enumerate() {
        let k = (y + 1) as f64;
        a.copy_from_slice(&[-k / t_tfr, -k / t_m, -k / INVESTMENT_CONVERGENCE_YEARS, -(k - 1.0) / t_c]);
    }
    let len = DECAYS * years;
    kernels::exp_into(ws.isa, &ws.decay_args[..len], &mut ws.decays[..len]);
    // The mortality improvement (1 − ι)^k of each year: independent of each other, computed
    // together here rather than one per year step (a call each, waited on).
    let base = 1.0 - p[P::MortalityImprovement as usize];
    for (k, v) in ws.improve.iter_mut().take(years).enumerate() {
        *v = arith::powi(base, k as u32 + 1);
    }
}

fn sample_inputs(
    model: &Model,
    seed: u64,
    draw: u64,
    mode: Mode,
    ws: &mut Workspace,
) -> Result<(), ModelError> {
    if mode == Mode::Stochastic {
        crate::rng::first_blocks(ws.isa, seed, draw, &model.one_shot, &mut ws.blocks);
    }
    let mut streams =
        OneShots { seed, draw, purposes: &model.one_shot, blocks: &ws.blocks, next: 0, misses: 0 };
    for (k, u) in model.params.iter().enumerate() {
        ws.p[k] = sample(u, &mut streams, model.param_purposes[k], crate::params::PARAMS[k].name, mode)?;
    }
    let sd0 = ws.p[P::MigrationOffsetSd as usize];
    match mode {
        Mode::Deterministic => ws.offset.fill(0.0),
        Mode::Stochastic => {
            let mut r = streams.take(purposes::MIGRATION_OFFSET);
            for o in ws.offset.iter_mut() {
                *o = sd0 * normal(&mut r);
            }
        }
    }
    if let Some(tr) = &model.transfer {
        for k in 0..3 {
            ws.lever.transfer[k] = sample(&tr.values[k], &mut streams, tr.purposes[k], "transfer", mode)?;
        }
    }
    for (pk, park) in model.parks.iter().enumerate() {
        for k in 0..6 {
            ws.lever.park[pk][k] = sample(&park.values[k], &mut streams, park.purposes[k], "park", mode)?;
        }
    }
    for (k, sh) in model.shifts.iter().enumerate() {
        ws.lever.shift_delta[k] = sample(&sh.delta, &mut streams, sh.purpose, "shift delta", mode)?;
    }
    let (b, h) = (model.base_year, model.horizon);
    let mut j = 0;
    for (k, p) in model.projects.iter().enumerate() {
        let delay = sample(&p.delay, &mut streams, p.delay_purpose, "project delay", mode)?.round() as i32;
        let mut o = p.open_year.saturating_add(delay);
        if o <= b {
            o = b + 1;
            ws.diag.bump(Diag::OpeningMovedToFirstYear);
        }
        ws.open[k] = if o > h { i32::MAX } else { o };
        for (_, _, size, _, purpose) in &p.tfp {
            ws.tfp_size[j] = sample(size, &mut streams, *purpose, "project tfp size", mode)?;
            j += 1;
        }
    }
    ws.one_shot_used = (streams.next, streams.misses);
    Ok(())
}

/// One node's term in a market-access sum: T^(−θ) with T in hours, 0 for no connection.
#[inline(always)]
fn access_term(minutes: f64, theta: f64) -> f64 {
    if !minutes.is_finite() {
        return 0.0;
    }
    // θ = 1 (the default) is a division; pow only for other exponents.
    let hours = minutes / 60.0;
    if theta == 1.0 { 1.0 / hours } else { hours.powf(-theta) }
}

/// MA_i(T) for every city, from the current travel times: O(cities × nodes).
fn market_access_levels(model: &Model, travel: &[f64], theta: f64, out: &mut [f64]) {
    let nn = model.n_nodes;
    let own = access_term(OWN_TIME_MINUTES, theta);
    for (i, o) in out.iter_mut().enumerate() {
        let mut ma = model.masses[i] * own;
        for k in 0..nn {
            if k != i {
                ma += model.masses[k] * access_term(travel[i * nn + k], theta);
            }
        }
        *o = ma;
    }
}

/// Δ_T ln MA_i(t) for every year of the draw, from its projects' opening years. The sums are
/// built once per draw; a project that shortens the link a–c then changes only MA_a and MA_c, by
/// the difference of that one term, so each opening costs O(pairs), not O(cities × nodes). The
/// logarithms of the levels are taken together at the end, in one batch of independent lanes.
fn market_access(model: &Model, ws: &mut Workspace) {
    let (n, nn) = (model.n, model.n_nodes);
    let theta = ws.p[P::MarketAccessDecay as usize];
    ws.travel.copy_from_slice(&model.travel_times);
    market_access_levels(model, &ws.travel, theta, &mut ws.ma);
    // The levels whose logs are needed: every city's at the start, then each changed one, with
    // the position in `dlnma` it goes to.
    ws.ma_args[..n].copy_from_slice(&ws.ma);
    let mut count = n;
    // The projects that open within the run, by opening year, then by index (the order in
    // which their links are applied): a counting sort by year, the order that sorting the pairs
    // (year, index) gives, without a comparison sort's unpredictable branches.
    let (b, h) = (model.base_year, model.horizon);
    let starts = &mut ws.opening_at;
    starts.fill(0);
    for &o in &ws.open {
        if o > b && o <= h {
            starts[(o - b) as usize] += 1;
        }
    }
    // Each year's count becomes where its openings start.
    let mut len = 0;
    for at in starts.iter_mut() {
        (*at, len) = (len, len + *at);
    }
    for (k, &o) in ws.open.iter().enumerate() {
        if o > b && o <= h {
            let y = (o - b) as usize;
            ws.opening[starts[y]] = (o, k);
            starts[y] += 1;
        }
    }
    let opening = &ws.opening[..len];
    let mut at = 0;
    while at < opening.len() {
        let t = opening[at].0;
        while at < opening.len() && opening[at].0 == t {
            for &(a, c, minutes) in &model.projects[opening[at].1].pairs {
                let old = ws.travel[a * nn + c];
                if minutes < old {
                    ws.travel[a * nn + c] = minutes;
                    ws.travel[c * nn + a] = minutes;
                    if a != c {
                        let gain = access_term(minutes, theta) - access_term(old, theta);
                        for (i, other) in [(a, c), (c, a)] {
                            if i < n {
                                ws.ma[i] += model.masses[other] * gain;
                                ws.ma_changed[i] = true;
                            }
                        }
                    }
                }
            }
            at += 1;
        }
        let row = (t - model.base_year - 1) as usize * n;
        for i in 0..n {
            if std::mem::take(&mut ws.ma_changed[i]) {
                ws.ma_args[count] = ws.ma[i];
                ws.ma_where[count] = row + i;
                count += 1;
            }
        }
    }
    kernels::ln_into_on(ws.isa, &ws.ma_args[..count], &mut ws.ma_logs[..count]);
    ws.lnma.copy_from_slice(&ws.ma_logs[..n]);
    ws.dlnma.fill(0.0);
    for (&at, &now) in ws.ma_where[n..count].iter().zip(&ws.ma_logs[n..count]) {
        let i = at % n;
        ws.dlnma[at] = now - ws.lnma[i];
        ws.lnma[i] = now;
    }
}

/// The state at the end of the base year, without ln A (which depends on the drawn α), and the
/// logs of base output, capital and labour by sector that ln A is made of.
fn base_state(model: &Model) -> (Vec<CityState>, Vec<[[f64; 3]; 3]>) {
    let mut states = Vec::with_capacity(model.n);
    let mut logs = Vec::with_capacity(model.n);
    for cb in &model.cities {
        let sums = demography::AgeSums::of(&cb.pop);
        states.push(CityState {
            pop: cb.pop,
            p: cb.population,
            p_prev: cb.population,
            urban: cb.urban,
            y: cb.gdp,
            y_prev: cb.gdp,
            ys: cb.output,
            k: cb.capital,
            ln_a: [0.0; 3],
            e: cb.emp_shares,
            emp: cb.employment,
            working: sums.working,
            old: sums.old,
            zeta: 0.0,
            dg: 0.0,
            births: f64::NAN,
            deaths: f64::NAN,
            net_mig: f64::NAN,
        });
        logs.push(std::array::from_fn(|s| {
            if cb.output[s] > 0.0 {
                [
                    arith::ln(cb.output[s]),
                    arith::ln(cb.capital[s]),
                    arith::ln(cb.emp_shares[s] * cb.employment),
                ]
            } else {
                [0.0; 3]
            }
        }));
    }
    (states, logs)
}

/// ln A of the base year with this draw's α (MODEL.md §10), into `ws.base`.
fn prepare_base(model: &Model, ws: &mut Workspace) {
    let alpha = ws.p[P::CapitalShare as usize];
    for ((c, cb), logs) in ws.base.iter_mut().zip(&model.cities).zip(&ws.base_logs) {
        c.ln_a = std::array::from_fn(|s| {
            if cb.output[s] > 0.0 {
                logs[s][0] - alpha * logs[s][1] - (1.0 - alpha) * logs[s][2]
            } else {
                0.0
            }
        });
    }
}

/// Start from the end of the base year: the base state and the levers' initial stocks.
fn reset(model: &Model, ws: &mut Workspace) {
    ws.cities.copy_from_slice(&ws.base);
    ws.price = 1.0;
    ws.recovery = 0.0;
    let lv = &mut ws.lever;
    lv.clear_year(model.has_levers());
    lv.stock.fill(0.0);
    lv.moved.fill(0.0);
    lv.relocated.fill(0.0);
    if let Some(tr) = &model.transfer {
        for &(o, chi) in &tr.origins {
            lv.stock[o] = chi * model.cities[o].capital[1];
        }
    }
    lv.park_k_prev.fill(0.0);
    lv.park_ln_a0.fill(0.0);
}

fn draw_shocks(model: &Model, ws: &mut Workspace) {
    let n = model.n;
    let s = &mut ws.shocks;
    let p = &ws.p;
    let sz = p[P::TfpShockSd as usize];
    match &model.cholesky {
        None => {
            let rho = p[P::TfpShockCorrelation as usize];
            let c = normal(&mut s.tfp);
            let (a, bb) = (rho.sqrt(), (1.0 - rho).sqrt());
            for z in ws.z.iter_mut() {
                *z = sz * (a * c + bb * normal(&mut s.tfp));
            }
        }
        Some(l) => {
            for e in ws.eps.iter_mut() {
                *e = normal(&mut s.tfp);
            }
            for i in 0..n {
                let mut acc = 0.0;
                for j in 0..=i {
                    acc += l[i * n + j] * ws.eps[j];
                }
                ws.z[i] = sz * acc;
            }
        }
    }
    let occur: f64 = s.disaster.random();
    let size: f64 = s.disaster.random();
    let d = DISASTER_SIZE.0 + (DISASTER_SIZE.1 - DISASTER_SIZE.0) * size;
    ws.disaster = ws.recovery;
    ws.recovery = 0.0;
    if occur < p[P::DisasterProbability as usize] {
        ws.disaster -= d;
        ws.recovery = 0.5 * d;
    }
    for e in ws.eta.iter_mut() {
        *e = normal(&mut s.migration);
    }
    for e in ws.eps_u.iter_mut() {
        *e = normal(&mut s.urbanization);
    }
    ws.eps_pi = normal(&mut s.inflation);
}

/// The levers' effects of year t, from the state of year t − 1 (MODEL.md §7): shift sums, the
/// transfer's capital moves and TFP changes, the parks' capital, worker demand and partner funding.
fn prepare_levers(model: &Model, ws: &mut Workspace, t: i32, delta: f64) {
    let lv = &mut ws.lever;
    for (k, sh) in model.shifts.iter().enumerate() {
        if sh.start <= t && t <= sh.end {
            let d = lv.shift_delta[k];
            match sh.lever {
                Lever::Tfp => lv.tfp[3 * sh.city + sh.sector] += d,
                Lever::InvestmentRate => lv.inv[sh.city] += d,
                Lever::Tfr => lv.tfr[sh.city] += d,
                Lever::MigrationRate => lv.mig[sh.city] += d,
                Lever::Participation => lv.part[sh.city] += d,
            }
        }
    }
    if let Some(tr) = &model.transfer {
        let [rate, efficiency, gain] = lv.transfer;
        let q = 1.0 - gain;
        let active = tr.start <= t && t <= tr.end;
        let mut total = 0.0;
        let mut paid_so_far = 0.0;
        for &(o, _) in &tr.origins {
            paid_so_far += lv.moved[o];
        }
        // Upkeep of the relocated stock, paid by the origins by their cumulative moves.
        let upkeep: f64 = if t > tr.start {
            tr.destinations.iter().map(|&(j, _)| delta * lv.relocated[j]).sum()
        } else {
            0.0
        };
        for &(o, _) in &tr.origins {
            let m = if active { rate * (1.0 - delta) * lv.stock[o] } else { 0.0 };
            let k_prev = ws.cities[o].k[1];
            let share = if paid_so_far > 0.0 { lv.moved[o] / paid_so_far } else { 0.0 };
            lv.k2_move[o] -= m + upkeep * share;
            if m > 0.0 && k_prev > m {
                lv.tfp2[o] += arith::ln((k_prev - q * m) / (k_prev - m));
            }
            lv.stock[o] = (1.0 - delta) * lv.stock[o] - m;
            lv.moved[o] += m;
            total += m;
        }
        for &(j, d) in &tr.destinations {
            let arriving = efficiency * d * total;
            let k_prev = ws.cities[j].k[1];
            let upkeep_j = if t > tr.start { delta * lv.relocated[j] } else { 0.0 };
            lv.k2_move[j] += arriving + upkeep_j;
            if arriving > 0.0 && k_prev + arriving > 0.0 {
                lv.tfp2[j] += arith::ln((k_prev + q * arriving) / (k_prev + arriving));
            }
            lv.relocated[j] += arriving;
        }
    }
    for (pk, park) in model.parks.iter().enumerate() {
        let [value_added, k_per_va, k_per_worker, partner_share, _, _] = lv.park[pk];
        let r = park.ramp_years as f64;
        let ramp = if t < park.start {
            0.0
        } else {
            1.0 / (1.0 + arith::exp(-(f64::from(t - park.start) - r / 2.0) / (r / 6.0)))
        };
        let k = k_per_va * value_added * ramp;
        let workers = k / k_per_worker;
        let gross = k - (1.0 - delta) * lv.park_k_prev[pk];
        lv.fund[park.partner] += partner_share * gross;
        lv.park_demand[3 * park.host + park.sector] += workers;
        lv.park_ramp[pk] = ramp;
        lv.park_k[pk] = k;
        lv.park_l[pk] = workers;
        lv.park_k_prev[pk] = k;
    }
}

/// One joined batch of a year step: each draw writes `per` arguments at its own offset, and the
/// batch's ln or exp then runs over every draw's arguments at once.
#[derive(Debug, Clone, Default)]
struct Lane {
    per: usize,
    args: Vec<f64>,
    vals: Vec<f64>,
}

impl Lane {
    fn new(per: usize, draws: usize) -> Lane {
        Lane { per, args: vec![1.0; per * draws], vals: vec![0.0; per * draws] }
    }

    /// Draw d's arguments.
    #[inline(always)]
    fn args(&mut self, d: usize) -> &mut [f64] {
        &mut self.args[d * self.per..(d + 1) * self.per]
    }

    /// Draw d's results.
    #[inline(always)]
    fn vals(&self, d: usize) -> &[f64] {
        &self.vals[d * self.per..(d + 1) * self.per]
    }

    /// ln of the first `draws` draws' arguments.
    #[inline(always)]
    fn ln(&mut self, isa: Isa, draws: usize) {
        let len = draws * self.per;
        kernels::ln_into_on(isa, &self.args[..len], &mut self.vals[..len]);
    }

    /// exp of the first `draws` draws' arguments.
    #[inline(always)]
    fn exp(&mut self, isa: Isa, draws: usize) {
        let len = draws * self.per;
        kernels::exp_into(isa, &self.args[..len], &mut self.vals[..len]);
    }
}

/// The year step's batched logarithms and exponentials, for the draws of a batch together (see
/// [`step`]).
#[derive(Debug, Clone, Default)]
struct Joined {
    /// ln(w_i / w̄) of year t − 1 per city, then the logits of their urbanization (2n).
    wage: Lane,
    /// The calibration pass's logit v* (n).
    v_star: Lane,
    /// e^(−x) of the urbanization's sigmoid (n).
    urban: Lane,
    /// ln K_s and ln L_s (6n).
    logs: Lane,
    /// The calibration pass's output at γ = 0 (3n), and the logs of γ_i0's ratios (n).
    calib_y: Lane,
    calib_gamma: Lane,
    /// Output by sector (3n).
    output: Lane,
}

impl Joined {
    fn new(n: usize, draws: usize) -> Joined {
        Joined {
            wage: Lane::new(2 * n, draws),
            v_star: Lane::new(n, draws),
            urban: Lane::new(n, draws),
            logs: Lane::new(6 * n, draws),
            calib_y: Lane::new(3 * n, draws),
            calib_gamma: Lane::new(n, draws),
            output: Lane::new(3 * n, draws),
        }
    }
}

/// One year t for every city of every live draw of a batch (MODEL.md §0 order). In the
/// calibration pass (`calib`), shocks and infrastructure are off and γ_i0, m_i0, r_i0 are solved
/// in closed form where each is first used.
///
/// The cities are independent within a year (every coupling uses year t − 1), so the step goes
/// phase by phase over all cities, and each phase's logarithms and exponentials are taken
/// together: one batch of independent lanes instead of a chain of dependent scalar calls per
/// city. The draws of a batch go through the phases together, so each batch holds every draw's
/// arguments: short batches wait on their own latency, long ones keep the vector units busy.
/// Each value is computed by the same formula as in a city-by-city loop of one draw: the same
/// bits, whatever the batch.
#[inline(always)]
fn step(model: &Model, wss: &mut [Workspace], live: &[bool], j: &mut Joined, t: i32, calib: bool) {
    let (isa, k) = (wss[0].isa, wss.len());
    each_live!(wss, live, |d, ws| begin_year(model, ws, t, calib, j.wage.args(d)));
    j.wage.ln(isa, k);
    each_live!(wss, live, |d, ws| demography_phase(model, ws, t, calib, j.wage.vals(d), j.v_star.args(d)));
    if calib {
        j.v_star.ln(isa, k);
    }
    each_live!(wss, live, |d, ws| urbanization_args(
        model,
        ws,
        t,
        calib,
        j.wage.vals(d),
        j.v_star.vals(d),
        j.urban.args(d)
    ));
    j.urban.exp(isa, k);
    each_live!(wss, live, |d, ws| factors_phase(model, ws, t, calib, j.urban.vals(d), j.logs.args(d)));
    j.logs.ln(isa, k);
    if calib {
        each_live!(wss, live, |d, ws| output_args(ws, true, j.logs.vals(d), j.calib_y.args(d)));
        j.calib_y.exp(isa, k);
        each_live!(wss, live, |d, _| calibration_ratios(model, j.calib_y.vals(d), j.calib_gamma.args(d)));
        j.calib_gamma.ln(isa, k);
        each_live!(wss, live, |d, ws| calibrate_tfp(model, ws, t, j.calib_gamma.vals(d)));
    }
    each_live!(wss, live, |d, ws| output_args(ws, false, j.logs.vals(d), j.output.args(d)));
    j.output.exp(isa, k);
    each_live!(wss, live, |d, ws| end_year(model, ws, t, j.output.vals(d)));
}

/// The draw's four convergence factors of year t: TFR, migration, investment rate, TFP growth.
#[inline(always)]
fn decays_of(model: &Model, ws: &Workspace, t: i32) -> [f64; DECAYS] {
    let at = DECAYS * (t - model.base_year - 1) as usize;
    ws.decays[at..at + DECAYS].try_into().expect("four factors a year")
}

/// Year t's first phase: the regional aggregates of year t − 1, the
/// projects' direct effects and the levers; then the arguments of ln(w_i / w̄) and of the logits
/// ln(v / (1 − v)) of year t − 1's urbanization (`args`: the first n and the next n).
#[inline(always)]
fn begin_year(model: &Model, ws: &mut Workspace, t: i32, calib: bool, args: &mut [f64]) {
    let b = model.base_year;
    let n = model.n;
    // Regional aggregates of year t−1.
    let (mut y_sum, mut e_sum, mut p_sum, mut dma_mean) = (0.0, 0.0, 0.0, 0.0);
    let row = (t - b - 1) as usize * n;
    for (i, c) in ws.cities.iter().enumerate() {
        y_sum += c.y;
        e_sum += c.emp;
        p_sum += c.p;
        dma_mean += c.p * ws.dlnma[row + i];
    }
    let w_bar = y_sum / e_sum;
    ws.dma_mean = dma_mean / p_sum;
    // Direct project effects of year t on ln A (none in the calibration pass).
    ws.gain.fill(0.0);
    if !calib {
        let mut j = 0;
        for (kp, proj) in model.projects.iter().enumerate() {
            let open = ws.open[kp];
            for &(city, sector, _, ramp, _) in &proj.tfp {
                if open != i32::MAX && t >= open && t < open + ramp as i32 {
                    ws.gain[3 * city + sector] += ws.tfp_size[j] / ramp as f64;
                }
                j += 1;
            }
        }
    }
    ws.lever.clear_year(model.has_levers());
    if !calib {
        let delta = ws.p[P::Depreciation as usize];
        prepare_levers(model, ws, t, delta);
    }
    let u_max = ws.p[P::UrbanizationCeiling as usize];
    for (i, c) in ws.cities.iter().enumerate() {
        args[i] = c.y / c.emp / w_bar;
        let mut v_prev = c.urban / (u_max * c.p);
        if !(LOGIT_EPS..=1.0 - LOGIT_EPS).contains(&v_prev) {
            v_prev = v_prev.clamp(LOGIT_EPS, 1.0 - LOGIT_EPS);
            ws.diag.bump(Diag::LogitClamped);
        }
        args[n + i] = v_prev / (1.0 - v_prev);
    }
}

/// Year t's survival table, demography and migration (steps 2 and 3) for every city, from
/// `w_rel` (the logs of [`begin_year`]'s arguments); in the calibration pass, m_i0 and the
/// arguments of logit v* (`v_star`).
#[inline(always)]
fn demography_phase(
    model: &Model,
    ws: &mut Workspace,
    t: i32,
    calib: bool,
    w_rel: &[f64],
    v_star: &mut [f64],
) {
    // Survival of year t for each mortality schedule (the calibration pass and the draw's first
    // year share it: computed once). It is computed here, just before the survival kernel reads
    // it: in a batch, the other draws' phases run in between, and would push it out of the
    // core's first-level cache.
    if ws.surv_year != Some(t) {
        let improve = ws.improve[(t - model.base_year - 1) as usize];
        for ((s, m), small) in ws.surv.iter_mut().zip(&model.mortality).zip(&model.mortality_small) {
            for g in 0..2 {
                let bounded = model.mortality_bounded;
                kernels::exp_scaled_neg(ws.isa, &m[g], bounded, small[g], improve, &mut s.s[g]);
            }
        }
        ws.surv_year = Some(t);
    }
    let p = &ws.p;
    let tfr_lr = p[P::TfrLongRun as usize];
    let [tfr_decay, mig_decay, _, _] = decays_of(model, ws, t);
    let beta_w = p[P::MigrationWageResponse as usize];
    let sigma_m = p[P::MigrationShockSd as usize];
    let u_max = p[P::UrbanizationCeiling as usize];
    let pi_n = p[P::MigrantUrbanShare as usize];
    let lv = &ws.lever;
    for (i, (c, cb)) in ws.cities.iter_mut().zip(&model.cities).enumerate() {
        let (p_prev, y_prev, u_prev_rate) = (c.p, c.y, c.urban / c.p);
        // 2 demography
        let tfr = tfr_lr + (cb.tfr - tfr_lr) * tfr_decay + lv.tfr[i];
        // 3 migration: the intended migrants depend on year t − 1 only (and, in the calibration
        // pass, on m_i0, solved from this year's natural population below).
        let (offset, shock) = if calib { (0.0, 0.0) } else { (ws.offset[i], sigma_m * p_prev * ws.eta[i]) };
        let (wage, lever) = (beta_w * (w_rel[i] - cb.rel_wage), lv.mig[i]);
        let intended = |m0: f64| p_prev * ((m0 + offset) * mig_decay + wage + lever) + shock;
        // Known early, the migrants meet the survival kernel: they are added to the cells as
        // they are stored, an outflow checked against the cap with the natural cells kept aside
        // (the same roundings, the same decisions as `spread_migrants` afterwards).
        let early_n = if calib { f64::NAN } else { intended(ws.m0[i]) };
        let early = if early_n >= 0.0 {
            demography::Early::Inflow(early_n, &cb.migrants)
        } else if early_n < 0.0 {
            demography::Early::Outflow(early_n, &cb.migrants)
        } else {
            demography::Early::None
        };
        let (nat, within_cap): (Natural, bool) = demography::project_year(
            &mut c.pop,
            &ws.surv[cb.mortality],
            tfr,
            &model.phi,
            cb.male_birth_share,
            ws.isa,
            early,
            &mut ws.natural,
        );
        if calib {
            // e^(−1/T_m) is year b + 1's migration decay.
            ws.m0[i] = ((1.0 + cb.n_ref) * cb.population - nat.population) / (cb.population * mig_decay);
        }
        let intended = if calib { intended(ws.m0[i]) } else { early_n };
        let spread = match early {
            // What `spread_migrants` does with an inflow, or with an outflow within the cap.
            demography::Early::Inflow(n, _) | demography::Early::Outflow(n, _) if within_cap => {
                demography::Spread { realised: n * cb.migrant_sums.total, capped: false, dropped: 0.0 }
            }
            // Not known early (the calibration pass), or an outflow over the cap: spread from
            // the natural cells.
            _ => {
                if let demography::Early::Outflow(..) = early {
                    c.pop = ws.natural;
                }
                demography::spread_migrants(
                    &mut c.pop,
                    &cb.migrants,
                    cb.migrant_sums.total,
                    intended,
                    &mut ws.removal,
                    &mut ws.capped,
                )
            }
        };
        if spread.capped {
            ws.diag.bump(Diag::MigrationCapBinding);
        }
        if spread.dropped > 0.0 {
            ws.diag.bump(Diag::MigrationRemainderDropped);
        }
        let net = spread.realised;
        let pop = nat.population + net;
        // 4 urbanization (the calibration pass: the argument of logit v* = ln(v* / (1 − v*))).
        let migrant_urban = if net >= 0.0 { pi_n * net } else { u_prev_rate * net };
        if calib {
            let mut v =
                ((cb.urban / cb.population + cb.du_ref) * pop - migrant_urban) / (u_max * nat.population);
            if !(LOGIT_EPS..=1.0 - LOGIT_EPS).contains(&v) {
                v = v.clamp(LOGIT_EPS, 1.0 - LOGIT_EPS);
                ws.diag.bump(Diag::LogitClamped);
            }
            v_star[i] = v / (1.0 - v);
        }
        ws.pend[i] =
            Pending { nat, intended, capped: spread.capped, net, pop, migrant_urban, p_prev, y_prev };
    }
}

/// The arguments −x of the urbanization's sigmoid 1 / (1 + e^(−x)) (step 4), from the logits of
/// year t − 1 (`w_rel[n..]`); in the calibration pass, r_i0 from logit v* (`v_star`).
#[inline(always)]
fn urbanization_args(
    model: &Model,
    ws: &mut Workspace,
    t: i32,
    calib: bool,
    w_rel: &[f64],
    v_star: &[f64],
    args: &mut [f64],
) {
    let n = model.n;
    let p = &ws.p;
    let k = (t - model.base_year) as f64;
    let r_norm = p[P::UrbanizationNormSpeed as usize];
    let r_weight = (1.0 - (k - 1.0) / URBANIZATION_CONVERGENCE_YEARS).max(0.0);
    let beta_y = p[P::UrbanizationGrowthResponse as usize];
    let (rho_u, sigma_u) = (p[P::UrbanizationShockPersistence as usize], p[P::UrbanizationShockSd as usize]);
    for (i, c) in ws.cities.iter_mut().enumerate() {
        let logit_prev = w_rel[n + i];
        if calib {
            ws.r0[i] = v_star[i] - logit_prev;
        }
        let speed = r_norm + (ws.r0[i] - r_norm) * r_weight;
        c.zeta = rho_u * c.zeta + sigma_u * ws.eps_u[i];
        let x = logit_prev + speed + beta_y * c.dg + c.zeta;
        args[i] = -x;
    }
}

/// Urbanization, labour, capital and TFP of year t (steps 4–8; in the calibration pass TFP waits
/// for γ_i0), from e^(−x) (`urban`); the arguments of ln K_s and ln L_s (`args`, six per city).
#[inline(always)]
fn factors_phase(model: &Model, ws: &mut Workspace, t: i32, calib: bool, urban: &[f64], args: &mut [f64]) {
    let p = &ws.p;
    let n = model.n;
    let [_, _, inv_decay, tfp_decay] = decays_of(model, ws, t);
    let u_max = p[P::UrbanizationCeiling as usize];
    let d1 = p[P::PrimaryEmploymentDecline as usize];
    let d23 = p[P::SecondaryToTertiaryShift as usize];
    let s_lr = p[P::InvestmentRateLongRun as usize];
    let delta = p[P::Depreciation as usize];
    let gamma_lr = p[P::TfpGrowthLongRun as usize];
    let eps_ma = p[P::MarketAccessElasticity as usize];
    let row = (t - model.base_year - 1) as usize * n;
    let lv = &mut ws.lever;
    for (i, (c, cb)) in ws.cities.iter_mut().zip(&model.cities).enumerate() {
        let Pending { nat, intended, capped, net, pop, migrant_urban, p_prev, y_prev } = ws.pend[i];
        let mut urban = u_max * (1.0 / (1.0 + urban[i])) * nat.population + migrant_urban;
        let cap = u_max * pop;
        if !(0.0..=cap).contains(&urban) {
            urban = urban.clamp(0.0, cap);
            ws.diag.bump(Diag::UrbanizationClamped);
        }
        // 5 labour
        // Uncapped, migration added n·μ to every cell: the age groups grew by n·Σμ over them.
        let (working, old) = if capped {
            let sums = demography::AgeSums::of(&c.pop);
            (sums.working, sums.old)
        } else {
            (nat.working + intended * cb.migrant_sums.working, nat.old + intended * cb.migrant_sums.old)
        };
        let emp = (cb.participation + lv.part[i]) * working;
        let freed = c.e[0] * d1;
        c.e[0] -= freed;
        c.e[1] += PRIMARY_TO_SECONDARY * freed;
        c.e[2] += (1.0 - PRIMARY_TO_SECONDARY) * freed;
        let moved = d23 * c.e[1];
        c.e[1] -= moved;
        c.e[2] += moved;
        let mut labour: [f64; 3] = std::array::from_fn(|s| c.e[s] * emp);
        // Parks take their workers out of their host sector, at most 50% of it together.
        for s in 0..3 {
            let demand = lv.park_demand[3 * i + s];
            if demand > 0.0 {
                let cap = PARK_LABOUR_CAP * labour[s];
                let scale = if demand > cap {
                    ws.diag.bump(Diag::ParkLabourCap);
                    cap / demand
                } else {
                    1.0
                };
                lv.park_scale[3 * i + s] = scale;
                labour[s] -= scale * demand;
            }
        }
        // 6 capital
        let s_rate = s_lr + (cb.investment_rate - s_lr) * inv_decay + lv.inv[i];
        let invest = s_rate * y_prev;
        for s in 0..3 {
            c.k[s] = (1.0 - delta) * c.k[s] + cb.omega[s] * invest;
            if s == 1 {
                c.k[s] += lv.k2_move[i];
            }
            c.k[s] -= cb.omega[s] * lv.fund[i];
            let floor = CAPITAL_FLOOR * cb.capital[s];
            if c.k[s] < floor {
                c.k[s] = floor;
                ws.diag.bump(Diag::CapitalFloor);
            }
        }
        // 8 TFP (in the calibration pass after the logs below, which γ_i0 needs).
        if !calib {
            let gamma = gamma_lr + (ws.gamma0[i] - gamma_lr) * tfp_decay;
            let dma = match model.market_access {
                MarketAccess::Absolute => ws.dlnma[row + i],
                MarketAccess::Relative => ws.dlnma[row + i] - ws.dma_mean,
            };
            let common = gamma + eps_ma * dma + ws.z[i] + ws.disaster;
            advance_tfp(&mut c.ln_a, i, common, &ws.gain, lv);
        }
        // 9 output: Y_s = exp(ln A_s + α ln K_s + (1 − α) ln L_s); the logs of every city's
        // capital and labour next.
        args[6 * i..6 * i + 3].copy_from_slice(&c.k);
        args[6 * i + 3..6 * i + 6].copy_from_slice(&labour);
        c.p_prev = p_prev;
        c.y_prev = y_prev;
        c.p = pop;
        c.urban = urban;
        c.emp = emp;
        c.working = working;
        c.old = old;
        c.births = nat.births;
        c.deaths = nat.deaths;
        c.net_mig = net;
    }
}

/// The arguments ln A_s + α ln K_s + (1 − α) ln L_s of output by sector, from the logs of
/// [`factors_phase`]'s arguments (`logs`); with `drift`, ln A_s + drift_s + …: the calibration
/// pass's output of year b + 1 at γ = 0.
#[inline(always)]
fn output_args(ws: &Workspace, drift: bool, logs: &[f64], args: &mut [f64]) {
    let alpha = ws.p[P::CapitalShare as usize];
    for (i, c) in ws.cities.iter().enumerate() {
        let logs = &logs[6 * i..6 * i + 6];
        for s in 0..3 {
            args[3 * i + s] = if drift {
                c.ln_a[s] + SECTOR_DRIFT[s] + alpha * logs[s] + (1.0 - alpha) * logs[3 + s]
            } else {
                c.ln_a[s] + alpha * logs[s] + (1.0 - alpha) * logs[3 + s]
            };
        }
    }
}

/// The calibration pass: γ_i0 = ln[(1 + g_i)·Y_i(b) / Σ_s e^(ln A_s + drift_s + α ln K_s +
/// (1 − α) ln L_s)], year b + 1's output at γ = 0 by the output's own formula; the ratios whose
/// logs are γ_i0 (`args`), from the exponentials (`ys`, three per city).
#[inline(always)]
fn calibration_ratios(model: &Model, ys: &[f64], args: &mut [f64]) {
    for (i, cb) in model.cities.iter().enumerate() {
        let mut denom = 0.0;
        for s in 0..3 {
            if cb.output[s] > 0.0 {
                denom += ys[3 * i + s];
            }
        }
        args[i] = (1.0 + cb.g_ref) * cb.gdp / denom;
    }
}

/// The calibration pass's γ_i0 (`gamma0`: the logs of [`calibration_ratios`]) and its step 8.
#[inline(always)]
fn calibrate_tfp(model: &Model, ws: &mut Workspace, t: i32, gamma0: &[f64]) {
    let [_, _, _, tfp_decay] = decays_of(model, ws, t);
    let gamma_lr = ws.p[P::TfpGrowthLongRun as usize];
    let eps_ma = ws.p[P::MarketAccessElasticity as usize];
    for (i, c) in ws.cities.iter_mut().enumerate() {
        ws.gamma0[i] = gamma0[i];
        // No market access, shocks or levers in the calibration pass.
        let gamma = gamma_lr + (ws.gamma0[i] - gamma_lr) * tfp_decay;
        let common = gamma + eps_ma * 0.0 + ws.z[i] + ws.disaster;
        advance_tfp(&mut c.ln_a, i, common, &ws.gain, &ws.lever);
    }
}

/// Year t's output by sector (`ys`: the exponentials of [`output_args`]), the parks' output
/// (step 9), prices and Δg_i(t) for next year's urbanization.
#[inline(always)]
fn end_year(model: &Model, ws: &mut Workspace, t: i32, ys: &[f64]) {
    for (i, (c, cb)) in ws.cities.iter_mut().zip(&model.cities).enumerate() {
        let mut y = 0.0;
        for s in 0..3 {
            c.ys[s] = if cb.output[s] > 0.0 { ys[3 * i + s] } else { 0.0 };
            y += c.ys[s];
        }
        c.y = y;
    }
    let lv = &mut ws.lever;
    // Parks' output (step 9): value added at the host sector's TFP relative to its start year.
    for (pk, park) in model.parks.iter().enumerate() {
        let (h, sec) = (park.host, park.sector);
        let ln_a = ws.cities[h].ln_a[sec];
        if t == park.start {
            lv.park_ln_a0[pk] = ln_a;
        }
        let [value_added, _, _, _, tax_rate, tax_share] = lv.park[pk];
        let scale = lv.park_scale[3 * h + sec];
        let y = if t < park.start || lv.park_l[pk] <= 0.0 {
            0.0
        } else {
            value_added * lv.park_ramp[pk] * scale * arith::exp(ln_a - lv.park_ln_a0[pk])
        };
        lv.park_y[pk] = y;
        lv.park_l_real[pk] = scale * lv.park_l[pk];
        let c = &mut ws.cities[h];
        c.ys[sec] += y;
        c.y += y;
        match park.statistics {
            Statistics::Dual => lv.assess[park.partner] += y,
            Statistics::Split => {
                lv.assess[h] -= tax_share * y;
                lv.assess[park.partner] += tax_share * y;
            }
            Statistics::Host => {}
        }
        let tax = tax_share * tax_rate * y;
        lv.park_tax[pk] = tax;
        lv.tax[park.partner] += tax;
    }
    // Prices and Δg_i(t) for next year's urbanization.
    let p = &ws.p;
    let infl = p[P::InflationMean as usize] + p[P::InflationSd as usize] * ws.eps_pi;
    ws.price *= (1.0 + infl).max(0.5);
    let (mut y1, mut p1, mut y0, mut p0) = (0.0, 0.0, 0.0, 0.0);
    for c in ws.cities.iter() {
        y1 += c.y;
        p1 += c.p;
        y0 += c.y_prev;
        p0 += c.p_prev;
    }
    let g_region = (y1 / p1) / (y0 / p0) - 1.0;
    for (c, cb) in ws.cities.iter_mut().zip(&model.cities) {
        let g = (c.y / c.p) / (c.y_prev / c.p_prev) - 1.0;
        c.dg = (g - g_region) - (cb.gy_ref - model.gy_ref_region);
    }
}

/// Step 8's ln A_s(t) = ln A_s(t − 1) + `common` (γ_i(t), market access, shocks) + drift_s +
/// the projects' gains + the levers' TFP changes (and the transfer's, to sector 2).
#[inline(always)]
fn advance_tfp(ln_a: &mut [f64; 3], i: usize, common: f64, gain: &[f64], lv: &Levers) {
    let (gain, tfp, tfp2) = (&gain[3 * i..3 * i + 3], &lv.tfp[3 * i..3 * i + 3], lv.tfp2[i]);
    for s in 0..3 {
        let transfer = if s == 1 { tfp2 } else { 0.0 };
        ln_a[s] += common + SECTOR_DRIFT[s] + gain[s] + tfp[s] + transfer;
    }
}

/// A draw's outcomes of the base year (the other positions NaN: `write_year` of the base year
/// writes only its own), and whether they are all finite (the base year's flows aside): the
/// base state and the levers' initial stocks, which [`reset`] restores before every draw's base
/// year, are data (only ln A, which no outcome shows, depends on the draw).
pub(crate) fn base_outcomes(model: &Model) -> (Vec<f64>, bool) {
    let mut ws = Workspace::new(model);
    reset(model, &mut ws);
    let mut row = vec![f64::NAN; model.layout.len()];
    let finite = write_year(model, &ws, model.base_year, 0, &mut row).is_ok();
    (row, finite)
}

/// Write year t's outcomes of every city and the region into the draw's slice.
#[inline(always)]
fn write_year(model: &Model, ws: &Workspace, t: i32, draw: u64, out: &mut [f64]) -> Result<(), ModelError> {
    let layout = model.layout;
    let base = t == model.base_year;
    let lv = &ws.lever;
    let mut tot = [0.0f64; 15];
    for (i, c) in ws.cities.iter().enumerate() {
        let v = [
            c.p, c.urban, c.working, c.old, c.emp, c.y, c.ys[0], c.ys[1], c.ys[2], c.births, c.deaths,
            c.net_mig, c.p_prev, c.y_prev, lv.tax[i],
        ];
        for (a, x) in tot.iter_mut().zip(v) {
            *a += x;
        }
        if !write_entity(layout, i, t, base, &v, c.y + lv.assess[i], ws.price, out) {
            check(layout, i, t, draw, &model.city_ids[i], &ws.p, out)?;
        }
    }
    // The region's assessment GDP is its territorial GDP (MODEL.md §7b).
    if !write_entity(layout, model.n, t, base, &tot, tot[5], ws.price, out) {
        check(layout, model.n, t, draw, "region", &ws.p, out)?;
    }
    if t == model.base_year || t == model.horizon {
        write_pyramids(model, ws, usize::from(t == model.horizon), out);
    }
    for pk in 0..model.parks.len() {
        use crate::indicators::ParkIndicator as K;
        out[layout.park_index(pk, t, K::ValueAdded)] = lv.park_y[pk];
        out[layout.park_index(pk, t, K::Employment)] = lv.park_l_real[pk];
        out[layout.park_index(pk, t, K::Capital)] = lv.park_k[pk];
        out[layout.park_index(pk, t, K::TaxToPartner)] = lv.park_tax[pk];
    }
    Ok(())
}

/// Values: P, U, W, 65+, E, Y, Y1, Y2, Y3, births, deaths, net migration, P(t−1), Y(t−1), park tax.
/// Population by sex and 5-year age group (85+ last) of every city and the region.
#[inline(always)]
fn write_pyramids(model: &Model, ws: &Workspace, which: usize, out: &mut [f64]) {
    use crate::indicators::PYRAMID_GROUPS;
    const LAST: usize = PYRAMID_GROUPS - 1;
    let l = model.layout;
    for sex in 0..2 {
        for g in 0..PYRAMID_GROUPS {
            let mut total = 0.0;
            for (i, c) in ws.cities.iter().enumerate() {
                // Left to right, as `Iterator::sum` adds (from −0.0, which leaves the first term).
                let v = if g < LAST {
                    let x: &[f64; 5] = c.pop[sex][5 * g..5 * g + 5].try_into().expect("five ages");
                    (((x[0] + x[1]) + x[2]) + x[3]) + x[4]
                } else {
                    c.pop[sex][5 * LAST..].iter().sum()
                };
                out[l.pyramid_index(i, which, sex, g)] = v;
                total += v;
            }
            out[l.pyramid_index(model.n, which, sex, g)] = total;
        }
    }
}

/// Returns whether every value written is finite (the base year's flows, NaN by definition, are
/// not counted): the values are checked while in registers, since reading them back right
/// after the scalar stores would wait for those stores to reach the cache.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn write_entity(
    layout: Layout,
    e: usize,
    t: i32,
    base: bool,
    v: &[f64; 15],
    assessment: f64,
    price: f64,
    out: &mut [f64],
) -> bool {
    use Indicator::*;
    let [p, u, w, old, emp, y, y1, y2, y3, births, deaths, net, p_prev, y_prev, tax] = *v;
    let p_mid = if base { p } else { 0.5 * (p + p_prev) };
    let at = layout.index(e, t, Population);
    let slot = &mut out[at..at + crate::indicators::N_INDICATORS];
    // x − x is +0 for every finite x and NaN for ±∞ and NaN: the sum stays 0 while all are finite.
    let mut zero = 0.0;
    let mut put = |ind: Indicator, x: f64| {
        slot[ind as usize] = x;
        #[allow(clippy::eq_op)]
        {
            zero += x - x;
        }
    };
    put(Population, p);
    put(UrbanPopulation, u);
    put(UrbanizationRate, 100.0 * u / p);
    put(WorkingAgeShare, 100.0 * w / p);
    put(OldAgeDependency, 100.0 * old / w);
    put(Employment, emp);
    put(GdpReal, y);
    put(GdpNominal, y * price);
    put(GdpPerCapita, 1e4 * y / p_mid);
    put(GdpSharePrimary, 100.0 * y1 / y);
    put(GdpShareSecondary, 100.0 * y2 / y);
    put(GdpShareTertiary, 100.0 * y3 / y);
    put(GdpAssessment, assessment);
    if base {
        for ind in INDICATORS.iter().filter(|i| i.is_flow()) {
            slot[*ind as usize] = f64::NAN;
        }
    } else {
        put(Births, births);
        put(Deaths, deaths);
        put(NetMigration, net);
        put(ParkTaxToPartner, tax);
        put(GdpGrowth, 100.0 * (y / y_prev - 1.0));
        put(PopulationGrowth, 100.0 * (p / p_prev - 1.0));
    }
    zero == 0.0
}

/// The error naming the first non-finite indicator of entity `e` in year t (called only when
/// [`write_entity`] found one).
#[cold]
#[inline(never)]
fn check(
    layout: Layout,
    e: usize,
    t: i32,
    draw: u64,
    city: &str,
    params: &[f64],
    out: &[f64],
) -> Result<(), ModelError> {
    let at = layout.index(e, t, Indicator::Population);
    // The first bad indicator (the base year's flows are NaN by definition).
    for ind in INDICATORS {
        if t == layout.base_year && ind.is_flow() {
            continue;
        }
        let v = out[at + ind as usize];
        if !v.is_finite() {
            return Err(ModelError::NonFinite {
                draw,
                year: t,
                city: city.to_string(),
                quantity: ind.name(),
                value: v,
                parameters: crate::params::PARAMS
                    .iter()
                    .zip(params)
                    .map(|(p, x)| format!("{} = {x}", p.name))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::Layout;
    use crate::{Region, Scenario};

    fn corr(a: &[f64], b: &[f64]) -> f64 {
        let n = a.len() as f64;
        let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
        let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
        let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
        let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
        cov / (va * vb).sqrt()
    }

    /// The model of every scenario of the library, with its file.
    fn every_scenario() -> Vec<(std::path::PathBuf, Model)> {
        let region = Region::embedded();
        let read = |p: &std::path::Path| std::fs::read_to_string(p).map_err(|e| e.to_string());
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let paths = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path());
        paths
            .map(|path| {
                let model = Model::new(&region, &Scenario::load(&path, &read, &region).unwrap()).unwrap();
                (path, model)
            })
            .collect()
    }

    #[test]
    fn every_input_stream_comes_from_the_batch_in_order() {
        for (path, model) in every_scenario() {
            let mut ws = Workspace::new(&model);
            for draw in 0..20 {
                sample_inputs(&model, 3, draw, Mode::Stochastic, &mut ws).unwrap();
                assert_eq!(ws.one_shot_used, (model.one_shot.len(), 0), "{}", path.display());
            }
            // The deterministic draw takes none.
            sample_inputs(&model, 3, 0, Mode::Deterministic, &mut ws).unwrap();
            assert_eq!(ws.one_shot_used, (0, 0));
        }
    }

    #[test]
    fn every_draw_computes_the_base_year_outcomes_that_the_model_copies() {
        // With `base_finite` off, each draw computes its base year from its own reset state, as
        // every year after it: those values must be the model's, bit for bit, whatever the draw
        // and the levers (every scenario).
        for (path, model) in every_scenario() {
            assert!(model.base_finite, "{}", path.display());
            let mut computing = model.clone();
            computing.base_finite = false;
            computing.base_outcomes.fill(0.0);
            let mut ws = Workspace::new(&model);
            let mut out = vec![0.0; model.layout.len()];
            for (draw, mode) in [(0, Mode::Deterministic), (1, Mode::Stochastic), (77, Mode::Stochastic)] {
                simulate(&computing, 5, draw, mode, &mut ws, &mut out).unwrap();
                for j in model.layout.base_year_runs().flatten() {
                    assert_eq!(out[j].to_bits(), model.base_outcomes[j].to_bits(), "{} {j}", path.display());
                }
            }
        }
    }

    #[test]
    fn the_base_year_runs_are_the_base_years_positions() {
        use crate::indicators::{N_INDICATORS, N_PARK_INDICATORS, PYRAMID_GROUPS};
        for (cities, parks) in [(5, 0), (5, 3), (1, 1)] {
            let l = Layout { cities, base_year: 2018, horizon: 2035, parks };
            let mut base = vec![false; l.len()];
            let mut last = None;
            for r in l.base_year_runs() {
                assert!(last.is_none_or(|e| e <= r.start) && !r.is_empty());
                last = Some(r.end);
                for j in r {
                    base[j] = true;
                }
            }
            // Each position decoded from the layout's formulas.
            let (years, entity_end) = (l.years(), l.entities() * l.years() * N_INDICATORS);
            let pyramid_start = entity_end + parks * years * N_PARK_INDICATORS;
            for (j, &is_base) in base.iter().enumerate() {
                let year = if j < entity_end {
                    (j / N_INDICATORS) % years
                } else if j < pyramid_start {
                    ((j - entity_end) / N_PARK_INDICATORS) % years
                } else {
                    // which = 0 is the base year's pyramid, 1 the horizon's.
                    ((j - pyramid_start) / (2 * PYRAMID_GROUPS)) % 2 * (years - 1)
                };
                assert_eq!(is_base, year == 0, "position {j} of {cities} cities, {parks} parks");
            }
            assert_eq!(l.after_base_len(), base.iter().filter(|&&b| !b).count());
        }
    }

    /// Draw `years` years of TFP shocks and return each city's series.
    fn shock_series(model: &Model, years: usize) -> Vec<Vec<f64>> {
        let mut ws = Workspace::new(model);
        let mut out = vec![0.0; model.layout.len()];
        simulate(model, 1, 0, Mode::Stochastic, &mut ws, &mut out).unwrap();
        ws.shocks.restart(ws.isa, 1, 0);
        let mut series = vec![Vec::with_capacity(years); model.n];
        for _ in 0..years {
            draw_shocks(model, &mut ws);
            for (i, z) in ws.z.iter().enumerate() {
                series[i].push(*z);
            }
        }
        series
    }

    #[test]
    fn a_non_finite_outcome_is_reported_by_its_first_indicator() {
        let region = Region::embedded();
        let sc = Scenario::parse("b.toml", "[scenario]\nname = \"b\"\n", &region).unwrap();
        let model = Model::new(&region, &sc).unwrap();
        let l = model.layout;
        let mut ws = Workspace::new(&model);
        let mut out = vec![0.0; l.len()];
        simulate(&model, 3, 0, Mode::Stochastic, &mut ws, &mut out).unwrap();
        let (b, t) = (l.base_year, l.base_year + 4);
        let ok = |out: &[f64], e: usize, t: i32| check(l, e, t, 9, "x", &ws.p, out);
        // The base year's flows are NaN by definition; every other value is finite.
        assert!(out[l.index(0, b, Indicator::Births)].is_nan());
        for e in 0..=model.n {
            assert!(ok(&out, e, b).is_ok() && ok(&out, e, t).is_ok());
        }
        // A bad value in a later year is found, by the first bad indicator in indicator order.
        let mut bad = out.clone();
        bad[l.index(2, t, Indicator::GdpGrowth)] = f64::INFINITY;
        bad[l.index(2, t, Indicator::UrbanizationRate)] = f64::NAN;
        match ok(&bad, 2, t) {
            Err(ModelError::NonFinite { draw: 9, year, quantity, .. }) => {
                assert_eq!((year, quantity), (t, Indicator::UrbanizationRate.name()));
            }
            other => panic!("expected NonFinite, got {other:?}"),
        }
        assert!(ok(&bad, 1, t).is_ok() && ok(&bad, 2, t + 1).is_ok());
        // In the base year a non-flow is still checked.
        bad[l.index(3, b, Indicator::Population)] = f64::NAN;
        assert!(
            matches!(ok(&bad, 3, b), Err(ModelError::NonFinite { quantity, .. }) if quantity == Indicator::Population.name())
        );
    }

    #[test]
    fn market_access_updated_per_link_equals_a_full_recomputation() {
        let region = Region::embedded();
        let text = "[scenario]\nname = \"t\"\n[infrastructure]\ndelay_shift = 1\n";
        let sc = Scenario::parse("t.toml", text, &region).unwrap();
        let model = Model::new(&region, &sc).unwrap();
        let mut ws = Workspace::new(&model);
        let mut out = vec![0.0; model.layout.len()];
        for draw in 0..20 {
            simulate(&model, 3, draw, Mode::Stochastic, &mut ws, &mut out).unwrap();
            // Recompute every year's sums from scratch with the same opening years.
            let theta = ws.p[P::MarketAccessDecay as usize];
            let (n, nn) = (model.n, model.n_nodes);
            let mut travel = model.travel_times.clone();
            let mut before = vec![0.0; n];
            market_access_levels(&model, &travel, theta, &mut before);
            let (mut opened, mut largest) = (0, 0.0f64);
            for t in model.base_year + 1..=model.horizon {
                for (k, p) in model.projects.iter().enumerate() {
                    if ws.open[k] == t {
                        opened += 1;
                        for &(a, c, minutes) in &p.pairs {
                            if minutes < travel[a * nn + c] {
                                travel[a * nn + c] = minutes;
                                travel[c * nn + a] = minutes;
                            }
                        }
                    }
                }
                let mut after = vec![0.0; n];
                market_access_levels(&model, &travel, theta, &mut after);
                let row = (t - model.base_year - 1) as usize * n;
                for i in 0..n {
                    let full = after[i].ln() - before[i].ln();
                    largest = largest.max(full.abs());
                    assert!((ws.dlnma[row + i] - full).abs() < 1e-13, "draw {draw} year {t} city {i}");
                }
                before = after;
            }
            assert!(opened > 0 && largest > 1e-3, "the test needs projects that change market access");
        }
    }

    #[test]
    fn a_non_finite_outcome_names_draw_year_city_and_parameters() {
        let layout = Layout { cities: 1, base_year: 2018, horizon: 2020, parks: 0 };
        let mut out = vec![1.0; layout.len()];
        out[layout.index(0, 2020, Indicator::GdpReal)] = f64::NAN;
        let params = [0.5; crate::params::N_PARAMS];
        let e = check(layout, 0, 2020, 17, "longyan", &params, &out).unwrap_err().to_string();
        for s in
            ["draw 17", "year 2020", "city longyan", "`gdp_real`", "tfr_long_run = 0.5", "depreciation = 0.5"]
        {
            assert!(e.contains(s), "{s} in {e}");
        }
        assert!(check(layout, 0, 2019, 17, "longyan", &params, &out).is_ok());
    }

    #[test]
    fn one_factor_shocks_have_the_stated_correlation_and_sd() {
        let region = Region::embedded();
        let sc = Scenario::parse("t.toml", "[scenario]\nname = \"t\"\n", &region).unwrap();
        let model = Model::new(&region, &sc).unwrap();
        let z = shock_series(&model, 40_000);
        let sd = (z[0].iter().map(|x| x * x).sum::<f64>() / z[0].len() as f64).sqrt();
        assert!((sd - 0.015).abs() < 0.0003, "sd {sd}");
        for j in 1..5 {
            let r = corr(&z[0], &z[j]);
            assert!((r - 0.6).abs() < 0.02, "corr(0,{j}) = {r}");
        }
    }

    #[test]
    fn a_region_correlation_matrix_is_used_through_its_cholesky_factor() {
        let mut region = Region::embedded();
        let mut r = nalgebra::DMatrix::<f64>::identity(5, 5);
        r[(0, 1)] = 0.9;
        r[(1, 0)] = 0.9;
        r[(3, 4)] = -0.5;
        r[(4, 3)] = -0.5;
        region.shock_cholesky = Some(nalgebra::Cholesky::new(r).unwrap().l());
        let sc = Scenario::parse("t.toml", "[scenario]\nname = \"t\"\n", &region).unwrap();
        let model = Model::new(&region, &sc).unwrap();
        let z = shock_series(&model, 40_000);
        assert!((corr(&z[0], &z[1]) - 0.9).abs() < 0.02);
        assert!(corr(&z[0], &z[2]).abs() < 0.02);
        assert!((corr(&z[3], &z[4]) + 0.5).abs() < 0.02);
    }

    #[test]
    fn disasters_lower_every_city_by_the_same_drawn_size() {
        let region = Region::embedded();
        let quiet = "[scenario]\nname = \"t\"\n[parameters]\ntfp_shock_sd = 0\nmigration_shock_sd = 0\nmigration_offset_sd = 0\nurbanization_shock_sd = 0\ninflation_sd = 0\n";
        let base = Model::new(
            &region,
            &Scenario::parse("a.toml", &format!("{quiet}disaster_probability = 0\n"), &region).unwrap(),
        )
        .unwrap();
        let hit = Model::new(
            &region,
            &Scenario::parse("b.toml", &format!("{quiet}disaster_probability = 1\n"), &region).unwrap(),
        )
        .unwrap();
        let l = base.layout;
        let (mut wa, mut wb) = (Workspace::new(&base), Workspace::new(&hit));
        let (mut a, mut b) = (vec![0.0; l.len()], vec![0.0; l.len()]);
        for draw in 0..20 {
            simulate(&base, 4, draw, Mode::Stochastic, &mut wa, &mut a).unwrap();
            simulate(&hit, 4, draw, Mode::Stochastic, &mut wb, &mut b).unwrap();
            // 2019: capital and labour are the same in both, so Y ratio = e^(−D) in every city.
            let ratios: Vec<f64> = (0..5)
                .map(|e| b[l.index(e, 2019, Indicator::GdpReal)] / a[l.index(e, 2019, Indicator::GdpReal)])
                .collect();
            let d = -ratios[0].ln();
            assert!((0.02..=0.06).contains(&d), "draw {draw}: D = {d}");
            assert!(ratios.iter().all(|r| (r - ratios[0]).abs() < 1e-12), "region-wide: {ratios:?}");
        }
    }
}
