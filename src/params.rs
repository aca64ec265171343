//! The model's scalar parameters (MODEL.md §8): names as scenario files spell them, symbols,
//! units, defaults (number or distribution), domains and the basis of each default.
//!
//! A scenario's `[parameters]` table overrides any of them by name; every value, fixed or drawn,
//! must lie in the parameter's domain (a distribution whose support leaves the domain needs a
//! `truncate`).

use crate::uncertain::Uncertain;

/// One end of a domain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// The value itself is allowed.
    Closed(f64),
    /// Only values beyond it are allowed.
    Open(f64),
    /// No bound.
    None,
}

/// The values a parameter may take.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Domain {
    /// Lower end.
    pub lo: Bound,
    /// Upper end.
    pub hi: Bound,
}

impl Domain {
    const fn new(lo: Bound, hi: Bound) -> Self {
        Domain { lo, hi }
    }

    /// Whether a value lies in the domain.
    pub fn contains(&self, x: f64) -> bool {
        let lo_ok = match self.lo {
            Bound::Closed(a) => x >= a,
            Bound::Open(a) => x > a,
            Bound::None => true,
        };
        let hi_ok = match self.hi {
            Bound::Closed(b) => x <= b,
            Bound::Open(b) => x < b,
            Bound::None => true,
        };
        lo_ok && hi_ok && x.is_finite()
    }

    /// Whether every value between `lo` and `hi` (ends included where reachable) lies inside.
    pub fn contains_support(&self, s: crate::uncertain::Support) -> bool {
        let lo_ok = match self.lo {
            Bound::Closed(a) => s.lo >= a,
            Bound::Open(a) => s.lo > a || (s.lo == a && !s.lo_closed),
            Bound::None => true,
        };
        let hi_ok = match self.hi {
            Bound::Closed(b) => s.hi <= b,
            Bound::Open(b) => s.hi < b || (s.hi == b && !s.hi_closed),
            Bound::None => true,
        };
        lo_ok && hi_ok
    }
}

impl std::fmt::Display for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.lo, self.hi) {
            (Bound::Closed(a), Bound::None) => write!(f, "≥ {a}"),
            (Bound::Open(a), Bound::None) => write!(f, "> {a}"),
            (lo, hi) => {
                let (l, a) = match lo {
                    Bound::Closed(a) => ('[', a.to_string()),
                    Bound::Open(a) => ('(', a.to_string()),
                    Bound::None => ('(', "−∞".into()),
                };
                let (r, b) = match hi {
                    Bound::Closed(b) => (']', b.to_string()),
                    Bound::Open(b) => (')', b.to_string()),
                    Bound::None => (')', "∞".into()),
                };
                write!(f, "{l}{a}, {b}{r}")
            }
        }
    }
}

/// A default value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Default {
    /// A fixed number.
    Fixed(f64),
    /// Uniform(min, max).
    Uniform(f64, f64),
    /// Triangular(min, mode, max).
    Triangular(f64, f64, f64),
}

impl Default {
    /// As an uncertain value.
    pub fn to_uncertain(self) -> Uncertain {
        match self {
            Default::Fixed(x) => Uncertain::fixed(x),
            Default::Uniform(a, b) => Uncertain::uniform(a, b),
            Default::Triangular(a, m, b) => Uncertain::triangular(a, m, b),
        }
    }
}

/// What the model knows of one parameter.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    /// Scenario-file name.
    pub name: &'static str,
    /// Symbol in MODEL.md.
    pub symbol: &'static str,
    /// Unit.
    pub unit: &'static str,
    /// Default.
    pub default: Default,
    /// Allowed values.
    pub domain: Domain,
    /// The values a modeller plausibly means (inside the domain): a value outside is allowed
    /// but warned of (`--strict` refuses it).
    pub plausible: (f64, f64),
    /// Why that range.
    pub plausible_basis: &'static str,
    /// Why this default.
    pub basis: &'static str,
}

impl ParamSpec {
    /// Whether a value lies in the plausible range.
    pub fn is_plausible(&self, x: f64) -> bool {
        (self.plausible.0..=self.plausible.1).contains(&x)
    }
}

/// The value a slip of the decimal point most likely meant: `x` times a power of ten (10⁻⁴ …
/// 10⁴, the nearest first) that lands in `range`.
pub fn rescaled_into(x: f64, range: (f64, f64)) -> Option<f64> {
    if x == 0.0 || !x.is_finite() {
        return None;
    }
    [1, -1, 2, -2, 3, -3, 4, -4]
        .into_iter()
        .map(|k| {
            // Round away the binary noise of the scaling (9.6 · 10⁻² = 0.096, not 0.09599…).
            let y = x * 10f64.powi(-k);
            let digits = 10f64.powi(12 - y.abs().log10().floor() as i32);
            (y * digits).round() / digits
        })
        .find(|y| (range.0..=range.1).contains(y))
}

use Bound::{Closed as C, None as N, Open as O};

macro_rules! params {
    ($( $field:ident: $variant:ident, $sym:literal, $unit:literal, $def:expr, ($lo:expr, $hi:expr), ($plo:expr, $phi:expr), $why:literal, $basis:literal; )*) => {
        /// Index of a parameter in [`PARAMS`] and in a draw's parameter vector.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(usize)]
        #[allow(missing_docs)]
        pub enum P { $( $variant, )* }

        /// Every parameter, in MODEL.md §8 order.
        pub const PARAMS: &[ParamSpec] = &[
            $( ParamSpec { name: stringify!($field), symbol: $sym, unit: $unit, default: $def, domain: Domain::new($lo, $hi), plausible: ($plo, $phi), plausible_basis: $why, basis: $basis }, )*
        ];

        /// One draw's value of every parameter, by name (MODEL.md §8; the equations read them
        /// from here).
        #[derive(Debug, Clone, Copy, PartialEq, Default)]
        pub struct Params {
            $( #[doc = concat!($sym, " (`", stringify!($field), "`), ", $unit, ".")] pub $field: f64, )*
        }

        impl Params {
            /// The parameters of values given in [`PARAMS`] order.
            pub fn from_values(v: &[f64; N_PARAMS]) -> Params {
                let mut it = v.iter().copied();
                Params { $( $field: it.next().unwrap_or_default(), )* }
            }

            /// The values in [`PARAMS`] order.
            pub fn values(&self) -> [f64; N_PARAMS] {
                [$( self.$field, )*]
            }

            /// The value of parameter `p`.
            pub fn get(&self, p: P) -> f64 {
                self.values()[p as usize]
            }
        }
    };
}

params! {
    mortality_improvement: MortalityImprovement, "ι", "fraction per year", Default::Triangular(0.005, 0.015, 0.025), (C(0.0), O(1.0)), (0.0, 0.04), "mortality declines of 0–4% a year, the range seen in East Asia since 1990", "assumption: recent Chinese mortality decline of 1–2% a year";
    tfr_long_run: TfrLongRun, "TFR_∞", "births per woman", Default::Triangular(0.8, 1.1, 1.5), (C(0.0), N), (0.5, 3.0), "the TFRs observed in any province or country since 1990", "assumption: national TFR fell to about 1.0–1.3 after 2018";
    tfr_convergence_years: TfrConvergenceYears, "T_f", "years", Default::Uniform(3.0, 10.0), (C(0.5), N), (1.0, 40.0), "convergence within one to two generations", "assumption";
    primary_employment_decline: PrimaryEmploymentDecline, "d₁", "fraction per year", Default::Uniform(0.03, 0.07), (C(0.0), O(1.0)), (0.0, 0.15), "Chinese provinces' primary shares fell at most about 10% a year", "assumption: Fujian's primary employment share fell 3–7% a year in 2010–2018";
    secondary_to_tertiary_shift: SecondaryToTertiaryShift, "d₂₃", "fraction per year", Default::Uniform(0.005, 0.015), (C(0.0), O(1.0)), (0.0, 0.05), "structural change of at most a few percent a year", "assumption";
    investment_rate_long_run: InvestmentRateLongRun, "s_∞", "fraction of GDP", Default::Uniform(0.30, 0.40), (C(0.0), O(1.0)), (0.15, 0.6), "investment ratios of economies since 1960", "assumption: investment ratios of mature East Asian economies";
    tfp_growth_long_run: TfpGrowthLongRun, "γ_LR", "log points per year", Default::Triangular(0.005, 0.012, 0.020), (C(-0.05), C(0.1)), (-0.01, 0.04), "long-run TFP growth of economies since 1960", "assumption: long-run TFP growth of middle/high-income economies";
    tfp_convergence_years: TfpConvergenceYears, "T_c", "years", Default::Uniform(4.0, 10.0), (C(0.5), N), (1.0, 40.0), "convergence within one to two generations", "assumption";
    market_access_elasticity: MarketAccessElasticity, "ε_MA", "elasticity", Default::Triangular(0.02, 0.06, 0.12), (C(0.0), C(1.0)), (0.0, 0.3), "published market-access elasticities", "assumption: range of estimates of high-speed-rail market-access effects in China";
    migration_decay_years: MigrationDecayYears, "T_m", "years", Default::Uniform(10.0, 30.0), (C(0.5), N), (2.0, 100.0), "a trend that fades within a century", "assumption";
    migration_wage_response: MigrationWageResponse, "β_w", "fraction of population per log wage gap", Default::Uniform(0.01, 0.04), (C(0.0), C(2.0)), (0.0, 0.2), "net migration of at most a fifth of the population per log wage gap", "assumption";
    urbanization_growth_response: UrbanizationGrowthResponse, "β_y", "logit points per unit of relative growth", Default::Uniform(0.5, 2.0), (C(0.0), C(10.0)), (0.0, 5.0), "a few logit points per unit of relative growth", "assumption";
    urbanization_norm_speed: UrbanizationNormSpeed, "r_norm", "logit points per year", Default::Fixed(0.0275), (C(0.0), C(0.2)), (0.0, 0.1), "UN urban–rural growth differences", "UN urban–rural growth-difference method, world norm";
    inflation_mean: InflationMean, "π̄", "fraction per year", Default::Uniform(0.005, 0.03), (O(-0.5), O(0.5)), (-0.02, 0.1), "GDP deflators of China since 1995", "assumption: GDP deflator range of 2012–2019";
    capital_share: CapitalShare, "α", "fraction", Default::Fixed(0.5), (O(0.0), O(1.0)), (0.25, 0.65), "capital shares in growth accounting", "assumption: common value for Chinese growth accounting";
    depreciation: Depreciation, "δ", "fraction per year", Default::Fixed(0.096), (O(0.0), O(1.0)), (0.02, 0.2), "depreciation rates of capital stocks (China studies: 0.04–0.1)", "the standard Chinese provincial depreciation rate (Zhang Jun et al. 2004)";
    tfp_shock_sd: TfpShockSd, "σ_z", "log points", Default::Fixed(0.015), (C(0.0), N), (0.0, 0.1), "yearly TFP volatility of regions", "assumption";
    tfp_shock_correlation: TfpShockCorrelation, "ρ", "correlation", Default::Fixed(0.6), (C(0.0), C(1.0)), (0.0, 1.0), "a correlation", "assumption";
    tfp_persistence: TfpPersistence, "φ_e", "AR(1) coefficient", Default::Fixed(0.0), (C(0.0), O(1.0)), (0.0, 0.99), "a stationary AR(1)", "docs/MODEL.md §12.4: 0 in the plan-era model; the baseline's history mode sets its own";
    tfp_drift_sd: TfpDriftSd, "σ_e", "log points", Default::Fixed(0.0), (C(0.0), N), (0.0, 0.05), "yearly changes of a city's TFP growth of at most 5 points", "docs/MODEL.md §12.4: 0 in the plan-era model; the baseline's history mode sets its own";
    disaster_probability: DisasterProbability, "p_D", "probability per year", Default::Fixed(0.05), (C(0.0), C(1.0)), (0.0, 0.3), "region-wide downturns at most every few years", "two region-wide downturns (1989–90, 2008–09) in 1978–2018";
    migration_shock_sd: MigrationShockSd, "σ_m", "fraction of population", Default::Fixed(0.002), (C(0.0), N), (0.0, 0.02), "yearly migration noise of at most 2% of the population", "assumption";
    migration_offset_sd: MigrationOffsetSd, "σ_m0", "fraction of population per year", Default::Fixed(0.004), (C(0.0), N), (0.0, 0.03), "city trends that differ by at most 3% a year", "first-published and census-revised series differ by about this much";
    migration_persistence: MigrationPersistence, "φ_q", "AR(1) coefficient", Default::Fixed(0.0), (C(0.0), O(1.0)), (0.0, 0.99), "a stationary AR(1)", "docs/MODEL.md §12.4: 0 in the plan-era model; the baseline's history mode sets its own";
    migration_drift_sd: MigrationDriftSd, "σ_q", "fraction of population", Default::Fixed(0.0), (C(0.0), N), (0.0, 0.02), "yearly changes of a city's migration rate of at most 2% of its population", "docs/MODEL.md §12.4: 0 in the plan-era model; the baseline's history mode sets its own";
    urbanization_shock_sd: UrbanizationShockSd, "σ_u", "logit points", Default::Fixed(0.02), (C(0.0), N), (0.0, 0.2), "yearly urbanization noise", "assumption";
    urbanization_shock_persistence: UrbanizationShockPersistence, "ρ_u", "AR(1) coefficient", Default::Fixed(0.7), (C(0.0), O(1.0)), (0.0, 0.99), "a stationary AR(1)", "assumption";
    inflation_sd: InflationSd, "σ_π", "fraction per year", Default::Fixed(0.01), (C(0.0), N), (0.0, 0.05), "yearly deflator noise", "assumption";
    market_access_decay: MarketAccessDecay, "θ", "exponent of travel time in hours", Default::Fixed(1.0), (O(0.0), N), (0.5, 2.0), "distance-decay exponents of market-potential studies", "Harris market potential";
    urbanization_ceiling: UrbanizationCeiling, "u_max", "fraction", Default::Fixed(0.98), (O(0.0), C(1.0)), (0.8, 1.0), "the highest urbanization rates of city regions", "assumption";
    migrant_urban_share: MigrantUrbanShare, "π_N", "fraction", Default::Fixed(0.85), (C(0.0), C(1.0)), (0.3, 1.0), "migrants settle mostly in towns", "assumption: inflows are mostly urban";
    mortality_level: MortalityLevel, "λ_d", "multiple of the life table's death rates", Default::Fixed(1.0), (O(0.0), N), (0.5, 2.0), "crude death rates of half to twice the life table's", "§12.5: the 2018 life tables give 泉州 5.5‰ where 6.7‰ was published";
    fertility_persistence: FertilityPersistence, "φ_f", "AR(1) coefficient", Default::Fixed(0.0), (C(0.0), O(1.0)), (0.0, 0.99), "a stationary AR(1)", "docs/MODEL.md §12.4: 0 in the plan-era model; the baseline's history mode sets its own";
    fertility_shock_sd: FertilityShockSd, "σ_f", "log points", Default::Fixed(0.0), (C(0.0), N), (0.0, 0.3), "yearly changes of the births' level of at most a third", "docs/MODEL.md §12.4: 0 in the plan-era model; the baseline's history mode sets its own";
}

/// How many parameters there are.
pub const N_PARAMS: usize = PARAMS.len();

/// The index of a parameter by its scenario-file name.
pub fn index_of(name: &str) -> Option<usize> {
    PARAMS.iter().position(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_lie_in_their_domains_and_plausible_ranges() {
        for p in PARAMS {
            let u = p.default.to_uncertain();
            assert!(p.domain.contains_support(u.support()), "{}", p.name);
            assert!(p.domain.contains(u.central()), "{}", p.name);
            let s = u.support();
            assert!(
                p.is_plausible(s.lo) && p.is_plausible(s.hi),
                "{}: default outside its plausible range",
                p.name
            );
            assert!(p.domain.contains(p.plausible.0) || p.plausible.0 == 0.0, "{}", p.name);
        }
    }

    #[test]
    fn a_slipped_decimal_point_is_found() {
        assert_eq!(rescaled_into(9.6, (0.02, 0.2)), Some(0.096));
        assert_eq!(rescaled_into(12.0, (0.5, 3.0)), Some(1.2));
        assert_eq!(rescaled_into(0.75, (1.0, 100.0)), Some(7.5));
        assert_eq!(rescaled_into(0.0, (1.0, 2.0)), None);
        assert_eq!(rescaled_into(5.0, (1000.0, 2000.0)), None);
    }

    #[test]
    fn the_named_parameters_are_the_table_in_order() {
        let values: [f64; N_PARAMS] = std::array::from_fn(|k| k as f64 + 0.5);
        let p = Params::from_values(&values);
        assert_eq!(p.values(), values);
        for (name, field) in [
            ("mortality_improvement", p.mortality_improvement),
            ("capital_share", p.capital_share),
            ("migrant_urban_share", p.migrant_urban_share),
        ] {
            assert_eq!(field, values[index_of(name).unwrap()], "{name}");
        }
        assert_eq!(p.get(P::CapitalShare), p.capital_share);
    }

    #[test]
    fn enum_order_matches_the_table() {
        assert_eq!(PARAMS[P::MortalityImprovement as usize].name, "mortality_improvement");
        assert_eq!(PARAMS[P::MigrantUrbanShare as usize].name, "migrant_urban_share");
        for (k, p) in PARAMS.iter().enumerate() {
            assert_eq!(index_of(p.name), Some(k), "{} named once", p.name);
        }
    }
}
