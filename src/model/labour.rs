//! Labour (MODEL.md §2): employment from the working-age population, the sectors' shares of it
//! shifting from primary to secondary and tertiary, and the parks' workers carved out of their
//! host sector.

use super::levers::CityEffects;
use super::{PARK_LABOUR_CAP, PRIMARY_TO_SECONDARY};
use crate::diagnostics::{Diag, Diagnostics};
use crate::params::Params;
use crate::scenario::Lever;

/// E_i = (π_i + participation shifts)·W_i (§2, §7d).
#[inline]
pub fn employment(participation: f64, levers: &CityEffects, working_age: f64) -> f64 {
    (participation + levers.shifts.of(Lever::Participation)) * working_age
}

/// One year's change of the employment shares e_is: d₁·e_i1 leaves the primary sector, ξ of it
/// to the secondary and 1 − ξ to the tertiary; then d₂₃·e_i2 (this year's inflow included)
/// moves from the secondary sector to the tertiary.
#[inline]
pub fn shift_shares(p: &Params, e: &mut [f64; 3]) {
    let freed = e[0] * p.primary_employment_decline;
    e[0] -= freed;
    e[1] += PRIMARY_TO_SECONDARY * freed;
    e[2] += (1.0 - PRIMARY_TO_SECONDARY) * freed;
    let moved = p.secondary_to_tertiary_shift * e[1];
    e[1] -= moved;
    e[2] += moved;
}

/// L_is = e_is·E_i.
#[inline]
pub fn by_sector(shares: &[f64; 3], employment: f64) -> [f64; 3] {
    shares.map(|e| e * employment)
}

/// The parks hosted in each sector take their workers (the levers' `park_demand`) out of it,
/// together at most 50% of its workers: beyond that every park there is scaled down in
/// proportion (counted). The share granted goes to the levers' `park_scale` (1 where no park
/// asks) (§7b).
#[inline]
pub fn carve_out_parks(labour: &mut [f64; 3], levers: &mut CityEffects, diag: &mut Diagnostics) {
    let (demand, scale) = (&levers.park_demand, &mut levers.park_scale);
    for s in 0..3 {
        if demand[s] > 0.0 {
            let cap = PARK_LABOUR_CAP * labour[s];
            scale[s] = if demand[s] > cap {
                diag.bump(Diag::ParkLabourCap);
                cap / demand[s]
            } else {
                1.0
            };
            labour[s] -= scale[s] * demand[s];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shares_keep_their_sum_and_move_towards_services() {
        let p = Params {
            primary_employment_decline: 0.05,
            secondary_to_tertiary_shift: 0.01,
            ..Params::default()
        };
        let mut e = [0.2, 0.4, 0.4];
        shift_shares(&p, &mut e);
        assert!((e.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert!((e[0] - 0.19).abs() < 1e-15);
        assert!((e[1] - (0.4 + 0.004) * 0.99).abs() < 1e-15);
    }

    #[test]
    fn parks_take_at_most_half_of_their_host_sector() {
        let mut diag = Diagnostics::default();
        let mut labour = [10.0, 20.0, 30.0];
        let mut levers = CityEffects { park_demand: [0.0, 4.0, 40.0], ..CityEffects::default() };
        carve_out_parks(&mut labour, &mut levers, &mut diag);
        assert_eq!(labour, [10.0, 16.0, 15.0]);
        assert_eq!(levers.park_scale, [1.0, 1.0, 15.0 / 40.0]);
        assert_eq!(diag.0[Diag::ParkLabourCap as usize], 1);
    }
}
