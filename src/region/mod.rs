//! Region files → a validated [`Region`]: cities, age and migrant profiles, external nodes,
//! travel times, projects, parks and plan targets (INTERFACE.md "Region files").
//!
//! A region is a manifest (`region.toml`) and the tables it names. The engine is region-agnostic:
//! the embedded default ([`Region::embedded`]) is just such a folder; `--region FILE` loads
//! another through [`Region::load`], which reads files only through the [`Files`] it is given.

mod csvtable;
pub mod embedded;
pub mod items;

use crate::error::{InputError, InputErrors};
use crate::indicators::Indicator;
use crate::locate::{Issues, Source};
use crate::observed::{Basis, Measure, Observation, Observations};
use crate::uncertain::Uncertain;
use csvtable::CsvTable;
pub use items::{RawPark, RawProject};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Oldest single-year age (100 = 100+).
pub const MAX_AGE: usize = 100;
/// Single-year ages 0..=100.
pub const AGES: usize = MAX_AGE + 1;
/// Sex index of females.
pub const FEMALE: usize = 0;
/// Sex index of males.
pub const MALE: usize = 1;
/// Sector names, in index order.
pub const SECTORS: [&str; 3] = ["primary", "secondary", "tertiary"];
/// The 5-year age groups of profile files, in order (the last is 85+).
pub const AGE_GROUPS: [&str; 18] = [
    "0-4", "5-9", "10-14", "15-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49", "50-54", "55-59",
    "60-64", "65-69", "70-74", "75-79", "80-84", "85+",
];

/// Reads the files of a region, by name relative to its manifest.
pub trait Files {
    /// The text of a file.
    fn read(&self, rel: &str) -> Result<String, String>;
    /// How to name the file in messages.
    fn display(&self, rel: &str) -> String;
}

/// Demographic and economic constants of one city (region constants unless the city overrides).
#[derive(Debug, Clone, PartialEq)]
pub struct CityConstants {
    /// TFR in the base year.
    pub tfr_base: f64,
    /// Males per female at birth.
    pub sex_ratio_at_birth: f64,
    /// Life expectancy at birth in the base year, by sex (female, male).
    pub e0: [f64; 2],
    /// Investment rate in the base year.
    pub investment_rate_base: f64,
    /// Labour-force participation of the working-age population.
    pub participation: f64,
    /// Male share of migrants.
    pub migrant_male_share: f64,
}

/// One city and its base-year data.
#[derive(Debug, Clone, PartialEq)]
pub struct City {
    /// Id (lower-case ASCII).
    pub id: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// Coastal city.
    pub coastal: bool,
    /// Year-end resident population, 10k persons.
    pub population: f64,
    /// Urbanization rate, fraction.
    pub urbanization: f64,
    /// GDP, 100M CNY.
    pub gdp: f64,
    /// Real GDP growth in the base year, fraction.
    pub real_growth: f64,
    /// GDP shares of the three sectors, fractions summing to 1.
    pub shares: [f64; 3],
    /// Population growth per year before the base year, fraction.
    pub pop_growth: f64,
    /// Urbanization change per year before the base year, fraction (not percentage points).
    pub urbanization_change: f64,
    /// Constants.
    pub constants: CityConstants,
    /// Employment shares of the three sectors in the base year, when the data give them.
    pub employment_shares: Option<[f64; 3]>,
}

/// A market-access node outside the region.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Id.
    pub id: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// Economic mass (GDP), 100M CNY.
    pub mass: f64,
}

/// What the plan said of a project in 2018–19.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Being built.
    Construction,
    /// To be started.
    Approved,
    /// Under study.
    Study,
}

impl Stage {
    /// Stage names.
    pub const NAMES: [&'static str; 3] = ["construction", "approved", "study"];
    /// The name in files.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
    /// The stage of a name.
    pub fn parse(s: &str) -> Option<Stage> {
        [Stage::Construction, Stage::Approved, Stage::Study].into_iter().find(|st| st.name() == s)
    }
}

/// Project kinds.
pub const PROJECT_KINDS: [&str; 8] =
    ["hsr", "rail", "intercity", "metro", "expressway", "airport", "port", "energy"];

/// A direct productivity effect of a project.
#[derive(Debug, Clone)]
pub struct ProjectTfp {
    /// City index.
    pub city: usize,
    /// Sector index.
    pub sector: usize,
    /// Log change of TFP reached after `ramp_years`.
    pub size: Uncertain,
    /// Years over which the effect builds up (≥ 1).
    pub ramp_years: u32,
}

/// An infrastructure project.
#[derive(Debug, Clone)]
pub struct Project {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Kind (one of [`PROJECT_KINDS`]).
    pub kind: String,
    /// Stage.
    pub stage: Stage,
    /// Planned opening year.
    pub open_year: i32,
    /// The project's own delay distribution (years), else its stage's.
    pub delay: Option<Uncertain>,
    /// Whether the project is in the plan's set (region projects are on unless disabled).
    pub enabled: bool,
    /// Travel times from the opening year on: (node, node, minutes), nodes indexed cities first.
    pub pairs: Vec<(usize, usize, f64)>,
    /// Direct TFP effects.
    pub tfp: Vec<ProjectTfp>,
}

/// How a park's value added counts for assessment (MODEL.md §7b).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistics {
    /// Both partners count it fully.
    Dual,
    /// Host and partner split it by the tax share.
    Split,
    /// Only the host counts it.
    Host,
}

/// A co-built park (off unless a scenario enables it).
#[derive(Debug, Clone)]
pub struct Park {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Host city index.
    pub host: usize,
    /// Partner city index.
    pub partner: usize,
    /// Sector index.
    pub sector: usize,
    /// First year of operation.
    pub start: i32,
    /// Ramp years.
    pub ramp_years: u32,
    /// Value added at full ramp, 100M CNY (2018 prices).
    pub value_added: Uncertain,
    /// Capital per unit of value added.
    pub capital_per_value_added: Uncertain,
    /// Capital per worker, 10k CNY.
    pub capital_per_worker: Uncertain,
    /// Share of gross investment the partner funds.
    pub partner_funded_share: Uncertain,
    /// Tax per unit of value added.
    pub tax_rate: Uncertain,
    /// Share of the tax that goes to the partner.
    pub tax_share_to_partner: Uncertain,
    /// Statistics rule.
    pub statistics: Statistics,
}

/// ≥ or ≤.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// value ≥ threshold.
    AtLeast,
    /// value ≤ threshold.
    AtMost,
}

impl Comparison {
    /// The name in files.
    pub fn name(self) -> &'static str {
        match self {
            Comparison::AtLeast => "at_least",
            Comparison::AtMost => "at_most",
        }
    }
    /// Whether a value meets the threshold.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::AtLeast => value >= threshold,
            Comparison::AtMost => value <= threshold,
        }
    }
}

/// A plan target.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Name.
    pub name: String,
    /// Entity index (cities in order, then the region).
    pub entity: usize,
    /// Year.
    pub year: i32,
    /// Indicator.
    pub indicator: Indicator,
    /// Comparison.
    pub comparison: Comparison,
    /// Threshold in the indicator's unit.
    pub threshold: f64,
    /// The statistical basis the threshold was set on (the plan's: first releases), when it
    /// matters ([`RegionHistory::basis`]); none: the run's own.
    pub basis: Option<Basis>,
    /// What the target says, in Chinese and in English (empty when not given).
    pub label: (String, String),
}

/// What history mode needs of a region (docs/MODEL.md §11).
#[derive(Debug, Clone)]
pub struct RegionHistory {
    /// The region's observation file.
    pub observations: Observations,
    /// The id of the region's parent (a province) in the observation file: its figures stand in
    /// where a city has none.
    pub parent: Option<String>,
    /// The first year whose first-release level of each measure is on the revised basis (before
    /// it, a first release is on the first-release basis).
    pub revised_from: Vec<(Measure, i32)>,
}

impl RegionHistory {
    /// The basis of an observation's value ([`crate::observed::basis_of`]).
    pub fn basis(&self, o: &Observation) -> Option<Basis> {
        crate::observed::basis_of(o, &self.revised_from)
    }
}

/// What became of one project: the first year it operated for at least half a year.
#[derive(Debug, Clone, PartialEq)]
pub struct AsBuilt {
    /// The project's id.
    pub project: String,
    /// The first year with at least half a year of operation (an expected year when it has not
    /// opened yet); none when it has not started.
    pub model_year: Option<i32>,
    /// What the file says of it.
    pub status: String,
}

/// A validated region.
#[derive(Debug, Clone)]
pub struct Region {
    /// Name (an id).
    pub name: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// Base year.
    pub base_year: i32,
    /// Cities, in file order.
    pub cities: Vec<City>,
    /// Base-year age structure of each city as shares of its population, `[sex][age]`.
    pub age_profiles: Vec<[[f64; AGES]; 2]>,
    /// Migrant age-sex profile of each city, `[sex][age]`, summing to 1.
    pub migrant_profiles: Vec<[[f64; AGES]; 2]>,
    /// External nodes.
    pub nodes: Vec<Node>,
    /// Base travel times in minutes, `(cities + nodes)²`, row-major; +∞ where there is no link.
    pub travel_times: Vec<f64>,
    /// Delay distributions by stage.
    pub delay_by_stage: [Uncertain; 3],
    /// Projects.
    pub projects: Vec<Project>,
    /// Parks.
    pub parks: Vec<Park>,
    /// Defaults for the fields a park does not give.
    pub park_defaults: items::ParkDefaults,
    /// Plan targets.
    pub targets: Vec<Target>,
    /// Lower Cholesky factor of the city shock correlation matrix, when the region gives one.
    pub shock_cholesky: Option<nalgebra::DMatrix<f64>>,
    /// The observations and what history mode needs of the region, when its manifest names an
    /// observation file (`files.observed`).
    pub history: Option<RegionHistory>,
    /// What became of the projects, when the manifest names the file (`files.as_built`).
    pub as_built: Vec<AsBuilt>,
    /// SHA-256 over the manifest and every file it names.
    pub sha256: String,
}

impl Region {
    /// The embedded default region.
    pub fn embedded() -> Region {
        Region::load(embedded::MANIFEST, &embedded::Embedded).expect("the embedded region is valid (tested)")
    }

    /// Number of nodes for market access: cities then external nodes.
    pub fn n_nodes(&self) -> usize {
        self.cities.len() + self.nodes.len()
    }

    /// Entity names: city ids then `region`.
    pub fn entity_id(&self, e: usize) -> &str {
        self.cities.get(e).map_or("region", |c| c.id.as_str())
    }

    /// Index of an entity id (a city or `region`).
    pub fn entity_index(&self, id: &str) -> Option<usize> {
        if id == "region" { Some(self.cities.len()) } else { self.city_index(id) }
    }

    /// Index of a city id.
    pub fn city_index(&self, id: &str) -> Option<usize> {
        self.cities.iter().position(|c| c.id == id)
    }

    /// Load a region from its manifest (`manifest` is the name `files` reads it by).
    pub fn load(manifest: &str, files: &dyn Files) -> Result<Region, InputErrors> {
        load::load(manifest, files)
    }
}

mod load;
