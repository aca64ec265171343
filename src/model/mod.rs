//! The pure simulation core: the model's equations (MODEL.md §0–9), a readable reference path
//! through them, and the fast engine that runs the same equations in batches.
//!
//! - [`Model::new`] precomputes everything that all draws of a run share: each city's base year
//!   ([`CityBase`]), the mortality schedules, market-access masses, and the scenario's projects
//!   and levers with the random streams their uncertain quantities are drawn from.
//! - The equations, one topic file each, in MODEL.md's order: [`demography`] (§1), [`migration`]
//!   (§5), [`urbanization`] (§6), [`labour`] (§2), [`capital`] (§3), [`market_access`] (§4),
//!   [`tfp`] (§3), [`output`] (§3, prices), [`levers`] (§7: [`levers::shifts`],
//!   [`levers::transfer`], [`levers::parks`]; infrastructure is [`market_access`] and
//!   [`tfp::project_gains`]), [`shocks`] (§3, §5, §6) and [`outcomes`] (§9). Each is a pure
//!   function over typed state ([`state::CityState`], [`crate::params::Params`],
//!   [`levers::LeverState`]).
//! - [`inputs`]: what a draw samples (parameters, migration offsets, project opening years and
//!   sizes, lever quantities) from the streams [`crate::rng::Streams`] names.
//! - [`reference::simulate`]: one draw as a plain loop over years and cities calling the
//!   equations; read it beside MODEL.md.
//! - [`engine`]: the same draw fast, batched across cities and draws; it only orders the
//!   equations and gathers their logarithms and exponentials, and is tested to give the
//!   reference's bits.
//!
//! No file, clock, global state or environment; no allocation in the engine's year step.

// The equations index sectors, sexes and ages of several arrays at once, as the formulas do.
#![allow(clippy::needless_range_loop)]

pub mod capital;
pub mod condition;
pub mod demography;
pub mod engine;
pub mod history;
pub mod inputs;
pub mod labour;
pub mod levers;
pub mod market_access;
pub mod migration;
pub mod outcomes;
pub mod output;
pub mod reference;
pub mod shocks;
pub mod state;
pub mod tfp;
pub mod urbanization;

use crate::arith;
use crate::error::{InputError, InputErrors};
use crate::indicators::Layout;
use crate::params::{N_PARAMS, PARAMS};
use crate::region::{AGES, Region, SECTORS, Statistics};
use crate::rng;
use crate::scenario::{Lever, MarketAccess, Scenario};
use crate::uncertain::Uncertain;
use demography::{AgeSums, Mortality};

/// How a draw is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Parameters and shocks drawn from their streams.
    Stochastic,
    /// Every parameter at its central value, no shocks (`--deterministic`).
    Deterministic,
}

/// Sector TFP drifts γ_s (primary, secondary, tertiary).
pub const SECTOR_DRIFT: [f64; 3] = [0.0, 0.004, -0.004];
/// Capital–output ratios κ_s of the base year.
pub const CAPITAL_OUTPUT: [f64; 3] = [1.5, 2.8, 3.3];
/// Relative labour productivity λ_s for base employment shares.
pub const LABOUR_PRODUCTIVITY: [f64; 3] = [0.3, 1.15, 1.0];
/// Share ξ of the freed primary employment that goes to the secondary sector.
pub const PRIMARY_TO_SECONDARY: f64 = 0.4;
/// Years over which the investment rate converges (MODEL.md §3).
pub const INVESTMENT_CONVERGENCE_YEARS: f64 = 10.0;
/// Internal travel time τ_own, minutes.
pub const OWN_TIME_MINUTES: f64 = 30.0;
/// Years over which a city's urbanization speed converges to the norm.
pub const URBANIZATION_CONVERGENCE_YEARS: f64 = 25.0;
/// Floor of capital as a share of its base value.
pub const CAPITAL_FLOOR: f64 = 0.01;
/// Disaster size D ~ U(min, max).
pub const DISASTER_SIZE: (f64, f64) = (0.02, 0.06);
/// Largest share of a host city-sector's workers that its parks may take together.
pub const PARK_LABOUR_CAP: f64 = 0.5;
/// Bounds of v = u/u_max before a logit.
pub const LOGIT_EPS: f64 = 1e-6;
/// The secondary sector's index (the sector the industry transfer moves).
pub const SECONDARY: usize = 1;

/// The convergence factors of year t = b + k: e^(−k/T_f) of the TFR (§1), e^(−k/T_m) of the
/// migration trend (§5), e^(−k/10) of the investment rate (§3) and e^(−(k − 1)/T_c) of TFP
/// growth (§3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decays {
    /// e^(−k/T_f).
    pub tfr: f64,
    /// e^(−k/T_m).
    pub migration: f64,
    /// e^(−k/10).
    pub investment: f64,
    /// e^(−(k − 1)/T_c).
    pub tfp: f64,
}

impl Decays {
    /// The exponents of year b + k's factors, in field order (the engine takes a draw's
    /// exponentials in one batch).
    #[inline]
    pub fn exponents(p: &crate::params::Params, k: i32) -> [f64; 4] {
        let k = f64::from(k);
        [
            -k / p.tfr_convergence_years,
            -k / p.migration_decay_years,
            -k / INVESTMENT_CONVERGENCE_YEARS,
            -(k - 1.0) / p.tfp_convergence_years,
        ]
    }

    /// The factors of their exponentials.
    #[inline]
    pub fn from_exp([tfr, migration, investment, tfp]: [f64; 4]) -> Decays {
        Decays { tfr, migration, investment, tfp }
    }

    /// Year b + k's factors.
    pub fn of(p: &crate::params::Params, k: i32) -> Decays {
        Decays::from_exp(Decays::exponents(p, k).map(arith::exp))
    }
}

/// An uncertain quantity of a draw and the random stream it is drawn from (MODEL.md §8).
#[derive(Debug, Clone)]
pub struct Drawn {
    /// The number or distribution.
    pub value: Uncertain,
    /// The hash of the stream's purpose ([`rng::purpose`]).
    pub purpose: u64,
}

impl Drawn {
    /// `value`, drawn from the stream of `purpose`.
    pub fn new(value: Uncertain, purpose: &str) -> Drawn {
        Drawn { value, purpose: rng::purpose(purpose) }
    }
}

/// A direct TFP effect of a project (MODEL.md §4).
#[derive(Debug, Clone)]
pub struct ProjectEffect {
    /// City.
    pub city: usize,
    /// Sector.
    pub sector: usize,
    /// Log change of TFP reached after `ramp_years` (stream `project.<id>.tfp.<k>`).
    pub size: Drawn,
    /// Years over which it builds up (≥ 1).
    pub ramp_years: u32,
}

/// A project as the model uses it (enabled only).
#[derive(Debug, Clone)]
pub struct ModelProject {
    /// Id.
    pub id: String,
    /// Planned opening year, with the scenario's delay shift.
    pub open_year: i32,
    /// Delay in years (the project's own or its stage's; stream `project.<id>.delay`).
    pub delay: Drawn,
    /// Travel-time pairs (node, node, minutes).
    pub pairs: Vec<(usize, usize, f64)>,
    /// Direct TFP effects.
    pub tfp: Vec<ProjectEffect>,
    /// What the history says of its opening (docs/MODEL.md §11.3).
    pub history: crate::scenario::ProjectHistory,
}

/// The industry transfer as the model uses it (MODEL.md §7a).
#[derive(Debug, Clone)]
pub struct ModelTransfer {
    /// Origin cities and their transferable share χ.
    pub origins: Vec<(usize, f64)>,
    /// Destination cities and their shares d_j.
    pub destinations: Vec<(usize, f64)>,
    /// First active year.
    pub start: i32,
    /// Last active year.
    pub end: i32,
    /// Share of the remaining transferable stock moved per active year.
    pub rate: Drawn,
    /// Share of moved capital that arrives productive η.
    pub efficiency: Drawn,
    /// Productivity gap of the leaving firms cg (q = 1 − cg).
    pub composition_gain: Drawn,
}

/// A park that is on, as the model uses it (MODEL.md §7b).
#[derive(Debug, Clone)]
pub struct ModelPark {
    /// Id.
    pub id: String,
    /// Host city.
    pub host: usize,
    /// Partner city.
    pub partner: usize,
    /// Sector.
    pub sector: usize,
    /// First year.
    pub start: i32,
    /// Ramp years R.
    pub ramp_years: u32,
    /// Value added V at full ramp (亿元, base-year prices).
    pub value_added: Drawn,
    /// Capital per unit of value added κ_p.
    pub capital_per_value_added: Drawn,
    /// Capital per worker k_w (万元).
    pub capital_per_worker: Drawn,
    /// Share φ of gross investment the partner funds.
    pub partner_funded_share: Drawn,
    /// Tax per unit of value added.
    pub tax_rate: Drawn,
    /// Share r of the tax that goes to the partner.
    pub tax_share_to_partner: Drawn,
    /// Statistics rule.
    pub statistics: Statistics,
}

/// A shift as the model uses it (MODEL.md §7d).
#[derive(Debug, Clone)]
pub struct ModelShift {
    /// City.
    pub city: usize,
    /// Lever.
    pub lever: Lever,
    /// Sector (tfp only; 0 otherwise).
    pub sector: usize,
    /// First year.
    pub start: i32,
    /// Last year.
    pub end: i32,
    /// Amount added in every year of the range (stream `shift.<city>.<lever>.<sector>.<years>`).
    pub delta: Drawn,
}

/// Per-city base-year data and constants, precomputed.
#[derive(Debug, Clone)]
pub struct CityBase {
    /// Base population by sex and age.
    pub cells: [[f64; AGES]; 2],
    /// Its sums by broad age group.
    pub age_sums: AgeSums,
    /// Population P(b).
    pub population: f64,
    /// Urban population U(b).
    pub urban: f64,
    /// Real GDP Y(b).
    pub gdp: f64,
    /// Sector output Y_s(b).
    pub output: [f64; 3],
    /// Sector capital K_s(b).
    pub capital: [f64; 3],
    /// Employment E(b).
    pub employment: f64,
    /// Employment shares e_s(b).
    pub emp_shares: [f64; 3],
    /// ln Y_s(b), ln K_s(b), ln L_s(b) of each sector with output (0 otherwise): ln A_s(b) is
    /// made of them with the draw's α ([`tfp::base_ln_tfp`]).
    pub base_logs: [[f64; 3]; 3],
    /// Investment weights ω_s = K_s(b)/ΣK(b).
    pub omega: [f64; 3],
    /// ln(w_i(b)/w̄(b)).
    pub rel_wage: f64,
    /// Reference real growth g_ref.
    pub g_ref: f64,
    /// Reference population growth n_ref.
    pub n_ref: f64,
    /// Reference urbanization change Δu_ref (fraction per year).
    pub du_ref: f64,
    /// Reference real per-capita growth g_y,ref.
    pub gy_ref: f64,
    /// TFR(b).
    pub tfr: f64,
    /// SRB/(1+SRB).
    pub male_birth_share: f64,
    /// s(b).
    pub investment_rate: f64,
    /// π.
    pub participation: f64,
    /// Index of the city's mortality schedule in [`Model::mortality`].
    pub mortality: usize,
    /// Migrant profile μ.
    pub migrants: [[f64; AGES]; 2],
    /// Σ μ over all cells, ages 15–64 and 65+ (both sexes, summed as [`AgeSums::of`] does).
    pub migrant_sums: AgeSums,
}

/// Everything the draws of one run share.
#[derive(Debug, Clone)]
pub struct Model {
    /// Number of cities.
    pub n: usize,
    /// City ids.
    pub city_ids: Vec<String>,
    /// Base year b.
    pub base_year: i32,
    /// Horizon H.
    pub horizon: i32,
    /// Market-access option.
    pub market_access: MarketAccess,
    /// Per-city base data.
    pub cities: Vec<CityBase>,
    /// Distinct base mortality schedules.
    pub mortality: Vec<Mortality>,
    /// Survival schedules derived from a base one at a city's mortality level (history mode,
    /// docs/MODEL.md §11.1b): (base schedule, λ_i). A city's schedule index past the base ones
    /// names one of these: index `mortality.len() + k`.
    pub mortality_levels: Vec<(usize, f64)>,
    /// Whether every rate of every schedule lies in [0, [`arith::EXP_SAFE_RATE`]] (707): then
    /// the survival arguments −m·(1 − ι)^k are inside `exp`'s range and the leading small rates
    /// may take the short series ([`demography::survival`]).
    pub mortality_bounded: bool,
    /// Fertility schedule φ.
    pub phi: [f64; AGES],
    /// Region reference per-capita growth ḡ_y,ref.
    pub gy_ref_region: f64,
    /// Number of market-access nodes (cities first).
    pub n_nodes: usize,
    /// Node masses (cities' base GDP, then external nodes).
    pub masses: Vec<f64>,
    /// Base travel times, row-major `n_nodes²`.
    pub travel_times: Vec<f64>,
    /// Enabled projects.
    pub projects: Vec<ModelProject>,
    /// Parameters, in [`PARAMS`] order (streams named by the parameter).
    pub params: Vec<Drawn>,
    /// Lower Cholesky factor of the shock correlation (row-major n²), when the region gives one.
    pub cholesky: Option<Vec<f64>>,
    /// The industry transfer, when on.
    pub transfer: Option<ModelTransfer>,
    /// Parks that are on.
    pub parks: Vec<ModelPark>,
    /// Shifts.
    pub shifts: Vec<ModelShift>,
    /// Layout of a draw's outcomes.
    pub layout: Layout,
    /// A draw's outcomes of the base year, at their positions of [`Model::layout`] (the other
    /// positions NaN): the base year is data, the same in every draw ([`outcomes::base_year`]).
    pub base_outcomes: Vec<f64>,
    /// Whether every base-year outcome is finite (the base year's flows, NaN by definition,
    /// aside). Then each draw copies [`Model::base_outcomes`]; otherwise it computes them, and
    /// fails on the first that is not finite, as for any other year.
    pub base_finite: bool,
    /// History mode: the forced city-years and what the restated base rests on.
    pub history: Option<ModelHistory>,
    /// The history pass's pool (docs/MODEL.md §12), once run: the runner's draws then take
    /// their inputs and observed years' shocks from it.
    pub conditioned: Option<std::sync::Arc<condition::Conditioned>>,
}

/// History mode as the model uses it (docs/MODEL.md §11).
#[derive(Debug, Clone)]
pub struct ModelHistory {
    /// The values forced in the observed city-years.
    pub forced: history::Forced,
    /// What each city's restated base year rests on.
    pub restatement: Vec<history::CityRestatement>,
    /// The deflator of the GDP restatement.
    pub deflator: f64,
    /// Whether a history pass conditions the draws on the observations (docs/MODEL.md §12).
    pub condition: bool,
    /// The history pass's pool size the scenario sets (`history.pool`), if it does.
    pub pool: Option<usize>,
    /// The crude rates the history pass scores (§12.1).
    pub crude: Vec<history::CrudeScore>,
    /// The observed deflators the history pass scores (§12.1b).
    pub deflators: Vec<history::DeflatorScore>,
}

/// An input error of the region's data as the model finds it.
fn region_error(key: String, message: String) -> InputError {
    InputError { file: "region".into(), line: None, column: None, key, message, suggestion: None }
}

impl Model {
    /// Precompute a run's shared data from a region and a validated scenario.
    pub fn new(region: &Region, scenario: &Scenario) -> Result<Model, InputErrors> {
        let (mortality, schedule_of) = mortality_schedules(region)?;
        let restated = scenario.history.as_ref().map(|h| {
            let r = history::restate(region, scenario, h, &mortality, &schedule_of);
            let model = ModelHistory {
                forced: history::forced(region, h),
                crude: history::crude_scores(h, &r.cities, region.base_year),
                deflators: history::deflator_scores(h, r.cities.len(), region.base_year),
                restatement: r.record.clone(),
                deflator: r.deflator,
                condition: h.condition,
                pool: h.pool,
            };
            (r, model)
        });
        // History mode's mortality levels: a derived schedule for each city whose level is not 1
        // (§11.1b).
        let mut schedule_of = schedule_of;
        let mut mortality_levels = Vec::new();
        if let Some((r, _)) = &restated {
            for (i, c) in r.record.iter().enumerate() {
                // λ_i as the restatement records it (1 with `vital_rates = "region"`).
                let level = c.ages.vital.as_ref().map_or(1.0, |(_, l)| l.mortality);
                if level != 1.0 {
                    mortality_levels.push((schedule_of[i], level));
                    schedule_of[i] = mortality.len() + mortality_levels.len() - 1;
                }
            }
        }
        let cities = match &restated {
            Some((r, _)) => city_bases(&r.cities, &r.profiles, region, &schedule_of),
            None => city_bases(&region.cities, &region.age_profiles, region, &schedule_of),
        };
        check_cities(region, scenario, &cities, restated.as_ref().map(|r| &r.1.forced))?;
        let n = region.cities.len();
        let mut masses: Vec<f64> = region.cities.iter().map(|c| c.gdp).collect();
        masses.extend(region.nodes.iter().map(|nd| nd.mass));
        let mut model = Model {
            n,
            city_ids: region.cities.iter().map(|c| c.id.clone()).collect(),
            base_year: region.base_year,
            horizon: scenario.horizon,
            market_access: scenario.market_access,
            gy_ref_region: region_reference_growth(&cities),
            cities,
            mortality_bounded: mortality
                .iter()
                .flat_map(|m| m.rates.iter().flatten())
                .all(|v| (0.0..=arith::EXP_SAFE_RATE).contains(v)),
            mortality,
            mortality_levels,
            phi: demography::fertility_schedule(),
            n_nodes: region.n_nodes(),
            masses,
            travel_times: region.travel_times.clone(),
            projects: projects(region, scenario),
            params: PARAMS
                .iter()
                .zip(&scenario.parameters)
                .map(|(p, u)| Drawn::new(u.clone(), p.name))
                .collect(),
            cholesky: region.shock_cholesky.as_ref().map(|l| (0..n * n).map(|k| l[(k / n, k % n)]).collect()),
            transfer: transfer(scenario),
            parks: parks(scenario),
            shifts: shifts(scenario),
            layout: Layout {
                cities: n,
                base_year: region.base_year,
                horizon: scenario.horizon,
                parks: scenario.parks.len(),
            },
            base_outcomes: Vec::new(),
            base_finite: false,
            history: restated.map(|r| r.1),
            conditioned: None,
        };
        debug_assert_eq!(model.params.len(), N_PARAMS);
        (model.base_outcomes, model.base_finite) = outcomes::base_year(&model);
        Ok(model)
    }

    /// Whether any lever is on (an industry transfer, a park or a shift).
    pub fn has_levers(&self) -> bool {
        self.transfer.is_some() || !self.parks.is_empty() || !self.shifts.is_empty()
    }

    /// The observed years a history pass conditions on, when the scenario asks for it
    /// (`[history] condition = true`).
    pub fn conditioning(&self) -> Option<&history::Forced> {
        self.history.as_ref().filter(|h| h.condition).map(|h| &h.forced)
    }

    /// What a history pass depends on, as text: the model without its levers (they act after
    /// `until`) and without a history pass. Two models with the same key have the same pass.
    pub fn history_key(&self) -> String {
        let mut m = self.clone();
        m.transfer = None;
        m.parks.clear();
        m.shifts.clear();
        m.conditioned = None;
        format!("{m:?}")
    }

    /// The forced city-years, when year t is inside the history.
    #[inline]
    pub fn forced_in(&self, t: i32) -> Option<&history::Forced> {
        self.history.as_ref().map(|h| &h.forced).filter(|f| f.covers(t))
    }

    /// Number of years after the base year.
    pub fn years(&self) -> usize {
        (self.horizon - self.base_year) as usize
    }
}

/// The mortality schedules, one per distinct (e0_female, e0_male) of the cities (MODEL.md §1),
/// and each city's schedule.
fn mortality_schedules(region: &Region) -> Result<(Vec<Mortality>, Vec<usize>), InputErrors> {
    let (mut schedules, mut e0s, mut of_city, mut errors) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for c in &region.cities {
        let e0 = c.constants.e0;
        if let Some(k) = e0s.iter().position(|e| *e == e0) {
            of_city.push(k);
            continue;
        }
        match Mortality::solve(e0) {
            Ok(m) => {
                of_city.push(schedules.len());
                schedules.push(m);
                e0s.push(e0);
            }
            Err(unreached) => errors.extend(unreached.iter().map(|e0| {
                region_error(
                    format!("{}.e0", c.id),
                    format!("no Gompertz–Makeham schedule reaches e0 = {e0}"),
                )
            })),
        }
    }
    if errors.is_empty() { Ok((schedules, of_city)) } else { Err(InputErrors(errors)) }
}

/// Each city's base year (MODEL.md §1–3 "Base") from its data and age profile (the region's,
/// or restated, §11.1), its relative wage against the region's.
fn city_bases(
    data: &[crate::region::City],
    profiles: &[[[f64; AGES]; 2]],
    region: &Region,
    schedule_of: &[usize],
) -> Vec<CityBase> {
    let mut cities = Vec::with_capacity(data.len());
    let (mut y_sum, mut e_sum) = (0.0, 0.0);
    for (i, c) in data.iter().enumerate() {
        let prof = &profiles[i];
        let cells: [[f64; AGES]; 2] =
            std::array::from_fn(|g| std::array::from_fn(|x| c.population * prof[g][x]));
        let working: f64 = (15..=64).map(|x| cells[0][x] + cells[1][x]).sum();
        let employment = c.constants.participation * working;
        let output = c.shares.map(|s| s * c.gdp);
        let capital: [f64; 3] = std::array::from_fn(|s| CAPITAL_OUTPUT[s] * output[s]);
        let emp_shares = c.employment_shares.unwrap_or_else(|| {
            let w: [f64; 3] = std::array::from_fn(|s| c.shares[s] / LABOUR_PRODUCTIVITY[s]);
            let t: f64 = w.iter().sum();
            w.map(|v| v / t)
        });
        let k_total: f64 = capital.iter().sum();
        y_sum += c.gdp;
        e_sum += employment;
        let base_logs = std::array::from_fn(|s| {
            if output[s] > 0.0 {
                [arith::ln(output[s]), arith::ln(capital[s]), arith::ln(emp_shares[s] * employment)]
            } else {
                [0.0; 3]
            }
        });
        cities.push(CityBase {
            age_sums: AgeSums::of(&cells),
            cells,
            population: c.population,
            urban: c.urbanization * c.population,
            gdp: c.gdp,
            output,
            capital,
            employment,
            emp_shares,
            base_logs,
            omega: capital.map(|k| k / k_total),
            rel_wage: c.gdp / employment,
            g_ref: c.real_growth,
            n_ref: c.pop_growth,
            du_ref: c.urbanization_change,
            gy_ref: (1.0 + c.real_growth) / (1.0 + c.pop_growth) - 1.0,
            tfr: c.constants.tfr_base,
            male_birth_share: c.constants.sex_ratio_at_birth / (1.0 + c.constants.sex_ratio_at_birth),
            investment_rate: c.constants.investment_rate_base,
            participation: c.constants.participation,
            mortality: schedule_of[i],
            migrants: region.migrant_profiles[i],
            migrant_sums: AgeSums::of(&region.migrant_profiles[i]),
        });
    }
    for cb in &mut cities {
        cb.rel_wage = (cb.rel_wage / (y_sum / e_sum)).ln();
    }
    cities
}

/// The checks of the region's cities that need the model's view: a sector with output needs
/// workers, and every base or forced urbanization rate must stay 1 point below the lowest u_max
/// the scenario can draw.
fn check_cities(
    region: &Region,
    scenario: &Scenario,
    cities: &[CityBase],
    forced: Option<&history::Forced>,
) -> Result<(), InputErrors> {
    let mut errors = Vec::new();
    let u_max = scenario.parameters[crate::params::P::UrbanizationCeiling as usize].support().lo;
    for (c, cb) in region.cities.iter().zip(cities) {
        for s in 0..3 {
            if cb.output[s] > 0.0 && cb.emp_shares[s] <= 0.0 {
                errors.push(region_error(
                    format!("{}.employment_share_{}", c.id, SECTORS[s]),
                    "a sector with output needs employment > 0".into(),
                ));
            }
        }
        if cb.urban / cb.population >= u_max - 0.01 {
            errors.push(region_error(
                format!("{}.urbanization_2018", c.id),
                format!(
                    "found {:.2} %; expected below u_max − 1 point ({:.2} %)",
                    100.0 * cb.urban / cb.population,
                    100.0 * (u_max - 0.01)
                ),
            ));
        }
    }
    if let (Some(f), Some(h)) = (forced, &scenario.history) {
        for t in region.base_year + 1..=f.until {
            for (i, c) in region.cities.iter().enumerate() {
                if let Some(u) = f.urbanization(t, i)
                    && u >= u_max - 0.01
                {
                    errors.push(InputError {
                        file: h.observations.file.clone(),
                        line: None,
                        column: None,
                        key: format!("{} {t} urbanization_rate", c.id),
                        message: format!(
                            "found {:.2} %; expected below u_max − 1 point ({:.2} %) to be forced",
                            100.0 * u,
                            100.0 * (u_max - 0.01)
                        ),
                        suggestion: None,
                    });
                }
            }
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(InputErrors(errors)) }
}

/// ḡ_y,ref: the region's reference per-capita growth, from its totals (MODEL.md §6).
fn region_reference_growth(cities: &[CityBase]) -> f64 {
    let (mut y0, mut p0, mut y1, mut p1) = (0.0, 0.0, 0.0, 0.0);
    for c in cities {
        y0 += c.gdp;
        p0 += c.population;
        y1 += c.gdp * (1.0 + c.g_ref);
        p1 += c.population * (1.0 + c.n_ref);
    }
    (y1 / y0) / (p1 / p0) - 1.0
}

/// The scenario's enabled projects, with the delay shift in their planned year.
fn projects(region: &Region, scenario: &Scenario) -> Vec<ModelProject> {
    let histories = scenario.history.as_ref().map(|h| &h.projects);
    let history = |k: usize| histories.map_or(crate::scenario::ProjectHistory::Drawn, |h| h[k]);
    let projects = scenario.projects.iter().enumerate().filter(|(_, p)| p.enabled);
    projects
        .map(|(k, p)| ModelProject {
            history: history(k),
            id: p.id.clone(),
            open_year: p.open_year + scenario.delay_shift,
            delay: Drawn::new(
                p.delay.clone().unwrap_or_else(|| region.delay_by_stage[p.stage as usize].clone()),
                &format!("project.{}.delay", p.id),
            ),
            pairs: p.pairs.clone(),
            tfp: p
                .tfp
                .iter()
                .enumerate()
                .map(|(k, t)| ProjectEffect {
                    city: t.city,
                    sector: t.sector,
                    size: Drawn::new(t.size.clone(), &format!("project.{}.tfp.{k}", p.id)),
                    ramp_years: t.ramp_years,
                })
                .collect(),
        })
        .collect()
}

/// The scenario's industry transfer, when on.
fn transfer(scenario: &Scenario) -> Option<ModelTransfer> {
    scenario.transfer.as_ref().map(|t| ModelTransfer {
        origins: t.origins.clone(),
        destinations: t.destinations.clone(),
        start: t.start,
        end: t.end,
        rate: Drawn::new(t.rate.clone(), "transfer.rate"),
        efficiency: Drawn::new(t.efficiency.clone(), "transfer.efficiency"),
        composition_gain: Drawn::new(t.composition_gain.clone(), "transfer.composition_gain"),
    })
}

/// The scenario's parks that are on.
fn parks(scenario: &Scenario) -> Vec<ModelPark> {
    scenario
        .parks
        .iter()
        .map(|p| {
            let drawn = |u: &Uncertain, field: &str| Drawn::new(u.clone(), &format!("park.{}.{field}", p.id));
            ModelPark {
                id: p.id.clone(),
                host: p.host,
                partner: p.partner,
                sector: p.sector,
                start: p.start,
                ramp_years: p.ramp_years,
                value_added: drawn(&p.value_added, "value_added"),
                capital_per_value_added: drawn(&p.capital_per_value_added, "capital_per_value_added"),
                capital_per_worker: drawn(&p.capital_per_worker, "capital_per_worker"),
                partner_funded_share: drawn(&p.partner_funded_share, "partner_funded_share"),
                tax_rate: drawn(&p.tax_rate, "tax_rate"),
                tax_share_to_partner: drawn(&p.tax_share_to_partner, "tax_share_to_partner"),
                statistics: p.statistics,
            }
        })
        .collect()
}

/// The scenario's shifts.
fn shifts(scenario: &Scenario) -> Vec<ModelShift> {
    scenario
        .shifts
        .iter()
        .map(|sh| ModelShift {
            city: sh.city,
            lever: sh.lever,
            sector: sh.sector,
            start: sh.start,
            end: sh.end,
            delta: Drawn::new(sh.delta.clone(), &sh.purpose),
        })
        .collect()
}

/// Stream purposes of the shocks.
pub mod purposes {
    use crate::rng::purpose;
    /// TFP shocks: per year the common factor, then each city's.
    pub const TFP: u64 = purpose("shocks.tfp");
    /// Disasters: per year an occurrence uniform, then a size uniform.
    pub const DISASTER: u64 = purpose("shocks.disaster");
    /// Migration shocks: per year one normal per city.
    pub const MIGRATION: u64 = purpose("shocks.migration");
    /// Migration offsets: one normal per city, once per draw.
    pub const MIGRATION_OFFSET: u64 = purpose("shocks.migration_offset");
    /// Urbanization shocks: per year one normal per city.
    pub const URBANIZATION: u64 = purpose("shocks.urbanization");
    /// Inflation shocks: one normal per year.
    pub const INFLATION: u64 = purpose("shocks.inflation");
    /// The births' persistent part's innovations (docs/MODEL.md §12.4): one normal per year
    /// when σ_f > 0 (none read otherwise).
    pub const FERTILITY: u64 = purpose("shocks.fertility");
    /// The six yearly shock purposes, in [`super::shocks::ShockStreams`]' order.
    pub const SHOCKS: [u64; 6] = [TFP, DISASTER, MIGRATION, URBANIZATION, INFLATION, FERTILITY];
    /// The shocks read every year (the migration offsets, read once, are an input).
    pub const ALL: [u64; 6] = [TFP, DISASTER, MIGRATION, URBANIZATION, INFLATION, FERTILITY];
}
