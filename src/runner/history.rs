//! The history pass (docs/MODEL.md §12.3): sequential Monte Carlo over the observed years.
//!
//! A pool of candidate draws (particle j starts as draw j's inputs) goes year by year through
//! b+1..=until. Each year every particle runs its observed years again from the base (its own
//! inputs and the shocks it has fixed so far: the engine replays them bit for bit, [`Plan`]),
//! then the new year with fresh shocks keyed by (year, j); the year's forced city-years give its
//! evidence ([`Evidence`]); the particle's weight is multiplied by the density of the year's
//! observations under it ([`condition::level_log_density`], [`condition::tfp_evidence`]); the
//! year's disaster and the TFP shocks of the cities without a growth figure are drawn given the
//! observed ones and fixed. When the effective sample size falls below half the pool, or after
//! the last year, the pool is resampled (systematic) and moved: Metropolis–Hastings sweeps on
//! the parameters the data inform and the migration offsets, with the observed years' shocks
//! held (resample–move: Gilks & Berzuini 2001; Chopin 2002). The pool ends equally weighted.
//!
//! Everything is a pure function of (model, seed, pool size): each particle's numbers come from
//! streams keyed by its index and the year; the pool's steps (weights, resampling, proposals'
//! scales) are sums in index order.

use std::sync::Arc;

use rayon::prelude::*;

use crate::error::{Error, ModelError, keep_lowest};
use crate::model::condition::{
    self, Conditioned, ParamPosterior, Particle, TfpEvidence, YearReport, level_log_density,
};
use crate::model::engine::{self, BATCH, Batch, Evidence, Plan, ShockSource, Workspace};
use crate::model::inputs::{self, DrawInputs};
use crate::model::shocks::{YearShocks, normal};
use crate::model::{Mode, Model};
use crate::params::{N_PARAMS, PARAMS, Params};
use crate::rng::{Streams, purpose, stream};
use rand::RngExt;

/// How the history pass runs.
#[derive(Debug, Clone, PartialEq)]
pub struct HistorySettings {
    /// Particles in the pool.
    pub pool: usize,
    /// Resample when the effective sample size falls below this share of the pool.
    pub resample_below: f64,
    /// Metropolis–Hastings sweeps after each resampling.
    pub sweeps: usize,
    /// Sweeps after the last year's resampling (the pool the output draws take).
    pub final_sweeps: usize,
    /// Warn when fewer than this share of the pool are distinct after the last moves.
    pub floor: f64,
    /// Temper a year (docs/MODEL.md §12.3) when its weights at once would leave an effective
    /// sample size below this share of the pool; each stage then aims at it.
    pub temper_below: f64,
    /// At most this many tempering stages a year (the rest then comes in at once).
    pub max_stages: usize,
}

impl HistorySettings {
    /// The defaults for a run of `draws` draws: a pool of
    /// [`default_pool`](crate::scenario::default_pool)`(draws)` (the draws, at least
    /// 200 and at most 4 000), two move sweeps after each resampling.
    pub fn for_draws(draws: u64) -> HistorySettings {
        HistorySettings::for_run(draws, None)
    }

    /// The settings of a run of `draws` draws of a model whose scenario sets the pool `pool`
    /// (`history.pool`; `None`: the default of [`HistorySettings::for_draws`]).
    pub fn for_run(draws: u64, pool: Option<usize>) -> HistorySettings {
        HistorySettings {
            pool: pool.unwrap_or_else(|| crate::scenario::default_pool(draws)),
            resample_below: 0.5,
            sweeps: 2,
            final_sweeps: 6,
            floor: 0.25,
            temper_below: 0.05,
            max_stages: 10,
        }
    }
}

/// Parameters a move leaves alone: those of the shocks' laws (the fixed shocks of the observed
/// years were drawn under them).
const SHOCK_LAWS: [&str; 14] = [
    "tfp_shock_sd",
    "tfp_shock_correlation",
    "tfp_persistence",
    "tfp_drift_sd",
    "disaster_probability",
    "migration_shock_sd",
    "migration_offset_sd",
    "migration_persistence",
    "migration_drift_sd",
    "urbanization_shock_sd",
    "urbanization_shock_persistence",
    "inflation_sd",
    "fertility_persistence",
    "fertility_shock_sd",
];

/// A thread's batch and output rows.
type Slot = std::sync::Mutex<Option<(Batch, Vec<f64>)>>;

/// Each worker thread's batch buffers, made once per pass (rayon's `map_init` would make them
/// once per split of the work, many times).
struct Buffers(Vec<Slot>);

impl Buffers {
    fn new() -> Buffers {
        Buffers((0..rayon::current_num_threads().max(1)).map(|_| std::sync::Mutex::new(None)).collect())
    }

    /// Run `f` with the current thread's buffers.
    fn with<R>(&self, model: &Model, f: impl FnOnce(&mut Batch, &mut Vec<f64>) -> R) -> R {
        let k = rayon::current_thread_index().unwrap_or(0) % self.0.len();
        let mut slot = self.0[k].lock().unwrap_or_else(|e| e.into_inner());
        let (batch, out) = slot.get_or_insert_with(|| (Batch::new(model), Vec::new()));
        f(batch, out)
    }
}

/// The six shock purposes of the history pass's year t.
fn year_purposes(t: i32) -> [u64; 6] {
    ["tfp", "disaster", "migration", "urbanization", "inflation", "fertility"]
        .map(|k| purpose(&format!("history.{t}.{k}")))
}

/// What one particle's year gives: its new shocks, the log-weight increment, the complete-data
/// log-likelihood increment, and how many values were scored.
struct Step {
    shocks: YearShocks,
    log_weight: f64,
    log_lik: f64,
    scored: usize,
}

/// The observed cities' (city, y_i, variance) of a year from its evidence: y_i the total shock
/// less TFP growth's persistent part — at its expectation φ_e·e_i(t − 1) (`nu` None: the
/// weights), or at its value with the innovations `nu` held (a move's complete data).
fn tfp_observed(
    model: &Model,
    p: &Params,
    t: i32,
    ev: &[Evidence],
    nu: Option<&[f64]>,
) -> Vec<(usize, f64, f64)> {
    let forced = model.forced_in(t).expect("an observed year");
    ev.iter()
        .enumerate()
        .filter(|(_, e)| !e.tfp_total.is_nan())
        .map(|(i, e)| {
            let g = forced.growth(t, i).expect("forced growth");
            // The error of ln(1 + g): sd_g/(1 + g).
            let sd = forced.errors(t, i)[2] / (1.0 + g);
            let held = nu.map_or(0.0, |nu| p.tfp_drift_sd * nu[i]);
            (i, e.tfp_total - p.tfp_persistence * e.tfp_drift_prev - held, sd * sd)
        })
        .collect()
}

/// The population and urbanization terms of a year (log-density) and how many were scored:
/// `marginal` scores a population against the migration rate's persistent part at its
/// expectation (its innovation σ_q·ξ in the spread: the weights); otherwise at its value (ξ
/// held: the complete-data log-likelihood a move compares).
fn level_terms(model: &Model, p: &Params, t: i32, ev: &[Evidence], marginal: bool) -> (f64, usize) {
    let forced = model.forced_in(t).expect("an observed year");
    let (mut sum, mut count) = (0.0, 0);
    let (sm, sq) = (p.migration_shock_sd, p.migration_drift_sd);
    for (i, e) in ev.iter().enumerate() {
        let [sd_p, sd_u, _] = forced.errors(t, i);
        if !e.population[0].is_nan() {
            let [expected, actual, scale] = e.population;
            sum += if marginal {
                level_log_density(expected, (sm * sm + sq * sq).sqrt() * scale, sd_p)
            } else {
                level_log_density(actual, sm * scale, sd_p)
            };
            count += 1;
        }
        if !e.urbanization[0].is_nan() {
            sum += level_log_density(e.urbanization[0], e.urbanization[1], sd_u);
            count += 1;
        }
    }
    (sum, count)
}

/// A year's published crude rates as a draw met them (§12.1; [`crate::model::history::crude_scores`]),
/// each against the draw's rate r = 1000·B/((P(t−1) + P(t))/2) of the city or of the region's
/// cities together. Birth rates are scored in logs, where the births' persistent part f adds
/// (§12.4): ln r^obs ~ N(ln r, (s/r^obs)²), with the Jacobian −ln r^obs a density of the rate.
#[derive(Debug, Clone, Copy, Default)]
struct Crude {
    /// ln p of the rates given the draw (its ω as it ran).
    held: f64,
    /// Whether a birth rate was scored.
    births: bool,
    /// Rates scored.
    count: usize,
    /// ω(t), the births' innovation the run took.
    omega: f64,
    /// The proposal ω was drawn from, N(mean, sd²) ([`fertility_proposal`]), when birth rates
    /// are scored and σ_f > 0.
    proposal: Option<(f64, f64)>,
}

impl Crude {
    /// ln p of the rates given the draw's parameters and past, ω integrated out: estimated by
    /// importance sampling with the one ω the run took from its proposal q,
    /// p(r | ω)·N(ω; 0, 1)/q(ω) (exact when q is ω's posterior: §12.4).
    fn marginal(&self) -> f64 {
        match self.proposal {
            Some((mean, sd)) if self.births => {
                let z = (self.omega - mean) / sd;
                self.held - 0.5 * self.omega * self.omega + 0.5 * z * z + sd.ln()
            }
            _ => self.held,
        }
    }
}

/// `parts` (events, people) of a crude rate's city, or of the region's `n` cities summed (the
/// parent's rate, read as the region's).
fn city_or_region(city: Option<usize>, n: usize, parts: impl Fn(usize) -> (f64, f64)) -> (f64, f64) {
    match city {
        Some(i) => parts(i),
        None => (0..n).map(parts).fold((0.0, 0.0), |a, x| (a.0 + x.0, a.1 + x.1)),
    }
}

/// Year `v.year`'s published crude rates as the draw met them, ω drawn from `proposal`.
fn crude_terms(model: &Model, v: &engine::YearView<'_>, proposal: Option<(f64, f64)>) -> Crude {
    let mut out = Crude { omega: v.shocks().fertility, proposal, ..Crude::default() };
    let Some(h) = &model.history else { return out };
    for c in h.crude.iter().filter(|c| c.year == v.year) {
        let parts = |i: usize| {
            let (births, deaths, _) = v.flows(i);
            (if c.deaths { deaths } else { births }, 0.5 * (v.population_prev(i) + v.population(i)))
        };
        let (events, people) = city_or_region(c.city, v.n(), parts);
        let rate = 1000.0 * events / people;
        let r = if c.deaths { c.value - rate } else { c.ln_value - rate.ln() };
        out.held += c.log_norm - 0.5 * r * r / c.var - c.ln_value;
        out.births |= !c.deaths;
        out.count += 1;
    }
    out
}

/// The proposal of year t's births' innovation ω, from the draw's state at the end of t − 1 in
/// `v` (docs/MODEL.md §12.4): its posterior given the year's published birth rates, with each
/// city's births at ω = 0 computed ahead ([`engine::YearView::births_ahead`]) and P(t) the
/// forced population (else P(t − 1)); none when σ_f = 0 or no birth rate of t is scored.
fn fertility_proposal(model: &Model, v: &engine::YearView<'_>, t: i32) -> Option<(f64, f64)> {
    let sd = v.params().fertility_shock_sd;
    let h = model.history.as_ref()?;
    if sd == 0.0 || !h.crude.iter().any(|c| c.year == t && !c.deaths) {
        return None;
    }
    let forced = model.forced_in(t);
    let ahead = |i: usize| {
        let prev = v.population(i);
        let next = forced.and_then(|f| f.population(t, i)).unwrap_or(prev);
        (v.births_ahead(model, i), 0.5 * (prev + next))
    };
    let residuals = h.crude.iter().filter(|c| c.year == t && !c.deaths).map(|c| {
        let (births, people) = city_or_region(c.city, v.n(), ahead);
        (c.ln_value - (1000.0 * births / people).ln(), c.var)
    });
    let e = condition::one_factor(sd, residuals);
    Some((e.mean, e.sd))
}

/// The history pass's [`engine::Observer`]: `observe` after each year, and before the years of
/// `wanted` the proposal of the births' innovation, kept per draw for `observe` (a fresh year
/// takes ω from it: the stream's standard normal z gives ω = mean + sd·z).
struct Watch<'a, F> {
    model: &'a Model,
    /// The years whose proposal is wanted: a fresh year's, a tempered year's (its marginal).
    wanted: [Option<i32>; 2],
    proposals: Vec<Option<(f64, f64)>>,
    observe: F,
}

impl<F: FnMut(usize, engine::YearView<'_>, Option<(f64, f64)>)> engine::Observer for Watch<'_, F> {
    fn observe(&mut self, d: usize, v: engine::YearView<'_>) {
        (self.observe)(d, v, self.proposals[d]);
    }

    fn propose(&mut self, d: usize, v: &engine::YearView<'_>, fresh: bool) -> Option<f64> {
        let t = v.year + 1;
        let q =
            if fresh || self.wanted.contains(&Some(t)) { fertility_proposal(self.model, v, t) } else { None };
        self.proposals[d] = q;
        q.filter(|_| fresh).map(|(mean, sd)| mean + sd * v.shocks().fertility)
    }
}

/// The observed deflators of year t (value, variance; §12.1b).
fn deflators_of(model: &Model, t: i32) -> Vec<(f64, f64)> {
    let Some(h) = &model.history else { return Vec::new() };
    h.deflators.iter().filter(|d| d.year == t).map(|d| (d.value, d.sd * d.sd)).collect()
}

/// Steps of the independence sampler of π̄ in the price block.
const PRICE_STEPS: usize = 30;

/// ln p(the observed deflators of every year | π̄) (§12.1b; each year's ε_π integrated out).
fn deflators_log_density(years: &[(usize, Vec<(f64, f64)>)], pi_mean: f64, pi_sd: f64) -> f64 {
    years.iter().map(|(_, d)| condition::deflator_evidence(pi_mean, pi_sd, d).log_density).sum()
}

/// The price block of the history pass (docs/MODEL.md §12.1b): nothing real depends on π̄ or
/// ε_π, nor they on anything real, so their posterior given the observed deflators is drawn
/// apart from the pool's weights: for each particle, π̄ by an independence sampler with its
/// prior as the proposal (Tierney 1994; `PRICE_STEPS` steps from the particle's own value, a
/// draw of its prior), then each observed year's ε_π from its normal posterior given π̄.
/// Stream "history.prices", keyed by the particle. None when no deflator is observed.
fn price_block(model: &Model, seed: u64, particles: &mut [Particle]) -> Option<condition::PriceBlock> {
    let until = model.conditioning().map_or(model.base_year, |f| f.until);
    let years: Vec<(usize, Vec<(f64, f64)>)> = (model.base_year + 1..=until)
        .filter_map(|t| {
            let d = deflators_of(model, t);
            (!d.is_empty()).then(|| ((t - model.base_year - 1) as usize, d))
        })
        .collect();
    if years.is_empty() {
        return None;
    }
    let k = PARAMS.iter().position(|p| p.name == "inflation_mean").expect("π̄ is a parameter");
    let prior = &model.params[k].value;
    let moves = prior.log_density(prior.central()).is_some();
    let accepted: usize = particles
        .par_iter_mut()
        .enumerate()
        .map(|(j, p)| {
            let mut r = stream(seed, purpose("history.prices"), j as u64);
            let sd = p.inputs.params.inflation_sd;
            let mut pi = p.inputs.params.inflation_mean;
            let mut accepted = 0;
            if moves {
                let mut ll = deflators_log_density(&years, pi, sd);
                for _ in 0..PRICE_STEPS {
                    let Some(proposal) = prior.sample(&mut r) else { continue };
                    let l = deflators_log_density(&years, proposal, sd);
                    if r.random::<f64>().ln() < l - ll {
                        (pi, ll) = (proposal, l);
                        accepted += 1;
                    }
                }
            }
            p.inputs.params.inflation_mean = pi;
            for (k, d) in &years {
                let e = condition::deflator_evidence(pi, sd, d);
                p.shocks[*k].inflation = e.mean + e.sd * normal(&mut r);
            }
            accepted
        })
        .sum();
    let steps = if moves { PRICE_STEPS } else { 0 };
    let mean_shocks = years
        .iter()
        .map(|&(k, _)| {
            let mean = particles.iter().map(|p| p.shocks[k].inflation).sum::<f64>() / particles.len() as f64;
            (model.base_year + 1 + k as i32, mean)
        })
        .collect();
    Some(condition::PriceBlock {
        deflators: years.iter().map(|(_, d)| d.len()).sum(),
        steps,
        acceptance: accepted as f64 / (steps * particles.len()).max(1) as f64,
        mean_shocks,
    })
}

/// σ_z²R of a particle's parameters.
fn shock_cov(model: &Model, p: &Params) -> nalgebra::DMatrix<f64> {
    condition::shock_cov(model.n, p.tfp_shock_sd, p.tfp_shock_correlation, model.cholesky.as_deref())
}

/// What a planned draw's observed years say, accumulated as it runs: the evidence and shocks
/// of year `at` (the new year of a step), and the complete-data log-likelihood of every
/// observed year under its parameters (a move's replay).
#[derive(Clone)]
struct Seen {
    evidence: Vec<Evidence>,
    shocks: Option<YearShocks>,
    /// The crude rates of year `at`.
    crude: Crude,
    log_lik: f64,
    /// A tempered replay's ln p(y_t | θ, past) of the tempered year (else 0).
    marginal: f64,
}

/// Run `plans` (draw indices `idx`) in one batch, recording per draw what its observed years
/// say; `complete`: accumulate the complete-data log-likelihood of every observed year (with
/// the year's shocks as the draw took them), with year t's tempered at α when `temper` is
/// `Some((t, α))` (α < 1: plus (α − 1)·ln p(y_t | θ, past)). A failing draw's result is `None`.
#[allow(clippy::too_many_arguments)]
fn run_plans(
    model: &Model,
    seed: u64,
    idx: &[usize],
    plans: &[Plan<'_>],
    at: i32,
    complete: bool,
    temper: Option<(i32, f64)>,
    batch: &mut Batch,
    out: &mut Vec<f64>,
) -> Vec<Option<Seen>> {
    let k = plans.len();
    out.resize(k * model.layout.len(), 0.0);
    let draws: Vec<Streams<'static>> = idx.iter().map(|&j| Streams::of(seed, j as u64)).collect();
    let blank = Seen {
        evidence: vec![Evidence::NONE; model.n],
        shocks: None,
        crude: Crude::default(),
        log_lik: 0.0,
        marginal: 0.0,
    };
    let mut seen = vec![blank; k];
    let covs: Vec<_> = if complete {
        plans.iter().map(|p| shock_cov(model, &p.inputs.params)).collect()
    } else {
        Vec::new()
    };
    let observe = |d: usize, v: engine::YearView<'_>, proposal: Option<(f64, f64)>| {
        // Without the complete data only year `at` is wanted.
        if model.forced_in(v.year).is_none() || (!complete && v.year != at) {
            return;
        }
        let s = &mut seen[d];
        for (i, e) in s.evidence.iter_mut().enumerate() {
            *e = *v.evidence(i);
        }
        let crude = crude_terms(model, &v, proposal);
        let p = &plans[d].inputs.params;
        if complete {
            s.log_lik += crude.held;
            if let Some((tt, alpha)) = temper
                && tt == v.year
                && alpha < 1.0
            {
                let k = (v.year - model.base_year) as usize;
                let carried = if k >= 2 { plans[d].shocks[k - 2].recovery } else { 0.0 };
                let marginal = year_evidence(model, p, v.year, &s.evidence, carried, &crude).log_density;
                s.marginal = marginal;
                s.log_lik += (alpha - 1.0) * marginal;
            }
            let (levels, _) = level_terms(model, &plans[d].inputs.params, v.year, &s.evidence, false);
            let y = v.shocks();
            let observed =
                tfp_observed(model, &plans[d].inputs.params, v.year, &s.evidence, Some(&y.tfp_drift));
            s.log_lik +=
                levels + condition::tfp_complete_log_density(&covs[d], y.disaster, &observed, &y.tfp);
        }
        if v.year == at {
            s.shocks = Some(v.shocks().clone());
            s.crude = crude;
        }
    };
    let tempered = temper.filter(|&(_, alpha)| alpha < 1.0).map(|(t, _)| t);
    let watch = Watch {
        model,
        wanted: [Some(at).filter(|_| !complete), tempered],
        proposals: vec![None; k],
        observe,
    };
    let result = engine::simulate_batch_planned_observed(model, &draws, plans, batch, out, watch);
    match result {
        Ok(_) => seen.into_iter().map(Some).collect(),
        // Some draw failed: which ones, one by one.
        Err(_) if k > 1 => (0..k)
            .flat_map(|d| {
                run_plans(model, seed, &idx[d..=d], &plans[d..=d], at, complete, temper, batch, out)
            })
            .collect(),
        Err(_) => vec![None],
    }
}

/// What year t's observations say of a draw (docs/MODEL.md §12.1–12.2).
struct YearEvidence {
    /// ln p(y_t | θ, past), the weight increment: the levels' densities with the persistent
    /// parts at their expectations, the crude rates', and the observed cities' TFP evidence.
    log_density: f64,
    /// Values scored.
    scored: usize,
    /// The TFP evidence (what the year's shocks are drawn from).
    tfp: TfpEvidence,
    /// σ_z²R of the draw's parameters.
    cov: nalgebra::DMatrix<f64>,
}

/// Year t's evidence from a run's `ev` and crude rates `crude` (ω integrated out), given last
/// year's recovery `carried`.
fn year_evidence(
    model: &Model,
    p: &Params,
    t: i32,
    ev: &[Evidence],
    carried: f64,
    crude: &Crude,
) -> YearEvidence {
    let (levels, scored) = level_terms(model, p, t, ev, true);
    let observed = tfp_observed(model, p, t, ev, None);
    let cov = shock_cov(model, p);
    let tfp = condition::tfp_evidence(&cov, carried, p.disaster_probability, p.tfp_drift_sd, &observed);
    YearEvidence {
        log_density: levels + crude.marginal() + tfp.log_density,
        scored: scored + crude.count + observed.len(),
        tfp,
        cov,
    }
}

/// Particle j's year t from what its run said: score the year, draw the disaster and the
/// unobserved cities' TFP shocks given the observed, and fix the year's shocks.
/// `condition_purpose`: the purpose of the year's stream "history.t.condition" (hashed once a
/// chunk).
fn finish_step(
    model: &Model,
    seed: u64,
    condition_purpose: u64,
    j: usize,
    t: i32,
    particle: &Particle,
    seen: Seen,
) -> Step {
    let mut shocks = seen.shocks.expect("year t was stepped");
    let mut ev = seen.evidence;
    let p = particle.inputs.params;
    let carried = particle.shocks.last().map_or(0.0, |s| s.recovery);
    let YearEvidence { log_density, scored, tfp, cov } =
        year_evidence(model, &p, t, &ev, carried, &seen.crude);
    let mut r = stream(seed, condition_purpose, j as u64);
    let (u_occur, u_size): (f64, f64) = (r.random(), r.random());
    let normals: Vec<f64> = (0..tfp.normals_needed()).map(|_| normal(&mut r)).collect();
    let size = tfp.draw(u_occur, u_size, &normals, &mut shocks.tfp, &mut shocks.tfp_drift);
    if p.tfp_drift_sd == 0.0 {
        // Nothing persistent: the innovations stay as the year took them (none).
        shocks.tfp_drift.fill(0.0);
    }
    shocks.disaster = carried - size;
    shocks.recovery = 0.5 * size;
    // The migration rate's persistent part in a forced population: its innovation ξ drawn
    // given the year's residual (§12.4), and the population then scored with ξ held.
    let (sm, sq) = (p.migration_shock_sd, p.migration_drift_sd);
    if sq > 0.0 {
        let forced = model.forced_in(t).expect("an observed year");
        for (i, e) in ev.iter_mut().enumerate() {
            if e.population[0].is_nan() {
                continue;
            }
            let [expected, _, scale] = e.population;
            let obs = forced.errors(t, i)[0] / scale;
            let v = sm * sm + sq * sq + obs * obs;
            let xi = sq * (expected / scale) / v + (1.0 - sq * sq / v).sqrt() * normal(&mut r);
            shocks.migration_drift[i] = xi;
            e.population[1] = expected - sq * xi * scale;
        }
    }
    let (levels_held, _) = level_terms(model, &p, t, &ev, false);
    let held = tfp_observed(model, &p, t, &ev, Some(&shocks.tfp_drift));
    let complete = condition::tfp_complete_log_density(&cov, shocks.disaster, &held, &shocks.tfp);
    Step { shocks, log_weight: log_density, log_lik: levels_held + seen.crude.held + complete, scored }
}

/// Year t of the particles `first..first + chunk.len()`, in one batch.
fn advance(
    model: &Model,
    seed: u64,
    t: i32,
    first: usize,
    chunk: &[Particle],
    batch: &mut Batch,
    out: &mut Vec<f64>,
) -> Vec<Result<Step, ModelError>> {
    let idx: Vec<usize> = (first..first + chunk.len()).collect();
    let plans: Vec<Plan<'_>> = chunk
        .iter()
        .zip(&idx)
        .map(|(p, &j)| Plan {
            inputs: &p.inputs,
            shocks: &p.shocks,
            later: Some(ShockSource { seed, purposes: year_purposes(t), number: j as u64 }),
            stop: t,
        })
        .collect();
    let seen = run_plans(model, seed, &idx, &plans, t, false, None, batch, out);
    let condition_purpose = purpose(&format!("history.{t}.condition"));
    seen.into_iter()
        .zip(chunk)
        .zip(&plans)
        .zip(&idx)
        .map(|(((s, p), plan), &j)| match s {
            Some(s) => Ok(finish_step(model, seed, condition_purpose, j, t, p, s)),
            None => {
                // The failing draw's own error.
                let (mut ws, mut row) = (Workspace::new(model), vec![0.0; model.layout.len()]);
                let streams = Streams::of(seed, j as u64);
                Err(engine::simulate_planned(model, &streams, plan, &mut ws, &mut row, |_| {})
                    .err()
                    .unwrap_or(ModelError::Cancelled))
            }
        })
        .collect()
}

/// Systematic resampling: `m` ancestors from normalised weights `w` with one uniform `u`.
pub fn systematic(w: &[f64], m: usize, u: f64) -> Vec<u32> {
    let mut out = Vec::with_capacity(m);
    let (mut acc, mut j) = (w[0], 0);
    for k in 0..m {
        let pos = (u + k as f64) / m as f64;
        while pos > acc && j + 1 < w.len() {
            j += 1;
            acc += w[j];
        }
        out.push(j as u32);
    }
    out
}

/// Kish's effective sample size and the heaviest 1 %'s share of normalised weights.
fn ess_and_top(w: &[f64]) -> (f64, f64) {
    let ess = 1.0 / w.iter().map(|x| x * x).sum::<f64>();
    let mut sorted = w.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let top = sorted[..w.len().div_ceil(100)].iter().sum();
    (ess, top)
}

/// The quantities a move proposes: the uncertain parameters the data can inform (in
/// [`PARAMS`] order) and, when σ_m0 > 0, each city's migration offset.
fn moved_params(model: &Model) -> Vec<usize> {
    (0..N_PARAMS)
        .filter(|&k| {
            let v = &model.params[k].value;
            !SHOCK_LAWS.contains(&PARAMS[k].name) && v.log_density(v.central()).is_some()
        })
        .collect()
}

/// The log prior of a particle's moved quantities (up to a constant).
fn log_prior(model: &Model, moved: &[usize], inputs: &DrawInputs) -> f64 {
    let v = inputs.params.values();
    let mut lp: f64 = moved.iter().map(|&k| model.params[k].value.log_density(v[k]).unwrap_or(0.0)).sum();
    let sd = inputs.params.migration_offset_sd;
    if sd > 0.0 {
        lp += inputs.offsets.iter().map(|o| -0.5 * (o / sd).powi(2)).sum::<f64>();
    }
    lp
}

/// One Metropolis–Hastings sweep of the particles `first..first + chunk.len()` (random walk with
/// per-quantity `scales`: the parameters of `moved`, then the offsets), their replays in one
/// batch, targeting the year `temper` names at its temperature (none: every year whole);
/// returns how many moved.
#[allow(clippy::too_many_arguments)]
fn move_chunk(
    model: &Model,
    seed: u64,
    tag: u64,
    temper: Option<(i32, f64)>,
    moved: &[usize],
    scales: &nalgebra::DMatrix<f64>,
    first: usize,
    chunk: &mut [Particle],
    batch: &mut Batch,
    out: &mut Vec<f64>,
) -> usize {
    let idx: Vec<usize> = (first..first + chunk.len()).collect();
    let mut proposals = Vec::with_capacity(chunk.len());
    let mut uniforms = Vec::with_capacity(chunk.len());
    for (p, &j) in chunk.iter().zip(&idx) {
        let mut r = stream(seed, tag, j as u64);
        let mut proposal = p.inputs.clone();
        let step = scales * nalgebra::DVector::from_fn(scales.nrows(), |_, _| normal(&mut r));
        let mut v = proposal.params.values();
        for (k, &m) in moved.iter().enumerate() {
            v[m] += step[k];
        }
        proposal.params = Params::from_values(&v);
        if proposal.params.migration_offset_sd > 0.0 {
            for (k, o) in proposal.offsets.iter_mut().enumerate() {
                *o += step[moved.len() + k];
            }
        }
        uniforms.push(r.random::<f64>());
        proposals.push(proposal);
    }
    // A proposal outside the prior's support is rejected without a run.
    let priors: Vec<f64> = proposals.iter().map(|q| log_prior(model, moved, q)).collect();
    let live: Vec<usize> = (0..chunk.len()).filter(|&d| priors[d].is_finite()).collect();
    if live.is_empty() {
        return 0;
    }
    let stop = model.base_year + chunk[0].shocks.len() as i32;
    let plans: Vec<Plan<'_>> = live
        .iter()
        .map(|&d| Plan { inputs: &proposals[d], shocks: &chunk[d].shocks, later: None, stop })
        .collect();
    let live_idx: Vec<usize> = live.iter().map(|&d| idx[d]).collect();
    let seen = run_plans(model, seed, &live_idx, &plans, stop, true, temper, batch, out);
    drop(plans);
    let mut accepted = 0;
    for (&d, s) in live.iter().zip(seen) {
        let Some(s) = s else { continue };
        let p = &mut chunk[d];
        let ratio = s.log_lik - p.log_lik + priors[d] - log_prior(model, moved, &p.inputs);
        if uniforms[d].ln() < ratio {
            p.inputs = std::mem::take(&mut proposals[d]);
            p.log_lik = s.log_lik;
            if temper.is_some_and(|(_, alpha)| alpha < 1.0) {
                p.marginal = s.marginal;
            }
            accepted += 1;
        }
    }
    accepted
}

/// The moved quantities of a particle (parameters of `moved`, then the offsets).
fn moved_values(moved: &[usize], p: &Particle) -> Vec<f64> {
    let v = p.inputs.params.values();
    moved.iter().map(|&m| v[m]).chain(p.inputs.offsets.iter().copied()).collect()
}

/// 5 %, 50 %, 95 % of values (type 7).
fn quantiles3(mut x: Vec<f64>) -> [f64; 3] {
    crate::stats::quantile::quantiles_type7(&mut x, &[0.05, 0.5, 0.95])
}

/// Run the history pass of a history-mode model (docs/MODEL.md §12.3) on the current rayon
/// pool; `cancelled` is asked between years.
pub fn condition(
    model: &Model,
    seed: u64,
    settings: &HistorySettings,
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<Conditioned, Error> {
    let until = model.conditioning().map_or(model.base_year, |f| f.until);
    let m = settings.pool;
    let buffers = Buffers::new();
    // The pool: draw j's inputs.
    let sampled: Vec<Result<DrawInputs, ModelError>> = (0..m)
        .into_par_iter()
        .map(|j| {
            let mut inputs = DrawInputs::new(model);
            let mut diag = crate::diagnostics::Diagnostics::default();
            inputs::sample(model, &mut Streams::of(seed, j as u64), Mode::Stochastic, &mut inputs, &mut diag)
                .map(|()| inputs)
        })
        .collect();
    let mut particles = Vec::with_capacity(m);
    for s in sampled {
        particles.push(Particle { inputs: s?, shocks: Vec::new(), log_lik: 0.0, marginal: 0.0 });
    }
    let moved = moved_params(model);
    let names: Vec<String> = moved
        .iter()
        .map(|&k| PARAMS[k].name.to_string())
        .chain(model.city_ids.iter().map(|c| format!("migration_offset.{c}")))
        .collect();
    let prior: Vec<[f64; 3]> = (0..names.len())
        .map(|q| quantiles3(particles.iter().map(|p| moved_values(&moved, p)[q]).collect()))
        .collect();
    let mut log_w = vec![0.0; m];
    let mut years = Vec::new();
    for t in model.base_year + 1..=until {
        if cancelled() {
            return Err(Error::Model(ModelError::Cancelled));
        }
        let steps: Vec<Result<Step, ModelError>> = particles
            .par_chunks(BATCH)
            .enumerate()
            .map(|(c, chunk)| {
                buffers.with(model, |batch, out| advance(model, seed, t, c * BATCH, chunk, batch, out))
            })
            .flatten_iter()
            .collect();
        let mut failed = None;
        let mut scored = 0;
        for (j, (s, p)) in steps.into_iter().zip(particles.iter_mut()).enumerate() {
            match s {
                Ok(s) => {
                    p.shocks.push(s.shocks);
                    // The year enters at temperature 0: its complete data less its marginal.
                    p.log_lik += s.log_lik - s.log_weight;
                    p.marginal = s.log_weight;
                    scored = s.scored;
                }
                Err(e) => keep_lowest(&mut failed, j, e),
            }
        }
        if let Some((_, e)) = failed {
            return Err(Error::Model(e));
        }
        // Adaptive tempering (Del Moral, Doucet & Jasra 2012; Jasra et al. 2011): when the year's
        // likelihood at once would leave fewer than `temper_below`·M effective particles, bring
        // it in by stages α_1 < α_2 < … < 1, each to that target, with a resampling and move
        // sweeps aimed at the stage's tempered posterior in between.
        let target = settings.temper_below * m as f64;
        let ess_with = |log_w: &[f64], particles: &[Particle], step: f64| {
            let l: Vec<f64> = log_w.iter().zip(particles).map(|(w, p)| w + step * p.marginal).collect();
            ess_and_top(&normalised(&l)).0
        };
        let ess_at_once = ess_with(&log_w, &particles, 1.0);
        let (mut alpha, mut stages, mut log_evidence) = (0.0f64, 0usize, 0.0);
        let (mut stage_moves, mut stage_accepted) = (0usize, 0usize);
        loop {
            let next = if stages >= settings.max_stages || ess_with(&log_w, &particles, 1.0 - alpha) >= target
            {
                1.0
            } else {
                // The largest step whose weights keep the target (ESS falls as the step grows).
                let (mut lo, mut hi) = (0.0, 1.0 - alpha);
                for _ in 0..60 {
                    let mid = 0.5 * (lo + hi);
                    if ess_with(&log_w, &particles, mid) >= target { lo = mid } else { hi = mid }
                }
                alpha + lo.max(1e-9 * (1.0 - alpha))
            };
            let step = next - alpha;
            // The stage's evidence: ln Σ_j W_j e^(step·ℓ_j), W the normalised weights before it.
            let w = normalised(&log_w);
            let top = particles.iter().map(|p| step * p.marginal).fold(f64::NEG_INFINITY, f64::max);
            log_evidence += top
                + w.iter()
                    .zip(&particles)
                    .map(|(w, p)| w * (step * p.marginal - top).exp())
                    .sum::<f64>()
                    .ln();
            for (lw, p) in log_w.iter_mut().zip(particles.iter_mut()) {
                *lw += step * p.marginal;
                p.log_lik += step * p.marginal;
            }
            alpha = next;
            if alpha >= 1.0 {
                break;
            }
            stages += 1;
            let u: f64 = stream(seed, purpose(&format!("history.{t}.temper.{stages}.resample")), 0).random();
            particles = select(particles, &systematic(&normalised(&log_w), m, u));
            log_w.fill(0.0);
            let (accepted, _) = rejuvenate(
                model,
                seed,
                t,
                Some((stages, alpha)),
                &moved,
                settings.sweeps,
                &mut particles,
                &buffers,
            )?;
            stage_moves += settings.sweeps;
            stage_accepted += accepted;
        }
        let w = normalised(&log_w);
        let (ess, top1) = ess_and_top(&w);
        let last = t == until;
        let resample = ess < settings.resample_below * m as f64 || last;
        let mut report = YearReport {
            year: t,
            observed: scored,
            ess,
            ess_at_once,
            stages,
            top1_share: top1,
            resampled: resample,
            moves: stage_moves,
            acceptance: stage_accepted as f64 / (stage_moves * m).max(1) as f64,
            distinct: m,
            log_evidence,
        };
        if resample {
            let u: f64 = stream(seed, purpose(&format!("history.{t}.resample")), 0).random();
            let ancestors = systematic(&w, m, u);
            particles = select(particles, &ancestors);
            log_w.fill(0.0);
            let sweeps = if last { settings.final_sweeps } else { settings.sweeps };
            let (accepted, distinct) =
                rejuvenate(model, seed, t, None, &moved, sweeps, &mut particles, &buffers)?;
            report.acceptance =
                (accepted + stage_accepted) as f64 / ((sweeps + stage_moves) * m).max(1) as f64;
            report.moves += sweeps;
            report.distinct = distinct;
        } else {
            report.distinct = distinct_count(&moved, &particles);
        }
        years.push(report);
    }
    let prices = price_block(model, seed, &mut particles);
    let posterior: Vec<ParamPosterior> = names
        .into_iter()
        .enumerate()
        .map(|(q, name)| ParamPosterior {
            name,
            prior: prior[q],
            posterior: quantiles3(particles.iter().map(|p| moved_values(&moved, p)[q]).collect()),
        })
        .collect();
    let mut warnings = Vec::new();
    if let Some(last) = years.last()
        && (last.distinct as f64) < settings.floor * m as f64
    {
        warnings.push(format!(
            "history: after the move steps only {} of the pool's {m} draws are distinct (floor {:.0}): the observations are hard for the model to reproduce; the bands rest on few distinct histories",
            last.distinct,
            settings.floor * m as f64
        ));
    }
    for y in &years {
        if y.ess_at_once < 0.01 * m as f64 {
            warnings.push(format!(
                "history: in {} the year's observations at once would leave an effective sample size of {:.1} of {m}{}: they are far from what the model expects",
                y.year,
                y.ess_at_once,
                match y.stages {
                    0 => String::new(),
                    1 => " (brought in by tempering, 1 stage)".to_string(),
                    k => format!(" (brought in by tempering, {k} stages)"),
                }
            ));
        }
    }
    // A year whose deflators the price shock can only meet far out in its tails (§12.1b).
    for &(t, mean) in prices.iter().flat_map(|b| &b.mean_shocks) {
        if mean.abs() > 4.0 {
            warnings.push(format!(
                "history: the GDP deflators observed for {t} put the year's price shock at {mean:.1} sd on average: the published nominal GDP and real growth are far from what the model expects"
            ));
        }
    }
    // Output draw k takes particle order[k mod m]: a seeded permutation (Fisher–Yates).
    let mut order: Vec<u32> = (0..m as u32).collect();
    let mut r = stream(seed, purpose("history.order"), 0);
    for k in (1..m).rev() {
        let j = r.random_range(0..=k);
        order.swap(k, j);
    }
    let births = births_level(model, &particles);
    Ok(Conditioned { until, particles, order, years, posterior, warnings, prices, births })
}

/// The move step after resampling at year t: `sweeps` Metropolis–Hastings sweeps of every
/// particle, the random walk's scale per quantity 2.38/√d times its spread across the pool
/// (Roberts & Rosenthal 2001); returns the proposals accepted and the distinct particles.
#[allow(clippy::too_many_arguments)]
fn rejuvenate(
    model: &Model,
    seed: u64,
    t: i32,
    stage: Option<(usize, f64)>,
    moved: &[usize],
    sweeps: usize,
    particles: &mut [Particle],
    buffers: &Buffers,
) -> Result<(usize, usize), Error> {
    let mut accepted = 0;
    let d = (moved.len() + model.n) as f64;
    for s in 0..sweeps {
        // The random walk's covariance: (2.38²/d) times the pool's (Roberts & Rosenthal 2001;
        // Chopin 2002 scales the kernel by the particles'), a little added on the diagonal.
        let values: Vec<Vec<f64>> = particles.iter().map(|p| moved_values(moved, p)).collect();
        let q = values[0].len();
        let n = values.len() as f64;
        let mean: Vec<f64> = (0..q).map(|k| values.iter().map(|v| v[k]).sum::<f64>() / n).collect();
        let mut cov = nalgebra::DMatrix::<f64>::zeros(q, q);
        for v in &values {
            for a in 0..q {
                for b in 0..=a {
                    cov[(a, b)] += (v[a] - mean[a]) * (v[b] - mean[b]) / n;
                }
            }
        }
        for a in 0..q {
            for b in 0..a {
                cov[(b, a)] = cov[(a, b)];
            }
            let floor = (1e-3 * mean[a].abs().max(1e-3)).powi(2);
            cov[(a, a)] += 1e-6 * cov[(a, a)] + 1e-4 * floor;
        }
        cov *= 2.38 * 2.38 / d;
        let scales = cov
            .clone()
            .cholesky()
            .map(|c| c.l())
            .unwrap_or_else(|| nalgebra::DMatrix::from_diagonal(&cov.diagonal().map(f64::sqrt)));
        let tag = match stage {
            None => purpose(&format!("history.{t}.move.{s}")),
            Some((k, _)) => purpose(&format!("history.{t}.temper.{k}.move.{s}")),
        };
        let temper = stage.map(|(_, alpha)| (t, alpha));
        let moved_now: usize = particles
            .par_chunks_mut(BATCH)
            .enumerate()
            .map(|(c, chunk)| {
                buffers.with(model, |batch, out| {
                    move_chunk(model, seed, tag, temper, moved, &scales, c * BATCH, chunk, batch, out)
                })
            })
            .sum();
        accepted += moved_now;
    }
    Ok((accepted, distinct_count(moved, particles)))
}

/// The pool's median factor e^f(t) of the births' persistent part (§12.4) in each observed
/// year, f(t) = φ_f·f(t − 1) + σ_f·ω(t) from each particle's parameters and recorded ω; empty
/// when no particle has one.
fn births_level(model: &Model, particles: &[Particle]) -> Vec<(i32, f64)> {
    if particles.iter().all(|p| p.inputs.params.fertility_shock_sd == 0.0) {
        return Vec::new();
    }
    let years = particles.first().map_or(0, |p| p.shocks.len());
    let mut f = vec![0.0; particles.len()];
    (0..years)
        .map(|k| {
            let mut level: Vec<f64> = particles
                .iter()
                .zip(f.iter_mut())
                .map(|(p, f)| {
                    *f = crate::model::demography::fertility(&p.inputs.params, *f, p.shocks[k].fertility);
                    f.exp()
                })
                .collect();
            level.sort_by(f64::total_cmp);
            (model.base_year + 1 + k as i32, level[level.len() / 2])
        })
        .collect()
}

/// Normalised weights from log-weights.
fn normalised(log_w: &[f64]) -> Vec<f64> {
    let top = log_w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut w: Vec<f64> = log_w.iter().map(|l| (l - top).exp()).collect();
    let total: f64 = w.iter().sum();
    w.iter_mut().for_each(|x| *x /= total);
    w
}

/// The particles of `ancestors`, in order: clones made in parallel (each a pure copy, so the
/// pool is the same whatever the threads), the old pool dropped in parallel as well.
fn select(particles: Vec<Particle>, ancestors: &[u32]) -> Vec<Particle> {
    let out = ancestors.par_iter().map(|&a| particles[a as usize].clone()).collect();
    particles.into_par_iter().for_each(drop);
    out
}

/// How many particles of the pool differ in their moved quantities.
fn distinct_count(moved: &[usize], particles: &[Particle]) -> usize {
    let mut keys: Vec<Vec<u64>> =
        particles.iter().map(|p| moved_values(moved, p).iter().map(|x| x.to_bits()).collect()).collect();
    keys.sort();
    keys.dedup();
    keys.len()
}

/// The inputs output draw `k` of a conditioned model takes: its particle's, with the levers'
/// quantities of draw k's own streams (the history does not inform them, and each draw keeps
/// its own, as without history).
pub fn planned_inputs(
    model: &Model,
    c: &Arc<Conditioned>,
    seed: u64,
    k: u64,
) -> Result<DrawInputs, ModelError> {
    let mut inputs = c.particle(k).inputs.clone();
    inputs::sample_levers(model, &mut Streams::of(seed, k), Mode::Stochastic, &mut inputs)?;
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::condition::{normal_log_pdf, simpson};
    use crate::region::Region;
    use crate::scenario::Scenario;

    fn conditioned_baseline() -> Model {
        let region = Region::embedded();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        // The baseline is conditioned, with persistent migration and TFP parts.
        let text = std::fs::read_to_string(dir.join("scenarios/baseline.toml")).unwrap();
        assert!(text.contains("condition = true") && text.contains("migration_drift_sd"));
        let scenario = Scenario::parse("baseline.toml", &text, &region).unwrap();
        Model::new(&region, &scenario).unwrap()
    }

    #[test]
    fn systematic_resampling_keeps_each_weight_s_share() {
        let a = systematic(&[0.1, 0.2, 0.7], 10, 0.5);
        let count = |j| a.iter().filter(|&&x| x == j).count();
        assert_eq!((count(0), count(1), count(2)), (1, 2, 7));
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn births_ahead_are_the_next_year_s_births_without_its_innovation() {
        // The proposal of ω (docs/MODEL.md §12.4) predicts year t's births from the state at
        // t − 1: B_i(t) = births_ahead_i·e^(σ_f·ω(t)) for every city and year of a draw (no
        // lever in the baseline), so a scored year's proposal is ω's posterior.
        struct Check<'a> {
            model: &'a Model,
            ahead: Vec<Vec<f64>>,
            checked: &'a std::cell::Cell<usize>,
        }
        impl engine::Observer for Check<'_> {
            fn observe(&mut self, _: usize, v: engine::YearView<'_>) {
                let sd = v.params().fertility_shock_sd;
                let ahead = &self.ahead[(v.year - self.model.base_year - 1) as usize];
                for (i, a) in ahead.iter().enumerate() {
                    let births = v.flows(i).0;
                    let want = a * (sd * v.shocks().fertility).exp();
                    assert!((births - want).abs() < 1e-12 * births, "{} {i}: {births} vs {want}", v.year);
                    self.checked.set(self.checked.get() + 1);
                }
            }
            fn propose(&mut self, _: usize, v: &engine::YearView<'_>, fresh: bool) -> Option<f64> {
                assert!(fresh);
                self.ahead.push((0..v.n()).map(|i| v.births_ahead(self.model, i)).collect());
                None
            }
        }
        let model = conditioned_baseline();
        let mut inputs = DrawInputs::new(&model);
        let mut diag = crate::diagnostics::Diagnostics::default();
        inputs::sample(&model, &mut Streams::of(5, 3), Mode::Stochastic, &mut inputs, &mut diag).unwrap();
        assert!(inputs.params.fertility_shock_sd > 0.0);
        let plan = Plan { inputs: &inputs, shocks: &[], later: None, stop: model.horizon };
        let (mut batch, mut out) = (Batch::new(&model), vec![0.0; model.layout.len()]);
        let checked = std::cell::Cell::new(0);
        let check = Check { model: &model, ahead: Vec::new(), checked: &checked };
        engine::simulate_batch_planned_observed(
            &model,
            &[Streams::of(5, 3)],
            &[plan],
            &mut batch,
            &mut out,
            check,
        )
        .unwrap();
        assert_eq!(checked.get(), model.n * (model.horizon - model.base_year) as usize);
    }

    #[test]
    fn each_particle_s_log_likelihood_is_its_replay_s() {
        // The complete-data log-likelihood a particle carries, built year by year as the pass
        // conditions it (and by the moves that accepted), is the one a replay of its observed
        // years computes afresh.
        // The same when every year is tempered by several stages, whose moves carry the tempered
        // likelihood and the year's marginal (a slip in either would show at the end).
        let model = conditioned_baseline();
        let plain = HistorySettings { pool: 64, ..HistorySettings::for_draws(64) };
        let tempered = HistorySettings { temper_below: 0.9, ..plain.clone() };
        for settings in [plain, tempered] {
            let c = condition(&model, 7, &settings, &|| false).unwrap();
            assert_eq!(c.particles.len(), 64);
            assert_eq!(c.years.len(), 6);
            let stages: usize = c.years.iter().map(|y| y.stages).sum();
            assert_eq!(stages > 5, settings.temper_below > 0.5, "{stages} stages");
            let (mut batch, mut out) = (Batch::new(&model), Vec::new());
            for (j, p) in c.particles.iter().enumerate() {
                assert_eq!(p.shocks.len(), 6);
                let stop = model.base_year + 6;
                let plan = Plan { inputs: &p.inputs, shocks: &p.shocks, later: None, stop };
                let seen = run_plans(&model, 7, &[j], &[plan], stop, true, None, &mut batch, &mut out);
                let replayed = seen[0].as_ref().unwrap().log_lik;
                assert!(
                    (replayed - p.log_lik).abs() < 1e-8 * p.log_lik.abs().max(1.0),
                    "{j}: {replayed} vs {}",
                    p.log_lik
                );
            }
        }
        // Every output draw takes a particle; the order is a permutation of the pool.
        let c =
            condition(&model, 7, &HistorySettings { pool: 64, ..HistorySettings::for_draws(64) }, &|| false)
                .unwrap();
        let mut order = c.order.clone();
        order.sort_unstable();
        assert!(order.iter().enumerate().all(|(k, &j)| j as usize == k));
    }

    #[test]
    fn the_births_weight_is_their_marginal_when_the_proposal_is_their_posterior() {
        // docs/MODEL.md §12.4: a year's birth rates y_c = ln r_c^obs − ln r_c(ω = 0) = σ_f·ω + u_c,
        // u_c ~ N(0, v_c); ω is drawn from a proposal q and the weight is p(y | ω)·N(ω; 0, 1)/q(ω).
        // When q is ω's posterior the weight is p(y) whatever ω was drawn: here against the
        // integral over ω by Simpson's rule.
        let (sd, obs) = (0.1, [(-0.25, 0.004), (-0.31, 0.006)]);
        let held = |omega: f64| -> f64 {
            obs.iter()
                .map(|&(y, v): &(f64, f64)| {
                    let r = y - sd * omega;
                    -0.5 * (std::f64::consts::TAU * v).ln() - 0.5 * r * r / v
                })
                .sum()
        };
        let integral = simpson(|omega| (held(omega) + normal_log_pdf(omega, 1.0)).exp(), -12.0, 12.0, 4000);
        let e = condition::one_factor(sd, obs);
        assert!((e.log_density - integral.ln()).abs() < 1e-9, "{} {}", e.log_density, integral.ln());
        for omega in [-3.0, -1.2, 0.0, 0.4, 2.5] {
            let c =
                Crude { held: held(omega), births: true, count: 2, omega, proposal: Some((e.mean, e.sd)) };
            assert!((c.marginal() - e.log_density).abs() < 1e-12, "ω = {omega}: {}", c.marginal());
        }
        // With another proposal the weight varies with ω; its mean under the proposal is p(y).
        let q = (e.mean + 0.3, 1.5 * e.sd);
        let c = |omega: f64| Crude { held: held(omega), births: true, count: 2, omega, proposal: Some(q) };
        assert!((c(q.0).marginal() - c(q.0 + q.1).marginal()).abs() > 0.01);
        let under_q = |omega: f64| c(omega).marginal() + normal_log_pdf((omega - q.0) / q.1, 1.0) - q.1.ln();
        let mean = simpson(|omega| under_q(omega).exp(), -12.0, 12.0, 4000);
        assert!((mean.ln() - e.log_density).abs() < 1e-9, "{} {}", mean.ln(), e.log_density);
    }

    #[test]
    fn the_price_block_draws_the_mean_deflator_from_its_posterior() {
        // π̄'s posterior given the embedded deflators (2020–2023), by quadrature on its uniform
        // prior [0.5 %, 3 %]: the pool's 5, 50 and 95 % quantiles after the price block match
        // it within their sampling error (pool 2 000); each year's ε_π is its posterior's draw.
        let model = conditioned_baseline();
        let settings = HistorySettings::for_draws(2_000);
        let c = condition(&model, 11, &settings, &|| false).unwrap();
        let b = c.prices.expect("deflators are observed");
        assert_eq!(b.deflators, 11);
        assert!(b.acceptance > 0.3, "{b:?}");
        let h = model.history.as_ref().unwrap();
        let years: Vec<Vec<(f64, f64)>> = (2020..=2023)
            .map(|t| h.deflators.iter().filter(|d| d.year == t).map(|d| (d.value, d.sd * d.sd)).collect())
            .collect();
        let (lo, hi, n) = (0.005, 0.03, 20_000);
        let grid: Vec<(f64, f64)> = (0..n)
            .map(|k| {
                let pi = lo + (hi - lo) * (k as f64 + 0.5) / n as f64;
                let l: f64 =
                    years.iter().map(|d| condition::deflator_evidence(pi, 0.01, d).log_density).sum();
                (pi, l)
            })
            .collect();
        let top = grid.iter().map(|g| g.1).fold(f64::NEG_INFINITY, f64::max);
        let total: f64 = grid.iter().map(|g| (g.1 - top).exp()).sum();
        let quantile = |q: f64| {
            let mut acc = 0.0;
            grid.iter()
                .find(|g| {
                    acc += (g.1 - top).exp() / total;
                    acc >= q
                })
                .unwrap()
                .0
        };
        let mut pool: Vec<f64> = c.particles.iter().map(|p| p.inputs.params.inflation_mean).collect();
        pool.sort_by(f64::total_cmp);
        for q in [0.05, 0.5, 0.95] {
            let got = pool[(q * (pool.len() - 1) as f64).round() as usize];
            assert!((got - quantile(q)).abs() < 0.0012, "{q}: pool {got}, posterior {}", quantile(q));
        }
        // Against the prior's own quantiles (0.625 %, 1.75 %, 2.875 %): the data moved them.
        assert!(quantile(0.5) < 0.0165, "{}", quantile(0.5));
        // ε_π of 2022 given π̄: its posterior mean is what the pool's values average to.
        let k = (2022 - model.base_year - 1) as usize;
        let mean_gap: f64 = c
            .particles
            .iter()
            .map(|p| {
                let e = condition::deflator_evidence(p.inputs.params.inflation_mean, 0.01, &years[2]);
                (p.shocks[k].inflation - e.mean) / e.sd
            })
            .sum::<f64>()
            / c.particles.len() as f64;
        assert!(mean_gap.abs() < 0.1, "{mean_gap}");
    }
}
