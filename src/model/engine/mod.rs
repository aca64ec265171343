//! The engine: the model's draws fast, each the bits of [`crate::model::reference::simulate`].
//!
//! It only orders the model's equations and gathers their logarithms and exponentials:
//! - `year`: the year step and the calibration pass as phases over all cities, each phase's
//!   `ln` or `exp` taken in one batch of lanes, for up to [`BATCH`] draws together;
//! - `fused`: a city's demography with its migrants added as the survival kernel stores the
//!   cells (the readable pair: `demography::project_year`, then `migration::spread`);
//! - `access`: a draw's market-access changes, their logarithms in one batch;
//! - [`kernels`]: the vector kernels (survival, `exp`, `ln`, dot product) in portable, AVX2 and
//!   AVX-512 versions ([`Isa`]) that do [`crate::arith`]'s operations lane for lane.
//!
//! A [`Workspace`] holds every buffer a draw needs and a [`Batch`] a workspace per draw of a
//! batch: built once per thread and reused, so the year step allocates nothing.

mod access;
mod fused;
pub mod kernels;
mod year;

use super::demography::{Natural, Survival};
use super::inputs::{self, DrawInputs, Source};
use super::levers::{LeverState, YearEffects};
use super::migration::Spread;
use super::outcomes::{self, YearEnd};
use super::output::Aggregates;
use super::shocks::{self, ShockStreams, YearShocks};
use super::state::{Calibration, CityState};
use super::{Decays, Mode, Model, purposes, tfp};
use crate::diagnostics::Diagnostics;
use crate::error::{ModelError, keep_lowest};
use crate::isa::Isa;
use crate::params::{P, Params};
use crate::region::AGES;
use crate::rng::{OneShot, Streams, WideStream};
use year::Joined;

/// Draws that [`simulate_batch`] runs together, at most.
pub const BATCH: usize = 8;

/// One city's values carried from the demography phase of a year to the later phases.
#[derive(Debug, Clone, Copy, Default)]
struct Pending {
    natural: Natural,
    intended: f64,
    spread: Spread,
    population: f64,
    migrants_urban: f64,
}

/// Buffers for one draw, reused across draws of a thread.
pub struct Workspace {
    /// The compiled version the draw runs in (its kernels dispatch on it).
    isa: Isa,
    inputs: DrawInputs,
    /// The purposes of the streams [`inputs::sample`] reads, in its order, and the first
    /// ChaCha8 block of each (computed together, [`crate::rng::first_blocks`]).
    purposes: Vec<u64>,
    blocks: Vec<[u32; 16]>,
    /// One-shot streams the last draw took, and how many of them were not in the batch.
    one_shot_used: (usize, usize),
    /// The exponents of each year's [`Decays`], then the factors (a batch of exponentials).
    decay_args: Vec<f64>,
    decay_vals: Vec<f64>,
    /// (1 − ι)^k of each year b + k, k = 1...
    improvement: Vec<f64>,
    access: access::Access,
    survival: Vec<Survival>,
    /// The year `survival` holds (it depends on the draw's ι: cleared when a draw starts).
    survival_year: Option<i32>,
    cities: Vec<CityState>,
    /// The base state, with the draw's ln A(b).
    base: Vec<CityState>,
    calibration: Calibration,
    shocks: YearShocks,
    streams: ShockStreams<WideStream>,
    gains: Vec<[f64; 3]>,
    aggregates: Aggregates,
    pending: Vec<Pending>,
    levers: LeverState,
    effects: YearEffects,
    price: f64,
    diag: Diagnostics,
    scratch: fused::Scratch,
    /// A single draw's joined batches (a [`Batch`] has its own, for all its draws).
    joined: Joined,
    /// ρ_u·ζ_i(t − 1) of the year being stepped: the urbanization shock's prediction.
    zeta_pred: Vec<f64>,
    /// What the forced city-years of the year just stepped say of the draw (docs/MODEL.md §12).
    evidence: Vec<Evidence>,
}

/// What a forced city-year says of a draw, before it is forced (docs/MODEL.md §12.1): NaN where
/// the city-year is not forced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evidence {
    /// Population (10k persons): observed − predicted, the prediction without the year's
    /// shocks and the migration rate's persistent part at its expectation φ_q·q(t − 1); the
    /// same with that part at its value q(t); and the scale P(t − 1)·Σμ that turns a rate into
    /// population (σ_m, σ_q are rates).
    pub population: [f64; 3],
    /// Urbanization rate (a fraction): observed − predicted, linearised at the observation, and
    /// the shock's sd on that scale, σ_u·du/dζ.
    pub urbanization: [f64; 2],
    /// Real growth: the total TFP shock z_i + e_i(t) + d that gives the observed growth (log
    /// points).
    pub tfp_total: f64,
    /// TFP growth's persistent part e_i(t − 1) before the year.
    pub tfp_drift_prev: f64,
}

impl Evidence {
    /// Nothing forced.
    pub const NONE: Evidence = Evidence {
        population: [f64::NAN; 3],
        urbanization: [f64::NAN; 2],
        tfp_total: f64::NAN,
        tfp_drift_prev: f64::NAN,
    };
}

/// Where a planned draw's shocks after its given years come from: stream `number` of
/// `purposes` (TFP, disaster, migration, urbanization, inflation, fertility), read from their
/// start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShockSource {
    /// The run's seed.
    pub seed: u64,
    /// The six shock purposes, in [`ShockStreams`]' order.
    pub purposes: [u64; 6],
    /// The stream number.
    pub number: u64,
}

/// A draw that takes what a history pass fixed (docs/MODEL.md §12.3): its inputs, the shocks of
/// years b+1..=b+`shocks.len()`, then shocks from `later` (or, without it, on from the draw's
/// own streams), up to year `stop`.
#[derive(Debug, Clone, Copy)]
pub struct Plan<'a> {
    /// The draw's inputs (parameters, offsets, openings, sizes, levers), instead of sampling.
    pub inputs: &'a DrawInputs,
    /// The shocks of the first years.
    pub shocks: &'a [YearShocks],
    /// The shocks' source after them.
    pub later: Option<ShockSource>,
    /// The last year simulated (the horizon for a whole draw).
    pub stop: i32,
}

impl Workspace {
    /// Buffers sized for a model, running in the widest version the processor has.
    pub fn new(model: &Model) -> Workspace {
        Workspace::on(Isa::widest(), model)
    }

    /// Buffers sized for a model, running in the compiled version `isa` (one the processor
    /// lacks runs as [`Isa::Generic`]).
    pub fn on(isa: Isa, model: &Model) -> Workspace {
        let (n, years) = (model.n, model.years());
        let purposes = inputs::stream_purposes(model);
        let base: Vec<CityState> =
            model.cities.iter().map(|c| CityState::base(&Params::default(), c)).collect();
        let wide = |purpose| WideStream::new(Isa::Generic, 0, purpose, 0);
        Workspace {
            isa: if isa.available() { isa } else { Isa::Generic },
            inputs: DrawInputs::new(model),
            blocks: vec![[0; 16]; purposes.len()],
            purposes,
            one_shot_used: (0, 0),
            decay_args: vec![0.0; 4 * years],
            decay_vals: vec![0.0; 4 * years],
            improvement: vec![0.0; years],
            access: access::Access::new(model),
            survival: vec![
                Survival { s: [[0.0; AGES]; 2] };
                model.mortality.len() + model.mortality_levels.len()
            ],
            survival_year: None,
            cities: base.clone(),
            base,
            calibration: Calibration { gamma0: vec![0.0; n], m0: vec![0.0; n], r0: vec![0.0; n] },
            shocks: YearShocks::none(model),
            streams: ShockStreams {
                tfp: wide(purposes::TFP),
                disaster: wide(purposes::DISASTER),
                migration: wide(purposes::MIGRATION),
                urbanization: wide(purposes::URBANIZATION),
                inflation: wide(purposes::INFLATION),
                fertility: wide(purposes::FERTILITY),
            },
            gains: vec![[0.0; 3]; n],
            aggregates: Aggregates { wage: 0.0, access_change: 0.0 },
            pending: vec![Pending::default(); n],
            levers: LeverState::base(model),
            effects: YearEffects::none(model),
            price: 1.0,
            diag: Diagnostics::default(),
            scratch: fused::Scratch::default(),
            joined: Joined::new(n, 1),
            zeta_pred: vec![0.0; n],
            evidence: vec![Evidence::NONE; n],
        }
    }

    /// The calibration constants of the last draw.
    pub fn calibration(&self) -> &Calibration {
        &self.calibration
    }

    /// The compiled version the workspace runs in.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// The draw's state at the end of the year just stepped, as its outcomes see it.
    #[inline(always)]
    fn year_end(&self) -> YearEnd<'_> {
        YearEnd {
            cities: &self.cities,
            effects: &self.effects,
            price: self.price,
            params: &self.inputs.params,
        }
    }

    /// Year t's convergence factors.
    #[inline(always)]
    fn decays(&self, model: &Model, t: i32) -> Decays {
        let at = 4 * (t - model.base_year - 1) as usize;
        Decays::from_exp(self.decay_vals[at..at + 4].try_into().expect("four factors a year"))
    }

    /// The streams of the draw's inputs: their first blocks together, then sample them.
    fn sample(&mut self, model: &Model, streams: &Streams<'_>, mode: Mode) -> Result<(), ModelError> {
        if mode == Mode::Stochastic {
            crate::rng::first_blocks(self.isa, streams.seed, streams.draw, &self.purposes, &mut self.blocks);
        }
        let mut source =
            OneShots { streams, purposes: &self.purposes, blocks: &self.blocks, next: 0, misses: 0 };
        let result = inputs::sample(model, &mut source, mode, &mut self.inputs, &mut self.diag);
        self.one_shot_used = (source.next, source.misses);
        result
    }

    /// Everything the draw fixes before its years but the calibration: its inputs, convergence
    /// factors, market-access changes and base state.
    fn start(
        &mut self,
        model: &Model,
        streams: &Streams<'_>,
        mode: Mode,
        given: Option<&DrawInputs>,
    ) -> Result<(), ModelError> {
        self.diag = Diagnostics::default();
        self.survival_year = None;
        match given {
            Some(inputs) => self.inputs.clone_from(inputs),
            None => self.sample(model, streams, mode)?,
        }
        let p = self.inputs.params;
        for (k, args) in (1..).zip(self.decay_args.chunks_exact_mut(4)) {
            args.copy_from_slice(&Decays::exponents(&p, k));
        }
        kernels::exp_into(self.isa, &self.decay_args, &mut self.decay_vals);
        for (k, v) in (1..).zip(self.improvement.iter_mut()) {
            *v = super::demography::improvement(&p, k);
        }
        self.access.compute(self.isa, model, &self.inputs.open, p.market_access_decay);
        for (c, city) in self.base.iter_mut().zip(&model.cities) {
            c.ln_tfp = tfp::base_ln_tfp(&p, city);
        }
        self.reset(model);
        self.shocks.tfp.fill(0.0);
        self.shocks.tfp_drift.fill(0.0);
        self.shocks.migration.fill(0.0);
        self.shocks.migration_drift.fill(0.0);
        self.shocks.urbanization.fill(0.0);
        (self.shocks.disaster, self.shocks.recovery, self.shocks.inflation) = (0.0, 0.0, 0.0);
        self.shocks.fertility = 0.0;
        if mode == Mode::Stochastic {
            let (isa, seed) = (self.isa, streams.seed);
            let s = &mut self.streams;
            s.tfp.restart(isa, seed, purposes::TFP, streams.number(purposes::TFP));
            s.disaster.restart(isa, seed, purposes::DISASTER, streams.number(purposes::DISASTER));
            s.migration.restart(isa, seed, purposes::MIGRATION, streams.number(purposes::MIGRATION));
            s.urbanization.restart(isa, seed, purposes::URBANIZATION, streams.number(purposes::URBANIZATION));
            s.inflation.restart(isa, seed, purposes::INFLATION, streams.number(purposes::INFLATION));
            s.fertility.restart(isa, seed, purposes::FERTILITY, streams.number(purposes::FERTILITY));
        }
        Ok(())
    }

    /// The shock streams from `src` (each purpose's stream `src.number`, from its start).
    fn restart_shocks(&mut self, src: ShockSource) {
        let (isa, s, [tfp, disaster, migration, urbanization, inflation, fertility]) =
            (self.isa, &mut self.streams, src.purposes);
        s.tfp.restart(isa, src.seed, tfp, src.number);
        s.disaster.restart(isa, src.seed, disaster, src.number);
        s.migration.restart(isa, src.seed, migration, src.number);
        s.urbanization.restart(isa, src.seed, urbanization, src.number);
        s.inflation.restart(isa, src.seed, inflation, src.number);
        s.fertility.restart(isa, src.seed, fertility, src.number);
    }

    /// Back to the end of the base year: the base state and the levers' initial stocks.
    fn reset(&mut self, model: &Model) {
        self.cities.copy_from_slice(&self.base);
        self.price = 1.0;
        if model.has_levers() {
            self.levers.reset(model);
            self.effects.clear();
        }
    }
}

/// The one-shot streams of a draw's inputs, handed out in the order of [`inputs::sample`].
struct OneShots<'a> {
    streams: &'a Streams<'a>,
    purposes: &'a [u64],
    blocks: &'a [[u32; 16]],
    next: usize,
    /// Streams whose purpose was not the next in the list, or read from another stream number
    /// (computed on their own).
    misses: usize,
}

impl Source for OneShots<'_> {
    type Rng = OneShot;

    fn stream(&mut self, purpose: u64) -> OneShot {
        let (j, s) = (self.next, self.streams);
        self.next += 1;
        let number = s.number(purpose);
        match (self.purposes.get(j), self.blocks.get(j)) {
            (Some(&p), Some(&first)) if p == purpose && number == s.draw => {
                OneShot::new(s.seed, purpose, number, first)
            }
            // A purpose read from another stream number, or (never: the order is tested) out of
            // order: the same numbers, computed on their own.
            _ => {
                self.misses += 1;
                let mut first = [[0u32; 16]];
                crate::rng::first_blocks(Isa::Generic, s.seed, number, &[purpose], &mut first);
                OneShot::new(s.seed, purpose, number, first[0])
            }
        }
    }

    fn draw(&self) -> u64 {
        self.streams.draw
    }
}

/// What a batch's run tells its caller, year by year (the history pass, docs/MODEL.md §12.3);
/// [`observing`] makes one of a closure that observes only.
pub trait Observer {
    /// After year `v.year` of draw `d` (its index in the batch).
    fn observe(&mut self, d: usize, v: YearView<'_>);

    /// Before year `v.year + 1` of draw `d`, with the state of `v.year` and the new year's
    /// shocks in `v.shocks()`, `fresh` when they were drawn (not given by the plan): an
    /// innovation ω of the births' persistent part to take instead of the drawn one (only a
    /// fresh year's is taken; docs/MODEL.md §12.4).
    fn propose(&mut self, d: usize, v: &YearView<'_>, fresh: bool) -> Option<f64> {
        let _ = (d, v, fresh);
        None
    }
}

/// An [`Observer`] that only observes, with a closure.
pub struct Observing<F>(F);

/// The [`Observer`] that calls `f` after each year (and proposes nothing).
pub fn observing<F: FnMut(usize, YearView<'_>)>(f: F) -> Observing<F> {
    Observing(f)
}

impl<F: FnMut(usize, YearView<'_>)> Observer for Observing<F> {
    fn observe(&mut self, d: usize, v: YearView<'_>) {
        (self.0)(d, v);
    }
}

/// The state of every city at the end of a simulated year, as an observer sees it.
pub struct YearView<'a> {
    /// The year.
    pub year: i32,
    ws: &'a Workspace,
}

impl YearView<'_> {
    /// Every city's state.
    pub fn cities(&self) -> &[CityState] {
        &self.ws.cities
    }
    /// Number of cities.
    pub fn n(&self) -> usize {
        self.ws.cities.len()
    }
    /// Population by sex and single year of age, `[sex][age]`.
    pub fn cells(&self, i: usize) -> &[[f64; AGES]; 2] {
        &self.ws.cities[i].cells
    }
    /// End-of-year population P(t).
    pub fn population(&self, i: usize) -> f64 {
        self.ws.cities[i].population
    }
    /// Population at the end of the previous year P(t−1).
    pub fn population_prev(&self, i: usize) -> f64 {
        self.ws.cities[i].population_prev
    }
    /// Births, deaths and realised net migrants of the year.
    pub fn flows(&self, i: usize) -> (f64, f64, f64) {
        let c = &self.ws.cities[i];
        (c.births, c.deaths, c.net_migration)
    }
    /// Urban population U(t).
    pub fn urban(&self, i: usize) -> f64 {
        self.ws.cities[i].urban
    }
    /// Sector capital K_s(t).
    pub fn capital(&self, i: usize) -> [f64; 3] {
        self.ws.cities[i].capital
    }
    /// ln A_s(t) of each sector.
    pub fn ln_tfp(&self, i: usize) -> [f64; 3] {
        self.ws.cities[i].ln_tfp
    }
    /// The draw's parameters.
    pub fn params(&self) -> &Params {
        &self.ws.inputs.params
    }
    /// The draw's value of a parameter.
    pub fn param(&self, p: P) -> f64 {
        self.ws.inputs.params.get(p)
    }
    /// What the year's forced city-years say of the draw (NaN where none is forced).
    pub fn evidence(&self, i: usize) -> &Evidence {
        &self.ws.evidence[i]
    }
    /// The year's shocks as the draw took them.
    pub fn shocks(&self) -> &YearShocks {
        &self.ws.shocks
    }
    /// The births city i would have in the next year with the births' persistent part at its
    /// expectation φ_f·f(t) (ω = 0): TFR_i(t + 1)·e^(φ_f·f(t))·Σ_x φ(x)·F_i(x, t), with the lever
    /// effects as last prepared (the history pass's proposal, docs/MODEL.md §12.4).
    pub fn births_ahead(&self, model: &Model, i: usize) -> f64 {
        let (ws, t) = (self.ws, self.year + 1);
        let (p, c) = (&ws.inputs.params, &ws.cities[i]);
        let tfr =
            super::demography::tfr(p, model.cities[i].tfr, ws.decays(model, t).tfr, &ws.effects.cities[i]);
        let tfr =
            super::demography::with_fertility(p, tfr, super::demography::fertility(p, c.fertility, 0.0));
        tfr.max(0.0) * crate::arith::dot(&model.phi[15..50], &c.cells[0][15..50])
    }
    /// The draw's inputs.
    pub fn inputs(&self) -> &DrawInputs {
        &self.ws.inputs
    }
}

/// Simulate one draw, reading the random `streams` (a run's draw k reads [`Streams::of`]`(seed,
/// k)`), writing its outcomes (laid out by `model.layout`) into `out`. Returns the draw's
/// diagnostics.
pub fn simulate(
    model: &Model,
    streams: &Streams<'_>,
    mode: Mode,
    ws: &mut Workspace,
    out: &mut [f64],
) -> Result<Diagnostics, ModelError> {
    simulate_observed(model, streams, mode, ws, out, |_| {})
}

/// [`simulate`], calling `observe` with the state at the end of each year b+1..=H.
pub fn simulate_observed(
    model: &Model,
    streams: &Streams<'_>,
    mode: Mode,
    ws: &mut Workspace,
    out: &mut [f64],
    mut observe: impl FnMut(YearView<'_>),
) -> Result<Diagnostics, ModelError> {
    // A batch of one: the workspace's own joined batches (taking them out moves three words each).
    let mut joined = std::mem::take(&mut ws.joined);
    let draws = std::slice::from_ref(streams);
    let result = run(
        model,
        draws,
        None,
        mode,
        std::slice::from_mut(ws),
        &mut joined,
        out,
        observing(|_, v| observe(v)),
    );
    ws.joined = joined;
    result.map_err(|(_, e)| e)
}

/// One planned draw ([`Plan`]: given inputs and first years' shocks, later shocks from their
/// source, up to `plan.stop`), calling `observe` with the state at the end of each year. The
/// years after `plan.stop` are not written.
pub fn simulate_planned(
    model: &Model,
    streams: &Streams<'_>,
    plan: &Plan<'_>,
    ws: &mut Workspace,
    out: &mut [f64],
    mut observe: impl FnMut(YearView<'_>),
) -> Result<Diagnostics, ModelError> {
    let mut joined = std::mem::take(&mut ws.joined);
    let (draws, plans) = (std::slice::from_ref(streams), std::slice::from_ref(plan));
    let result = run(
        model,
        draws,
        Some(plans),
        Mode::Stochastic,
        std::slice::from_mut(ws),
        &mut joined,
        out,
        observing(|_, v| observe(v)),
    );
    ws.joined = joined;
    result.map_err(|(_, e)| e)
}

/// Buffers for up to [`BATCH`] draws run together, reused across batches of a thread.
pub struct Batch {
    ws: Vec<Workspace>,
    joined: Joined,
}

impl Batch {
    /// Buffers sized for a model, in the widest version the processor runs.
    pub fn new(model: &Model) -> Batch {
        Batch::on(Isa::widest(), model)
    }

    /// Buffers sized for a model, in the compiled version `isa`.
    pub fn on(isa: Isa, model: &Model) -> Batch {
        Batch {
            ws: (0..BATCH).map(|_| Workspace::on(isa, model)).collect(),
            joined: Joined::new(model.n, BATCH),
        }
    }
}

/// Simulate the draws of `draws` (at most [`BATCH`] of them) together, draw d into row d of
/// `out` (rows of `model.layout.len()` values). Each row holds what [`simulate`] writes for its
/// draw, bit for bit: the draws go through each year's phases together, and each batched
/// logarithm or exponential of a year takes every draw's arguments at once (long batches keep
/// the vector units busy where one draw's short ones wait on their latency). Returns the draws'
/// diagnostics summed, or the lowest failing row with its error.
///
/// # Panics
/// If `draws` holds more than [`BATCH`] draws or `out` is not one row per draw.
pub fn simulate_batch(
    model: &Model,
    draws: &[Streams<'_>],
    mode: Mode,
    batch: &mut Batch,
    out: &mut [f64],
) -> Result<Diagnostics, (usize, ModelError)> {
    let k = draws.len();
    assert!(k <= BATCH, "a batch runs at most {BATCH} draws, not {k}");
    assert_eq!(out.len(), k * model.layout.len(), "one row per draw");
    if k == 0 {
        return Ok(Diagnostics::default());
    }
    run(model, draws, None, mode, &mut batch.ws[..k], &mut batch.joined, out, observing(|_, _| {}))
}

/// [`simulate_batch`] of planned draws (one [`Plan`] per draw, all with the same `stop`).
pub fn simulate_batch_planned(
    model: &Model,
    draws: &[Streams<'_>],
    plans: &[Plan<'_>],
    batch: &mut Batch,
    out: &mut [f64],
) -> Result<Diagnostics, (usize, ModelError)> {
    simulate_batch_planned_observed(model, draws, plans, batch, out, observing(|_, _| {}))
}

/// [`simulate_batch_planned`], telling the [`Observer`] `observe` each draw's index in the batch
/// and its state at the end of each year, and asking it before each year for the births'
/// innovation of a fresh year ([`Observer::propose`]).
pub fn simulate_batch_planned_observed(
    model: &Model,
    draws: &[Streams<'_>],
    plans: &[Plan<'_>],
    batch: &mut Batch,
    out: &mut [f64],
    observe: impl Observer,
) -> Result<Diagnostics, (usize, ModelError)> {
    let k = draws.len();
    assert!(k <= BATCH && plans.len() == k, "a batch runs at most {BATCH} draws, one plan each");
    assert_eq!(out.len(), k * model.layout.len(), "one row per draw");
    if k == 0 {
        return Ok(Diagnostics::default());
    }
    run(model, draws, Some(plans), Mode::Stochastic, &mut batch.ws[..k], &mut batch.joined, out, observe)
}

/// The draws (one per workspace) in the workspaces' compiled version.
#[allow(clippy::too_many_arguments)]
fn run(
    model: &Model,
    draws: &[Streams<'_>],
    plans: Option<&[Plan<'_>]>,
    mode: Mode,
    wss: &mut [Workspace],
    joined: &mut Joined,
    out: &mut [f64],
    observe: impl Observer,
) -> Result<Diagnostics, (usize, ModelError)> {
    #[cfg(target_arch = "x86_64")]
    if wss[0].isa >= Isa::Avx2 {
        // SAFETY: a workspace runs in AVX2 or AVX-512 only when the processor has it
        // (`Workspace::on`). The AVX-512 version is this draw with the AVX-512 kernels:
        // compiling the whole draw for AVX-512 was slower (its 512-bit code outside the kernels
        // gains nothing here).
        return unsafe { run_avx2(model, draws, plans, mode, wss, joined, out, observe) };
    }
    run_inner(model, draws, plans, mode, wss, joined, out, observe)
}

/// The draws compiled with AVX2: the phases are `#[inline(always)]`, so they are compiled into
/// this function with its instruction set.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
fn run_avx2(
    model: &Model,
    draws: &[Streams<'_>],
    plans: Option<&[Plan<'_>]>,
    mode: Mode,
    wss: &mut [Workspace],
    joined: &mut Joined,
    out: &mut [f64],
    observe: impl Observer,
) -> Result<Diagnostics, (usize, ModelError)> {
    run_inner(model, draws, plans, mode, wss, joined, out, observe)
}

/// A batch of draws: each draw's inputs, the calibration pass of all of them, then the years
/// b+1..=H of all of them, phase by phase. A draw that fails leaves the batch; the others go
/// on, and the lowest failing draw is reported.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn run_inner(
    model: &Model,
    draws: &[Streams<'_>],
    plans: Option<&[Plan<'_>]>,
    mode: Mode,
    wss: &mut [Workspace],
    joined: &mut Joined,
    out: &mut [f64],
    mut observe: impl Observer,
) -> Result<Diagnostics, (usize, ModelError)> {
    let width = model.layout.len();
    debug_assert_eq!(out.len(), wss.len() * width);
    debug_assert!(!wss.is_empty() && wss.len() <= BATCH);
    let b = model.base_year;
    let mut live = [false; BATCH];
    let mut failed = None;
    let plan = |d: usize| plans.map(|p| &p[d]);
    let stop = plans.map_or(model.horizon, |p| p[0].stop);
    debug_assert!(plans.is_none_or(|p| p.iter().all(|q| q.stop == stop)), "one stop a batch");
    for (d, (ws, streams)) in wss.iter_mut().zip(draws).enumerate() {
        match ws.start(model, streams, mode, plan(d).map(|p| p.inputs)) {
            Ok(()) => live[d] = true,
            Err(e) => keep_lowest(&mut failed, d, e),
        }
    }
    year::calibrate(model, wss, &live, joined);
    for (d, ((ws, streams), row)) in wss.iter_mut().zip(draws).zip(out.chunks_exact_mut(width)).enumerate() {
        if !live[d] {
            continue;
        }
        ws.reset(model);
        let base_year = if model.base_finite {
            for r in model.layout.base_year_runs() {
                row[r.clone()].copy_from_slice(&model.base_outcomes[r]);
            }
            Ok(())
        } else {
            outcomes::write_year(model, &ws.year_end(), b, streams.draw, row)
        };
        if let Err(e) = base_year {
            live[d] = false;
            keep_lowest(&mut failed, d, e);
        }
    }
    for t in b + 1..=stop {
        if mode == Mode::Stochastic {
            for (d, ws) in wss.iter_mut().enumerate() {
                if !live[d] {
                    continue;
                }
                let k = (t - b) as usize;
                let fresh = match plan(d) {
                    Some(p) if k <= p.shocks.len() => {
                        ws.shocks.copy_from(&p.shocks[k - 1]);
                        false
                    }
                    Some(p) => {
                        if let (Some(src), true) = (p.later, k == p.shocks.len() + 1) {
                            ws.restart_shocks(src);
                        }
                        shocks::draw(model, &ws.inputs.params, &mut ws.streams, &mut ws.shocks);
                        true
                    }
                    None => {
                        shocks::draw(model, &ws.inputs.params, &mut ws.streams, &mut ws.shocks);
                        true
                    }
                };
                let omega = observe.propose(d, &YearView { year: t - 1, ws }, fresh);
                if let (Some(omega), true) = (omega, fresh) {
                    ws.shocks.fertility = omega;
                }
            }
        }
        year::step(model, wss, &live, joined, t);
        for (d, ((ws, streams), row)) in
            wss.iter_mut().zip(draws).zip(out.chunks_exact_mut(width)).enumerate()
        {
            if !live[d] {
                continue;
            }
            match outcomes::write_year(model, &ws.year_end(), t, streams.draw, row) {
                Ok(()) => observe.observe(d, YearView { year: t, ws }),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::Indicator;
    use crate::model::{market_access, reference};
    use crate::region::Region;
    use crate::scenario::Scenario;

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
                ws.sample(&model, &Streams::of(3, draw), Mode::Stochastic).unwrap();
                assert_eq!(ws.one_shot_used, (ws.purposes.len(), 0), "{}", path.display());
            }
            // The deterministic draw takes none.
            ws.sample(&model, &Streams::of(3, 0), Mode::Deterministic).unwrap();
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
                simulate(&computing, &Streams::of(5, draw), mode, &mut ws, &mut out).unwrap();
                for j in model.layout.base_year_runs().flatten() {
                    assert_eq!(out[j].to_bits(), model.base_outcomes[j].to_bits(), "{} {j}", path.display());
                }
            }
        }
    }

    #[test]
    fn the_draw_s_market_access_is_the_model_s() {
        for (path, model) in every_scenario() {
            for isa in Isa::available_versions() {
                let mut ws = Workspace::on(isa, &model);
                for draw in 0..30 {
                    ws.start(&model, &Streams::of(11, draw), Mode::Stochastic, None).unwrap();
                    let p = ws.inputs.params;
                    let want = market_access::changes(&model, &p, &ws.inputs.open);
                    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(
                        bits(&ws.access.changes),
                        bits(&want),
                        "{} {isa:?} draw {draw}",
                        path.display()
                    );
                }
            }
        }
    }

    #[test]
    fn a_draw_reads_the_streams_it_is_given() {
        let (_, model) = every_scenario().into_iter().find(|(p, _)| p.ends_with("plan-full.toml")).unwrap();
        let mut ws = Workspace::new(&model);
        let mut a = vec![0.0; model.layout.len()];
        let mut b = a.clone();
        let every: Vec<u64> = ws.purposes.iter().copied().chain(super::purposes::ALL).collect();
        for (k, j) in [(0, 9), (5, 1), (40, 12)] {
            // Every purpose moved to stream j: draw k is draw j (errors would name k).
            simulate(&model, &Streams::of(3, j), Mode::Stochastic, &mut ws, &mut a).unwrap();
            let moved = Streams { seed: 3, draw: k, moved: &every, moved_to: j };
            simulate(&model, &moved, Mode::Stochastic, &mut ws, &mut b).unwrap();
            assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())));
            // One parameter moved: its value is draw j's, every other input draw k's; the
            // reference reads the same streams.
            let tfr = crate::rng::purpose("tfr_long_run");
            let one = Streams { seed: 3, draw: k, moved: &[tfr], moved_to: j };
            let (mut inputs_j, mut inputs_k) = (ws.inputs.clone(), ws.inputs.clone());
            ws.sample(&model, &Streams::of(3, j), Mode::Stochastic).unwrap();
            inputs_j.clone_from(&ws.inputs);
            ws.sample(&model, &Streams::of(3, k), Mode::Stochastic).unwrap();
            inputs_k.clone_from(&ws.inputs);
            ws.sample(&model, &one, Mode::Stochastic).unwrap();
            assert_eq!(ws.inputs.params.tfr_long_run, inputs_j.params.tfr_long_run);
            assert_ne!(inputs_j.params.tfr_long_run, inputs_k.params.tfr_long_run);
            let mut expected = inputs_k.clone();
            expected.params.tfr_long_run = inputs_j.params.tfr_long_run;
            assert_eq!(ws.inputs, expected);
            simulate(&model, &one, Mode::Stochastic, &mut ws, &mut a).unwrap();
            let r = reference::simulate(&model, &one, Mode::Stochastic).unwrap();
            assert!(
                a.iter()
                    .zip(&r.values)
                    .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
            );
        }
    }

    #[test]
    fn disasters_lower_every_city_by_the_same_drawn_size() {
        let region = Region::embedded();
        let quiet = "[scenario]\nname = \"t\"\n[parameters]\ntfp_shock_sd = 0\nmigration_shock_sd = 0\nmigration_offset_sd = 0\nurbanization_shock_sd = 0\ninflation_sd = 0\n";
        let model = |p: f64| {
            let text = format!("{quiet}disaster_probability = {p}\n");
            Model::new(&region, &Scenario::parse("a.toml", &text, &region).unwrap()).unwrap()
        };
        let (base, hit) = (model(0.0), model(1.0));
        let l = base.layout;
        let (mut wa, mut wb) = (Workspace::new(&base), Workspace::new(&hit));
        let (mut a, mut b) = (vec![0.0; l.len()], vec![0.0; l.len()]);
        for draw in 0..20 {
            simulate(&base, &Streams::of(4, draw), Mode::Stochastic, &mut wa, &mut a).unwrap();
            simulate(&hit, &Streams::of(4, draw), Mode::Stochastic, &mut wb, &mut b).unwrap();
            // 2019: capital and labour are the same in both, so Y ratio = e^(−D) in every city.
            let ratios: Vec<f64> = (0..5)
                .map(|e| b[l.index(e, 2019, Indicator::GdpReal)] / a[l.index(e, 2019, Indicator::GdpReal)])
                .collect();
            let d = -ratios[0].ln();
            assert!((0.02..=0.06).contains(&d), "draw {draw}: D = {d}");
            assert!(ratios.iter().all(|r| (r - ratios[0]).abs() < 1e-12), "region-wide: {ratios:?}");
        }
    }

    /// The baseline (history mode) and one draw's inputs and yearly shocks as it took them.
    fn recorded(model: &Model, draw: u64) -> (Vec<f64>, DrawInputs, Vec<YearShocks>) {
        let mut ws = Workspace::new(model);
        let mut out = vec![0.0; model.layout.len()];
        let mut shocks = Vec::new();
        let mut inputs = None;
        simulate_observed(model, &Streams::of(9, draw), Mode::Stochastic, &mut ws, &mut out, |v| {
            shocks.push(v.shocks().clone());
            inputs.get_or_insert_with(|| v.inputs().clone());
        })
        .unwrap();
        (out, inputs.unwrap(), shocks)
    }

    fn baseline() -> Model {
        let (_, model) = every_scenario().into_iter().find(|(p, _)| p.ends_with("baseline.toml")).unwrap();
        model
    }

    fn same_bits(a: &[f64], b: &[f64]) -> bool {
        a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
    }

    #[test]
    fn a_plan_of_a_draw_s_own_inputs_and_shocks_replays_it() {
        let model = baseline();
        let mut ws = Workspace::new(&model);
        let mut out = vec![0.0; model.layout.len()];
        for draw in [0, 3, 17] {
            let (want, inputs, shocks) = recorded(&model, draw);
            // Another draw's streams: everything the draw takes comes from the plan.
            let plan = Plan { inputs: &inputs, shocks: &shocks, later: None, stop: model.horizon };
            simulate_planned(&model, &Streams::of(9, 1000 + draw), &plan, &mut ws, &mut out, |_| {}).unwrap();
            assert!(same_bits(&out, &want), "draw {draw}");
        }
    }

    #[test]
    fn a_plan_s_later_shocks_come_from_their_source_and_batches_agree() {
        let model = baseline();
        let (_, inputs, shocks) = recorded(&model, 5);
        let until = 2024;
        let given = &shocks[..(until - model.base_year) as usize];
        let later = |number| Some(ShockSource { seed: 9, purposes: super::super::purposes::SHOCKS, number });
        let plans: Vec<Plan<'_>> = (0..BATCH as u64)
            .map(|k| Plan { inputs: &inputs, shocks: given, later: later(k), stop: model.horizon })
            .collect();
        let draws: Vec<Streams<'static>> = (0..BATCH as u64).map(|k| Streams::of(9, 50 + k)).collect();
        let w = model.layout.len();
        let mut batch = Batch::new(&model);
        let mut rows = vec![0.0; BATCH * w];
        simulate_batch_planned(&model, &draws, &plans, &mut batch, &mut rows).unwrap();
        let mut ws = Workspace::new(&model);
        let mut one = vec![0.0; w];
        let l = model.layout;
        for (k, (plan, streams)) in plans.iter().zip(&draws).enumerate() {
            simulate_planned(&model, streams, plan, &mut ws, &mut one, |_| {}).unwrap();
            assert!(same_bits(&one, &rows[k * w..(k + 1) * w]), "plan {k}: batch and single differ");
            // The given years are the recorded draw's in every plan; the later ones differ.
            let first = &rows[..w];
            for e in 0..6 {
                for year in model.base_year..=model.horizon {
                    let (a, b) = (
                        one[l.index(e, year, Indicator::GdpReal)],
                        first[l.index(e, year, Indicator::GdpReal)],
                    );
                    if year <= until {
                        assert_eq!(a.to_bits(), b.to_bits(), "plan {k} entity {e} {year}");
                    } else if k > 0 && year == model.horizon {
                        assert_ne!(a, b, "plan {k} entity {e}: duplicates diverge after {until}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_forced_year_reports_its_evidence() {
        let model = baseline();
        let forced = model.forced_in(2020).unwrap().clone();
        let mut ws = Workspace::new(&model);
        let mut out = vec![0.0; model.layout.len()];
        let mut seen = Vec::new();
        let mut v_shocks = std::collections::HashMap::new();
        simulate_observed(&model, &Streams::of(9, 2), Mode::Stochastic, &mut ws, &mut out, |v| {
            if v.year <= 2024 {
                seen.push((v.year, (0..v.n()).map(|i| *v.evidence(i)).collect::<Vec<_>>()));
                for i in 0..v.n() {
                    v_shocks.insert((v.year, i), v.shocks().migration_drift[i]);
                }
            }
        })
        .unwrap();
        for (year, ev) in seen {
            for (i, e) in ev.iter().enumerate() {
                assert_eq!(e.population[0].is_nan(), forced.population(year, i).is_none(), "{year} {i}");
                assert_eq!(e.urbanization[0].is_nan(), forced.urbanization(year, i).is_none(), "{year} {i}");
                assert_eq!(e.tfp_total.is_nan(), forced.growth(year, i).is_none(), "{year} {i}");
                if !e.population[0].is_nan() {
                    // Within a few shock sds: the trend follows the observed path roughly.
                    // Within a few shock sds (σ_m, σ_q: the baseline's), the trend following the
                    // observed path roughly; the persistent part at its value differs by σ_q·ξ.
                    let sd = (0.002f64.powi(2) + 0.005f64.powi(2)).sqrt() * e.population[2];
                    assert!(e.population[0].abs() < 40.0 * sd, "{year} {i} {e:?}");
                    let xi = v_shocks[&(year, i)];
                    let held = e.population[0] - 0.005 * xi * e.population[2];
                    assert!((e.population[1] - held).abs() < 1e-9 * e.population[2], "{year} {i} {e:?}");
                }
                if !e.tfp_total.is_nan() {
                    assert!(e.tfp_total.abs() < 0.2, "{year} {i}: x = {}", e.tfp_total);
                }
            }
        }
    }
}
