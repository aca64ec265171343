//! Demography (MODEL.md §1): Gompertz–Makeham mortality solved to the base life expectancy,
//! its yearly improvement, the fertility schedule and TFR path, and one year of
//! cohort-component projection with single-year ages and two sexes.
//!
//! The engine runs [`project_year`] with the year's migrants added as the cells are stored
//! (`engine::fused`, on the vector kernels); this is the readable form, with its sums in the
//! same lanes and order, so that both give the same bits.

use super::levers::CityEffects;
use crate::arith::{self, Lanes, dot};
use crate::params::Params;
use crate::region::{AGES, MAX_AGE};
use crate::scenario::Lever;

/// Makeham term A.
pub const MAKEHAM_A: f64 = 0.0002;
/// Gompertz slope c.
pub const GOMPERTZ_C: f64 = 0.09;
/// Infant death probability q0.
pub const Q0: f64 = 0.004;
/// Age-specific fertility shares of the 5-year groups 15–19 … 45–49.
pub const FERTILITY_SHARES: [f64; 7] = [0.03, 0.20, 0.37, 0.26, 0.11, 0.025, 0.005];

/// A city's population by sex (0 female, 1 male) and single year of age 0..=100 (100 = 100+).
pub type Cells = [[f64; AGES]; 2];

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

/// A base mortality schedule m_g(x) of both sexes, solved to their life expectancies.
#[derive(Debug, Clone, PartialEq)]
pub struct Mortality {
    /// m_g(x), `[sex][age]`.
    pub rates: [[f64; AGES]; 2],
    /// For each sex, how many leading rates are small enough for the short exponential series
    /// ([`arith::small_prefix`]), which [`survival`] takes for them.
    pub small: [usize; 2],
}

impl Mortality {
    /// The schedule whose life tables have life expectancy `e0` (female, male); the e0s no
    /// Gompertz level reaches, if any.
    pub fn solve(e0: [f64; 2]) -> Result<Mortality, Vec<f64>> {
        let levels = e0.map(solve_gompertz);
        match levels {
            [Some(f), Some(m)] => {
                let rates = [mortality(f), mortality(m)];
                Ok(Mortality { small: rates.map(|r| arith::small_prefix(&r)), rates })
            }
            _ => Err(e0.iter().zip(levels).filter(|(_, l)| l.is_none()).map(|(e, _)| *e).collect()),
        }
    }
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

/// TFR_i(t) = TFR_∞ + (TFR_i(b) − TFR_∞)·e^(−(t−b)/T_f) + tfr shifts (§1, §7d);
/// `decay` = e^(−(t−b)/T_f).
#[inline]
pub fn tfr(p: &Params, base: f64, decay: f64, levers: &CityEffects) -> f64 {
    p.tfr_long_run + (base - p.tfr_long_run) * decay + levers.shifts.of(Lever::Tfr)
}

/// f(t) = φ_f·f(t−1) + σ_f·ω(t): the births' persistent part, a log factor on every city's TFR
/// (docs/MODEL.md §12.4; 0 when σ_f = 0, as in the plan-era model).
#[inline]
pub fn fertility(p: &Params, previous: f64, omega: f64) -> f64 {
    p.fertility_persistence * previous + p.fertility_shock_sd * omega
}

/// The year's TFR with the births' persistent part f: TFR·e^f (the TFR itself when σ_f = 0, so
/// that the plan-era model's numbers are the same bits).
#[inline]
pub fn with_fertility(p: &Params, tfr: f64, f: f64) -> f64 {
    if p.fertility_shock_sd > 0.0 { tfr * f.exp() } else { tfr }
}

/// λ_d·(1 − ι)^(t−b): the factor on the life table's death rates in year t (§1), `k` = t − b
/// (λ_d = 1 by default: the product is then exactly the improvement).
#[inline]
pub fn improvement(p: &Params, k: u32) -> f64 {
    p.mortality_level * arith::powi(1.0 - p.mortality_improvement, k)
}

/// One year's survival rates s_g(x, t) = e^(−m_g(x)·(1 − ι)^(t−b)) of a schedule (§1), shared by
/// the cities that share it.
#[derive(Debug, Clone, PartialEq)]
pub struct Survival {
    /// s_g(x, t) by sex and age.
    pub s: [[f64; AGES]; 2],
}

/// The survival rates of year t for a schedule, `improvement` = (1 − ι)^(t−b) ([`improvement`]).
/// The leading small rates take the short series [`arith::exp_small`] when every argument is
/// inside `exp`'s range (`bounded`, the model's [`super::Model::mortality_bounded`], and
/// 0 ≤ improvement ≤ 1), the others [`arith::exp`]: within an ulp of each other, and the
/// engine's kernel takes exactly these.
pub fn survival(m: &Mortality, bounded: bool, improvement: f64) -> Survival {
    let inside = bounded && (0.0..=1.0).contains(&improvement);
    Survival {
        s: std::array::from_fn(|g| {
            let small = if inside { m.small[g] } else { 0 };
            std::array::from_fn(|x| {
                let arg = -m.rates[g][x] * improvement;
                if x < small { arith::exp_small(arg) } else { arith::exp(arg) }
            })
        }),
    }
}

/// A city's survival at its mortality level λ_i (docs/MODEL.md §11.1b): its probabilities of
/// dying are the schedule's times λ_i, s_i(x) = 1 − min(1, λ_i·(1 − s(x))), into `out`. The same
/// operations wherever it is called (engine, reference, the base year's fit), so the same bits.
pub fn scaled_survival(base: &Survival, level: f64, out: &mut Survival) {
    for (o, s) in out.s.iter_mut().zip(&base.s) {
        for (o, s) in o.iter_mut().zip(s) {
            *o = 1.0 - (level * (1.0 - s)).min(1.0);
        }
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
    /// The sums of `cells`, each sex's in the fixed lanes of [`arith::sum`], females first.
    pub fn of(cells: &Cells) -> AgeSums {
        let range = |r: std::ops::Range<usize>| arith::sum(&cells[0][r.clone()]) + arith::sum(&cells[1][r]);
        let (young, working, old) = (range(0..15), range(15..65), range(65..AGES));
        AgeSums { total: young + working + old, working, old }
    }
}

/// One year of cohort-component projection of a city's cells, in place (§1):
/// - births B = max(0, TFR)·Σ_{x=15..=49} φ(x)·F(x, t−1), a share SRB/(1+SRB) male;
/// - ageing P_g(x+1, t) = P_g(x, t−1)·s_g(x, t) for x = 0..=98, the open group
///   P_g(100, t) = P_g(99, t−1)·s_g(99, t) + P_g(100, t−1)·s_g(100, t), infants
///   P_g(0, t) = B_g·s_g(0, t);
/// - deaths D = Σ P(x, t−1)·(1 − s(x, t)) + Σ_g B_g·(1 − s_g(0, t)).
///
/// The sums by age group (survivors of ages 0–13 are aged 1–14, of 14–63 aged 15–64, of 64–100
/// aged 65+) and of the deaths run in eight lanes by the age of origin, each lane from the
/// oldest down, as the engine's kernel adds them.
pub fn project_year(
    cells: &mut Cells,
    survival: &Survival,
    tfr: f64,
    phi: &[f64; AGES],
    male_birth_share: f64,
) -> Natural {
    let births = tfr.max(0.0) * dot(&phi[15..50], &cells[0][15..50]);
    let mut nat = Natural { births, ..Natural::default() };
    for (g, (p, s)) in cells.iter_mut().zip(&survival.s).enumerate() {
        let (top_alive, top_dead) = (p[MAX_AGE] * s[MAX_AGE], p[MAX_AGE] * (1.0 - s[MAX_AGE]));
        let (mut young, mut working, mut old, mut dead) =
            (Lanes::default(), Lanes::default(), Lanes::default(), Lanes::default());
        for x in (0..MAX_AGE).rev() {
            let survivors = p[x] * s[x];
            dead.add(x, p[x] * (1.0 - s[x]));
            match x {
                0..14 => young.add(x, survivors),
                14..64 => working.add(x, survivors),
                _ => old.add(x, survivors),
            }
            p[x + 1] = survivors;
        }
        p[MAX_AGE] += top_alive;
        let b = births * if g == 1 { male_birth_share } else { 1.0 - male_birth_share };
        p[0] = b * s[0];
        let (young, working, old) = (young.total(), working.total(), old.total() + top_alive);
        nat.deaths += (dead.total() + top_dead) + b * (1.0 - s[0]);
        nat.population += ((p[0] + young) + working) + old;
        nat.working += working;
        nat.old += old;
    }
    nat
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
        assert_eq!(Mortality::solve([80.6, 1e5]).unwrap_err(), [1e5], "above e0 at B = 0");
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
    fn survival_is_the_exponential_of_the_improved_rates() {
        let m = Mortality::solve([80.6, 75.2]).unwrap();
        for c in [0.0, 0.5, 0.97, 1.0, 1.5] {
            let s = survival(&m, true, c);
            for g in 0..2 {
                for x in 0..AGES {
                    let want = (-m.rates[g][x] * c).exp();
                    assert!((s.s[g][x] - want).abs() <= 2.0 * f64::EPSILON * want, "c {c} g {g} x {x}");
                }
                // The short series only where all arguments are in range (c ≤ 1), whole lanes.
                assert_eq!(m.small[g] % 8, 0);
            }
        }
        assert!(m.small[0] > 0, "the young ages' rates are small");
    }

    #[test]
    fn a_year_balances_births_deaths_and_ageing() {
        let mut pop = [[1.0; AGES]; 2];
        let start: f64 = pop.iter().flatten().sum();
        let m = mortality(solve_gompertz(78.0).unwrap());
        let surv = Survival { s: [m.map(|v| (-v).exp()), m.map(|v| (-v).exp())] };
        let n = project_year(&mut pop, &surv, 1.6, &fertility_schedule(), 1.12 / 2.12);
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
    fn the_year_s_sums_are_exact_for_integer_cells() {
        // Integer cells and survival of 0 or 1: every product and sum is exact, so the lanes'
        // order cannot show, and each sum must be the plain one.
        let cells: Cells = std::array::from_fn(|g| std::array::from_fn(|x| ((x * 37 + g * 11) % 700) as f64));
        let s: [[f64; AGES]; 2] = std::array::from_fn(|g| std::array::from_fn(|x| ((x + g) % 2) as f64));
        let mut p = cells;
        let nat = project_year(&mut p, &Survival { s }, 0.0, &fertility_schedule(), 0.5);
        let sum = |g: usize, r: std::ops::Range<usize>| r.map(|x| cells[g][x] * s[g][x]).sum::<f64>();
        let working = sum(0, 14..64) + sum(1, 14..64);
        let old = sum(0, 64..AGES) + sum(1, 64..AGES);
        let dead: f64 = (0..2).map(|g| (0..AGES).map(|x| cells[g][x] * (1.0 - s[g][x])).sum::<f64>()).sum();
        assert_eq!((nat.working, nat.old, nat.deaths, nat.births), (working, old, dead, 0.0));
        assert_eq!(nat.population, working + old + sum(0, 0..14) + sum(1, 0..14));
    }
}
