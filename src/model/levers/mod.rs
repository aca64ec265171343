//! The policy levers (MODEL.md §7): each is a scenario section, off in the baseline, and enters
//! the model as terms that are exactly zero when it is off. Their effects of year t are computed
//! from year t − 1's state before the cities are stepped ([`prepare`]), so that nothing couples
//! the cities within a year; the parks' value added follows the cities' step
//! ([`parks::output`]). Infrastructure timing is [`super::market_access`] and
//! [`super::tfp::project_gains`].

pub mod parks;
pub mod shifts;
pub mod transfer;

use super::Model;
use super::state::CityState;
use parks::{ParkState, ParkValues, ParkYear};
use shifts::ShiftSums;
use transfer::{Stocks, TransferValues};

/// A draw's values of the levers' uncertain quantities (drawn once per draw).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeverValues {
    /// The transfer's, when it is on.
    pub transfer: TransferValues,
    /// Each park's, in the model's order.
    pub parks: Vec<ParkValues>,
    /// Each shift's amount per year, in the model's order.
    pub shift_deltas: Vec<f64>,
}

/// The levers' state carried from year to year of a draw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeverState {
    /// Each city's transfer stocks (all zero without a transfer).
    pub transfer: Vec<Stocks>,
    /// Each park's.
    pub parks: Vec<ParkState>,
}

impl LeverState {
    /// The state at the end of the base year.
    pub fn base(model: &Model) -> LeverState {
        let mut state = LeverState {
            transfer: vec![Stocks::default(); model.n],
            parks: vec![ParkState::default(); model.parks.len()],
        };
        state.reset(model);
        state
    }

    /// Back to the state at the end of the base year.
    pub fn reset(&mut self, model: &Model) {
        self.transfer.fill(Stocks::default());
        if let Some(t) = &model.transfer {
            transfer::base_stocks(model, t, &mut self.transfer);
        }
        self.parks.fill(ParkState::default());
    }
}

/// The levers' effects on one city in year t.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CityEffects {
    /// The shifts of the year, by lever.
    pub shifts: ShiftSums,
    /// The transfer's move of secondary capital (in: +, out: −).
    pub secondary_move: f64,
    /// The transfer's composition effect on ln A of the secondary sector.
    pub transfer_tfp: f64,
    /// The workers the parks hosted here ask for, by sector.
    pub park_demand: [f64; 3],
    /// The share of it they get, by sector (1 where none asks).
    pub park_scale: [f64; 3],
    /// Capital the city gives to fund its partner parks' investment.
    pub partner_funding: f64,
    /// The parks' adjustment of the city's assessment GDP.
    pub assessment: f64,
    /// Park tax the city receives as a partner.
    pub park_tax: f64,
}

impl CityEffects {
    /// Every lever off: no effect.
    pub const OFF: CityEffects = CityEffects {
        shifts: ShiftSums::NONE,
        secondary_move: 0.0,
        transfer_tfp: 0.0,
        park_demand: [0.0; 3],
        park_scale: [1.0; 3],
        partner_funding: 0.0,
        assessment: 0.0,
        park_tax: 0.0,
    };
}

impl Default for CityEffects {
    fn default() -> Self {
        CityEffects::OFF
    }
}

/// The levers' effects of one year.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct YearEffects {
    /// By city.
    pub cities: Vec<CityEffects>,
    /// By park.
    pub parks: Vec<ParkYear>,
}

impl YearEffects {
    /// No effect (every lever off), for a model's cities and parks.
    pub fn none(model: &Model) -> YearEffects {
        YearEffects {
            cities: vec![CityEffects::default(); model.n],
            parks: vec![ParkYear::default(); model.parks.len()],
        }
    }

    /// Back to no effect.
    pub fn clear(&mut self) {
        self.cities.fill(CityEffects::default());
        self.parks.fill(ParkYear::default());
    }
}

/// Year t's effects of every lever (`effects`, cleared first), from year t − 1's state of the
/// cities and the levers: the shifts of the year, the transfer's moves and composition effects,
/// the parks' capital, worker demand and partner funding.
pub fn prepare(
    model: &Model,
    values: &LeverValues,
    depreciation: f64,
    t: i32,
    cities: &[CityState],
    state: &mut LeverState,
    effects: &mut YearEffects,
) {
    effects.clear();
    shifts::add_year(model, &values.shift_deltas, t, &mut effects.cities);
    if let Some(tr) = &model.transfer {
        transfer::year(
            tr,
            &values.transfer,
            depreciation,
            t,
            cities,
            &mut state.transfer,
            &mut effects.cities,
        );
    }
    parks::prepare(
        model,
        &values.parks,
        depreciation,
        t,
        &mut state.parks,
        &mut effects.parks,
        &mut effects.cities,
    );
}
