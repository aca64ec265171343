//! Migration (MODEL.md §5, and §1's spreading of migrants over the cells): the intended net
//! migrants of a city, their spreading by the migrant profile with the 90% outflow cap, and the
//! calibration constant m_i0.

use super::CityBase;
use super::demography::{AgeSums, Cells, Natural};
use super::levers::CityEffects;
use crate::arith;
use crate::params::Params;
use crate::region::AGES;
use crate::scenario::Lever;

/// Largest share of a cell that one year's outflow may remove.
pub const OUTFLOW_CAP: f64 = 0.9;

/// The argument w_i/w̄ of the relative wage r_i = ln(w_i/w̄), w = Y/E, w̄ = ΣY/ΣE (§5).
#[inline]
pub fn wage_ratio(gdp: f64, employment: f64, wage_region: f64) -> f64 {
    gdp / employment / wage_region
}

/// r_i = ln(w_i/w̄) (§5), of year t − 1 for year t's migrants.
#[inline]
pub fn relative_wage(gdp: f64, employment: f64, wage_region: f64) -> f64 {
    arith::ln(wage_ratio(gdp, employment, wage_region))
}

/// The base trend (m_i0 + o_i)·e^(−(t−b)/T_m) of the net migration rate; `decay` = e^(−(t−b)/T_m).
#[inline]
pub fn trend(m0: f64, offset: f64, decay: f64) -> f64 {
    (m0 + offset) * decay
}

/// β_w·(r_i(t−1) − r_i(b)): the response of the rate to the city's relative wage.
#[inline]
pub fn wage_response(p: &Params, relative_wage: f64, base_relative_wage: f64) -> f64 {
    p.migration_wage_response * (relative_wage - base_relative_wage)
}

/// q_i(t) = φ_q·q_i(t−1) + σ_q·ξ_i(t): the persistent part of the migration rate (docs/MODEL.md
/// §12.4; 0 when σ_q = 0, as in the plan-era model). It adds to the trend.
#[inline]
pub fn drift(p: &Params, previous: f64, xi: f64) -> f64 {
    p.migration_persistence * previous + p.migration_drift_sd * xi
}

/// σ_m·P_i(t−1)·η_i(t): the year's migration shock.
#[inline]
pub fn shock(p: &Params, p_prev: f64, eta: f64) -> f64 {
    p.migration_shock_sd * p_prev * eta
}

/// N_i(t) = P_i(t−1)·[(m_i0 + o_i)·e^(−(t−b)/T_m) + β_w·(r_i(t−1) − r_i(b)) + shifts] +
/// σ_m·P_i(t−1)·η_i(t) (§5), from its terms ([`trend`], [`wage_response`], the migration-rate
/// shifts of §7d, [`shock`]).
#[inline]
pub fn intended(p_prev: f64, trend: f64, wage_response: f64, levers: &CityEffects, shock: f64) -> f64 {
    p_prev * (trend + wage_response + levers.shifts.of(Lever::MigrationRate)) + shock
}

/// The calibration pass's m_i0 = [(1 + n_i^ref)·P_i(b) − P_nat,i(b+1)] / [P_i(b)·e^(−1/T_m)]
/// (§0): the trend that makes year b+1 grow the population by n_i^ref without shocks.
#[inline]
pub fn calibrated_rate(city: &CityBase, natural_population: f64, decay: f64) -> f64 {
    ((1.0 + city.n_ref) * city.population - natural_population) / (city.population * decay)
}

/// What spreading net migrants did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Spread {
    /// The realised net migrants (what was actually added or removed).
    pub realised: f64,
    /// Whether the 90% cap bound in some cell.
    pub capped: bool,
    /// Outflow that could not be removed (dropped).
    pub dropped: f64,
}

/// Add n·μ to every cell: [`spread`] of an inflow, or of an outflow known to stay within the cap
/// in every cell.
#[inline]
pub fn add(cells: &mut Cells, mu: &Cells, mu_total: f64, n: f64) -> Spread {
    for g in 0..2 {
        for x in 0..AGES {
            cells[g][x] += n * mu[g][x];
        }
    }
    Spread { realised: n * mu_total, capped: false, dropped: 0.0 }
}

/// Add `n` net migrants spread by the profile `mu` (summing to 1; `mu_total` = Σ μ) (§1). An
/// outflow removes n·μ, but no cell loses more than 90% of itself: the shortfall of capped
/// cells is spread over the uncapped cells with μ > 0 in proportion to μ, repeatedly; what is
/// left when every such cell is capped is dropped. `removal` and `capped` are scratch space.
#[inline(always)]
pub fn spread(
    cells: &mut Cells,
    mu: &Cells,
    mu_total: f64,
    n: f64,
    removal: &mut Cells,
    capped: &mut [[bool; AGES]; 2],
) -> Spread {
    // An inflow, or an outflow that takes at most 90% of every cell (the usual case): add n·μ.
    let within_cap = n >= 0.0 || {
        let mut ok = true;
        for g in 0..2 {
            for x in 0..AGES {
                ok &= -n * mu[g][x] <= OUTFLOW_CAP * cells[g][x];
            }
        }
        ok
    };
    if within_cap {
        return add(cells, mu, mu_total, n);
    }
    let out = -n;
    for g in 0..2 {
        for x in 0..AGES {
            removal[g][x] = out * mu[g][x];
            capped[g][x] = false;
        }
    }
    let mut any_cap = false;
    let mut dropped = 0.0;
    // Each round caps at least one more cell or ends, so 2·AGES + 1 rounds suffice.
    for _ in 0..=2 * AGES {
        let mut shortfall = 0.0;
        for g in 0..2 {
            for x in 0..AGES {
                let limit = OUTFLOW_CAP * cells[g][x];
                if !capped[g][x] && removal[g][x] > limit {
                    shortfall += removal[g][x] - limit;
                    removal[g][x] = limit;
                    capped[g][x] = true;
                    any_cap = true;
                }
            }
        }
        if shortfall <= 0.0 {
            break;
        }
        let mut free = 0.0;
        for g in 0..2 {
            for x in 0..AGES {
                if !capped[g][x] && mu[g][x] > 0.0 {
                    free += mu[g][x];
                }
            }
        }
        if free <= 0.0 {
            dropped = shortfall;
            break;
        }
        for g in 0..2 {
            for x in 0..AGES {
                if !capped[g][x] && mu[g][x] > 0.0 {
                    removal[g][x] += shortfall * mu[g][x] / free;
                }
            }
        }
    }
    let mut removed = 0.0;
    for g in 0..2 {
        for x in 0..AGES {
            cells[g][x] -= removal[g][x];
            removed += removal[g][x];
        }
    }
    Spread { realised: -removed, capped: any_cap, dropped }
}

/// The working-age (15–64) and old (65+) population after migration: the natural sums plus
/// N·Σμ over each group when the migrants were spread by the profile (no cell capped), else
/// the sums of the cells themselves.
#[inline]
pub fn age_groups(
    natural: &Natural,
    intended: f64,
    spread: &Spread,
    city: &CityBase,
    cells: &Cells,
) -> (f64, f64) {
    if spread.capped {
        let sums = AgeSums::of(cells);
        (sums.working, sums.old)
    } else {
        (
            natural.working + intended * city.migrant_sums.working,
            natural.old + intended * city.migrant_sums.old,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outflow_cap_spreads_the_shortfall_and_drops_the_rest() {
        let mut mu = [[0.0; AGES]; 2];
        mu[0][20] = 0.5;
        mu[0][21] = 0.5;
        let mut pop = [[0.0; AGES]; 2];
        pop[0][20] = 1.0;
        pop[0][21] = 10.0;
        let (mut r, mut c) = ([[0.0; AGES]; 2], [[false; AGES]; 2]);
        // 4 out: age 20 would lose 2 of 1: capped at 0.9, the 1.1 shortfall moves to age 21.
        let s = spread(&mut pop, &mu, 1.0, -4.0, &mut r, &mut c);
        assert!(s.capped);
        assert!((s.realised + 4.0).abs() < 1e-12);
        assert!((pop[0][20] - 0.1).abs() < 1e-12);
        assert!((pop[0][21] - 6.9).abs() < 1e-12);
        // More than both cells can give: 90% of each leaves, the rest is dropped.
        let mut pop2 = [[0.0; AGES]; 2];
        pop2[0][20] = 1.0;
        pop2[0][21] = 1.0;
        let s = spread(&mut pop2, &mu, 1.0, -5.0, &mut r, &mut c);
        assert!((s.realised + 1.8).abs() < 1e-12);
        assert!((s.dropped - 3.2).abs() < 1e-12);
        assert!(pop2[0].iter().all(|v| *v >= 0.0));
    }

    #[test]
    fn migrants_within_the_cap_are_spread_by_the_profile() {
        let mu: Cells = std::array::from_fn(|g| {
            std::array::from_fn(|x| if x < 50 { 0.01 - 0.001 * g as f64 } else { 0.0 })
        });
        let total: f64 = mu.iter().flatten().sum();
        for n in [3.0, -3.0] {
            let mut cells = [[10.0; AGES]; 2];
            let (mut r, mut c) = ([[0.0; AGES]; 2], [[false; AGES]; 2]);
            let s = spread(&mut cells, &mu, total, n, &mut r, &mut c);
            assert_eq!(s, Spread { realised: n * total, capped: false, dropped: 0.0 });
            assert!((0..2).all(|g| (0..AGES).all(|x| cells[g][x] == 10.0 + n * mu[g][x])));
        }
    }

    #[test]
    fn the_intended_migrants_are_the_bracket_times_the_population() {
        let p = Params { migration_wage_response: 0.02, migration_shock_sd: 0.002, ..Params::default() };
        let (trend, wage, shock) =
            (trend(0.01, 0.002, 0.9), wage_response(&p, 0.3, 0.1), shock(&p, 400.0, -1.5));
        assert!(
            (trend - 0.0108).abs() < 1e-15 && (wage - 0.004).abs() < 1e-15 && (shock + 1.2).abs() < 1e-12
        );
        let mut levers = CityEffects::default();
        levers.shifts = crate::model::levers::shifts::ShiftSums::with(Lever::MigrationRate, 0, 0.001);
        let n = intended(400.0, trend, wage, &levers, shock);
        assert!((n - (400.0 * (0.0108 + 0.004 + 0.001) - 1.2)).abs() < 1e-12);
    }
}
