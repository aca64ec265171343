//! The year step and the calibration pass, batched: each phase runs one part of MODEL.md §0's
//! order over every city of every draw of a batch, and the logarithms or exponentials between
//! two phases are taken in one batch of lanes holding every draw's arguments ([`Joined`]).
//!
//! The cities are independent within a year (every coupling uses year t − 1), so a phase may run
//! over all cities before the next; each value is the equation's ([`crate::model`]'s topic
//! files), called with the same arguments in the same order as [`crate::model::reference`]
//! calls it: the same bits, whatever the batch. Where the reference takes `ln` or `exp` inside
//! an equation, the phase before computes the argument with the equation's own first part and
//! the phase after finishes it with its last part.

use super::{Pending, Workspace, fused, kernels};
use crate::arith;
use crate::diagnostics::{Diag, Diagnostics};
use crate::isa::Isa;
use crate::model::levers::{self, CityEffects};
use crate::model::output::{self, Aggregates};
use crate::model::{Model, capital, demography, history, labour, migration, tfp, urbanization};

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

/// The batched logarithms and exponentials of a year step, for the draws of a batch together.
#[derive(Debug, Clone, Default)]
pub struct Joined {
    /// ln(w_i/w̄) of year t − 1 per city, then the logits of their urbanization (2n).
    wage: Lane,
    /// e^(−logit v*) of the urbanization's sigmoid (n); the calibration pass: ln of v*'s odds.
    urban: Lane,
    /// ln K_s and ln L_s (6n).
    factors: Lane,
    /// Output by sector (3n).
    output: Lane,
    /// The calibration pass: the logs of γ_i0's ratios (n).
    gamma: Lane,
}

impl Joined {
    /// Lanes for up to `draws` draws of `n` cities.
    pub fn new(n: usize, draws: usize) -> Joined {
        Joined {
            wage: Lane::new(2 * n, draws),
            urban: Lane::new(n, draws),
            factors: Lane::new(6 * n, draws),
            output: Lane::new(3 * n, draws),
            gamma: Lane::new(n, draws),
        }
    }
}

/// Year t of every city of every live draw (MODEL.md §0 steps 2–9; each draw's shocks of the
/// year are drawn).
#[inline(always)]
pub fn step(model: &Model, wss: &mut [Workspace], live: &[bool], j: &mut Joined, t: i32) {
    let (isa, k) = (wss[0].isa, wss.len());
    each_live!(wss, live, |d, ws| begin(model, ws, t, j.wage.args(d)));
    j.wage.ln(isa, k);
    each_live!(wss, live, |d, ws| demography_and_migration(model, ws, t, j.wage.vals(d)));
    each_live!(wss, live, |d, ws| urbanization_args(model, ws, t, j.wage.vals(d), j.urban.args(d)));
    j.urban.exp(isa, k);
    each_live!(wss, live, |d, ws| factors(model, ws, t, j.urban.vals(d), j.wage.vals(d), j.factors.args(d)));
    j.factors.ln(isa, k);
    each_live!(wss, live, |d, ws| output_args(ws, j.factors.vals(d), j.output.args(d)));
    j.output.exp(isa, k);
    each_live!(wss, live, |d, ws| end(model, ws, t, j.output.vals(d)));
}

/// The calibration pass (MODEL.md §0; [`crate::model::reference::calibrate`]) of every live
/// draw: year b+1 from the base state with the draw's parameters, no shocks, levers off,
/// infrastructure frozen; m_i0, r_i0 and γ_i0 solved where each is first used. Its clamps and
/// caps are not counted; the cities' state it leaves is the draw's to reset.
#[inline(always)]
pub fn calibrate(model: &Model, wss: &mut [Workspace], live: &[bool], j: &mut Joined) {
    let (isa, k, t) = (wss[0].isa, wss.len(), model.base_year + 1);
    each_live!(wss, live, |d, ws| calibration_args(model, ws, j.wage.args(d)));
    j.wage.ln(isa, k);
    each_live!(wss, live, |d, ws| calibration_demography(model, ws, t, j.wage.vals(d), j.urban.args(d)));
    j.urban.ln(isa, k);
    each_live!(wss, live, |d, ws| calibration_factors(
        model,
        ws,
        t,
        j.wage.vals(d),
        j.urban.vals(d),
        j.factors.args(d)
    ));
    j.factors.ln(isa, k);
    each_live!(wss, live, |d, ws| calibration_output_args(ws, j.factors.vals(d), j.output.args(d)));
    j.output.exp(isa, k);
    each_live!(wss, live, |d, _| calibration_ratios(model, j.output.vals(d), j.gamma.args(d)));
    j.gamma.ln(isa, k);
    each_live!(wss, live, |d, ws| ws.calibration.gamma0.copy_from_slice(j.gamma.vals(d)));
}

/// Year t's first phase: the regional aggregates of year t − 1, the projects' direct effects
/// and the levers' effects of year t; then the arguments of ln(w_i/w̄) and of the logits of
/// year t − 1's urbanization (`args`: the first n and the next n).
#[inline(always)]
fn begin(model: &Model, ws: &mut Workspace, t: i32, args: &mut [f64]) {
    ws.aggregates = Aggregates::of(&ws.cities, ws.access.row(model, t));
    ws.gains.fill([0.0; 3]);
    tfp::project_gains(model, &ws.inputs.open, &ws.inputs.tfp_sizes, t, &mut ws.gains);
    if model.forced_in(t).is_some() {
        ws.evidence.fill(super::Evidence::NONE);
    }
    if model.has_levers() {
        let (p, cities) = (&ws.inputs.params, &ws.cities);
        levers::prepare(model, &ws.inputs.levers, p.depreciation, t, cities, &mut ws.levers, &mut ws.effects);
    }
    prior_args(model, ws, args);
}

/// The arguments of ln(w_i/w̄) and of the logits of the cities' urbanization of the year before
/// (`args`: the first n and the next n), with the wage level of `ws.aggregates`.
#[inline(always)]
fn prior_args(model: &Model, ws: &mut Workspace, args: &mut [f64]) {
    let (n, p) = (model.n, &ws.inputs.params);
    for (i, c) in ws.cities.iter().enumerate() {
        args[i] = migration::wage_ratio(c.gdp, c.employment, ws.aggregates.wage);
        args[n + i] = urbanization::odds(p, c.urban, c.population, &mut ws.diag);
    }
}

/// The survival rates of year t of every schedule, unless they are already computed (the
/// calibration pass and the draw's first year share them): computed just before the survival
/// kernel reads them, so that in a batch the other draws' phases do not push them out of the
/// first-level cache in between.
#[inline(always)]
fn survival(model: &Model, ws: &mut Workspace, t: i32) {
    if ws.survival_year == Some(t) {
        return;
    }
    let improvement = ws.improvement[(t - model.base_year - 1) as usize];
    for (s, m) in ws.survival.iter_mut().zip(&model.mortality) {
        for g in 0..2 {
            let (rates, small, bounded) = (&m.rates[g], m.small[g], model.mortality_bounded);
            kernels::exp_scaled_neg(ws.isa, rates, bounded, small, improvement, &mut s.s[g]);
        }
    }
    // The cities' levels (§11.1b): derived from their base schedules.
    let (base, derived) = ws.survival.split_at_mut(model.mortality.len());
    for (s, &(j, level)) in derived.iter_mut().zip(&model.mortality_levels) {
        demography::scaled_survival(&base[j], level, s);
    }
    ws.survival_year = Some(t);
}

/// Year t's demography and migration (steps 2 and 3) of every city, the migrants added as the
/// cells are stored ([`fused::year`]); `logs`: ln(w_i/w̄) of year t − 1 (the first n).
#[inline(always)]
fn demography_and_migration(model: &Model, ws: &mut Workspace, t: i32, logs: &[f64]) {
    survival(model, ws, t);
    let decays = ws.decays(model, t);
    let (p, isa) = (&ws.inputs.params, ws.isa);
    let forced = model.forced_in(t);
    // The births' persistent part is the region's (one value, kept by each city): its factor
    // e^f once a year.
    let (fertility, factor) = match ws.cities.first() {
        Some(c) if p.fertility_shock_sd > 0.0 => {
            let f = demography::fertility(p, c.fertility, ws.shocks.fertility);
            (f, f.exp())
        }
        _ => (0.0, 1.0),
    };
    let cities = ws.cities.iter_mut().zip(&model.cities).zip(&ws.effects.cities);
    for (i, ((c, city), e)) in cities.enumerate() {
        c.fertility = fertility;
        let tfr = demography::tfr(p, city.tfr, decays.tfr, e);
        let tfr = if p.fertility_shock_sd > 0.0 { tfr * factor } else { tfr };
        let survival = &ws.survival[city.mortality];
        let drift_prev = c.migration_drift;
        c.migration_drift = migration::drift(p, drift_prev, ws.shocks.migration_drift[i]);
        let (natural, intended, spread) = match forced.and_then(|f| f.population(t, i)) {
            // An observed population: the residual migrants, known after the demography (§11.2).
            Some(observed) => {
                let natural =
                    fused::natural(isa, city, &mut c.cells, survival, tfr, &model.phi, &mut ws.scratch);
                let mu = city.migrant_sums.total;
                let n = history::migrants_to(observed, natural.population, mu);
                // What the draw predicted: the migration equation without the year's shocks,
                // the persistent part at its expectation φ_q·q(t − 1) (and at its value).
                let trend = migration::trend(ws.calibration.m0[i], ws.inputs.offsets[i], decays.migration);
                let wage = migration::wage_response(p, logs[i], city.rel_wage);
                let expected = migration::intended(
                    c.population,
                    trend + migration::drift(p, drift_prev, 0.0),
                    wage,
                    e,
                    0.0,
                );
                let actual = migration::intended(c.population, trend + c.migration_drift, wage, e, 0.0);
                ws.evidence[i].population = [(n - expected) * mu, (n - actual) * mu, c.population * mu];
                (natural, n, fused::spread(city, &mut c.cells, n, &mut ws.scratch))
            }
            None => {
                let intended = migration::intended(
                    c.population,
                    migration::trend(ws.calibration.m0[i], ws.inputs.offsets[i], decays.migration)
                        + c.migration_drift,
                    migration::wage_response(p, logs[i], city.rel_wage),
                    e,
                    migration::shock(p, c.population, ws.shocks.migration[i]),
                );
                let (natural, spread) = fused::year(
                    isa,
                    city,
                    &mut c.cells,
                    survival,
                    tfr,
                    &model.phi,
                    intended,
                    &mut ws.scratch,
                );
                (natural, intended, spread)
            }
        };
        count_spread(&spread, &mut ws.diag);
        ws.pending[i] = Pending {
            natural,
            intended,
            spread,
            population: natural.population + spread.realised,
            migrants_urban: urbanization::migrants_urban(p, spread.realised, c.urban / c.population),
        };
    }
}

/// Count what spreading the migrants bound.
#[inline(always)]
fn count_spread(spread: &migration::Spread, diag: &mut Diagnostics) {
    if spread.capped {
        diag.bump(Diag::MigrationCapBinding);
    }
    if spread.dropped > 0.0 {
        diag.bump(Diag::MigrationRemainderDropped);
    }
}

/// The arguments −logit v*_i(t) of the urbanization's sigmoid (step 4), from the logits of year
/// t − 1 (`logs[n..]`).
#[inline(always)]
fn urbanization_args(model: &Model, ws: &mut Workspace, t: i32, logs: &[f64], args: &mut [f64]) {
    let (n, p, k) = (model.n, &ws.inputs.params, t - model.base_year);
    for (i, c) in ws.cities.iter_mut().enumerate() {
        ws.zeta_pred[i] = urbanization::shock(p, c.urban_shock, 0.0);
        c.urban_shock = urbanization::shock(p, c.urban_shock, ws.shocks.urbanization[i]);
        let speed = urbanization::speed(p, ws.calibration.r0[i], k);
        args[i] = -urbanization::logit_target(p, logs[n + i], speed, c.growth_gap, c.urban_shock);
    }
}

/// Urbanization, labour, capital and TFP of year t (steps 4–8) of every city, from the
/// sigmoid's exponentials (`neg_exp`) and the logits of year t − 1 (`logs[n..]`); the arguments
/// of ln K_s and ln L_s (`args`, six per city).
#[inline(always)]
fn factors(model: &Model, ws: &mut Workspace, t: i32, neg_exp: &[f64], logs: &[f64], args: &mut [f64]) {
    let decays = ws.decays(model, t);
    let (p, access) = (&ws.inputs.params, ws.access.row(model, t));
    let (n, forced) = (model.n, model.forced_in(t));
    let cities = ws.cities.iter_mut().zip(&model.cities).zip(&mut ws.effects.cities);
    for (i, ((c, city), e)) in cities.enumerate() {
        let pd = ws.pending[i];
        let urban = match forced.and_then(|f| f.urbanization(t, i)) {
            // An observed rate: the shock that gives it (§11.2).
            Some(rate) => {
                let urban = rate * pd.population;
                let odds =
                    history::urban_odds(p, urban, pd.natural.population, pd.migrants_urban, &mut ws.diag);
                let speed = urbanization::speed(p, ws.calibration.r0[i], t - model.base_year);
                c.urban_shock = history::implied_shock(p, arith::ln(odds), logs[n + i], speed, c.growth_gap);
                // du/dζ at the observation: u_max·v*(1 − v*)·P_nat/P.
                let v = odds / (1.0 + odds);
                let slope = p.urbanization_ceiling * v * (1.0 - v) * pd.natural.population / pd.population;
                ws.evidence[i].urbanization =
                    [(c.urban_shock - ws.zeta_pred[i]) * slope, p.urbanization_shock_sd * slope];
                urban
            }
            None => urbanization::from_sigmoid(
                p,
                neg_exp[i],
                pd.natural.population,
                pd.migrants_urban,
                pd.population,
                &mut ws.diag,
            ),
        };
        // 5 labour
        let (working_age, old) = migration::age_groups(&pd.natural, pd.intended, &pd.spread, city, &c.cells);
        let employment = labour::employment(city.participation, e, working_age);
        labour::shift_shares(p, &mut c.employment_shares);
        let mut workers = labour::by_sector(&c.employment_shares, employment);
        labour::carve_out_parks(&mut workers, e, &mut ws.diag);
        // 6 capital
        let rate = capital::investment_rate(p, city.investment_rate, decays.investment, e);
        capital::accumulate(p, city, &mut c.capital, rate * c.gdp, e, &mut ws.diag);
        // 8 TFP
        let growth = tfp::growth(p, ws.calibration.gamma0[i], decays.tfp);
        let access_change = tfp::access_change(model, access[i], ws.aggregates.access_change);
        if forced.is_some_and(|f| f.growth(t, i).is_some()) {
            ws.evidence[i].tfp_drift_prev = c.tfp_drift;
        }
        c.tfp_drift = tfp::drift(p, c.tfp_drift, ws.shocks.tfp_drift[i]);
        let common =
            tfp::common_growth(p, growth, access_change, ws.shocks.tfp[i] + c.tfp_drift, ws.shocks.disaster);
        tfp::advance(&mut c.ln_tfp, common, &ws.gains[i], e);
        // 9 output, once the logs of every city's capital and labour are taken
        args[6 * i..6 * i + 3].copy_from_slice(&c.capital);
        args[6 * i + 3..6 * i + 6].copy_from_slice(&workers);
        c.population_prev = c.population;
        c.gdp_prev = c.gdp;
        c.population = pd.population;
        c.urban = urban;
        c.employment = employment;
        c.working_age = working_age;
        c.old = old;
        c.births = pd.natural.births;
        c.deaths = pd.natural.deaths;
        c.net_migration = pd.spread.realised;
    }
}

/// The arguments of output by sector, ln A_s + α·ln K_s + (1 − α)·ln L_s, from the logs of
/// [`factors`]'s arguments.
#[inline(always)]
fn output_args(ws: &Workspace, logs: &[f64], args: &mut [f64]) {
    let p = &ws.inputs.params;
    for (i, c) in ws.cities.iter().enumerate() {
        let logs = &logs[6 * i..6 * i + 6];
        for s in 0..3 {
            args[3 * i + s] = tfp::log_output(p, c.ln_tfp[s], logs[s], logs[3 + s]);
        }
    }
}

/// Year t's output (step 9) from the exponentials of [`output_args`], the parks' value added,
/// the price level and Δg_i(t).
#[inline(always)]
fn end(model: &Model, ws: &mut Workspace, t: i32, exp: &[f64]) {
    let forced = model.forced_in(t);
    for (i, (c, city)) in ws.cities.iter_mut().zip(&model.cities).enumerate() {
        let exp: &[f64; 3] = exp[3 * i..3 * i + 3].try_into().expect("three sectors");
        c.gdp = output::city_gdp(city, exp, &mut c.output);
        if let Some(growth) = forced.and_then(|f| f.growth(t, i)) {
            // The total shock that gives the observed growth: the draw's, times the factor.
            let factor = (1.0 + growth) * c.gdp_prev / c.gdp;
            ws.evidence[i].tfp_total = ws.shocks.tfp[i] + c.tfp_drift + ws.shocks.disaster + factor.ln();
            c.gdp = history::force_growth(growth, c.gdp_prev, c.gdp, &mut c.output, &mut c.ln_tfp);
        }
    }
    if !model.parks.is_empty() {
        let (parks, states, years) = (&ws.inputs.levers.parks, &mut ws.levers.parks, &mut ws.effects.parks);
        levers::parks::output(model, parks, t, states, years, &mut ws.cities, &mut ws.effects.cities);
    }
    ws.price = output::price(&ws.inputs.params, ws.price, ws.shocks.inflation);
    output::growth_gaps(model, &mut ws.cities);
}

/// The calibration pass's first phase: the arguments of ln(w_i(b)/w̄(b)) and of the logits of
/// the base urbanization.
#[inline(always)]
fn calibration_args(model: &Model, ws: &mut Workspace, args: &mut [f64]) {
    ws.aggregates = Aggregates::of(&ws.cities, ws.access.row(model, model.base_year + 1));
    // The pass's clamps are not counted: the draw's count starts after it.
    let counted = ws.diag;
    prior_args(model, ws, args);
    ws.diag = counted;
}

/// The calibration pass's demography and migration: m_i0 from the natural population, the
/// migrants it gives, and the arguments of ln v* (`args`).
#[inline(always)]
fn calibration_demography(model: &Model, ws: &mut Workspace, t: i32, logs: &[f64], args: &mut [f64]) {
    survival(model, ws, t);
    let decays = ws.decays(model, t);
    let (p, isa) = (&ws.inputs.params, ws.isa);
    let mut ignored = Diagnostics::default();
    for (i, (c, city)) in ws.cities.iter_mut().zip(&model.cities).enumerate() {
        let tfr = demography::tfr(p, city.tfr, decays.tfr, &CityEffects::OFF);
        let survival = &ws.survival[city.mortality];
        let natural = fused::natural(isa, city, &mut c.cells, survival, tfr, &model.phi, &mut ws.scratch);
        let m0 = migration::calibrated_rate(city, natural.population, decays.migration);
        ws.calibration.m0[i] = m0;
        let intended = migration::intended(
            c.population,
            migration::trend(m0, 0.0, decays.migration),
            migration::wage_response(p, logs[i], city.rel_wage),
            &CityEffects::OFF,
            0.0,
        );
        let spread = fused::spread(city, &mut c.cells, intended, &mut ws.scratch);
        let population = natural.population + spread.realised;
        let migrants_urban = urbanization::migrants_urban(p, spread.realised, c.urban / c.population);
        args[i] = urbanization::calibrated_odds(
            p,
            city,
            population,
            natural.population,
            migrants_urban,
            &mut ignored,
        );
        ws.pending[i] = Pending { natural, intended, spread, population, migrants_urban };
    }
}

/// The calibration pass's r_i0 (from ln v*'s odds, `v_star`, and the base logits, `logs[n..]`),
/// then its labour and capital of year b+1: the arguments of ln K_s and ln L_s (`args`).
#[inline(always)]
fn calibration_factors(
    model: &Model,
    ws: &mut Workspace,
    t: i32,
    logs: &[f64],
    v_star: &[f64],
    args: &mut [f64],
) {
    let (n, decays) = (model.n, ws.decays(model, t));
    let p = &ws.inputs.params;
    let mut ignored = Diagnostics::default();
    for (i, (c, city)) in ws.cities.iter_mut().zip(&model.cities).enumerate() {
        ws.calibration.r0[i] = v_star[i] - logs[n + i];
        let pd = ws.pending[i];
        let (working_age, _) = migration::age_groups(&pd.natural, pd.intended, &pd.spread, city, &c.cells);
        let employment = labour::employment(city.participation, &CityEffects::OFF, working_age);
        labour::shift_shares(p, &mut c.employment_shares);
        let workers = labour::by_sector(&c.employment_shares, employment);
        let rate = capital::investment_rate(p, city.investment_rate, decays.investment, &CityEffects::OFF);
        capital::accumulate(p, city, &mut c.capital, rate * c.gdp, &CityEffects::OFF, &mut ignored);
        args[6 * i..6 * i + 3].copy_from_slice(&c.capital);
        args[6 * i + 3..6 * i + 6].copy_from_slice(&workers);
    }
}

/// The arguments of the calibration pass's output at γ = 0.
#[inline(always)]
fn calibration_output_args(ws: &Workspace, logs: &[f64], args: &mut [f64]) {
    let p = &ws.inputs.params;
    for (i, c) in ws.cities.iter().enumerate() {
        let logs = &logs[6 * i..6 * i + 6];
        for s in 0..3 {
            args[3 * i + s] = tfp::log_output_at_zero_growth(p, c.ln_tfp[s], s, logs[s], logs[3 + s]);
        }
    }
}

/// The ratios whose logs are γ_i0, from the calibration pass's output at γ = 0 (`exp`).
#[inline(always)]
fn calibration_ratios(model: &Model, exp: &[f64], args: &mut [f64]) {
    for (i, city) in model.cities.iter().enumerate() {
        let output: &[f64; 3] = exp[3 * i..3 * i + 3].try_into().expect("three sectors");
        args[i] = tfp::calibration_ratio(city, output);
    }
}
