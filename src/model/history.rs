//! Observed years (docs/MODEL.md §11): the restated base year, the city-years a draw is forced
//! through, and the equations that force it.
//!
//! - [`restate`]: the base year on the revised basis — population and urbanization from the
//!   revised series, GDP from the first revised level and its real growth (or the parent's
//!   revision ratio), and each city's age structure fitted to its broad-age shares by projecting
//!   it forward to the year of the shares (docs/MODEL.md §11.1a).
//! - [`Forced`]: for each city and year b+1..=until, the population, urbanization rate and real
//!   growth a draw takes (NaN where nothing is observed).
//! - The equations the year step calls in a forced city-year: [`migrants_to`] (net migration
//!   takes the residual), [`urban_odds`] and [`implied_shock`] (the urbanization shock that
//!   gives the observed rate), [`force_growth`] (the TFP shock that gives the observed growth).

use super::demography::{self, Cells, Mortality};
use super::levers::CityEffects;
use super::{Decays, migration, urbanization};
use crate::arith;
use crate::diagnostics::Diagnostics;
use crate::observed::{Entity, Measure, Observation, Vintage};
use crate::params::Params;
use crate::region::{AGES, City, MAX_AGE, Region};
use crate::scenario::{History, Scenario, VitalRates};

/// The forced values of the observed city-years b+1..=until, city-major within a year: index
/// (t − b − 1)·n + i; NaN where the year is not observed.
#[derive(Debug, Clone, PartialEq)]
pub struct Forced {
    /// The last forced year.
    pub until: i32,
    base_year: i32,
    n: usize,
    /// P_i(t), 10k persons.
    pub population: Vec<f64>,
    /// u_i(t), a fraction.
    pub urbanization: Vec<f64>,
    /// g_i(t), real GDP growth, a fraction.
    pub growth: Vec<f64>,
    /// Each forced value's observation error (sd, in its unit here: 10k persons, a fraction,
    /// a fraction a year; docs/MODEL.md §12.1); NaN where nothing is forced.
    pub population_sd: Vec<f64>,
    /// The urbanization rates' errors.
    pub urbanization_sd: Vec<f64>,
    /// The growth rates' errors.
    pub growth_sd: Vec<f64>,
}

impl Forced {
    fn at(&self, v: &[f64], t: i32, i: usize) -> Option<f64> {
        if t <= self.base_year || t > self.until {
            return None;
        }
        let x = v[(t - self.base_year - 1) as usize * self.n + i];
        (!x.is_nan()).then_some(x)
    }

    /// The population city i takes in year t, if observed.
    #[inline]
    pub fn population(&self, t: i32, i: usize) -> Option<f64> {
        self.at(&self.population, t, i)
    }

    /// The urbanization rate (a fraction) city i takes in year t, if observed.
    #[inline]
    pub fn urbanization(&self, t: i32, i: usize) -> Option<f64> {
        self.at(&self.urbanization, t, i)
    }

    /// The real growth (a fraction) city i takes in year t, if observed.
    #[inline]
    pub fn growth(&self, t: i32, i: usize) -> Option<f64> {
        self.at(&self.growth, t, i)
    }

    /// The observation errors (sd) of city i's population, urbanization rate and growth in
    /// year t (NaN where not forced).
    #[inline]
    pub fn errors(&self, t: i32, i: usize) -> [f64; 3] {
        if t <= self.base_year || t > self.until {
            return [f64::NAN; 3];
        }
        let at = (t - self.base_year - 1) as usize * self.n + i;
        [self.population_sd[at], self.urbanization_sd[at], self.growth_sd[at]]
    }

    /// Whether year t is inside the history (some city may be forced).
    #[inline]
    pub fn covers(&self, t: i32) -> bool {
        t <= self.until
    }
}

/// N_i(t) = (P_i^obs(t) − P_nat,i(t)) / Σμ: the net migrants that bring the natural population
/// to the observed one when spread by the migrant profile (§11.2).
#[inline]
pub fn migrants_to(observed: f64, natural: f64, mu_total: f64) -> f64 {
    (observed - natural) / mu_total
}

/// The odds of the share v* = (U − migrants' urban part)/(u_max·P_nat) whose sigmoid gives the
/// urban population `urban` (§6 solved for v*; v* in [1e-6, 1 − 1e-6], counted when clamped).
#[inline]
pub fn urban_odds(p: &Params, urban: f64, natural: f64, migrants_urban: f64, diag: &mut Diagnostics) -> f64 {
    urbanization::odds_of((urban - migrants_urban) / (p.urbanization_ceiling * natural), diag)
}

/// ζ_i(t) = logit v* − logit v_i(t − 1) − r_i(t) − β_y·Δg_i(t − 1): the urbanization shock that
/// gives the observed rate (§11.2), `ln_odds` = logit v*. It carries on with persistence ρ_u.
#[inline]
pub fn implied_shock(p: &Params, ln_odds: f64, logit_prev: f64, speed: f64, growth_gap: f64) -> f64 {
    ln_odds - logit_prev - speed - p.urbanization_growth_response * growth_gap
}

/// Force real growth g in a year (§11.2): the city's sectors are scaled by
/// f = (1 + g)·Y_i(t − 1)/Y_i(t), each ln A_is raised by ln f (the year's TFP shock z_i + d
/// replaced by the one that gives g); returns the new Y_i(t).
#[inline]
pub fn force_growth(
    growth: f64,
    gdp_prev: f64,
    gdp: f64,
    output: &mut [f64; 3],
    ln_tfp: &mut [f64; 3],
) -> f64 {
    let factor = (1.0 + growth) * gdp_prev / gdp;
    let ln_factor = arith::ln(factor);
    let mut total = 0.0;
    for s in 0..3 {
        output[s] *= factor;
        ln_tfp[s] += ln_factor;
        total += output[s];
    }
    total
}

/// A base-year level on both bases.
#[derive(Debug, Clone, PartialEq)]
pub struct TwoBases {
    /// As first released (the plan's base).
    pub first_release: f64,
    /// Restated (equal to the first release when nothing restates it).
    pub revised: f64,
    /// What the restated value rests on: the observation (with its file and line) or the
    /// derivation.
    pub from: String,
}

/// What the base year of one city rests on, on both bases (for the manifest and docs).
#[derive(Debug, Clone, PartialEq)]
pub struct CityRestatement {
    /// The city's id.
    pub city: String,
    /// P(b), 10k persons.
    pub population: TwoBases,
    /// Y(b), 100M CNY.
    pub gdp: TwoBases,
    /// Whether Y(b) was restated with the parent's revision ratio.
    pub gdp_by_parent_ratio: bool,
    /// u(b), %.
    pub urbanization: TwoBases,
    /// The age structure's fit.
    pub ages: AgeFit,
}

/// A broad age group and its share of the population.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgeGroup {
    /// First age.
    pub from: u8,
    /// Last age (100: and over).
    pub to: u8,
    /// Share, %.
    pub share: f64,
}

/// How a city's base age structure was fitted.
#[derive(Debug, Clone, PartialEq)]
pub struct AgeFit {
    /// Whose shares (the city's or the parent's) and of which year; none when none were used.
    pub shares_of: Option<(String, i32)>,
    /// The disjoint groups and their target shares (normalised to 100 %).
    pub targets: Vec<AgeGroup>,
    /// The groups' shares (%) in the share year, projected from the region's profile.
    pub before: Vec<f64>,
    /// The same from the fitted base.
    pub after: Vec<f64>,
    /// Fixed-point iterations.
    pub iterations: usize,
    /// Crude birth and death rates (‰) of year b+1 implied by the region's profile and by the
    /// fitted base (central parameters, no migration), and the observed ones of year b.
    pub birth_rate: (f64, f64, Option<f64>),
    /// The same of deaths.
    pub death_rate: (f64, f64, Option<f64>),
    /// The crude birth and death rates of the fitted base at the city's levels, and the levels
    /// (§11.1b); none before the levels are found.
    pub vital: Option<((f64, f64), VitalLevels)>,
    /// Why no fit was made, when none was.
    pub note: String,
}

/// The restated base year: the cities' data and age profiles on the revised basis.
#[derive(Debug, Clone)]
pub struct Restated {
    /// The cities with P(b), u(b) and Y(b) restated.
    pub cities: Vec<City>,
    /// The fitted age profiles (shares of P(b), `[sex][age]`).
    pub profiles: Vec<Cells>,
    /// What each rests on.
    pub record: Vec<CityRestatement>,
    /// The 2019-type deflator used in the GDP restatement (the scenario's central π̄).
    pub deflator: f64,
}

/// A city's levels of mortality and fertility in history mode (docs/MODEL.md §11.1b).
#[derive(Debug, Clone, PartialEq)]
pub struct VitalLevels {
    /// λ_i: the multiple of the region's life table's probabilities of dying.
    pub mortality: f64,
    /// κ_i: the multiple of the region's base TFR.
    pub fertility: f64,
    /// Rounds of fit and scaling.
    pub iterations: usize,
    /// What they rest on.
    pub from: String,
}

/// The central value of every parameter of a scenario.
pub fn central_params(scenario: &Scenario) -> Params {
    Params::from_values(&std::array::from_fn(|k| scenario.parameters[k].central()))
}

/// The used observation of a city or the parent, with its line for the record.
fn used(h: &History, e: Entity, year: i32, m: Measure) -> Option<&Observation> {
    h.used(e, year, m)
}

fn cite(o: &Observation, file: &str) -> String {
    format!("{} ({}, {}; {file}:{})", o.value, o.vintage.name(), o.confidence.name(), o.line)
}

/// The base year restated from the observations (§11.1).
pub fn restate(
    region: &Region,
    scenario: &Scenario,
    h: &History,
    mortality: &[Mortality],
    schedule_of: &[usize],
) -> Restated {
    let b = region.base_year;
    let p = central_params(scenario);
    let deflator = p.inflation_mean;
    let file = h.observations.file.as_str();
    let mut cities = region.cities.clone();
    let mut profiles = region.age_profiles.clone();
    let mut record = Vec::new();
    // The parent's GDP revision ratio: its first revised level and real growth of b+1 against
    // its first-release level of b.
    let parent_ratio = {
        let level = used(h, Entity::Parent, b + 1, Measure::GdpNominal);
        let growth = used(h, Entity::Parent, b + 1, Measure::GdpRealGrowth);
        let first = h
            .observations
            .rows
            .iter()
            .filter(|o| o.entity == Entity::Parent && o.year == b && o.measure == Measure::GdpNominal)
            .filter(|o| o.confidence <= h.min_confidence)
            .min_by_key(|o| (o.vintage, o.confidence));
        match (level, growth, first) {
            (Some(l), Some(g), Some(f)) => {
                let restated = l.value / ((1.0 + g.value / 100.0) * (1.0 + deflator));
                Some((
                    restated / f.value,
                    format!(
                        "the parent's revision ratio {:.4} = {} / ((1 + {} %)(1 + π̄ {:.4})) / {}",
                        restated / f.value,
                        cite(l, file),
                        g.value,
                        deflator,
                        cite(f, file)
                    ),
                ))
            }
            _ => None,
        }
    };
    for (i, c) in cities.iter_mut().enumerate() {
        let e = Entity::City(i);
        let first = (c.population, c.gdp, c.urbanization * 100.0);
        let population = match used(h, e, b, Measure::Population) {
            Some(o) => {
                c.population = o.value;
                cite(o, file)
            }
            None => "no revised figure of the base year: the first release kept".into(),
        };
        let urbanization = match used(h, e, b, Measure::UrbanizationRate) {
            Some(o) => {
                c.urbanization = o.value / 100.0;
                cite(o, file)
            }
            None => "no revised figure of the base year: the first release kept".into(),
        };
        let level = used(h, e, b + 1, Measure::GdpNominal);
        let growth = used(h, e, b + 1, Measure::GdpRealGrowth);
        let by_parent = level.zip(growth).is_none() && parent_ratio.is_some();
        let gdp = match (level, growth, &parent_ratio) {
            (Some(l), Some(g), _) => {
                c.gdp = l.value / ((1.0 + g.value / 100.0) * (1.0 + deflator));
                format!("{} / ((1 + {} %)(1 + π̄ {deflator:.4}))", cite(l, file), g.value)
            }
            (_, _, Some((ratio, how))) => {
                c.gdp *= ratio;
                format!("first release × {how}")
            }
            _ => "no revised level of the next year and no parent ratio: the first release kept".into(),
        };
        let cells: Cells = std::array::from_fn(|g| std::array::from_fn(|x| c.population * profiles[i][g][x]));
        let path = population_path(h, e, b, c.population);
        let observed = |m| used(h, e, b, m);
        let targets = match h.vital_rates {
            VitalRates::BaseYear => (observed(Measure::CrudeDeathRate), observed(Measure::CrudeBirthRate)),
            VitalRates::Region => (None, None),
        };
        let base = &mortality[schedule_of[i]];
        let mut levels = VitalLevels { mortality: 1.0, fertility: 1.0, iterations: 0, from: String::new() };
        let tfr_base = c.constants.tfr_base;
        let (mut fitted, mut ages) = (cells, None);
        let mut first_rates = None;
        // The age fit and the levels depend on each other: fit at the current levels, then scale
        // each level by observed / model rate, until both rates are met within 1e-9 ‰.
        for round in 1..=50 {
            c.constants.tfr_base = tfr_base * levels.fertility;
            let ctx = FitCity {
                city: c,
                mortality: base,
                mortality_level: levels.mortality,
                migrants: &region.migrant_profiles[i],
                path: path.clone(),
            };
            let (f, a) = fit_city(h, region, &p, &ctx, cells, i);
            first_rates.get_or_insert((a.birth_rate, a.death_rate));
            levels.iterations = round;
            let (death, birth) = (a.death_rate.1, a.birth_rate.1);
            (fitted, ages) = (f, Some(a));
            let met = |target: Option<&Observation>, rate: f64| {
                target.is_none_or(|o| (rate - o.value).abs() < 1e-9)
            };
            if met(targets.0, death) && met(targets.1, birth) {
                break;
            }
            if let Some(o) = targets.0 {
                levels.mortality *= o.value / death;
            }
            if let Some(o) = targets.1 {
                levels.fertility *= o.value / birth;
            }
        }
        let mut ages = ages.expect("at least one round");
        let (birth_rate, death_rate) = first_rates.expect("at least one round");
        levels.from = match (targets.0, targets.1) {
            (None, None) if h.vital_rates == VitalRates::Region => {
                "the region's (history.vital_rates = \"region\")".into()
            }
            (None, None) => "no crude rates of the base year: the region's".into(),
            (d, bth) => {
                let part = |o: Option<&Observation>, what: &str| match o {
                    Some(o) => format!("{what} {}", cite(o, file)),
                    None => format!("{what}: none published, the region's"),
                };
                format!("{}; {}", part(d, "crude death rate"), part(bth, "crude birth rate"))
            }
        };
        ages.vital = Some(((ages.birth_rate.1, ages.death_rate.1), levels.clone()));
        (ages.birth_rate, ages.death_rate) = (birth_rate, death_rate);
        let total: f64 = fitted.iter().flatten().sum();
        profiles[i] = std::array::from_fn(|g| std::array::from_fn(|x| fitted[g][x] / total));
        record.push(CityRestatement {
            city: c.id.clone(),
            population: TwoBases { first_release: first.0, revised: c.population, from: population },
            gdp: TwoBases { first_release: first.1, revised: c.gdp, from: gdp },
            gdp_by_parent_ratio: by_parent,
            urbanization: TwoBases {
                first_release: first.2,
                revised: c.urbanization * 100.0,
                from: urbanization,
            },
            ages,
        });
    }
    Restated { cities, profiles, record, deflator }
}

/// A city's data for the age fit.
struct FitCity<'a> {
    city: &'a City,
    mortality: &'a Mortality,
    /// λ_i (§11.1b).
    mortality_level: f64,
    migrants: &'a Cells,
    /// P(t) for t = b, b+1, …: observed, or interpolated log-linearly between observations.
    path: Vec<Option<f64>>,
}

/// The city's population path b..=until: the observed (revised, used) populations, log-linear
/// between them; none after the last.
fn population_path(h: &History, e: Entity, b: i32, base: f64) -> Vec<Option<f64>> {
    let mut known: Vec<(i32, f64)> = vec![(b, base)];
    for t in b + 1..=h.until {
        if let Some(o) = h.used(e, t, Measure::Population) {
            known.push((t, o.value));
        }
    }
    (b..=h.until)
        .map(|t| {
            let after = known.iter().position(|(y, _)| *y >= t)?;
            let (y1, p1) = known[after];
            if y1 == t {
                return Some(p1);
            }
            let (y0, p0) = known[after - 1];
            let w = f64::from(t - y0) / f64::from(y1 - y0);
            Some(p0 * (p1 / p0).powf(w))
        })
        .collect()
}

/// One year b+k of the fit's projection (§11.1): the cohort-component step with central
/// parameters, then the net migrants that bring it to the path's population (none where the
/// path has no value). Returns births and deaths.
fn fit_year(ctx: &FitCity<'_>, p: &Params, phi: &[f64; AGES], k: i32, cells: &mut Cells) -> (f64, f64) {
    let decays = Decays::of(p, k);
    let mut survival = demography::survival(ctx.mortality, false, demography::improvement(p, k as u32));
    if ctx.mortality_level != 1.0 {
        let base = survival.clone();
        demography::scaled_survival(&base, ctx.mortality_level, &mut survival);
    }
    let tfr = demography::tfr(p, ctx.city.constants.tfr_base, decays.tfr, &CityEffects::OFF);
    let srb = ctx.city.constants.sex_ratio_at_birth;
    let natural = demography::project_year(cells, &survival, tfr, phi, srb / (1.0 + srb));
    if let Some(Some(target)) = ctx.path.get(k as usize) {
        let mu_total: f64 = ctx.migrants.iter().flatten().sum();
        let n = migrants_to(*target, natural.population, mu_total);
        let (mut removal, mut capped) = ([[0.0; AGES]; 2], [[false; AGES]; 2]);
        migration::spread(cells, ctx.migrants, mu_total, n, &mut removal, &mut capped);
    }
    (natural.births, natural.deaths)
}

/// The broad-age shares a city's base is fitted to: its own of the best year (a census first,
/// then the latest), else the parent's; as disjoint groups solved from the published ones.
fn share_targets(h: &History, i: usize) -> Option<(Entity, i32, Vec<AgeGroup>)> {
    for e in [Entity::City(i), Entity::Parent] {
        let mut years: Vec<(bool, i32)> = h
            .observations
            .rows
            .iter()
            .filter(|o| o.entity == e && matches!(o.measure, Measure::AgeShare { .. }))
            .filter(|o| h.used(e, o.year, o.measure).is_some())
            .map(|o| (o.vintage == Vintage::Census, o.year))
            .collect();
        years.sort();
        let Some(&(_, year)) = years.last() else { continue };
        let shares: Vec<AgeGroup> = h
            .observations
            .rows
            .iter()
            .filter(|o| o.entity == e && o.year == year)
            .filter_map(|o| match o.measure {
                Measure::AgeShare { from, to } => {
                    let used = h.used(e, year, o.measure)?;
                    let to = to.unwrap_or(MAX_AGE as u8);
                    std::ptr::eq(used, o).then_some(AgeGroup { from, to, share: o.value })
                }
                _ => None,
            })
            .collect();
        if let Some(groups) = disjoint_groups(&shares) {
            return Some((e, year, groups));
        }
    }
    None
}

/// Disjoint age groups covering 0..=100 and their shares (%), solved by least squares from
/// possibly overlapping published groups and the whole (100 %): none when the published groups
/// do not determine every group's share.
pub fn disjoint_groups(shares: &[AgeGroup]) -> Option<Vec<AgeGroup>> {
    let mut cuts: Vec<u8> = vec![0, MAX_AGE as u8 + 1];
    for g in shares {
        cuts.push(g.from);
        cuts.push(g.to + 1);
    }
    cuts.sort_unstable();
    cuts.dedup();
    let groups: Vec<(u8, u8)> = cuts.windows(2).map(|w| (w[0], w[1] - 1)).collect();
    let rows = shares.len() + 1;
    let a = nalgebra::DMatrix::from_fn(rows, groups.len(), |r, c| {
        let (from, to) = if r < shares.len() { (shares[r].from, shares[r].to) } else { (0, MAX_AGE as u8) };
        let (g0, g1) = groups[c];
        if g0 >= from && g1 <= to { 1.0 } else { 0.0 }
    });
    let y = nalgebra::DVector::from_fn(rows, |r, _| if r < shares.len() { shares[r].share } else { 100.0 });
    let svd = a.clone().svd(true, true);
    if svd.rank(1e-9) < groups.len() {
        return None;
    }
    let x = svd.solve(&y, 1e-12).ok()?;
    if x.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
        return None;
    }
    Some(groups.iter().zip(x.iter()).map(|(&(from, to), &share)| AgeGroup { from, to, share }).collect())
}

/// The shares (%) of `groups` in `cells`.
fn group_shares(cells: &Cells, groups: &[AgeGroup]) -> Vec<f64> {
    let total: f64 = cells.iter().flatten().sum();
    groups
        .iter()
        .map(|g| {
            let s: f64 = (g.from as usize..=g.to as usize).map(|x| cells[0][x] + cells[1][x]).sum();
            100.0 * s / total
        })
        .collect()
}

/// Fit city i's base cells to its broad-age shares (§11.1): project the base to the share year
/// Y (central parameters, the population path's migrants); scale each base cohort by the ratio
/// of the target to the projected share of the group it is in at Y; renormalise to P(b); repeat
/// until every share is within 1e-9 points (at most 200 times).
fn fit_city(
    h: &History,
    region: &Region,
    p: &Params,
    ctx: &FitCity<'_>,
    start: Cells,
    i: usize,
) -> (Cells, AgeFit) {
    let b = region.base_year;
    let phi = demography::fertility_schedule();
    let rates = |cells: &Cells| {
        let mut c = *cells;
        let p0: f64 = c.iter().flatten().sum();
        let only_natural = FitCity { path: Vec::new(), ..*ctx };
        let (births, deaths) = fit_year(&only_natural, p, &phi, 1, &mut c);
        let p1: f64 = c.iter().flatten().sum();
        let mean = 0.5 * (p0 + p1);
        (1000.0 * births / mean, 1000.0 * deaths / mean)
    };
    let observed = |m| h.used(Entity::City(i), b, m).map(|o| o.value);
    let (b0, d0) = rates(&start);
    let mut fit = AgeFit {
        shares_of: None,
        targets: Vec::new(),
        before: Vec::new(),
        after: Vec::new(),
        iterations: 0,
        birth_rate: (b0, b0, observed(Measure::CrudeBirthRate)),
        death_rate: (d0, d0, observed(Measure::CrudeDeathRate)),
        vital: None,
        note: String::new(),
    };
    let Some((entity, year, groups)) = share_targets(h, i) else {
        fit.note = "no broad-age shares up to `until` (nor the parent's): the region's profile kept".into();
        return (start, fit);
    };
    let years = year - b;
    let project = |cells: &Cells| {
        let mut c = *cells;
        for k in 1..=years {
            fit_year(ctx, p, &phi, k, &mut c);
        }
        c
    };
    let target: f64 = groups.iter().map(|g| g.share).sum();
    let targets: Vec<f64> = groups.iter().map(|g| 100.0 * g.share / target).collect();
    let group_of: Vec<usize> = (0..AGES)
        .map(|x| {
            let a = (x as i32 + years).min(MAX_AGE as i32) as u8;
            groups.iter().position(|g| a >= g.from && a <= g.to).unwrap_or(0)
        })
        .collect();
    if (0..groups.len()).any(|k| !group_of.contains(&k)) {
        fit.note = format!("a group of {year} holds only people born after the base year: not fitted");
        return (start, fit);
    }
    let p_base: f64 = start.iter().flatten().sum();
    let mut cells = start;
    fit.before = group_shares(&project(&start), &groups);
    for iteration in 1..=200 {
        let shares = group_shares(&project(&cells), &groups);
        fit.iterations = iteration;
        if shares.iter().zip(&targets).all(|(s, t)| (s - t).abs() < 1e-9) {
            break;
        }
        for g in 0..2 {
            for x in 0..AGES {
                let k = group_of[x];
                cells[g][x] *= targets[k] / shares[k];
            }
        }
        let total: f64 = cells.iter().flatten().sum();
        cells.iter_mut().flatten().for_each(|v| *v *= p_base / total);
    }
    fit.after = group_shares(&project(&cells), &groups);
    fit.shares_of = Some((entity_id(h, entity, region), year));
    fit.targets = groups.iter().zip(&targets).map(|(g, &share)| AgeGroup { share, ..*g }).collect();
    let (b1, d1) = rates(&cells);
    fit.birth_rate.1 = b1;
    fit.death_rate.1 = d1;
    (cells, fit)
}

/// A published crude rate of an observed year, scored by the history pass (docs/MODEL.md §12.1):
/// the density of `value` given the model's rate of the year, N(value; rate, sd²).
#[derive(Debug, Clone, PartialEq)]
pub struct CrudeScore {
    /// The year.
    pub year: i32,
    /// The city, or none for the parent's rate read as the region's (its cities together) plus
    /// the base year's published gap between the two.
    pub city: Option<usize>,
    /// Deaths (else births).
    pub deaths: bool,
    /// The published rate (‰), less the base year's gap for the parent's.
    pub value: f64,
    /// The observation's error and the model's discrepancy together (‰).
    pub sd: f64,
    /// The variance the rate is scored with: sd² (deaths), or (sd/value)² of ln value (births,
    /// scored in logs, docs/MODEL.md §12.1).
    pub var: f64,
    /// ln value (births; 0 for deaths).
    pub ln_value: f64,
    /// −½·ln(2π·var), the density's constant, computed once.
    pub log_norm: f64,
}

impl CrudeScore {
    /// A score of `value` with error `sd` (its variance and constants computed once).
    pub fn new(year: i32, city: Option<usize>, deaths: bool, value: f64, sd: f64) -> CrudeScore {
        let var = if deaths { sd * sd } else { (sd / value).powi(2) };
        let ln_value = if deaths { 0.0 } else { value.ln() };
        let log_norm = -0.5 * (std::f64::consts::TAU * var).ln();
        CrudeScore { year, city, deaths, value, sd, var, ln_value, log_norm }
    }
}

/// The model's discrepancy for a city's crude rate (‰, one sd): what a smooth TFR path and
/// life table cannot produce from one year to the next (a zodiac year, an epidemic's deaths);
/// docs/MODEL.md §12.1.
pub const CRUDE_DISCREPANCY: f64 = 0.3;

/// The same for the parent's rate read as the region's: the other cities of the parent move
/// on their own.
pub const PARENT_CRUDE_DISCREPANCY: f64 = 0.5;

/// The crude rates of b+1..=until the history pass scores when `history.score_crude_rates` is
/// on (§12.1; none otherwise): every city's used rate, and the parent's when it and every city
/// published the rate of b (the gap of b: the parent's rate less the cities' population-weighted
/// rate, with the restated populations `cities`).
pub fn crude_scores(h: &History, cities: &[City], base_year: i32) -> Vec<CrudeScore> {
    let b = base_year;
    let mut out = Vec::new();
    if !h.score_crude_rates {
        return out;
    }
    for (deaths, m) in [(false, Measure::CrudeBirthRate), (true, Measure::CrudeDeathRate)] {
        let sd = |o: &Observation, delta: f64| {
            (super::condition::observation_sd(o).powi(2) + delta * delta).sqrt()
        };
        for t in b + 1..=h.until {
            for i in 0..cities.len() {
                if let Some(o) = h.used(Entity::City(i), t, m) {
                    out.push(CrudeScore::new(t, Some(i), deaths, o.value, sd(o, CRUDE_DISCREPANCY)));
                }
            }
        }
        let base: Option<Vec<f64>> =
            (0..cities.len()).map(|i| h.used(Entity::City(i), b, m).map(|o| o.value)).collect();
        let (Some(parent), Some(base)) = (h.used(Entity::Parent, b, m), base) else { continue };
        let total: f64 = cities.iter().map(|c| c.population).sum();
        let region: f64 = cities.iter().zip(&base).map(|(c, r)| c.population * r).sum::<f64>() / total;
        let gap = parent.value - region;
        for t in b + 1..=h.until {
            if let Some(o) = h.used(Entity::Parent, t, m) {
                out.push(CrudeScore::new(t, None, deaths, o.value - gap, sd(o, PARENT_CRUDE_DISCREPANCY)));
            }
        }
    }
    out
}

/// An observed year's GDP deflator, implied by a city's (or the parent's) published nominal GDP of
/// two successive years and its real growth (docs/MODEL.md §12.1b): the history pass scores it
/// against the draw's price growth, ln(1 + π̄ + σ_π·ε_π(t)).
#[derive(Debug, Clone, PartialEq)]
pub struct DeflatorScore {
    /// The year t.
    pub year: i32,
    /// The city, or none for the parent's deflator read as the region's.
    pub city: Option<usize>,
    /// d = ln N(t) − ln N(t − 1) − ln(1 + g(t)): the log growth of the implied deflator.
    pub value: f64,
    /// The observations' errors and the discrepancy between this deflator and the region's
    /// price level together (log points, one sd).
    pub sd: f64,
}

/// The discrepancy of a city's yearly deflator from the region's price level (log points, one
/// sd): cities' deflators follow their industries (docs/MODEL.md §12.1b).
pub const DEFLATOR_DISCREPANCY: f64 = 0.015;

/// The same for the parent's: the region is some 60 % of it, so half a city's.
pub const PARENT_DEFLATOR_DISCREPANCY: f64 = 0.0075;

/// The deflators of b+1..=until the history pass scores (§12.1b): each city's and the parent's
/// year t with used nominal GDP of t and t − 1 (revised basis) and real growth of t.
pub fn deflator_scores(h: &History, n: usize, base_year: i32) -> Vec<DeflatorScore> {
    let mut out = Vec::new();
    let relative = |o: &Observation| super::condition::observation_sd(o) / o.value;
    let entities = (0..n).map(|i| (Entity::City(i), Some(i), DEFLATOR_DISCREPANCY));
    for (e, city, delta) in entities.chain([(Entity::Parent, None, PARENT_DEFLATOR_DISCREPANCY)]) {
        for t in base_year + 1..=h.until {
            let level = h.used(e, t, Measure::GdpNominal);
            let before = h.used(e, t - 1, Measure::GdpNominal);
            let growth = h.used(e, t, Measure::GdpRealGrowth);
            let (Some(l), Some(p), Some(g)) = (level, before, growth) else { continue };
            let sd_g = super::condition::observation_sd(g) / (100.0 + g.value);
            let var = relative(l).powi(2) + relative(p).powi(2) + sd_g * sd_g + delta * delta;
            out.push(DeflatorScore {
                year: t,
                city,
                value: l.value.ln() - p.value.ln() - (g.value / 100.0).ln_1p(),
                sd: var.sqrt(),
            });
        }
    }
    out
}

/// The forced values of a scenario's history (§11.2): per city and year b+1..=until, the used
/// population, urbanization rate and real growth (revised basis, confidence at least the floor).
pub fn forced(region: &Region, h: &History) -> Forced {
    let (b, n) = (region.base_year, region.cities.len());
    let years = (h.until - b).max(0) as usize;
    let mut f = Forced {
        until: h.until,
        base_year: b,
        n,
        population: vec![f64::NAN; years * n],
        urbanization: vec![f64::NAN; years * n],
        growth: vec![f64::NAN; years * n],
        population_sd: vec![f64::NAN; years * n],
        urbanization_sd: vec![f64::NAN; years * n],
        growth_sd: vec![f64::NAN; years * n],
    };
    for t in b + 1..=h.until {
        for i in 0..n {
            let at = (t - b - 1) as usize * n + i;
            let e = Entity::City(i);
            if let Some(o) = h.used(e, t, Measure::Population) {
                f.population[at] = o.value;
                f.population_sd[at] = super::condition::observation_sd(o);
            }
            if let Some(o) = h.used(e, t, Measure::UrbanizationRate) {
                f.urbanization[at] = o.value / 100.0;
                f.urbanization_sd[at] = super::condition::observation_sd(o) / 100.0;
            }
            if let Some(o) = h.used(e, t, Measure::GdpRealGrowth) {
                f.growth[at] = o.value / 100.0;
                f.growth_sd[at] = super::condition::observation_sd(o) / 100.0;
            }
        }
    }
    f
}

/// The id of an observation's entity.
fn entity_id(h: &History, e: Entity, region: &Region) -> String {
    match e {
        Entity::City(i) => region.cities[i].id.clone(),
        Entity::Region => "region".into(),
        Entity::Parent => h.parent.clone().unwrap_or_else(|| "parent".into()),
    }
}

/// What a run does with one row of its observation file.
#[derive(Debug, Clone, PartialEq)]
pub enum Use {
    /// Every draw takes it (population, urbanization rate, real growth of a city-year after the
    /// base year).
    Forced,
    /// The restated base year rests on it.
    Base,
    /// Set beside the fitted base year as a check (crude birth and death rates of the base year).
    Check,
    /// Enters the history pass's weights, not forced (nominal GDP and the parent's real growth of
    /// a scored deflator, §12.1b; crude rates when scored, §12.1).
    Scored,
    /// Set beside the run's band, not forced (nominal GDP, shares, other rates, census counts).
    Compared,
    /// Not used, and why.
    Unused(String),
}

impl Use {
    /// The name in `observed.csv`.
    pub fn name(&self) -> &'static str {
        match self {
            Use::Forced => "forced",
            Use::Base => "base",
            Use::Check => "check",
            Use::Scored => "scored",
            Use::Compared => "compared",
            Use::Unused(_) => "unused",
        }
    }
}

/// What the run does with each row of the history's observations (docs/MODEL.md §11.4), in
/// file order; `m` is history mode as the model made it (its restatement and scored values).
pub fn uses(region: &Region, h: &History, m: &super::ModelHistory) -> Vec<Use> {
    let record = &m.restatement;
    let b = region.base_year;
    let obs = &h.observations;
    // The parent's rows of the GDP revision ratio, when a city took it.
    let parent_ratio = record.iter().any(|r| r.gdp_by_parent_ratio);
    (0..obs.rows.len())
        .map(|k| {
            let o = &obs.rows[k];
            let ratio_row = parent_ratio
                && o.entity == Entity::Parent
                && ((o.year == b + 1 && matches!(o.measure, Measure::GdpNominal | Measure::GdpRealGrowth))
                    || (o.year == b && o.measure == Measure::GdpNominal));
            if o.year > h.until {
                return Use::Unused(format!("after until ({})", h.until));
            }
            if o.confidence > h.min_confidence {
                return Use::Unused(format!("confidence below {}", h.min_confidence.name()));
            }
            if !obs.is_best(k, h.min_confidence) {
                let best = obs.best(o.entity, o.year, o.measure, h.min_confidence).map(|b| b.vintage.name());
                return Use::Unused(format!("the {} figure is used", best.unwrap_or("other")));
            }
            if ratio_row {
                return Use::Base;
            }
            if h.used(o.entity, o.year, o.measure).is_none() {
                return Use::Unused("on the first-release basis (the run's is the revised)".into());
            }
            let in_fit = |e: Entity, year: i32| {
                record.iter().any(|r| {
                    r.ages
                        .shares_of
                        .as_ref()
                        .is_some_and(|(id, y)| *y == year && *id == entity_id(h, e, region))
                })
            };
            let city_of = |e: Entity| match e {
                Entity::City(i) => Some(Some(i)),
                Entity::Parent => Some(None),
                Entity::Region => None,
            };
            let scored = city_of(o.entity).is_some_and(|city| match o.measure {
                Measure::GdpNominal => {
                    m.deflators.iter().any(|d| d.city == city && (d.year == o.year || d.year == o.year + 1))
                }
                Measure::GdpRealGrowth => m.deflators.iter().any(|d| d.city == city && d.year == o.year),
                Measure::CrudeBirthRate | Measure::CrudeDeathRate => m.crude.iter().any(|c| {
                    c.city == city && c.year == o.year && c.deaths == (o.measure == Measure::CrudeDeathRate)
                }),
                _ => false,
            });
            match (o.entity, o.measure) {
                (Entity::City(_), Measure::Population | Measure::UrbanizationRate) if o.year == b => {
                    Use::Base
                }
                (
                    Entity::City(_),
                    Measure::Population | Measure::UrbanizationRate | Measure::GdpRealGrowth,
                ) => Use::Forced,
                (Entity::City(_), Measure::GdpNominal) if o.year == b + 1 => Use::Base,
                (Entity::City(_), Measure::CrudeBirthRate | Measure::CrudeDeathRate) if o.year == b => {
                    Use::Check
                }
                _ if scored => Use::Scored,
                (e, Measure::AgeShare { .. }) if in_fit(e, o.year) => Use::Base,
                (Entity::City(_) | Entity::Region, _) => Use::Compared,
                (Entity::Parent, _) => Use::Unused("context (the parent's figure)".into()),
            }
        })
        .collect()
}

/// The observed value of an outcome indicator for an entity (a city, or the region as the sum
/// of its cities) and a year up to `until`, from the used observations (revised basis): a city's
/// own figure; the region's population and nominal GDP as sums, its urbanization rate weighted
/// by population, when every city has them (or the file has the region's own figure). `Err`
/// names the cities without a figure (none: the indicator is not observed).
pub fn observed_value(
    region: &Region,
    h: &History,
    entity: usize,
    year: i32,
    indicator: crate::indicators::Indicator,
) -> Result<f64, Vec<String>> {
    use crate::indicators::Indicator as I;
    let measure = match indicator {
        I::Population => Measure::Population,
        I::UrbanizationRate => Measure::UrbanizationRate,
        I::GdpNominal => Measure::GdpNominal,
        I::GdpGrowth => Measure::GdpRealGrowth,
        I::GdpSharePrimary => Measure::GdpShare(0),
        I::GdpShareSecondary => Measure::GdpShare(1),
        I::GdpShareTertiary => Measure::GdpShare(2),
        _ => return Err(Vec::new()),
    };
    let n = region.cities.len();
    let get = |e: Entity, m: Measure| h.used(e, year, m).map(|o| o.value);
    if entity < n {
        return get(Entity::City(entity), measure).ok_or_else(|| vec![region.cities[entity].id.clone()]);
    }
    if let Some(v) = get(Entity::Region, measure) {
        return Ok(v);
    }
    let mut missing = Vec::new();
    let (mut sum, mut weights) = (0.0, 0.0);
    for (i, c) in region.cities.iter().enumerate() {
        let e = Entity::City(i);
        let value = match measure {
            Measure::Population | Measure::GdpNominal => get(e, measure).map(|v| (v, 1.0)),
            Measure::UrbanizationRate => get(e, measure).zip(get(e, Measure::Population)),
            _ => return Err(Vec::new()),
        };
        match value {
            Some((v, w)) => {
                sum += v * w;
                weights += w;
            }
            None => missing.push(c.id.clone()),
        }
    }
    match measure {
        _ if !missing.is_empty() => Err(missing),
        Measure::UrbanizationRate => Ok(sum / weights),
        _ => Ok(sum),
    }
}

/// The factor that takes a level of an entity from the revised basis to the first-release
/// basis: the ratio of the base year's first-release to restated level (population, nominal
/// GDP, urbanization rate; none for rates and shares, comparable across bases).
pub fn first_release_factor(
    record: &[CityRestatement],
    entity: usize,
    indicator: crate::indicators::Indicator,
) -> Option<f64> {
    use crate::indicators::Indicator as I;
    let pick = |r: &CityRestatement| match indicator {
        I::Population => Some((r.population.first_release, r.population.revised, 1.0, 1.0)),
        I::GdpNominal => Some((r.gdp.first_release, r.gdp.revised, 1.0, 1.0)),
        I::UrbanizationRate => Some((
            r.urbanization.first_release,
            r.urbanization.revised,
            r.population.first_release,
            r.population.revised,
        )),
        _ => None,
    };
    let cities: Vec<&CityRestatement> =
        if entity < record.len() { vec![&record[entity]] } else { record.iter().collect() };
    let (mut first, mut restated, mut w_first, mut w_restated) = (0.0, 0.0, 0.0, 0.0);
    for r in cities {
        let (f, x, wf, wr) = pick(r)?;
        first += f * wf;
        restated += x * wr;
        w_first += wf;
        w_restated += wr;
    }
    Some((first / w_first) / (restated / w_restated))
}
