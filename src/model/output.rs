//! Output and prices (MODEL.md §3, step 9): a city's real GDP from its sectors, the region's
//! aggregates that couple the cities (always of year t − 1), the price level, and the
//! per-capita growth gap Δg that the next year's urbanization responds to.

use super::state::CityState;
use super::{CityBase, Model};
use crate::params::Params;

/// Y_is = e^(ln A_is + α·ln K_is + (1 − α)·ln L_is) for the sectors with base output (0 for the
/// others), from the exponentials `exp` of [`super::tfp::log_output`]; their sum Y_i.
#[inline]
pub fn city_gdp(city: &CityBase, exp: &[f64; 3], output: &mut [f64; 3]) -> f64 {
    let mut gdp = 0.0;
    for s in 0..3 {
        output[s] = if city.output[s] > 0.0 { exp[s] } else { 0.0 };
        gdp += output[s];
    }
    gdp
}

/// The regional aggregates of year t − 1 that year t uses: the wage level w̄ = ΣY/ΣE (§5) and
/// the P-weighted mean of Δ ln MA (§4 "relative").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Aggregates {
    /// w̄(t − 1).
    pub wage: f64,
    /// Σ P_i(t − 1)·Δ_T ln MA_i(t) / Σ P_i(t − 1).
    pub access_change: f64,
}

impl Aggregates {
    /// The aggregates of the cities' state of year t − 1, with year t's market-access changes.
    #[inline]
    pub fn of(cities: &[CityState], access_changes: &[f64]) -> Aggregates {
        let (mut y, mut e, mut p, mut dma) = (0.0, 0.0, 0.0, 0.0);
        for (c, change) in cities.iter().zip(access_changes) {
            y += c.gdp;
            e += c.employment;
            p += c.population;
            dma += c.population * change;
        }
        Aggregates { wage: y / e, access_change: dma / p }
    }
}

/// price(t) = price(t − 1)·max(0.5, 1 + π̄ + σ_π·ε_π(t)).
#[inline]
pub fn price(p: &Params, previous: f64, eps: f64) -> f64 {
    let inflation = p.inflation_mean + p.inflation_sd * eps;
    previous * (1.0 + inflation).max(0.5)
}

/// Δg_i(t) = (g_y,i(t) − ḡ_y(t)) − (g_y,i^ref − ḡ_y^ref) for every city (§6): real per-capita
/// growth on end-of-year population against the region's (ratio of sums), compared with the
/// same gap in the reference year.
pub fn growth_gaps(model: &Model, cities: &mut [CityState]) {
    let (mut y1, mut p1, mut y0, mut p0) = (0.0, 0.0, 0.0, 0.0);
    for c in cities.iter() {
        y1 += c.gdp;
        p1 += c.population;
        y0 += c.gdp_prev;
        p0 += c.population_prev;
    }
    let region = (y1 / p1) / (y0 / p0) - 1.0;
    for (c, cb) in cities.iter_mut().zip(&model.cities) {
        let g = (c.gdp / c.population) / (c.gdp_prev / c.population_prev) - 1.0;
        c.growth_gap = (g - region) - (cb.gy_ref - model.gy_ref_region);
    }
}
