//! The pure simulation core (MODEL.md §0–6, 8–9).
//!
//! [`Model::new`] precomputes everything that all draws share (base-year state, mortality
//! levels, profiles, market-access masses, projects, random-stream purposes). [`sim::simulate`]
//! runs one draw into a caller-owned [`sim::Workspace`] and writes its outcomes into a slice: no
//! file, clock, global state or allocation inside the per-year step.

pub mod demography;
pub mod kernels;
pub mod sim;

use crate::arith;
use crate::error::{InputError, InputErrors};
use crate::indicators::Layout;
use crate::params::{N_PARAMS, PARAMS};
use crate::region::{AGES, Region};
use crate::rng;
use crate::scenario::{MarketAccess, Scenario};
use crate::uncertain::Uncertain;

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

/// A project as the model uses it (enabled only).
#[derive(Debug, Clone)]
pub struct ModelProject {
    /// Id.
    pub id: String,
    /// Planned opening year.
    pub open_year: i32,
    /// Delay distribution (the project's own or its stage's).
    pub delay: Uncertain,
    /// Stream purpose of the delay.
    pub delay_purpose: u64,
    /// Travel-time pairs (node, node, minutes).
    pub pairs: Vec<(usize, usize, f64)>,
    /// Direct TFP effects: (city, sector, size, ramp years, stream purpose).
    pub tfp: Vec<(usize, usize, Uncertain, u32, u64)>,
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
    /// rate, efficiency, composition_gain.
    pub values: [Uncertain; 3],
    /// Their stream purposes (`transfer.<field>`).
    pub purposes: [u64; 3],
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
    /// The numeric fields in [`crate::region::Park::numbers`] order.
    pub values: [Uncertain; 6],
    /// Their stream purposes (`park.<id>.<field>`).
    pub purposes: [u64; 6],
    /// Statistics rule.
    pub statistics: crate::region::Statistics,
}

/// A shift as the model uses it (MODEL.md §7d).
#[derive(Debug, Clone)]
pub struct ModelShift {
    /// City.
    pub city: usize,
    /// Lever.
    pub lever: crate::scenario::Lever,
    /// Sector (tfp only).
    pub sector: usize,
    /// First year.
    pub start: i32,
    /// Last year.
    pub end: i32,
    /// Amount per year.
    pub delta: Uncertain,
    /// Stream purpose.
    pub purpose: u64,
}

/// Per-city base-year data and constants, precomputed.
#[derive(Debug, Clone)]
pub struct CityBase {
    /// Base population by sex and age.
    pub pop: [[f64; AGES]; 2],
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
    /// Index of the city's mortality schedule.
    pub mortality: usize,
    /// Migrant profile μ.
    pub migrants: [[f64; AGES]; 2],
    /// Σ μ over all cells, ages 15–64 and 65+ (both sexes, summed as [`kernels`] does).
    pub migrant_sums: demography::AgeSums,
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
    /// Distinct base mortality schedules m_g(x), `[sex][age]`.
    pub mortality: Vec<[[f64; AGES]; 2]>,
    /// For each schedule and sex, how many leading rates are small enough for the short
    /// exponential series ([`arith::small_prefix`]).
    pub mortality_small: Vec<[usize; 2]>,
    /// Whether every rate of every schedule lies in [0, `arith::EXP_SAFE_RATE`] (707): then the
    /// survival arguments −m·(1 − ι)^k are inside `exp`'s range and need no range checks (the AVX2
    /// kernel skips them).
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
    /// Parameters, in [`PARAMS`] order.
    pub params: Vec<Uncertain>,
    /// Stream purposes of the parameters.
    pub param_purposes: [u64; N_PARAMS],
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
    /// The purposes of the streams a stochastic draw samples its inputs from (the parameters
    /// that are not fixed, the migration offsets, the transfer, parks, shifts and projects), in
    /// the order the draw uses them: their first blocks are computed together
    /// ([`rng::first_blocks`]).
    pub one_shot: Vec<u64>,
    /// A draw's outcomes of the base year, at their positions of [`Model::layout`] (the other
    /// positions NaN): the base year is data, the same in every draw (`sim::base_outcomes`).
    pub base_outcomes: Vec<f64>,
    /// Whether every base-year outcome is finite (the base year's flows, NaN by definition,
    /// aside). Then each draw copies [`Model::base_outcomes`]; otherwise it computes them, and
    /// fails on the first that is not finite, as for any other year.
    pub base_finite: bool,
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
}

impl Model {
    /// Precompute a run's shared data from a region and a validated scenario.
    pub fn new(region: &Region, scenario: &Scenario) -> Result<Model, InputErrors> {
        let n = region.cities.len();
        let b = region.base_year;
        // Mortality schedules, one per distinct (e0_female, e0_male).
        let mut schedules: Vec<([f64; 2], [[f64; AGES]; 2])> = Vec::new();
        let mut errors = Vec::new();
        let mut city_schedule = Vec::with_capacity(n);
        for c in &region.cities {
            let e0 = c.constants.e0;
            if let Some(k) = schedules.iter().position(|(e, _)| *e == e0) {
                city_schedule.push(k);
                continue;
            }
            let mut m = [[0.0; AGES]; 2];
            for g in 0..2 {
                match demography::solve_gompertz(e0[g]) {
                    Some(bg) => m[g] = demography::mortality(bg),
                    None => errors.push(InputError {
                        file: "region".into(),
                        line: None,
                        column: None,
                        key: format!("{}.e0", c.id),
                        message: format!("no Gompertz–Makeham schedule reaches e0 = {}", e0[g]),
                        suggestion: None,
                    }),
                }
            }
            city_schedule.push(schedules.len());
            schedules.push((e0, m));
        }
        if !errors.is_empty() {
            return Err(InputErrors(errors));
        }

        let mut cities = Vec::with_capacity(n);
        let (mut y_sum, mut e_sum) = (0.0, 0.0);
        for (i, c) in region.cities.iter().enumerate() {
            let prof = &region.age_profiles[i];
            let mut pop = [[0.0; AGES]; 2];
            for g in 0..2 {
                for x in 0..AGES {
                    pop[g][x] = c.population * prof[g][x];
                }
            }
            let working: f64 = (15..=64).map(|x| pop[0][x] + pop[1][x]).sum();
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
            cities.push(CityBase {
                pop,
                population: c.population,
                urban: c.urbanization * c.population,
                gdp: c.gdp,
                output,
                capital,
                employment,
                emp_shares,
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
                mortality: city_schedule[i],
                migrants: region.migrant_profiles[i],
                migrant_sums: demography::AgeSums::of(&region.migrant_profiles[i]),
            });
        }
        let mut errors = Vec::new();
        // u_max may be drawn per draw: the base rate must stay 1 point below its lowest value.
        let u_max = scenario.parameters[crate::params::P::UrbanizationCeiling as usize].support().lo;
        for (i, cb) in cities.iter_mut().enumerate() {
            cb.rel_wage = (cb.rel_wage / (y_sum / e_sum)).ln();
            for s in 0..3 {
                if cb.output[s] > 0.0 && cb.emp_shares[s] <= 0.0 {
                    errors.push(InputError {
                        file: "region".into(),
                        line: None,
                        column: None,
                        key: format!(
                            "{}.employment_share_{}",
                            region.cities[i].id,
                            crate::region::SECTORS[s]
                        ),
                        message: "a sector with output needs employment > 0".into(),
                        suggestion: None,
                    });
                }
            }
            if cb.urban / cb.population >= u_max - 0.01 {
                errors.push(InputError {
                    file: "region".into(),
                    line: None,
                    column: None,
                    key: format!("{}.urbanization_2018", region.cities[i].id),
                    message: format!(
                        "found {:.2} %; expected below u_max − 1 point ({:.2} %)",
                        100.0 * cb.urban / cb.population,
                        100.0 * (u_max - 0.01)
                    ),
                    suggestion: None,
                });
            }
        }
        if !errors.is_empty() {
            return Err(InputErrors(errors));
        }
        let (p_sum, mut y1, mut p1) = (cities.iter().map(|c| c.population).sum::<f64>(), 0.0, 0.0);
        for c in &cities {
            y1 += c.gdp * (1.0 + c.g_ref);
            p1 += c.population * (1.0 + c.n_ref);
        }
        let gy_ref_region = (y1 / y_sum) / (p1 / p_sum) - 1.0;

        let mut masses: Vec<f64> = region.cities.iter().map(|c| c.gdp).collect();
        masses.extend(region.nodes.iter().map(|nd| nd.mass));

        let projects = scenario
            .projects
            .iter()
            .filter(|p| p.enabled)
            .map(|p| ModelProject {
                id: p.id.clone(),
                open_year: p.open_year + scenario.delay_shift,
                delay: p.delay.clone().unwrap_or_else(|| region.delay_by_stage[p.stage as usize].clone()),
                delay_purpose: rng::purpose(&format!("project.{}.delay", p.id)),
                pairs: p.pairs.clone(),
                tfp: p
                    .tfp
                    .iter()
                    .enumerate()
                    .map(|(k, t)| {
                        (
                            t.city,
                            t.sector,
                            t.size.clone(),
                            t.ramp_years,
                            rng::purpose(&format!("project.{}.tfp.{k}", p.id)),
                        )
                    })
                    .collect(),
            })
            .collect();

        let mut param_purposes = [0u64; N_PARAMS];
        for (k, p) in PARAMS.iter().enumerate() {
            param_purposes[k] = rng::purpose(p.name);
        }
        let cholesky = region.shock_cholesky.as_ref().map(|l| {
            let mut v = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..n {
                    v[i * n + j] = l[(i, j)];
                }
            }
            v
        });
        let mut model = Model {
            n,
            city_ids: region.cities.iter().map(|c| c.id.clone()).collect(),
            base_year: b,
            horizon: scenario.horizon,
            market_access: scenario.market_access,
            cities,
            mortality_bounded: schedules
                .iter()
                .flat_map(|(_, m)| m.iter().flatten())
                .all(|v| (0.0..=arith::EXP_SAFE_RATE).contains(v)),
            mortality_small: schedules
                .iter()
                .map(|(_, m)| [arith::small_prefix(&m[0]), arith::small_prefix(&m[1])])
                .collect(),
            mortality: schedules.into_iter().map(|(_, m)| m).collect(),
            phi: demography::fertility_schedule(),
            gy_ref_region,
            n_nodes: region.n_nodes(),
            masses,
            travel_times: region.travel_times.clone(),
            projects,
            params: scenario.parameters.clone(),
            param_purposes,
            cholesky,
            transfer: scenario.transfer.as_ref().map(|t| ModelTransfer {
                origins: t.origins.clone(),
                destinations: t.destinations.clone(),
                start: t.start,
                end: t.end,
                values: [t.rate.clone(), t.efficiency.clone(), t.composition_gain.clone()],
                purposes: ["transfer.rate", "transfer.efficiency", "transfer.composition_gain"]
                    .map(rng::purpose),
            }),
            parks: scenario
                .parks
                .iter()
                .map(|p| ModelPark {
                    id: p.id.clone(),
                    host: p.host,
                    partner: p.partner,
                    sector: p.sector,
                    start: p.start,
                    ramp_years: p.ramp_years,
                    values: p.numbers().map(Clone::clone),
                    purposes: crate::region::Park::NUMBER_FIELDS
                        .map(|f| rng::purpose(&format!("park.{}.{f}", p.id))),
                    statistics: p.statistics,
                })
                .collect(),
            shifts: scenario
                .shifts
                .iter()
                .map(|sh| ModelShift {
                    city: sh.city,
                    lever: sh.lever,
                    sector: sh.sector,
                    start: sh.start,
                    end: sh.end,
                    delta: sh.delta.clone(),
                    purpose: rng::purpose(&sh.purpose),
                })
                .collect(),
            layout: Layout {
                cities: n,
                base_year: b,
                horizon: scenario.horizon,
                parks: scenario.parks.len(),
            },
            one_shot: Vec::new(),
            base_outcomes: Vec::new(),
            base_finite: false,
        };
        model.one_shot = model.one_shot_purposes();
        (model.base_outcomes, model.base_finite) = sim::base_outcomes(&model);
        Ok(model)
    }

    /// Whether any lever is on (an industry transfer, a park or a shift).
    pub fn has_levers(&self) -> bool {
        self.transfer.is_some() || !self.parks.is_empty() || !self.shifts.is_empty()
    }

    /// [`Model::one_shot`]: the purpose of each sampled quantity that is not fixed, in the
    /// order of `sim::sample_inputs`.
    fn one_shot_purposes(&self) -> Vec<u64> {
        let params = self.params.iter().zip(self.param_purposes);
        let transfer = self.transfer.iter().flat_map(|t| t.values.iter().zip(t.purposes));
        let parks = self.parks.iter().flat_map(|p| p.values.iter().zip(p.purposes));
        let shifts = self.shifts.iter().map(|s| (&s.delta, s.purpose));
        let projects = self.projects.iter().flat_map(|p| {
            std::iter::once((&p.delay, p.delay_purpose)).chain(p.tfp.iter().map(|(_, _, u, _, q)| (u, *q)))
        });
        let sampled = |(u, p): (&Uncertain, u64)| (!u.is_fixed()).then_some(p);
        params
            .filter_map(sampled)
            .chain(std::iter::once(purposes::MIGRATION_OFFSET))
            .chain(transfer.chain(parks).chain(shifts).chain(projects).filter_map(sampled))
            .collect()
    }
}
