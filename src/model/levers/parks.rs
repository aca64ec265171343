//! Co-built parks (MODEL.md §7b, 飞地/山海协作共建园区): each park's capital ramping up to its
//! value added, its workers taken from its host sector, the partner's funding, and its value
//! added, assessment GDP and tax to the partner.

use super::CityEffects;
use crate::arith;
use crate::model::state::CityState;
use crate::model::{Model, ModelPark};
use crate::region::Statistics;

/// A draw's values of a park's uncertain quantities.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ParkValues {
    /// Value added V at full ramp (亿元, base-year prices).
    pub value_added: f64,
    /// Capital per unit of value added κ_p.
    pub capital_per_value_added: f64,
    /// Capital per worker k_w (万元).
    pub capital_per_worker: f64,
    /// Share φ of gross investment the partner funds.
    pub partner_funded_share: f64,
    /// Tax per unit of value added.
    pub tax_rate: f64,
    /// Share r of the tax that goes to the partner.
    pub tax_share_to_partner: f64,
}

/// A park's state carried from year to year.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ParkState {
    /// K_p(t − 1).
    pub capital_prev: f64,
    /// ln A of the host sector at the end of the start year.
    pub ln_tfp_at_start: f64,
}

/// A park's year.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ParkYear {
    /// ramp(t).
    pub ramp: f64,
    /// K_p(t).
    pub capital: f64,
    /// The workers it asks for, L_p = K_p/k_w.
    pub workers: f64,
    /// Its value added Y_p(t).
    pub value_added: f64,
    /// The workers it got (after the 50% cap).
    pub workers_realised: f64,
    /// Tax paid to the partner.
    pub tax: f64,
}

/// ramp(t) = 1/(1 + e^(−(t − start − R/2)/(R/6))) from the start year on (95% at start + R), 0
/// before.
#[inline]
pub fn ramp(park: &ModelPark, t: i32) -> f64 {
    if t < park.start {
        return 0.0;
    }
    let r = f64::from(park.ramp_years);
    1.0 / (1.0 + arith::exp(-(f64::from(t - park.start) - r / 2.0) / (r / 6.0)))
}

/// Year t's capital, worker demand and partner funding of every park, before the cities' step:
/// K_p = κ_p·V·ramp(t), L_p = K_p/k_w; the partner's capital falls by φ·(K_p(t) − (1 − δ)·K_p(t − 1)).
pub fn prepare(
    model: &Model,
    values: &[ParkValues],
    depreciation: f64,
    t: i32,
    states: &mut [ParkState],
    years: &mut [ParkYear],
    effects: &mut [CityEffects],
) {
    for (((park, v), st), y) in model.parks.iter().zip(values).zip(states).zip(years) {
        let ramp = ramp(park, t);
        let capital = v.capital_per_value_added * v.value_added * ramp;
        let workers = capital / v.capital_per_worker;
        let gross = capital - (1.0 - depreciation) * st.capital_prev;
        effects[park.partner].partner_funding += v.partner_funded_share * gross;
        effects[park.host].park_demand[park.sector] += workers;
        *y = ParkYear { ramp, capital, workers, ..ParkYear::default() };
        st.capital_prev = capital;
    }
}

/// Every park's value added of year t, after the cities' step (step 9): Y_p = V·ramp·(the share
/// of its workers granted)·A_hs(t)/A_hs(start), 0 before the start or without workers; added to
/// its host's sector output and GDP (territorial GDP), and to the assessment GDP and tax of its
/// partner by its statistics rule.
pub fn output(
    model: &Model,
    values: &[ParkValues],
    t: i32,
    states: &mut [ParkState],
    years: &mut [ParkYear],
    cities: &mut [CityState],
    effects: &mut [CityEffects],
) {
    for (((park, v), st), y) in model.parks.iter().zip(values).zip(states).zip(years) {
        let (h, sector) = (park.host, park.sector);
        let ln_tfp = cities[h].ln_tfp[sector];
        if t == park.start {
            st.ln_tfp_at_start = ln_tfp;
        }
        let scale = effects[h].park_scale[sector];
        let value_added = if t < park.start || y.workers <= 0.0 {
            0.0
        } else {
            v.value_added * y.ramp * scale * arith::exp(ln_tfp - st.ln_tfp_at_start)
        };
        y.value_added = value_added;
        y.workers_realised = scale * y.workers;
        let host = &mut cities[h];
        host.output[sector] += value_added;
        host.gdp += value_added;
        match park.statistics {
            Statistics::Dual => effects[park.partner].assessment += value_added,
            Statistics::Split => {
                effects[h].assessment -= v.tax_share_to_partner * value_added;
                effects[park.partner].assessment += v.tax_share_to_partner * value_added;
            }
            Statistics::Host => {}
        }
        y.tax = v.tax_share_to_partner * v.tax_rate * value_added;
        effects[park.partner].park_tax += y.tax;
    }
}
