//! A city's state at the end of a year (MODEL.md §0: state is end-of-year), with the year's
//! flows, and a draw's calibration constants.

use super::CityBase;
use super::demography::Cells;
use super::tfp;
use crate::params::Params;

/// One city at the end of year t.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CityState {
    /// Population by sex and single year of age.
    pub cells: Cells,
    /// P(t).
    pub population: f64,
    /// P(t − 1).
    pub population_prev: f64,
    /// Urban population U(t).
    pub urban: f64,
    /// Territorial real GDP Y(t) (the parks it hosts included).
    pub gdp: f64,
    /// Y(t − 1).
    pub gdp_prev: f64,
    /// Output Y_s(t) by sector (the parks' in their sector).
    pub output: [f64; 3],
    /// Capital K_s(t) by sector.
    pub capital: [f64; 3],
    /// ln A_s(t) by sector.
    pub ln_tfp: [f64; 3],
    /// Employment shares e_s(t).
    pub employment_shares: [f64; 3],
    /// Employment E(t).
    pub employment: f64,
    /// Population aged 15–64, W(t).
    pub working_age: f64,
    /// Population aged 65 and over.
    pub old: f64,
    /// The urbanization shock ζ(t).
    pub urban_shock: f64,
    /// The persistent part of the migration rate q(t) (docs/MODEL.md §12.4).
    pub migration_drift: f64,
    /// The births' persistent part f(t), a log factor on the TFR (docs/MODEL.md §12.4; one
    /// value for the region, kept by each city).
    pub fertility: f64,
    /// The persistent part of TFP growth e(t) (docs/MODEL.md §12.4).
    pub tfp_drift: f64,
    /// Δg(t), the per-capita growth gap that year t + 1's urbanization responds to.
    pub growth_gap: f64,
    /// Births of year t.
    pub births: f64,
    /// Deaths of year t.
    pub deaths: f64,
    /// Realised net migrants of year t.
    pub net_migration: f64,
}

impl CityState {
    /// The city at the end of the base year, with the draw's ln A(b) (its α); the base year's
    /// flows are NaN (they are not defined).
    pub fn base(p: &Params, city: &CityBase) -> CityState {
        CityState {
            cells: city.cells,
            population: city.population,
            population_prev: city.population,
            urban: city.urban,
            gdp: city.gdp,
            gdp_prev: city.gdp,
            output: city.output,
            capital: city.capital,
            ln_tfp: tfp::base_ln_tfp(p, city),
            employment_shares: city.emp_shares,
            employment: city.employment,
            working_age: city.age_sums.working,
            old: city.age_sums.old,
            urban_shock: 0.0,
            migration_drift: 0.0,
            fertility: 0.0,
            tfp_drift: 0.0,
            growth_gap: 0.0,
            births: f64::NAN,
            deaths: f64::NAN,
            net_migration: f64::NAN,
        }
    }
}

/// The calibration constants of a draw (MODEL.md §0), per city.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Calibration {
    /// γ_i0, TFP growth in year b+1.
    pub gamma0: Vec<f64>,
    /// m_i0, the net migration trend.
    pub m0: Vec<f64>,
    /// r_i0, the urbanization speed in year b+1.
    pub r0: Vec<f64>,
}
