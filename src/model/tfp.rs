//! Total factor productivity (MODEL.md §3, with §4's market access and project effects): its
//! base level, its growth converging to the long run, the shocks, the projects' direct effects
//! and the levers', and the calibration constant γ_i0.

use super::levers::CityEffects;
use super::{CityBase, Model, SECONDARY, SECTOR_DRIFT};
use crate::arith;
use crate::params::Params;
use crate::scenario::{Lever, MarketAccess};

/// ln A_is(b) = ln Y_is(b) − α·ln K_is(b) − (1 − α)·ln L_is(b) for each sector with output
/// (0 otherwise), with the draw's α.
#[inline]
pub fn base_ln_tfp(p: &Params, city: &CityBase) -> [f64; 3] {
    let alpha = p.capital_share;
    std::array::from_fn(|s| {
        let [y, k, l] = city.base_logs[s];
        if city.output[s] > 0.0 { y - alpha * k - (1.0 - alpha) * l } else { 0.0 }
    })
}

/// γ_i(t) = γ_LR + (γ_i0 − γ_LR)·e^(−(t−b−1)/T_c); `decay` = e^(−(t−b−1)/T_c).
#[inline]
pub fn growth(p: &Params, gamma0: f64, decay: f64) -> f64 {
    p.tfp_growth_long_run + (gamma0 - p.tfp_growth_long_run) * decay
}

/// The market-access change that enters a city's TFP: Δ_T ln MA_i(t), or with
/// `market_access = "relative"` that minus its regional mean weighted by P(t − 1) (`mean`).
#[inline]
pub fn access_change(model: &Model, change: f64, mean: f64) -> f64 {
    match model.market_access {
        MarketAccess::Absolute => change,
        MarketAccess::Relative => change - mean,
    }
}

/// e_i(t) = φ_e·e_i(t − 1) + σ_e·ν_i(t): the persistent part of TFP growth (docs/MODEL.md §12.4;
/// 0 when σ_e = 0, as in the plan-era model). It adds to the year's shock z_i(t).
#[inline]
pub fn drift(p: &Params, previous: f64, nu: f64) -> f64 {
    p.tfp_persistence * previous + p.tfp_drift_sd * nu
}

/// The part of year t's TFP growth common to a city's sectors:
/// γ_i(t) + ε_MA·Δ ln MA_i(t) + (z_i(t) + e_i(t)) + d(t).
#[inline]
pub fn common_growth(p: &Params, growth: f64, access_change: f64, shock: f64, disaster: f64) -> f64 {
    growth + p.market_access_elasticity * access_change + shock + disaster
}

/// ln A_is(t) = ln A_is(t − 1) + `common` + γ_s + the projects' gains + tfp shifts (§7d) + the
/// transfer's composition effect (§7a, sector 2).
#[inline]
pub fn advance(ln_tfp: &mut [f64; 3], common: f64, gains: &[f64; 3], levers: &CityEffects) {
    let shifts = levers.shifts.by_sector(Lever::Tfp);
    for s in 0..3 {
        let transfer = if s == SECONDARY { levers.transfer_tfp } else { 0.0 };
        ln_tfp[s] += common + SECTOR_DRIFT[s] + gains[s] + shifts[s] + transfer;
    }
}

/// The projects' direct effects on ln A in year t (§4), by city and sector (`gains`, added to):
/// size/R in each of the R years from the opening year on. `open` holds the opening years and
/// `sizes` the drawn sizes, in the order of the projects' effects.
pub fn project_gains(model: &Model, open: &[i32], sizes: &[f64], t: i32, gains: &mut [[f64; 3]]) {
    let mut sizes = sizes.iter();
    for (project, &o) in model.projects.iter().zip(open) {
        for (effect, &size) in project.tfp.iter().zip(&mut sizes) {
            let ramp = effect.ramp_years;
            if o != i32::MAX && t >= o && t < o + ramp as i32 {
                gains[effect.city][effect.sector] += size / ramp as f64;
            }
        }
    }
}

/// The argument ln A_s + α·ln K_s + (1 − α)·ln L_s of sector output Y_s = A_s·K_s^α·L_s^(1−α).
#[inline]
pub fn log_output(p: &Params, ln_tfp: f64, ln_k: f64, ln_l: f64) -> f64 {
    ln_tfp + p.capital_share * ln_k + (1.0 - p.capital_share) * ln_l
}

/// The calibration pass's output of sector s in year b+1 at γ_i = 0, in logs:
/// ln A_s(b) + γ_s + α·ln K_s + (1 − α)·ln L_s.
#[inline]
pub fn log_output_at_zero_growth(p: &Params, ln_tfp: f64, s: usize, ln_k: f64, ln_l: f64) -> f64 {
    ln_tfp + SECTOR_DRIFT[s] + p.capital_share * ln_k + (1.0 - p.capital_share) * ln_l
}

/// The ratio whose log is γ_i0 (§0): (1 + g_i^ref)·Y_i(b) / Σ_s Y_is(b+1) at γ_i = 0, the
/// sectors with output only (`output`: their outputs at zero growth).
#[inline]
pub fn calibration_ratio(city: &CityBase, output: &[f64; 3]) -> f64 {
    let mut total = 0.0;
    for s in 0..3 {
        if city.output[s] > 0.0 {
            total += output[s];
        }
    }
    (1.0 + city.g_ref) * city.gdp / total
}

/// γ_i0 = ln[(1 + g_i^ref)·Y_i(b) / Σ_s A_is(b)·e^(γ_s)·K_is(b+1)^α·L_is(b+1)^(1−α)]: the growth
/// that makes year b+1 grow by g_i^ref without shocks, with year b+1's capital and labour of
/// the calibration pass.
pub fn calibrated_growth(
    p: &Params,
    city: &CityBase,
    ln_tfp: &[f64; 3],
    capital: &[f64; 3],
    labour: &[f64; 3],
) -> f64 {
    let output: [f64; 3] = std::array::from_fn(|s| {
        arith::exp(log_output_at_zero_growth(p, ln_tfp[s], s, arith::ln(capital[s]), arith::ln(labour[s])))
    });
    arith::ln(calibration_ratio(city, &output))
}
