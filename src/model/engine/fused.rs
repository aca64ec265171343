//! A city's demography with its migrants added as the cells are stored: the engine's fused form
//! of [`demography::project_year`] followed by [`migration::spread`] (MODEL.md §1), on the vector
//! kernels. The year's net migrants depend on year t − 1 only (outside the calibration pass), so
//! they are known before the survival kernel runs: it adds them as it stores each cell (the same
//! two roundings as adding them after), and checks an outflow against the 90% cap on the way.
//! Should the cap bind (rarely), the natural cells are put back and [`migration::spread`] runs
//! as in the readable form.

use super::kernels::{self, Migrants, Survived};
use crate::isa::Isa;
use crate::model::CityBase;
use crate::model::demography::{Cells, Natural, Survival};
use crate::model::migration::{self, OUTFLOW_CAP, Spread};
use crate::region::{AGES, MAX_AGE};

/// The year's net migrants n of a city, when known before its demography, with the migrant
/// profile μ.
#[derive(Debug, Clone, Copy)]
pub enum Early<'a> {
    /// Not known yet (the calibration pass), or not a number: [`migration::spread`] afterwards.
    None,
    /// An inflow n ≥ 0, added to every cell as the survival kernel stores it (an inflow never
    /// meets the cap).
    Inflow(f64, &'a Cells),
    /// An outflow n < 0: added to every cell as an inflow is, while the survival kernel checks
    /// the cap and keeps the natural cells aside.
    Outflow(f64, &'a Cells),
}

impl<'a> Early<'a> {
    /// The migrants `n` of a city with profile `mu`.
    #[inline(always)]
    pub fn of(n: f64, mu: &'a Cells) -> Early<'a> {
        if n >= 0.0 {
            Early::Inflow(n, mu)
        } else if n < 0.0 {
            Early::Outflow(n, mu)
        } else {
            Early::None
        }
    }
}

/// Scratch space of [`year`].
#[derive(Debug, Clone)]
pub struct Scratch {
    /// The natural cells of an outflow, put back when the cap binds.
    natural: Cells,
    /// [`migration::spread`]'s.
    removal: Cells,
    capped: [[bool; AGES]; 2],
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch { natural: [[0.0; AGES]; 2], removal: [[0.0; AGES]; 2], capped: [[false; AGES]; 2] }
    }
}

/// [`demography::project_year`] in the compiled version `isa`, with the migrants `early` added
/// to the cells as the kernel stores them. The returned [`Natural`] is always the natural
/// population's; the flag says whether an [`Early::Outflow`] stays within the cap in every
/// cell (true otherwise). With an outflow, `natural` holds the cells without it.
///
/// [`demography::project_year`]: crate::model::demography::project_year
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn project_year(
    isa: Isa,
    cells: &mut Cells,
    survival: &Survival,
    tfr: f64,
    phi: &[f64; AGES],
    male_birth_share: f64,
    early: Early<'_>,
    natural: &mut Cells,
) -> (Natural, bool) {
    let mut within_cap = true;
    let births = tfr.max(0.0) * kernels::dot_on(isa, &phi[15..50], &cells[0][15..50]);
    let mut nat = Natural { births, ..Natural::default() };
    for g in 0..2 {
        let (p, s) = (&mut cells[g], &survival.s[g]);
        let (top_alive, top_dead) = (p[MAX_AGE] * s[MAX_AGE], p[MAX_AGE] * (1.0 - s[MAX_AGE]));
        let migrants = match early {
            Early::None => Migrants::None,
            Early::Inflow(n, mu) => Migrants::Add(n, &mu[g]),
            Early::Outflow(n, mu) => Migrants::Outflow(n, &mu[g], OUTFLOW_CAP),
        };
        let Survived { young, working, old, dead, within_cap: kernel_within } =
            kernels::survive_ages(isa, p, s, migrants, &mut natural[g]);
        p[MAX_AGE] += top_alive;
        let b = births * if g == 1 { male_birth_share } else { 1.0 - male_birth_share };
        p[0] = b * s[0];
        let old = old + top_alive;
        nat.deaths += (dead + top_dead) + b * (1.0 - s[0]);
        nat.population += ((p[0] + young) + working) + old;
        nat.working += working;
        nat.old += old;
        // The cells the kernel leaves to the caller, after the natural sums.
        match early {
            Early::None => {}
            Early::Inflow(n, mu) => {
                p[0] += n * mu[g][0];
                p[MAX_AGE] += n * mu[g][MAX_AGE];
            }
            Early::Outflow(n, mu) => {
                within_cap &= kernel_within
                    && -n * mu[g][0] <= OUTFLOW_CAP * p[0]
                    && -n * mu[g][MAX_AGE] <= OUTFLOW_CAP * p[MAX_AGE];
                natural[g][0] = p[0];
                natural[g][MAX_AGE] = p[MAX_AGE];
                p[0] += n * mu[g][0];
                p[MAX_AGE] += n * mu[g][MAX_AGE];
            }
        }
    }
    (nat, within_cap)
}

/// A city's year of demography and migration: [`demography::project_year`] and
/// [`migration::spread`] of the intended migrants `n`, the same cells and sums.
///
/// [`demography::project_year`]: crate::model::demography::project_year
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn year(
    isa: Isa,
    city: &CityBase,
    cells: &mut Cells,
    survival: &Survival,
    tfr: f64,
    phi: &[f64; AGES],
    n: f64,
    scratch: &mut Scratch,
) -> (Natural, Spread) {
    let early = Early::of(n, &city.migrants);
    let (natural, within_cap) =
        project_year(isa, cells, survival, tfr, phi, city.male_birth_share, early, &mut scratch.natural);
    let spread = match early {
        Early::Inflow(..) | Early::Outflow(..) if within_cap => {
            Spread { realised: n * city.migrant_sums.total, capped: false, dropped: 0.0 }
        }
        _ => {
            if let Early::Outflow(..) = early {
                *cells = scratch.natural;
            }
            migration::spread(
                cells,
                &city.migrants,
                city.migrant_sums.total,
                n,
                &mut scratch.removal,
                &mut scratch.capped,
            )
        }
    };
    (natural, spread)
}

/// [`demography::project_year`] without migrants (the calibration pass's, whose migrants are
/// known only after it).
///
/// [`demography::project_year`]: crate::model::demography::project_year
#[inline(always)]
pub fn natural(
    isa: Isa,
    city: &CityBase,
    cells: &mut Cells,
    survival: &Survival,
    tfr: f64,
    phi: &[f64; AGES],
    scratch: &mut Scratch,
) -> Natural {
    project_year(isa, cells, survival, tfr, phi, city.male_birth_share, Early::None, &mut scratch.natural).0
}

/// [`migration::spread`] with the scratch space of [`year`] (the calibration pass's migrants,
/// known only after the demography).
#[inline(always)]
pub fn spread(city: &CityBase, cells: &mut Cells, n: f64, scratch: &mut Scratch) -> Spread {
    migration::spread(
        cells,
        &city.migrants,
        city.migrant_sums.total,
        n,
        &mut scratch.removal,
        &mut scratch.capped,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::demography::{self, Mortality};
    use crate::region::{Region, embedded};
    use crate::scenario::Scenario;

    #[test]
    fn the_fused_year_gives_the_readable_pair_s_cells_and_sums() {
        // A city of the embedded region, its migrant profile scaled so that large outflows meet
        // the cap in the young cells.
        let region = Region::load(embedded::MANIFEST, &embedded::Embedded).unwrap();
        let sc = Scenario::parse("t.toml", "[scenario]\nname = \"t\"\n", &region).unwrap();
        let model = crate::model::Model::new(&region, &sc).unwrap();
        let city = &model.cities[3];
        let m = Mortality::solve([80.6, 75.2]).unwrap();
        let phi = demography::fertility_schedule();
        let mut capped = 0;
        for isa in Isa::available_versions() {
            for improvement in [0.9, 1.0] {
                let survival = demography::survival(&m, true, improvement);
                for n in [5.0, -5.0, -60.0, -400.0, 0.0, f64::NAN] {
                    // The readable pair.
                    let mut want = city.cells;
                    let natural =
                        demography::project_year(&mut want, &survival, 1.3, &phi, city.male_birth_share);
                    let (mut r, mut c) = ([[0.0; AGES]; 2], [[false; AGES]; 2]);
                    let spread = migration::spread(
                        &mut want,
                        &city.migrants,
                        city.migrant_sums.total,
                        n,
                        &mut r,
                        &mut c,
                    );
                    // The fused form.
                    let mut got = city.cells;
                    let (fused_natural, fused_spread) =
                        year(isa, city, &mut got, &survival, 1.3, &phi, n, &mut Scratch::default());
                    let bits = |x: &Cells| x.iter().flatten().map(|v| v.to_bits()).collect::<Vec<_>>();
                    assert_eq!(fused_natural, natural, "{isa:?} n = {n}: the natural sums");
                    assert_eq!(bits(&got), bits(&want), "{isa:?} n = {n}: the cells");
                    assert_eq!(fused_spread.capped, spread.capped, "{isa:?} n = {n}");
                    assert!(fused_spread.realised.to_bits() == spread.realised.to_bits() || n.is_nan());
                    capped += usize::from(spread.capped);
                }
            }
        }
        assert!(capped > 0, "the cap bound in some case");
    }
}
