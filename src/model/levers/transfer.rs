//! The industry transfer (MODEL.md §7a, 产业梯度转移): secondary capital moved from the origin
//! cities to the destinations, the relocated stock maintained at the origins' expense, and the
//! composition effect on both ends' secondary TFP.

use super::CityEffects;
use crate::arith;
use crate::model::state::CityState;
use crate::model::{Model, ModelTransfer, SECONDARY};

/// A draw's values of the transfer's uncertain quantities.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TransferValues {
    /// Share of the remaining transferable stock moved per active year.
    pub rate: f64,
    /// Share η of the moved capital that arrives productive.
    pub efficiency: f64,
    /// Productivity gap cg of the leaving firms (q = 1 − cg).
    pub composition_gain: f64,
}

/// One city's transfer stocks, carried from year to year.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stocks {
    /// The transferable stock X_o (origins).
    pub transferable: f64,
    /// Cumulative moves Σ M_o (origins).
    pub moved: f64,
    /// The relocated stock R_j (destinations).
    pub relocated: f64,
}

/// The transferable stocks at the end of the base year, X_o(b) = χ_o·K_o2(b), into `stocks`
/// (zero otherwise).
pub fn base_stocks(model: &Model, transfer: &ModelTransfer, stocks: &mut [Stocks]) {
    for &(o, chi) in &transfer.origins {
        stocks[o].transferable = chi * model.cities[o].capital[SECONDARY];
    }
}

/// Year t's moves of secondary capital and composition effects on secondary TFP (into
/// `effects`), from year t − 1's capital (`cities`), and the stocks carried to year t:
/// - M_o = rate·(1 − δ)·X_o(t − 1) in active years (start ≤ t ≤ end), else 0;
///   X_o(t) = (1 − δ)·X_o(t − 1) − M_o; K_o2 −= M_o; K_j2 += η·d_j·ΣM;
/// - from t ≥ start + 1, δ·R_j(t − 1) of upkeep moves from the origins (in proportion to their
///   moves so far) to each destination; R_j(t) = R_j(t − 1) + η·d_j·ΣM;
/// - ln A_o2 += ln[(K_o2 − q·M_o)/(K_o2 − M_o)], ln A_j2 += ln[(K_j2 + q·A_j)/(K_j2 + A_j)], A_j the
///   arriving capital and q = 1 − cg.
pub fn year(
    transfer: &ModelTransfer,
    v: &TransferValues,
    depreciation: f64,
    t: i32,
    cities: &[CityState],
    stocks: &mut [Stocks],
    effects: &mut [CityEffects],
) {
    let delta = depreciation;
    let q = 1.0 - v.composition_gain;
    let active = transfer.start <= t && t <= transfer.end;
    let mut total = 0.0;
    let mut paid_so_far = 0.0;
    for &(o, _) in &transfer.origins {
        paid_so_far += stocks[o].moved;
    }
    // Upkeep of the relocated stock, paid by the origins by their cumulative moves.
    let upkeep: f64 = if t > transfer.start {
        transfer.destinations.iter().map(|&(j, _)| delta * stocks[j].relocated).sum()
    } else {
        0.0
    };
    for &(o, _) in &transfer.origins {
        let st = &mut stocks[o];
        let m = if active { v.rate * (1.0 - delta) * st.transferable } else { 0.0 };
        let k_prev = cities[o].capital[SECONDARY];
        let share = if paid_so_far > 0.0 { st.moved / paid_so_far } else { 0.0 };
        effects[o].secondary_move -= m + upkeep * share;
        if m > 0.0 && k_prev > m {
            effects[o].transfer_tfp += arith::ln((k_prev - q * m) / (k_prev - m));
        }
        st.transferable = (1.0 - delta) * st.transferable - m;
        st.moved += m;
        total += m;
    }
    for &(j, d) in &transfer.destinations {
        let arriving = v.efficiency * d * total;
        let k_prev = cities[j].capital[SECONDARY];
        let upkeep = if t > transfer.start { delta * stocks[j].relocated } else { 0.0 };
        effects[j].secondary_move += arriving + upkeep;
        if arriving > 0.0 && k_prev + arriving > 0.0 {
            effects[j].transfer_tfp += arith::ln((k_prev + q * arriving) / (k_prev + arriving));
        }
        stocks[j].relocated += arriving;
    }
}
