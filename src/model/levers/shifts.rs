//! Shifts (MODEL.md §7d): amounts added, in every year of a range, to one city's TFP growth of a
//! sector, investment rate, TFR, migration rate or participation.

use super::CityEffects;
use crate::model::Model;
use crate::scenario::Lever;

/// A city's shifts of one year, summed by lever (and by sector for `tfp`; the other levers use
/// slot 0). The equation a lever shifts reads its sum here ([`ShiftSums::of`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ShiftSums([[f64; 3]; Lever::COUNT]);

impl ShiftSums {
    /// No shift.
    pub const NONE: ShiftSums = ShiftSums([[0.0; 3]; Lever::COUNT]);

    /// The sum of a city-wide lever's shifts.
    #[inline]
    pub fn of(&self, lever: Lever) -> f64 {
        self.0[lever as usize][0]
    }

    /// The sums of a lever's shifts by sector.
    #[inline]
    pub fn by_sector(&self, lever: Lever) -> &[f64; 3] {
        &self.0[lever as usize]
    }

    /// One shift's amount (for tests of the equations).
    pub fn with(lever: Lever, sector: usize, delta: f64) -> ShiftSums {
        let mut s = ShiftSums::default();
        s.0[lever as usize][sector] = delta;
        s
    }
}

/// Add the drawn amounts (`deltas`, one per shift of the model) of the shifts active in year t to
/// their cities' sums.
pub fn add_year(model: &Model, deltas: &[f64], t: i32, cities: &mut [CityEffects]) {
    for (shift, &delta) in model.shifts.iter().zip(deltas) {
        if shift.start <= t && t <= shift.end {
            cities[shift.city].shifts.0[shift.lever as usize][shift.sector] += delta;
        }
    }
}
