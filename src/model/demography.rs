//! Demography (MODEL.md §1): Gompertz–Makeham mortality solved to the base life expectancy,
//! fertility schedule, cohort-component projection with single-year ages and two sexes, and the
//! spreading of migrants by the migrant profile with the 90% outflow cap.
// Loops over ages, sexes and sectors index several parallel arrays at once.
#![allow(clippy::needless_range_loop)]

use super::kernels;
use crate::arith;
use crate::isa::Isa;
use crate::region::{AGES, MAX_AGE};

/// Makeham term A.
pub const MAKEHAM_A: f64 = 0.0002;
/// Gompertz slope c.
pub const GOMPERTZ_C: f64 = 0.09;
/// Infant death probability q0.
pub const Q0: f64 = 0.004;
/// Largest share of a cell that one year's outflow may remove.
pub const OUTFLOW_CAP: f64 = 0.9;
/// Age-specific fertility shares of the 5-year groups 15–19 … 45–49.
pub const FERTILITY_SHARES: [f64; 7] = [0.03, 0.20, 0.37, 0.26, 0.11, 0.025, 0.005];

/// Mortality rates m(x) for a Gompertz level B: m(0) = −ln(1 − q0), m(x) = A + B·e^(c·x).
pub fn mortality(b: f64) -> [f64; AGES] {
    let mut m = [0.0; AGES];
    m[0] = -(1.0 - Q0).ln();
    for (x, v) in m.iter_mut().enumerate().skip(1) {
        *v = MAKEHAM_A + b * (GOMPERTZ_C * x as f64).exp();
    }
    m
}

/// Life expectancy at birth of a mortality schedule:
/// e0 = Σ_{x=0..=99} (l(x) + l(x+1))/2 + l(100)/m(100), l(0) = 1, l(x+1) = l(x)·e^(−m(x)).
pub fn life_expectancy(m: &[f64; AGES]) -> f64 {
    let mut l = 1.0;
    let mut e0 = 0.0;
    for mx in m.iter().take(MAX_AGE) {
        let next = l * (-mx).exp();
        e0 += 0.5 * (l + next);
        l = next;
    }
    e0 + l / m[MAX_AGE]
}

/// The Gompertz level B whose life table has life expectancy `e0` (bisection to 1e-9 years).
/// `None` when no B ≥ 0 reaches it.
pub fn solve_gompertz(e0: f64) -> Option<f64> {
    let (mut lo, mut hi) = (0.0f64, 1e-6f64);
    if life_expectancy(&mortality(lo)) < e0 {
        return None;
    }
    while life_expectancy(&mortality(hi)) > e0 {
        hi *= 2.0;
        if hi > 10.0 {
            return None;
        }
    }
    for _ in 0..400 {
        let mid = 0.5 * (lo + hi);
        let e = life_expectancy(&mortality(mid));
        if (e - e0).abs() <= 1e-10 {
            return Some(mid);
        }
        if e > e0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(0.5 * (lo + hi))
}

/// φ(x): each 5-year fertility share spread evenly over its ages 15..=49.
pub fn fertility_schedule() -> [f64; AGES] {
    let mut phi = [0.0; AGES];
    for (g, share) in FERTILITY_SHARES.iter().enumerate() {
        for x in 15 + 5 * g..20 + 5 * g {
            phi[x] = share / 5.0;
        }
    }
    phi
}

/// One year's survival rates s_g(x, t) of a mortality schedule, computed once for every city
/// that shares the schedule. The deaths' rates q = 1 − s are computed where they are used (the
/// same bits as a table of them, one array less to write and read every year).
#[derive(Debug, Clone, PartialEq)]
pub struct Survival {
    /// s_g(x, t) by sex (0 female, 1 male) and age.
    pub s: [[f64; AGES]; 2],
}

impl Survival {
    /// Survival rates `s`.
    pub fn new(s: [[f64; AGES]; 2]) -> Survival {
        Survival { s }
    }
}

/// Births, deaths and the population after one year of survival and ageing.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Natural {
    /// Births in the year (both sexes).
    pub births: f64,
    /// Deaths in the year (of the start-of-year population and of the year's births).
    pub deaths: f64,
    /// Population at the end of the year before migration.
    pub population: f64,
    /// Of which aged 15–64.
    pub working: f64,
    /// Of which aged 65 and over.
    pub old: f64,
}

/// Sums of a cell array (both sexes): all ages, 15–64, 65+.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AgeSums {
    /// Σ over every cell.
    pub total: f64,
    /// Σ over ages 15–64.
    pub working: f64,
    /// Σ over ages 65 and over.
    pub old: f64,
}

impl AgeSums {
    /// The sums of `cells`, in the order of [`kernels`].
    pub fn of(cells: &[[f64; AGES]; 2]) -> AgeSums {
        let range = |r: std::ops::Range<usize>| arith::sum(&cells[0][r.clone()]) + arith::sum(&cells[1][r]);
        let (young, working, old) = (range(0..15), range(15..65), range(65..AGES));
        AgeSums { total: young + working + old, working, old }
    }
}

/// One year of cohort-component projection, in place: births from the start-of-year women,
/// survival and ageing, infants. `surv` = s_g(x, t) and 1 − s; `male_birth_share` = SRB/(1+SRB);
/// `isa` the compiled version of the survival kernel (the same bits in each).
///
/// One pass over each sex's cells gives the survivors, the deaths and the sums by broad age
/// group (the survivors of age x are aged x + 1 at the end of the year; 99- and 100-year-olds
/// both end in the open group 100+).
///
/// `early`: the year's net migrants, when known before the demography (see [`Early`]). The
/// returned [`Natural`] is always the natural population's; the flag says whether an
/// [`Early::Outflow`] stays within the cap in every cell (true for the other cases). An inflow
/// or an outflow is added to every cell of `pop` (as [`add_migrants`] would add it); with an
/// outflow, `natural` holds the cells without it, for the caller to put back into `pop` when
/// the cap binds (`natural` is left alone otherwise).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn project_year(
    pop: &mut [[f64; AGES]; 2],
    surv: &Survival,
    tfr: f64,
    phi: &[f64; AGES],
    male_birth_share: f64,
    isa: Isa,
    early: Early<'_>,
    natural: &mut [[f64; AGES]; 2],
) -> (Natural, bool) {
    let mut within_cap = true;
    let tfr = tfr.max(0.0);
    let births = tfr * kernels::dot_on(isa, &phi[15..50], &pop[0][15..50]);
    let mut nat = Natural { births, ..Natural::default() };
    for g in 0..2 {
        let (p, s) = (&mut pop[g], &surv.s[g]);
        // Survivors of ages 64–100 end aged 65+ (99 and 100 both in the open group 100+), of
        // 14–63 aged 15–64, of 0–13 aged 1–14; shifted in place from the top.
        let (top_alive, top_dead) = (p[MAX_AGE] * s[MAX_AGE], p[MAX_AGE] * (1.0 - s[MAX_AGE]));
        let migrants = match early {
            Early::None => kernels::Migrants::None,
            Early::Inflow(n, mu) => kernels::Migrants::Add(n, &mu[g]),
            Early::Outflow(n, mu) => kernels::Migrants::Outflow(n, &mu[g], OUTFLOW_CAP),
        };
        let kernels::Survived { young, working, old, dead, within_cap: kernel_within } =
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

/// The year's net migrants n of a city, when known before its demography (they depend on year
/// t − 1 only, outside the calibration pass), with the migrant profile μ.
#[derive(Debug, Clone, Copy)]
pub enum Early<'a> {
    /// Not known yet (the calibration pass), or not a number: [`spread_migrants`] afterwards.
    None,
    /// An inflow n ≥ 0, added to every cell as the survival kernel stores it (the same roundings
    /// as [`spread_migrants`] right after; an inflow never meets the cap).
    Inflow(f64, &'a [[f64; AGES]; 2]),
    /// An outflow n < 0: added to every cell as an inflow is, while the survival kernel checks
    /// the cap and keeps the natural cells aside; should the cap bind (rarely), the caller puts
    /// the natural cells back and calls [`spread_migrants`].
    Outflow(f64, &'a [[f64; AGES]; 2]),
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

/// Add n·μ to every cell: [`spread_migrants`] of an inflow, or of an outflow known to stay within
/// the cap in every cell.
#[inline(always)]
pub fn add_migrants(pop: &mut [[f64; AGES]; 2], mu: &[[f64; AGES]; 2], mu_total: f64, n: f64) -> Spread {
    for g in 0..2 {
        for x in 0..AGES {
            pop[g][x] += n * mu[g][x];
        }
    }
    Spread { realised: n * mu_total, capped: false, dropped: 0.0 }
}

/// Add `n` net migrants spread by the profile `mu` (summing to 1). An outflow removes n·μ, but no
/// cell loses more than 90% of itself: the shortfall of capped cells is spread over the uncapped
/// cells with μ > 0 in proportion to μ, repeatedly; what is left when every such cell is capped is
/// dropped. `mu_total` = Σ μ. `removal` and `capped` are scratch space.
#[inline(always)]
pub fn spread_migrants(
    pop: &mut [[f64; AGES]; 2],
    mu: &[[f64; AGES]; 2],
    mu_total: f64,
    n: f64,
    removal: &mut [[f64; AGES]; 2],
    capped: &mut [[bool; AGES]; 2],
) -> Spread {
    // An inflow, or an outflow that takes at most 90% of every cell (the usual case): add n·μ.
    let within_cap = n >= 0.0
        || (0..2).all(|g| (0..AGES).fold(true, |ok, x| ok & (-n * mu[g][x] <= OUTFLOW_CAP * pop[g][x])));
    if within_cap {
        return add_migrants(pop, mu, mu_total, n);
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
                let limit = OUTFLOW_CAP * pop[g][x];
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
            pop[g][x] -= removal[g][x];
            removed += removal[g][x];
        }
    }
    Spread { realised: -removed, capped: any_cap, dropped }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gompertz_level_reproduces_life_expectancy() {
        for e0 in [30.0, 60.0, 75.2, 80.6, 95.0] {
            let b = solve_gompertz(e0).unwrap();
            assert!((life_expectancy(&mortality(b)) - e0).abs() <= 1e-9, "{e0}");
        }
    }

    #[test]
    fn life_table_of_constant_hazard_is_known() {
        // With m(x) = m for every age, l(x) = e^(−mx): a closed form for the trapezoid sum.
        let m: f64 = 0.05;
        let table = [m; AGES];
        let q = (-m).exp();
        let trapezoid: f64 = (0..100).map(|x| 0.5 * (q.powi(x) + q.powi(x + 1))).sum();
        let expected = trapezoid + q.powi(100) / m;
        assert!((life_expectancy(&table) - expected).abs() < 1e-12);
    }

    #[test]
    fn fertility_schedule_sums_to_one() {
        let phi = fertility_schedule();
        assert!((phi.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert_eq!(phi[14], 0.0);
        assert_eq!(phi[50], 0.0);
        assert_eq!(phi[27], 0.37 / 5.0);
    }

    #[test]
    fn a_year_balances_births_deaths_and_ageing() {
        let mut pop = [[1.0; AGES]; 2];
        let start: f64 = pop.iter().flatten().sum();
        let m = mortality(solve_gompertz(78.0).unwrap());
        let surv = Survival::new([m.map(|v| (-v).exp()), m.map(|v| (-v).exp())]);
        let (n, _) = project_year(
            &mut pop,
            &surv,
            1.6,
            &fertility_schedule(),
            1.12 / 2.12,
            Isa::widest(),
            Early::None,
            &mut [[0.0; AGES]; 2],
        );
        let end: f64 = pop.iter().flatten().sum();
        assert!((end - (start + n.births - n.deaths)).abs() < 1e-12 * start);
        assert!((n.births - 1.6 * 35.0 / 35.0 * 1.0).abs() < 1e-12);
        assert!(pop[1][0] / pop[0][0] - 1.12 < 1e-12);
        // The broad age groups are the sums of the aged cells.
        let sums = AgeSums::of(&pop);
        assert!((n.population - end).abs() < 1e-12 * end);
        assert!((n.working - sums.working).abs() < 1e-12 * end && (n.old - sums.old).abs() < 1e-12 * end);
        let by_hand: f64 = (0..2).map(|g| pop[g][15..65].iter().sum::<f64>()).sum();
        assert!((sums.working - by_hand).abs() < 1e-12 * end);
    }

    #[test]
    fn early_migrants_give_the_cells_of_spreading_them_after_the_year() {
        let m = mortality(solve_gompertz(78.0).unwrap());
        let surv = Survival::new([m.map(|v| (-v).exp()), m.map(|v| (-v).exp())]);
        let start: [[f64; AGES]; 2] =
            std::array::from_fn(|g| std::array::from_fn(|x| 1000.0 + (x * 37 + g * 11) as f64 % 700.0));
        let mu: [[f64; AGES]; 2] = std::array::from_fn(|g| {
            std::array::from_fn(|x| if (18..40).contains(&x) { 0.02 + g as f64 * 0.001 } else { 0.0005 })
        });
        let total: f64 = mu.iter().flatten().sum();
        // An inflow, an outflow within the cap, and one over it (the young cells lose most), in
        // every compiled version.
        let isas = [Isa::Generic, Isa::Avx2, Isa::Avx512].into_iter().filter(|v| v.available());
        let mut capped = 0;
        for (isa, n) in isas.flat_map(|isa| [5000.0, -5000.0, -60_000.0].map(|n| (isa, n))) {
            let year = |early: Early<'_>, pop: &mut [[f64; AGES]; 2], natural: &mut [[f64; AGES]; 2]| {
                project_year(
                    pop,
                    &surv,
                    1.6,
                    &fertility_schedule(),
                    1.12 / 2.12,
                    Isa::widest(),
                    early,
                    natural,
                )
            };
            let (mut want, mut unused) = (start, [[0.0; AGES]; 2]);
            let (nat_want, _) = year(Early::None, &mut want, &mut unused);
            let natural_cells = want;
            let (mut r, mut c) = ([[0.0; AGES]; 2], [[false; AGES]; 2]);
            let spread = spread_migrants(&mut want, &mu, total, n, &mut r, &mut c);
            let early = if n >= 0.0 { Early::Inflow(n, &mu) } else { Early::Outflow(n, &mu) };
            let (mut got, mut natural) = (start, [[0.0; AGES]; 2]);
            let (nat, within_cap) = year(early, &mut got, &mut natural);
            assert_eq!(nat, nat_want, "{isa:?} n = {n}: the natural sums");
            assert_eq!(within_cap, !spread.capped, "{isa:?} n = {n}");
            capped += usize::from(spread.capped);
            if within_cap {
                assert_eq!(got, want, "{isa:?} n = {n}: the cells with the migrants added");
            } else {
                assert_eq!(natural, natural_cells, "{isa:?} n = {n}: the natural cells kept aside");
            }
            if n < 0.0 {
                assert_eq!(natural, natural_cells, "{isa:?} n = {n}: the natural cells");
            }
        }
        assert!(capped > 0, "the cap bound in some case");
    }

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
        let s = spread_migrants(&mut pop, &mu, 1.0, -4.0, &mut r, &mut c);
        assert!(s.capped);
        assert!((s.realised + 4.0).abs() < 1e-12);
        assert!((pop[0][20] - 0.1).abs() < 1e-12);
        assert!((pop[0][21] - 6.9).abs() < 1e-12);
        // More than both cells can give: 90% of each leaves, the rest is dropped.
        let mut pop2 = [[0.0; AGES]; 2];
        pop2[0][20] = 1.0;
        pop2[0][21] = 1.0;
        let s = spread_migrants(&mut pop2, &mu, 1.0, -5.0, &mut r, &mut c);
        assert!((s.realised + 1.8).abs() < 1e-12);
        assert!((s.dropped - 3.2).abs() < 1e-12);
        assert!(pop2[0].iter().all(|v| *v >= 0.0));
    }
}
