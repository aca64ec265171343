//! The clamps and caps a run counts ([`Diagnostics`], reported in `manifest.json`): how often a
//! bound of the model (MODEL.md) bound in the draws.

/// Kinds of clamps and caps counted per run (reported in `manifest.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Diag {
    /// A project's opening year fell on or before the base year and was moved to b+1.
    OpeningMovedToFirstYear,
    /// The 90% outflow cap bound in a city-year.
    MigrationCapBinding,
    /// An outflow could not be removed in full and the rest was dropped.
    MigrationRemainderDropped,
    /// Capital hit its floor (1% of base) in a city-sector-year.
    CapitalFloor,
    /// Urban population was clamped to [0, u_max·P].
    UrbanizationClamped,
    /// v = u/u_max was clamped to [1e-6, 1 − 1e-6] before a logit.
    LogitClamped,
    /// Parks wanted more than 50% of their host sector's workers and were scaled down.
    ParkLabourCap,
}

/// Every diagnostic kind, in report order.
pub const DIAGS: [(Diag, &str); 7] = [
    (Diag::OpeningMovedToFirstYear, "opening_moved_to_first_year"),
    (Diag::MigrationCapBinding, "migration_outflow_cap_binding"),
    (Diag::MigrationRemainderDropped, "migration_remainder_dropped"),
    (Diag::CapitalFloor, "capital_floor_binding"),
    (Diag::UrbanizationClamped, "urban_population_clamped"),
    (Diag::LogitClamped, "urbanization_logit_clamped"),
    (Diag::ParkLabourCap, "park_labour_cap_binding"),
];

/// Counts of clamps and caps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Diagnostics(pub [u64; 7]);

impl Diagnostics {
    /// Count one more clamp or cap of kind `d`.
    #[inline]
    pub fn bump(&mut self, d: Diag) {
        self.0[d as usize] += 1;
    }
    /// Add another run's counts.
    pub fn merge(&mut self, other: &Diagnostics) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }
}
