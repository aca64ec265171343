//! The outcomes reported per entity (each city and `region`) and year (MODEL.md §9), their units,
//! and the layout of one draw's outcome vector.

/// The kinds of indicator: a stock or rate at the end of a year, or a flow or growth rate of the
/// year (defined from the year after the base year on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Stock,
    Flow,
}

macro_rules! indicators {
    ($( $variant:ident = $name:literal, $unit:literal, $kind:ident; )*) => {
        /// An outcome indicator, in MODEL.md §9 order (the order of rows in `summary.csv`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(usize)]
        pub enum Indicator {
            $( #[doc = concat!("`", $name, "` (", $unit, ").")] $variant, )*
        }

        /// How many indicators there are.
        pub const N_INDICATORS: usize = [$( stringify!($variant), )*].len();

        /// Every indicator, in output order.
        pub const INDICATORS: [Indicator; N_INDICATORS] = [$( Indicator::$variant, )*];

        impl Indicator {
            /// The name used in files.
            pub fn name(self) -> &'static str {
                match self { $( Indicator::$variant => $name, )* }
            }

            /// The unit, exactly as INTERFACE.md spells it.
            pub fn unit(self) -> &'static str {
                match self { $( Indicator::$variant => $unit, )* }
            }

            /// Flows and growth rates exist from the year after the base year only.
            pub fn is_flow(self) -> bool {
                match self { $( Indicator::$variant => Kind::$kind == Kind::Flow, )* }
            }
        }
    };
}

// Each indicator's value is computed in `model::outcomes::write_entity`.
indicators! {
    Population = "population", "10k persons", Stock;
    UrbanPopulation = "urban_population", "10k persons", Stock;
    UrbanizationRate = "urbanization_rate", "%", Stock;
    WorkingAgeShare = "working_age_share", "%", Stock;
    OldAgeDependency = "old_age_dependency", "%", Stock;
    Employment = "employment", "10k persons", Stock;
    GdpReal = "gdp_real", "100M CNY (2018 prices)", Stock;
    GdpNominal = "gdp_nominal", "100M CNY (current prices)", Stock;
    GdpPerCapita = "gdp_per_capita", "CNY per person (2018 prices)", Stock;
    GdpSharePrimary = "gdp_share_primary", "%", Stock;
    GdpShareSecondary = "gdp_share_secondary", "%", Stock;
    GdpShareTertiary = "gdp_share_tertiary", "%", Stock;
    GdpAssessment = "gdp_assessment", "100M CNY (2018 prices)", Stock;
    Births = "births", "10k persons per year", Flow;
    Deaths = "deaths", "10k persons per year", Flow;
    NetMigration = "net_migration", "10k persons per year", Flow;
    ParkTaxToPartner = "park_tax_to_partner", "100M CNY (2018 prices)", Flow;
    GdpGrowth = "gdp_growth", "% per year", Flow;
    PopulationGrowth = "population_growth", "% per year", Flow;
}

impl Indicator {
    /// The indicator of a file name.
    pub fn from_name(name: &str) -> Option<Indicator> {
        INDICATORS.iter().copied().find(|i| i.name() == name)
    }

    /// Every indicator name.
    pub fn names() -> Vec<&'static str> {
        INDICATORS.iter().map(|i| i.name()).collect()
    }
}

/// Where each (entity, year, indicator) value sits in one draw's outcome vector:
/// `((entity · years) + year − base) · N_INDICATORS + indicator`, with the cities in region order
/// and then the region. Flows of the base year are present but unused (NaN). The parks' series
/// follow: `entities · years · N_INDICATORS + (park · years + year − base) · N_PARK_INDICATORS + k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Number of cities.
    pub cities: usize,
    /// Base year.
    pub base_year: i32,
    /// Horizon (last year).
    pub horizon: i32,
    /// Number of parks that are on.
    pub parks: usize,
}

/// A park's reported series, in `parks.csv` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum ParkIndicator {
    /// Value added Y_p.
    ValueAdded,
    /// Workers L_p (after the 50% cap).
    Employment,
    /// Capital K_p.
    Capital,
    /// Tax paid to the partner.
    TaxToPartner,
}

/// Every park indicator, with its name and unit.
pub const PARK_INDICATORS: [(ParkIndicator, &str, &str); 4] = [
    (ParkIndicator::ValueAdded, "value_added", "100M CNY (2018 prices)"),
    (ParkIndicator::Employment, "employment", "10k persons"),
    (ParkIndicator::Capital, "capital", "100M CNY (2018 prices)"),
    (ParkIndicator::TaxToPartner, "tax_to_partner", "100M CNY (2018 prices)"),
];

/// Age groups of the population pyramids (0–4 … 80–84, 85+).
pub const PYRAMID_GROUPS: usize = 18;

/// How many park indicators there are.
pub const N_PARK_INDICATORS: usize = PARK_INDICATORS.len();

impl Layout {
    /// Entities: cities and the region.
    pub fn entities(&self) -> usize {
        self.cities + 1
    }

    /// Years base..=horizon.
    pub fn years(&self) -> usize {
        (self.horizon - self.base_year + 1) as usize
    }

    /// Values per draw.
    pub fn len(&self) -> usize {
        self.pyramid_start() + self.entities() * 2 * 2 * PYRAMID_GROUPS
    }

    fn pyramid_start(&self) -> usize {
        self.entities() * self.years() * N_INDICATORS + self.parks * self.years() * N_PARK_INDICATORS
    }

    /// The position of one cell of a population pyramid: `which` 0 = base year, 1 = horizon;
    /// `sex` 0 = female, 1 = male; `group` the 5-year age group (the last is 85+).
    #[inline]
    pub fn pyramid_index(&self, entity: usize, which: usize, sex: usize, group: usize) -> usize {
        self.pyramid_start() + ((entity * 2 + which) * 2 + sex) * PYRAMID_GROUPS + group
    }

    /// The position of one park value.
    #[inline]
    pub fn park_index(&self, park: usize, year: i32, k: ParkIndicator) -> usize {
        self.entities() * self.years() * N_INDICATORS
            + (park * self.years() + (year - self.base_year) as usize) * N_PARK_INDICATORS
            + k as usize
    }

    /// The positions of the base year's values, as runs of consecutive positions in increasing
    /// order: each entity's indicators, each park's, then each entity's base pyramid. The base
    /// year is data, the same in every draw (MODEL.md §10), so a run that keeps every draw keeps
    /// these values once.
    pub fn base_year_runs(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        let entities = (0..self.entities()).map(|e| {
            let at = self.index(e, self.base_year, INDICATORS[0]);
            at..at + N_INDICATORS
        });
        let parks = (0..self.parks).map(|p| {
            let at = self.park_index(p, self.base_year, PARK_INDICATORS[0].0);
            at..at + N_PARK_INDICATORS
        });
        let pyramids = (0..self.entities()).map(|e| {
            let at = self.pyramid_index(e, 0, 0, 0);
            at..at + 2 * PYRAMID_GROUPS
        });
        entities.chain(parks).chain(pyramids)
    }

    /// How many values of a draw are not the base year's (see [`Layout::base_year_runs`]).
    pub fn after_base_len(&self) -> usize {
        self.len() - self.base_year_runs().map(|r| r.len()).sum::<usize>()
    }

    /// Whether the layout holds no values (never, for a valid run).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The position of one value.
    #[inline]
    pub fn index(&self, entity: usize, year: i32, ind: Indicator) -> usize {
        (entity * self.years() + (year - self.base_year) as usize) * N_INDICATORS + ind as usize
    }

    /// Every reported (entity, year, indicator) in output order with its position.
    pub fn reported(&self) -> impl Iterator<Item = (usize, i32, Indicator, usize)> + '_ {
        (0..self.entities()).flat_map(move |e| {
            (self.base_year..=self.horizon).flat_map(move |y| {
                INDICATORS
                    .iter()
                    .copied()
                    .filter(move |i| y > self.base_year || !i.is_flow())
                    .map(move |i| (e, y, i, self.index(e, y, i)))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_year_runs_are_the_base_years_positions() {
        for (cities, parks) in [(5, 0), (5, 3), (1, 1)] {
            let l = Layout { cities, base_year: 2018, horizon: 2035, parks };
            let mut base = vec![false; l.len()];
            let mut last = None;
            for r in l.base_year_runs() {
                assert!(last.is_none_or(|e| e <= r.start) && !r.is_empty());
                last = Some(r.end);
                for j in r {
                    base[j] = true;
                }
            }
            // Each position decoded from the layout's formulas.
            let (years, entity_end) = (l.years(), l.entities() * l.years() * N_INDICATORS);
            let pyramid_start = entity_end + parks * years * N_PARK_INDICATORS;
            for (j, &is_base) in base.iter().enumerate() {
                let year = if j < entity_end {
                    (j / N_INDICATORS) % years
                } else if j < pyramid_start {
                    ((j - entity_end) / N_PARK_INDICATORS) % years
                } else {
                    // which = 0 is the base year's pyramid, 1 the horizon's.
                    ((j - pyramid_start) / (2 * PYRAMID_GROUPS)) % 2 * (years - 1)
                };
                assert_eq!(is_base, year == 0, "position {j} of {cities} cities, {parks} parks");
            }
            assert_eq!(l.after_base_len(), base.iter().filter(|&&b| !b).count());
        }
    }

    #[test]
    fn the_flows_are_the_indicators_without_a_base_year_value() {
        let flows: Vec<&str> = INDICATORS.iter().filter(|i| i.is_flow()).map(|i| i.name()).collect();
        assert_eq!(
            flows,
            ["births", "deaths", "net_migration", "park_tax_to_partner", "gdp_growth", "population_growth"]
        );
        assert_eq!(Indicator::from_name("gdp_real"), Some(Indicator::GdpReal));
        assert_eq!(
            INDICATORS.iter().map(|i| *i as usize).collect::<Vec<_>>(),
            (0..N_INDICATORS).collect::<Vec<_>>()
        );
    }
}
