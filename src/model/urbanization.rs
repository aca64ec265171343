//! Urbanization (MODEL.md §6): a logistic path of the urban share v = u/u_max per city, its own
//! speed converging to the UN norm, a response to the city's relative growth and an AR(1) shock;
//! migrants added in their own urban proportion; and the calibration constant r_i0.
//!
//! [`urban_population`] is the year's whole equation. The engine takes its logarithm and its
//! exponential in batches between [`odds`], [`logit_target`] and [`from_sigmoid`], the same
//! functions.

use super::{CityBase, LOGIT_EPS, URBANIZATION_CONVERGENCE_YEARS};
use crate::arith;
use crate::diagnostics::{Diag, Diagnostics};
use crate::params::Params;

/// The odds v/(1 − v) of v = U/(u_max·P), v taken in [1e-6, 1 − 1e-6] (counted when clamped):
/// logit v = ln(odds).
#[inline]
pub fn odds(p: &Params, urban: f64, population: f64, diag: &mut Diagnostics) -> f64 {
    odds_of(urban / (p.urbanization_ceiling * population), diag)
}

/// v/(1 − v) of a share v, taken in [1e-6, 1 − 1e-6] first (counted when clamped).
#[inline]
pub fn odds_of(v: f64, diag: &mut Diagnostics) -> f64 {
    let v = if (LOGIT_EPS..=1.0 - LOGIT_EPS).contains(&v) {
        v
    } else {
        diag.bump(Diag::LogitClamped);
        v.clamp(LOGIT_EPS, 1.0 - LOGIT_EPS)
    };
    v / (1.0 - v)
}

/// The city's own speed r_i(t) = r_norm + (r_i0 − r_norm)·max(0, 1 − (t − b − 1)/25), `k` = t − b.
#[inline]
pub fn speed(p: &Params, r0: f64, k: i32) -> f64 {
    let weight = (1.0 - (f64::from(k) - 1.0) / URBANIZATION_CONVERGENCE_YEARS).max(0.0);
    p.urbanization_norm_speed + (r0 - p.urbanization_norm_speed) * weight
}

/// ζ_i(t) = ρ_u·ζ_i(t − 1) + σ_u·ε_i(t).
#[inline]
pub fn shock(p: &Params, previous: f64, eps: f64) -> f64 {
    p.urbanization_shock_persistence * previous + p.urbanization_shock_sd * eps
}

/// logit v*_i(t) = logit v_i(t − 1) + r_i(t) + β_y·Δg_i(t − 1) + ζ_i(t).
#[inline]
pub fn logit_target(p: &Params, logit_prev: f64, speed: f64, growth_gap: f64, shock: f64) -> f64 {
    logit_prev + speed + p.urbanization_growth_response * growth_gap + shock
}

/// The migrants' urban part: π_N·N for an inflow, u_i(t − 1)·N for an outflow.
#[inline]
pub fn migrants_urban(p: &Params, net: f64, urban_rate_prev: f64) -> f64 {
    if net >= 0.0 { p.migrant_urban_share * net } else { urban_rate_prev * net }
}

/// U_i(t) = u_max·sigmoid(logit v*)·P_nat,i(t) + migrants' urban part, clamped to
/// [0, u_max·P_i(t)] (counted when clamped); `neg_exp` = e^(−logit v*), the sigmoid being
/// 1/(1 + e^(−x)).
#[inline]
pub fn from_sigmoid(
    p: &Params,
    neg_exp: f64,
    natural: f64,
    migrants_urban: f64,
    population: f64,
    diag: &mut Diagnostics,
) -> f64 {
    let urban = p.urbanization_ceiling * (1.0 / (1.0 + neg_exp)) * natural + migrants_urban;
    let cap = p.urbanization_ceiling * population;
    if (0.0..=cap).contains(&urban) {
        urban
    } else {
        diag.bump(Diag::UrbanizationClamped);
        urban.clamp(0.0, cap)
    }
}

/// What the year's urban population depends on besides the parameters.
#[derive(Debug, Clone, Copy)]
pub struct Year {
    /// U_i(t − 1) and P_i(t − 1).
    pub urban_prev: f64,
    /// P_i(t − 1).
    pub population_prev: f64,
    /// r_i(t) ([`speed`]).
    pub speed: f64,
    /// Δg_i(t − 1).
    pub growth_gap: f64,
    /// ζ_i(t) ([`shock`]).
    pub shock: f64,
    /// P_nat,i(t), the population before migration.
    pub natural: f64,
    /// The migrants' urban part ([`migrants_urban`]).
    pub migrants_urban: f64,
    /// P_i(t).
    pub population: f64,
}

/// The year's urban population U_i(t) (§6), the whole equation:
/// logit v*(t) = logit v(t − 1) + r(t) + β_y·Δg(t − 1) + ζ(t),
/// U(t) = u_max·sigmoid(logit v*)·P_nat(t) + migrants' urban part, clamped to [0, u_max·P(t)].
pub fn urban_population(p: &Params, y: &Year, diag: &mut Diagnostics) -> f64 {
    let logit_prev = arith::ln(odds(p, y.urban_prev, y.population_prev, diag));
    let x = logit_target(p, logit_prev, y.speed, y.growth_gap, y.shock);
    from_sigmoid(p, arith::exp(-x), y.natural, y.migrants_urban, y.population, diag)
}

/// The calibration pass's odds of v* = [(u_i(b) + Δu_i^ref)·P_i(b+1) − migrants' urban part] /
/// (u_max·P_nat,i(b+1)), the share that reproduces the reference change of the urbanization
/// rate in year b+1 (§0): r_i0 = ln(odds) − logit v_i(b).
#[inline]
pub fn calibrated_odds(
    p: &Params,
    city: &CityBase,
    population: f64,
    natural: f64,
    migrants_urban: f64,
    diag: &mut Diagnostics,
) -> f64 {
    let target = city.urban / city.population + city.du_ref;
    odds_of((target * population - migrants_urban) / (p.urbanization_ceiling * natural), diag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_speed_converges_linearly_to_the_norm_in_25_years() {
        let p = Params { urbanization_norm_speed: 0.0275, ..Params::default() };
        assert_eq!(speed(&p, 0.1, 1), 0.1);
        assert!((speed(&p, 0.1, 13) - (0.0275 + 0.0725 * 0.52)).abs() < 1e-15);
        assert_eq!(speed(&p, 0.1, 26), 0.0275);
        assert_eq!(speed(&p, 0.1, 40), 0.0275);
    }

    #[test]
    fn a_logit_step_with_no_change_keeps_the_share() {
        // With r = Δg = ζ = 0 and no migrants, v stays: U(t)/P(t) = U(t − 1)/P(t − 1).
        let p = Params { urbanization_ceiling: 0.98, ..Params::default() };
        let mut diag = Diagnostics::default();
        let y = Year {
            urban_prev: 300.0,
            population_prev: 500.0,
            speed: 0.0,
            growth_gap: 0.0,
            shock: 0.0,
            natural: 510.0,
            migrants_urban: 0.0,
            population: 510.0,
        };
        let u = urban_population(&p, &y, &mut diag);
        assert!((u / 510.0 - 0.6).abs() < 1e-14, "{u}");
        assert_eq!(diag, Diagnostics::default());
        // A share at the ceiling is clamped and counted.
        let _ = odds(&p, 500.0 * 0.98, 500.0, &mut diag);
        assert_eq!(diag.0[Diag::LogitClamped as usize], 1);
    }
}
