//! One draw as a plain loop over years and cities (MODEL.md §0's order), calling the model's
//! equations: read it beside MODEL.md.
//!
//! It is the model's readable form, not tuned. The engine ([`super::engine`]) computes the same
//! draw batched across cities and draws, and is tested to give exactly these bits: the
//! reference uses the same arithmetic ([`crate::arith`]'s fixed-lane sums, `exp`, `ln` and the
//! short series, in the same orders of addition), so that equal bits test everything else:
//! state, order, levers, calibration and outcomes. The golden file (`tests/golden.rs`) stays the
//! independent check of the arithmetic itself.

use super::demography::{self, Survival};
use super::inputs::{self, DrawInputs};
use super::levers::{self, CityEffects, LeverState, YearEffects};
use super::migration::{self, Spread};
use super::outcomes::{self, YearEnd};
use super::output::{self, Aggregates};
use super::shocks::{self, ShockStreams, YearShocks};
use super::state::{Calibration, CityState};
use super::urbanization::{self, Year};
use super::{Decays, Mode, Model, capital, history, labour, market_access, tfp};
use crate::arith;
use crate::diagnostics::{Diag, Diagnostics};
use crate::error::ModelError;
use crate::params::Params;
use crate::region::AGES;
use crate::rng::Streams;

/// A draw's outcomes and the clamps and caps counted in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The outcomes, laid out by the model's [`crate::indicators::Layout`].
    pub values: Vec<f64>,
    /// Clamps and caps.
    pub diagnostics: Diagnostics,
}

/// Everything a draw fixes before its years: its inputs, Δ_T ln MA of every year, and its
/// calibration constants.
#[derive(Debug, Clone)]
struct Draw {
    inputs: DrawInputs,
    access: Vec<f64>,
    calibration: Calibration,
}

/// One draw (MODEL.md §0): sample its inputs from `streams` (none in a deterministic draw),
/// compute Δ_T ln MA for every year from the projects' opening years, run the calibration pass,
/// then step t = b+1..=H from the base state, writing every year's outcomes.
pub fn simulate(model: &Model, streams: &Streams<'_>, mode: Mode) -> Result<Outcome, ModelError> {
    let mut diag = Diagnostics::default();
    let mut inputs = DrawInputs::new(model);
    inputs::sample(model, &mut streams.clone(), mode, &mut inputs, &mut diag)?;
    let p = inputs.params;
    let access = market_access::changes(model, &p, &inputs.open);
    let calibration = calibrate(model, &p);
    let d = Draw { inputs, access, calibration };

    let mut cities: Vec<CityState> = model.cities.iter().map(|c| CityState::base(&p, c)).collect();
    let mut levers = LeverState::base(model);
    let mut effects = YearEffects::none(model);
    let mut shocks = YearShocks::none(model);
    let mut shock_streams = ShockStreams::of(streams);
    let mut price = 1.0;
    let mut values = vec![f64::NAN; model.layout.len()];
    let b = model.base_year;
    let end = YearEnd { cities: &cities, effects: &effects, price, params: &p };
    outcomes::write_year(model, &end, b, streams.draw, &mut values)?;
    for t in b + 1..=model.horizon {
        if mode == Mode::Stochastic {
            shocks::draw(model, &p, &mut shock_streams, &mut shocks);
        }
        levers::prepare(model, &d.inputs.levers, p.depreciation, t, &cities, &mut levers, &mut effects);
        year(model, &d, t, &shocks, &mut cities, &mut effects, &mut diag);
        levers::parks::output(
            model,
            &d.inputs.levers.parks,
            t,
            &mut levers.parks,
            &mut effects.parks,
            &mut cities,
            &mut effects.cities,
        );
        price = output::price(&p, price, shocks.inflation);
        output::growth_gaps(model, &mut cities);
        let end = YearEnd { cities: &cities, effects: &effects, price, params: &p };
        outcomes::write_year(model, &end, t, streams.draw, &mut values)?;
    }
    Ok(Outcome { values, diagnostics: diag })
}

/// The survival rates of year b + k of every mortality schedule.
fn survival(model: &Model, p: &Params, k: i32) -> Vec<Survival> {
    let improvement = demography::improvement(p, k as u32);
    let mut out: Vec<Survival> = model
        .mortality
        .iter()
        .map(|m| demography::survival(m, model.mortality_bounded, improvement))
        .collect();
    for &(j, level) in &model.mortality_levels {
        let mut s = out[j].clone();
        demography::scaled_survival(&out[j], level, &mut s);
        out.push(s);
    }
    out
}

/// Year t of every city (steps 2–9 of MODEL.md §0; the levers' effects `effects` are year t's,
/// from year t − 1), from year t − 1's state in `cities`.
fn year(
    model: &Model,
    d: &Draw,
    t: i32,
    shocks: &YearShocks,
    cities: &mut [CityState],
    effects: &mut YearEffects,
    diag: &mut Diagnostics,
) {
    let (n, k, p) = (model.n, t - model.base_year, &d.inputs.params);
    let access = &d.access[(k - 1) as usize * n..k as usize * n];
    let aggregates = Aggregates::of(cities, access);
    let mut gains = vec![[0.0; 3]; n];
    tfp::project_gains(model, &d.inputs.open, &d.inputs.tfp_sizes, t, &mut gains);
    let decays = Decays::of(p, k);
    let survival = survival(model, p, k);
    let forced = model.forced_in(t);
    let (mut removal, mut capped) = ([[0.0; AGES]; 2], [[false; AGES]; 2]);
    for (i, (c, city)) in cities.iter_mut().zip(&model.cities).enumerate() {
        let e = &mut effects.cities[i];
        let prev = *c;
        // 2 demography
        c.fertility = demography::fertility(p, prev.fertility, shocks.fertility);
        let tfr = demography::with_fertility(p, demography::tfr(p, city.tfr, decays.tfr, e), c.fertility);
        let natural = demography::project_year(
            &mut c.cells,
            &survival[city.mortality],
            tfr,
            &model.phi,
            city.male_birth_share,
        );
        // 3 migration (an observed population: the residual, §11.2)
        c.migration_drift = migration::drift(p, prev.migration_drift, shocks.migration_drift[i]);
        let intended = match forced.and_then(|f| f.population(t, i)) {
            Some(observed) => history::migrants_to(observed, natural.population, city.migrant_sums.total),
            None => {
                let relative_wage = migration::relative_wage(prev.gdp, prev.employment, aggregates.wage);
                migration::intended(
                    prev.population,
                    migration::trend(d.calibration.m0[i], d.inputs.offsets[i], decays.migration)
                        + c.migration_drift,
                    migration::wage_response(p, relative_wage, city.rel_wage),
                    e,
                    migration::shock(p, prev.population, shocks.migration[i]),
                )
            }
        };
        let spread = migration::spread(
            &mut c.cells,
            &city.migrants,
            city.migrant_sums.total,
            intended,
            &mut removal,
            &mut capped,
        );
        count_spread(&spread, diag);
        let population = natural.population + spread.realised;
        // 4 urbanization
        c.urban_shock = urbanization::shock(p, prev.urban_shock, shocks.urbanization[i]);
        let y = Year {
            urban_prev: prev.urban,
            population_prev: prev.population,
            speed: urbanization::speed(p, d.calibration.r0[i], k),
            growth_gap: prev.growth_gap,
            shock: c.urban_shock,
            natural: natural.population,
            migrants_urban: urbanization::migrants_urban(p, spread.realised, prev.urban / prev.population),
            population,
        };
        c.urban = match forced.and_then(|f| f.urbanization(t, i)) {
            // An observed rate: the shock that gives it (§11.2).
            Some(rate) => {
                let urban = rate * population;
                let logit_prev = arith::ln(urbanization::odds(p, prev.urban, prev.population, diag));
                let odds = history::urban_odds(p, urban, natural.population, y.migrants_urban, diag);
                c.urban_shock = history::implied_shock(p, arith::ln(odds), logit_prev, y.speed, y.growth_gap);
                urban
            }
            None => urbanization::urban_population(p, &y, diag),
        };
        // 5 labour
        let (working_age, old) = migration::age_groups(&natural, intended, &spread, city, &c.cells);
        let employment = labour::employment(city.participation, e, working_age);
        labour::shift_shares(p, &mut c.employment_shares);
        let mut workers = labour::by_sector(&c.employment_shares, employment);
        labour::carve_out_parks(&mut workers, e, diag);
        // 6 capital
        let rate = capital::investment_rate(p, city.investment_rate, decays.investment, e);
        capital::accumulate(p, city, &mut c.capital, rate * prev.gdp, e, diag);
        // 8 TFP
        let growth = tfp::growth(p, d.calibration.gamma0[i], decays.tfp);
        let access_change = tfp::access_change(model, access[i], aggregates.access_change);
        c.tfp_drift = tfp::drift(p, prev.tfp_drift, shocks.tfp_drift[i]);
        let common =
            tfp::common_growth(p, growth, access_change, shocks.tfp[i] + c.tfp_drift, shocks.disaster);
        tfp::advance(&mut c.ln_tfp, common, &gains[i], e);
        // 9 output (the parks' after every city: `levers::parks::output`)
        let exp: [f64; 3] = std::array::from_fn(|s| {
            arith::exp(tfp::log_output(p, c.ln_tfp[s], arith::ln(c.capital[s]), arith::ln(workers[s])))
        });
        c.gdp = output::city_gdp(city, &exp, &mut c.output);
        if let Some(growth) = forced.and_then(|f| f.growth(t, i)) {
            c.gdp = history::force_growth(growth, prev.gdp, c.gdp, &mut c.output, &mut c.ln_tfp);
        }
        c.population_prev = prev.population;
        c.gdp_prev = prev.gdp;
        c.population = population;
        c.employment = employment;
        c.working_age = working_age;
        c.old = old;
        c.births = natural.births;
        c.deaths = natural.deaths;
        c.net_migration = spread.realised;
    }
}

/// Count what spreading the migrants bound.
fn count_spread(spread: &Spread, diag: &mut Diagnostics) {
    if spread.capped {
        diag.bump(Diag::MigrationCapBinding);
    }
    if spread.dropped > 0.0 {
        diag.bump(Diag::MigrationRemainderDropped);
    }
}

/// The calibration pass (MODEL.md §0): year b+1 from the base state with the draw's parameters,
/// every shock at zero, every lever off and infrastructure frozen; m_i0, r_i0 and γ_i0 are each
/// solved in closed form where it is first used, so that year b+1 reproduces each city's
/// reference growth of population, urbanization and GDP. The pass's own clamps and caps are not
/// counted.
pub fn calibrate(model: &Model, p: &Params) -> Calibration {
    let n = model.n;
    let decays = Decays::of(p, 1);
    let survival = survival(model, p, 1);
    let cities: Vec<CityState> = model.cities.iter().map(|c| CityState::base(p, c)).collect();
    let wage = Aggregates::of(&cities, &vec![0.0; n]).wage;
    let mut diag = Diagnostics::default();
    let (mut removal, mut capped) = ([[0.0; AGES]; 2], [[false; AGES]; 2]);
    let mut cal = Calibration { gamma0: vec![0.0; n], m0: vec![0.0; n], r0: vec![0.0; n] };
    for (i, (c, city)) in cities.iter().zip(&model.cities).enumerate() {
        let mut cells = c.cells;
        let tfr = demography::tfr(p, city.tfr, decays.tfr, &CityEffects::OFF);
        let natural = demography::project_year(
            &mut cells,
            &survival[city.mortality],
            tfr,
            &model.phi,
            city.male_birth_share,
        );
        cal.m0[i] = migration::calibrated_rate(city, natural.population, decays.migration);
        let relative_wage = migration::relative_wage(c.gdp, c.employment, wage);
        let intended = migration::intended(
            c.population,
            migration::trend(cal.m0[i], 0.0, decays.migration),
            migration::wage_response(p, relative_wage, city.rel_wage),
            &CityEffects::OFF,
            0.0,
        );
        let spread = migration::spread(
            &mut cells,
            &city.migrants,
            city.migrant_sums.total,
            intended,
            &mut removal,
            &mut capped,
        );
        let population = natural.population + spread.realised;
        let migrants_urban = urbanization::migrants_urban(p, spread.realised, c.urban / c.population);
        let target =
            urbanization::calibrated_odds(p, city, population, natural.population, migrants_urban, &mut diag);
        let logit_prev = arith::ln(urbanization::odds(p, c.urban, c.population, &mut diag));
        cal.r0[i] = arith::ln(target) - logit_prev;
        let (working_age, _) = migration::age_groups(&natural, intended, &spread, city, &cells);
        let employment = labour::employment(city.participation, &CityEffects::OFF, working_age);
        let mut shares = c.employment_shares;
        labour::shift_shares(p, &mut shares);
        let workers = labour::by_sector(&shares, employment);
        let rate = capital::investment_rate(p, city.investment_rate, decays.investment, &CityEffects::OFF);
        let mut k = c.capital;
        capital::accumulate(p, city, &mut k, rate * c.gdp, &CityEffects::OFF, &mut diag);
        cal.gamma0[i] = tfp::calibrated_growth(p, city, &c.ln_tfp, &k, &workers);
    }
    cal
}
