//! Capital (MODEL.md §3): the investment rate converging to its long-run value, and each
//! sector's capital accumulated from depreciation, investment and the levers' moves, with a floor.

use super::levers::CityEffects;
use super::{CAPITAL_FLOOR, CityBase, SECONDARY};
use crate::diagnostics::{Diag, Diagnostics};
use crate::params::Params;
use crate::scenario::Lever;

/// s_i(t) = s_∞ + (s_i(b) − s_∞)·e^(−(t−b)/10) + investment-rate shifts (§7d);
/// `decay` = e^(−(t−b)/10).
#[inline]
pub fn investment_rate(p: &Params, base: f64, decay: f64, levers: &CityEffects) -> f64 {
    let shift = levers.shifts.of(Lever::InvestmentRate);
    p.investment_rate_long_run + (base - p.investment_rate_long_run) * decay + shift
}

/// K_is(t) = (1 − δ)·K_is(t − 1) + ω_is·I_i(t) + the transfer's move of secondary capital (§7a,
/// sector 2 only) − ω_is·(the partner funding of parks, §7b), then at least 1% of K_is(b)
/// (counted when the floor binds); I_i(t) = s_i(t)·Y_i(t − 1) is `investment`.
#[inline]
pub fn accumulate(
    p: &Params,
    city: &CityBase,
    k: &mut [f64; 3],
    investment: f64,
    levers: &CityEffects,
    diag: &mut Diagnostics,
) {
    for s in 0..3 {
        k[s] = (1.0 - p.depreciation) * k[s] + city.omega[s] * investment;
        if s == SECONDARY {
            k[s] += levers.secondary_move;
        }
        k[s] -= city.omega[s] * levers.partner_funding;
        let floor = CAPITAL_FLOOR * city.capital[s];
        if k[s] < floor {
            k[s] = floor;
            diag.bump(Diag::CapitalFloor);
        }
    }
}
