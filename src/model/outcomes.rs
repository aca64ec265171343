//! A draw's outcomes (MODEL.md §9): every indicator of every city and the region for each year,
//! the parks' series, and the population pyramids of the base year and the horizon, written into
//! the draw's slice at the positions of [`crate::indicators::Layout`].

use super::Model;
use super::levers::YearEffects;
use super::state::CityState;
use crate::error::ModelError;
use crate::indicators::{INDICATORS, Indicator, Layout, N_INDICATORS, PYRAMID_GROUPS, ParkIndicator};
use crate::params::{PARAMS, Params};

/// What an entity's indicators of a year are made of: a city's values, or the sums of the
/// cities' for the region (whose rates are then ratios of sums).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    /// P(t).
    pub population: f64,
    /// U(t).
    pub urban: f64,
    /// W(t), aged 15–64.
    pub working_age: f64,
    /// Aged 65 and over.
    pub old: f64,
    /// E(t).
    pub employment: f64,
    /// Y(t), territorial.
    pub gdp: f64,
    /// Y_s(t) by sector.
    pub output: [f64; 3],
    /// Births.
    pub births: f64,
    /// Deaths.
    pub deaths: f64,
    /// Realised net migrants.
    pub net_migration: f64,
    /// P(t − 1).
    pub population_prev: f64,
    /// Y(t − 1).
    pub gdp_prev: f64,
    /// Park tax received as a partner.
    pub park_tax: f64,
}

impl Totals {
    /// A city's totals, with the park tax it receives.
    #[inline]
    pub fn of(c: &CityState, park_tax: f64) -> Totals {
        Totals {
            population: c.population,
            urban: c.urban,
            working_age: c.working_age,
            old: c.old,
            employment: c.employment,
            gdp: c.gdp,
            output: c.output,
            births: c.births,
            deaths: c.deaths,
            net_migration: c.net_migration,
            population_prev: c.population_prev,
            gdp_prev: c.gdp_prev,
            park_tax,
        }
    }

    /// Add another entity's totals, value by value.
    #[inline]
    pub fn add(&mut self, o: &Totals) {
        self.population += o.population;
        self.urban += o.urban;
        self.working_age += o.working_age;
        self.old += o.old;
        self.employment += o.employment;
        self.gdp += o.gdp;
        for s in 0..3 {
            self.output[s] += o.output[s];
        }
        self.births += o.births;
        self.deaths += o.deaths;
        self.net_migration += o.net_migration;
        self.population_prev += o.population_prev;
        self.gdp_prev += o.gdp_prev;
        self.park_tax += o.park_tax;
    }
}

/// A draw's state at the end of a year, as its outcomes are made of it.
#[derive(Debug, Clone, Copy)]
pub struct YearEnd<'a> {
    /// Every city.
    pub cities: &'a [CityState],
    /// The levers' effects of the year (assessment GDP, park tax, the parks' series).
    pub effects: &'a YearEffects,
    /// The price level.
    pub price: f64,
    /// The draw's parameters (named in errors).
    pub params: &'a Params,
}

/// Write year t's outcomes of every city and the region, the parks' series and (in the base
/// year and the horizon) the pyramids, into the draw's slice; an error names the first outcome
/// that is not finite.
#[inline(always)]
pub fn write_year(
    model: &Model,
    year: &YearEnd<'_>,
    t: i32,
    draw: u64,
    out: &mut [f64],
) -> Result<(), ModelError> {
    let YearEnd { cities, effects, price, params } = *year;
    let layout = model.layout;
    let base = t == model.base_year;
    let mut region = Totals::default();
    for (i, (c, e)) in cities.iter().zip(&effects.cities).enumerate() {
        let city = Totals::of(c, e.park_tax);
        region.add(&city);
        if !write_entity(slot(layout, i, t, out), base, &city, c.gdp + e.assessment, price) {
            check(layout, i, t, draw, &model.city_ids[i], params, out)?;
        }
    }
    // The region's assessment GDP is its territorial GDP (MODEL.md §7b).
    if !write_entity(slot(layout, model.n, t, out), base, &region, region.gdp, price) {
        check(layout, model.n, t, draw, "region", params, out)?;
    }
    if base || t == model.horizon {
        write_pyramids(model, cities, usize::from(!base), out);
    }
    for (k, y) in effects.parks.iter().enumerate() {
        out[layout.park_index(k, t, ParkIndicator::ValueAdded)] = y.value_added;
        out[layout.park_index(k, t, ParkIndicator::Employment)] = y.workers_realised;
        out[layout.park_index(k, t, ParkIndicator::Capital)] = y.capital;
        out[layout.park_index(k, t, ParkIndicator::TaxToPartner)] = y.tax;
    }
    Ok(())
}

/// Population by sex and 5-year age group (85+ last) of every city and the region, of the base
/// year (`which` 0) or the horizon (1).
#[inline(always)]
pub fn write_pyramids(model: &Model, cities: &[CityState], which: usize, out: &mut [f64]) {
    let l = model.layout;
    for sex in 0..2 {
        for g in 0..PYRAMID_GROUPS {
            let mut total = 0.0;
            for (i, c) in cities.iter().enumerate() {
                // Each group's ages summed left to right (a 5-year group as an array of five, so
                // that the sum unrolls; 85+ is the rest).
                let v: f64 = if g + 1 < PYRAMID_GROUPS {
                    let ages: &[f64; 5] = c.cells[sex][5 * g..5 * g + 5].try_into().expect("five ages");
                    ages.iter().sum()
                } else {
                    c.cells[sex][5 * g..].iter().sum()
                };
                out[l.pyramid_index(i, which, sex, g)] = v;
                total += v;
            }
            out[l.pyramid_index(model.n, which, sex, g)] = total;
        }
    }
}

/// Entity e's indicators of year t in a draw's slice.
#[inline(always)]
fn slot(layout: Layout, e: usize, t: i32, out: &mut [f64]) -> &mut [f64] {
    let at = layout.index(e, t, Indicator::Population);
    &mut out[at..at + N_INDICATORS]
}

/// Write one entity's indicators of a year (MODEL.md §9) from its totals into its `slot` (one
/// value per indicator, in their order; `base`: the base year, without flows); returns whether
/// every value written is finite (the base year's flows, NaN by definition, are not counted).
/// The values are checked while in registers: reading them back right after the scalar stores
/// would wait for those stores to reach the cache.
#[inline(always)]
pub fn write_entity(slot: &mut [f64], base: bool, v: &Totals, assessment: f64, price: f64) -> bool {
    use Indicator::*;
    let p_mid = if base { v.population } else { 0.5 * (v.population + v.population_prev) };
    // x − x is +0 for every finite x and NaN for ±∞ and NaN: the sum stays 0 while all are finite.
    let mut zero = 0.0;
    let mut put = |ind: Indicator, x: f64| {
        slot[ind as usize] = x;
        #[allow(clippy::eq_op)]
        {
            zero += x - x;
        }
    };
    put(Population, v.population);
    put(UrbanPopulation, v.urban);
    put(UrbanizationRate, 100.0 * v.urban / v.population);
    put(WorkingAgeShare, 100.0 * v.working_age / v.population);
    put(OldAgeDependency, 100.0 * v.old / v.working_age);
    put(Employment, v.employment);
    put(GdpReal, v.gdp);
    put(GdpNominal, v.gdp * price);
    put(GdpPerCapita, 1e4 * v.gdp / p_mid);
    put(GdpSharePrimary, 100.0 * v.output[0] / v.gdp);
    put(GdpShareSecondary, 100.0 * v.output[1] / v.gdp);
    put(GdpShareTertiary, 100.0 * v.output[2] / v.gdp);
    put(GdpAssessment, assessment);
    if base {
        for ind in INDICATORS.iter().filter(|i| i.is_flow()) {
            slot[*ind as usize] = f64::NAN;
        }
    } else {
        put(Births, v.births);
        put(Deaths, v.deaths);
        put(NetMigration, v.net_migration);
        put(ParkTaxToPartner, v.park_tax);
        put(GdpGrowth, 100.0 * (v.gdp / v.gdp_prev - 1.0));
        put(PopulationGrowth, 100.0 * (v.population / v.population_prev - 1.0));
    }
    zero == 0.0
}

/// The error naming the first non-finite indicator of entity `e` in year t (called only when
/// [`write_entity`] found one).
#[cold]
#[inline(never)]
pub fn check(
    layout: Layout,
    e: usize,
    t: i32,
    draw: u64,
    city: &str,
    params: &Params,
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
                parameters: PARAMS
                    .iter()
                    .zip(params.values())
                    .map(|(p, x)| format!("{} = {x}", p.name))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    Ok(())
}

/// A draw's outcomes of the base year (the other positions NaN), and whether they are all
/// finite (the base year's flows aside): the base state is data, the same in every draw (only
/// ln A, which no outcome shows, depends on the draw's α).
pub fn base_year(model: &Model) -> (Vec<f64>, bool) {
    let p = Params::default();
    let cities: Vec<CityState> = model.cities.iter().map(|c| CityState::base(&p, c)).collect();
    let mut row = vec![f64::NAN; model.layout.len()];
    let year = YearEnd { cities: &cities, effects: &YearEffects::none(model), price: 1.0, params: &p };
    let finite = write_year(model, &year, model.base_year, 0, &mut row).is_ok();
    (row, finite)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Mode;
    use crate::model::reference;
    use crate::region::Region;
    use crate::rng::Streams;
    use crate::scenario::Scenario;

    #[test]
    fn a_non_finite_outcome_is_reported_by_its_first_indicator() {
        let region = Region::embedded();
        let sc = Scenario::parse("b.toml", "[scenario]\nname = \"b\"\n", &region).unwrap();
        let model = Model::new(&region, &sc).unwrap();
        let l = model.layout;
        let out = reference::simulate(&model, &Streams::of(3, 0), Mode::Stochastic).unwrap().values;
        let p = Params::default();
        let (b, t) = (l.base_year, l.base_year + 4);
        let ok = |out: &[f64], e: usize, t: i32| check(l, e, t, 9, "x", &p, out);
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
    fn a_non_finite_outcome_names_draw_year_city_and_parameters() {
        let layout = Layout { cities: 1, base_year: 2018, horizon: 2020, parks: 0 };
        let mut out = vec![1.0; layout.len()];
        out[layout.index(0, 2020, Indicator::GdpReal)] = f64::NAN;
        let params = Params::from_values(&[0.5; crate::params::N_PARAMS]);
        let e = check(layout, 0, 2020, 17, "longyan", &params, &out).unwrap_err().to_string();
        for s in
            ["draw 17", "year 2020", "city longyan", "`gdp_real`", "tfr_long_run = 0.5", "depreciation = 0.5"]
        {
            assert!(e.contains(s), "{s} in {e}");
        }
        assert!(check(layout, 0, 2019, 17, "longyan", &params, &out).is_ok());
    }

    #[test]
    fn the_region_s_levels_are_the_cities_sums_and_its_rates_ratios_of_sums() {
        // Every total non-zero, so that every indicator is finite.
        let one = Totals {
            old: 1.0,
            employment: 1.0,
            births: 1.0,
            deaths: 1.0,
            net_migration: 1.0,
            population_prev: 1.0,
            gdp_prev: 1.0,
            park_tax: 1.0,
            ..Totals::default()
        };
        let a = Totals {
            population: 2.0,
            urban: 1.0,
            working_age: 1.5,
            gdp: 4.0,
            output: [1.0, 1.0, 2.0],
            ..one
        };
        let b = Totals {
            population: 6.0,
            urban: 5.0,
            working_age: 4.5,
            gdp: 4.0,
            output: [0.0, 2.0, 2.0],
            ..one
        };
        let mut region = a;
        region.add(&b);
        let l = Layout { cities: 1, base_year: 2018, horizon: 2019, parks: 0 };
        let mut out = vec![0.0; l.len()];
        assert!(write_entity(slot(l, 1, 2018, &mut out), true, &region, region.gdp, 1.5));
        let get = |i: Indicator| out[l.index(1, 2018, i)];
        assert_eq!(get(Indicator::Population), 8.0);
        assert_eq!(get(Indicator::UrbanizationRate), 75.0);
        assert_eq!(get(Indicator::WorkingAgeShare), 75.0);
        assert_eq!(get(Indicator::OldAgeDependency), 100.0 * 2.0 / 6.0);
        assert_eq!(get(Indicator::GdpNominal), 12.0);
        assert_eq!(get(Indicator::GdpShareSecondary), 37.5);
        assert_eq!(get(Indicator::GdpPerCapita), 1e4);
        assert!(get(Indicator::Births).is_nan(), "no flow in the base year");
        // A later year's flows and growth rates, from the sums.
        assert!(write_entity(slot(l, 1, 2019, &mut out), false, &region, region.gdp, 1.0));
        let get = |i: Indicator| out[l.index(1, 2019, i)];
        assert_eq!((get(Indicator::Births), get(Indicator::ParkTaxToPartner)), (2.0, 2.0));
        assert_eq!((get(Indicator::GdpGrowth), get(Indicator::PopulationGrowth)), (300.0, 300.0));
        assert_eq!(get(Indicator::GdpPerCapita), 1e4 * 8.0 / 5.0, "mid-year population");
    }
}
