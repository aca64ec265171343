//! The embedded default region (闽西南协同发展区, base year 2018): the files under `data/`,
//! compiled into the binary so that a run needs no file but the scenario.

/// The manifest's file name.
pub const MANIFEST: &str = "region.toml";

/// Every file of the embedded region: (name relative to the manifest, content).
pub const FILES: &[(&str, &str)] = &[
    ("region.toml", include_str!("../../data/region.toml")),
    ("cities.csv", include_str!("../../data/cities.csv")),
    ("age_profile_2018.csv", include_str!("../../data/age_profile_2018.csv")),
    ("migrant_profile.csv", include_str!("../../data/migrant_profile.csv")),
    ("external_nodes.csv", include_str!("../../data/external_nodes.csv")),
    ("travel_times_2018.csv", include_str!("../../data/travel_times_2018.csv")),
    ("projects.toml", include_str!("../../data/projects.toml")),
    ("parks.toml", include_str!("../../data/parks.toml")),
    ("plan_targets.csv", include_str!("../../data/plan_targets.csv")),
    ("projects_actual.csv", include_str!("../../data/projects_actual.csv")),
    ("observed.csv", include_str!("../../data/observed.csv")),
    ("README.md", include_str!("../../data/README.md")),
];

/// Reads the embedded files.
pub struct Embedded;

impl super::Files for Embedded {
    fn read(&self, rel: &str) -> Result<String, String> {
        FILES
            .iter()
            .find(|(name, _)| *name == rel)
            .map(|(_, text)| (*text).to_string())
            .ok_or_else(|| format!("no embedded file `{rel}`"))
    }

    fn display(&self, rel: &str) -> String {
        format!("<embedded>/data/{rel}")
    }
}
