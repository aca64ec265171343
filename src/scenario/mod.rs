//! Scenario files → a validated [`Scenario`] (INTERFACE.md "Scenario files").
//!
//! Two stages: a raw serde mirror of the file with `deny_unknown_fields`, then a validated
//! scenario with every default filled in, every parameter checked against its domain, and every
//! problem of the file reported at once with its line, column and key path.

use crate::error::InputErrors;
use crate::indicators::Indicator;
use crate::locate::{Issues, Source};
use crate::params::{self, PARAMS};
use crate::region::{Comparison, Region, Target};
use crate::uncertain::Uncertain;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Default number of draws.
pub const DEFAULT_DRAWS: u64 = 10_000;
/// Default seed.
pub const DEFAULT_SEED: u64 = 20_181_231;
/// Default horizon.
pub const DEFAULT_HORIZON: i32 = 2035;
/// Latest horizon.
pub const MAX_HORIZON: i32 = 2050;
/// Most draws in one run.
pub const MAX_DRAWS: u64 = 10_000_000;

/// How market access enters TFP (MODEL.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarketAccess {
    /// Δ ln MA of the city itself.
    Absolute,
    /// Δ ln MA minus its population-weighted regional mean.
    Relative,
}

impl MarketAccess {
    /// The name in files.
    pub fn name(self) -> &'static str {
        match self {
            MarketAccess::Absolute => "absolute",
            MarketAccess::Relative => "relative",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    scenario: RawHeader,
    #[serde(default)]
    parameters: BTreeMap<String, toml::Value>,
    #[serde(default)]
    targets: Vec<RawTarget>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    name: String,
    description: Option<String>,
    horizon: Option<i64>,
    draws: Option<i64>,
    seed: Option<i64>,
    market_access: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    name: String,
    entity: String,
    year: i64,
    indicator: String,
    at_least: Option<f64>,
    at_most: Option<f64>,
}

/// A validated scenario: every value present and checked.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Name (`[a-z0-9-]+`), used for output folders.
    pub name: String,
    /// What the scenario assumes.
    pub description: String,
    /// Last simulated year.
    pub horizon: i32,
    /// Draws (the command line may override).
    pub draws: u64,
    /// Seed (the command line may override).
    pub seed: u64,
    /// Market-access option.
    pub market_access: MarketAccess,
    /// Every parameter of [`params::PARAMS`], in order: the scenario's value or the default.
    pub parameters: Vec<Uncertain>,
    /// Whether the scenario set each parameter.
    pub parameter_set: Vec<bool>,
    /// Plan targets: the region's, then the scenario's (a scenario target replaces a region
    /// target of the same name).
    pub targets: Vec<Target>,
}

impl Scenario {
    /// Parse and validate a scenario file against a region. `file` names it in messages.
    pub fn parse(file: &str, text: &str, region: &Region) -> Result<Scenario, InputErrors> {
        let src = Source::new(file, text);
        let raw: RawScenario =
            toml::from_str(text).map_err(|e| InputErrors(vec![src.from_toml_error(&e)]))?;
        let mut issues = Issues::new(&src);
        let b = region.base_year;
        let h = &raw.scenario;
        if h.name.is_empty()
            || !h.name.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        {
            issues.push(
                "scenario.name",
                format!("found `{}`; expected a name of a-z, 0-9 and - (it names the output folder)", h.name),
            );
        }
        let horizon = h.horizon.unwrap_or(DEFAULT_HORIZON as i64);
        if horizon <= b as i64 || horizon > MAX_HORIZON as i64 {
            issues.push(
                "scenario.horizon",
                format!("found {horizon}; expected a year in {}..={MAX_HORIZON}", b + 1),
            );
        }
        let draws = h.draws.unwrap_or(DEFAULT_DRAWS as i64);
        if draws < 1 || draws as u64 > MAX_DRAWS {
            issues.push("scenario.draws", format!("found {draws}; expected 1..={MAX_DRAWS}"));
        }
        let seed = h.seed.unwrap_or(DEFAULT_SEED as i64);
        if seed < 0 {
            issues.push("scenario.seed", format!("found {seed}; expected a seed ≥ 0"));
        }
        let market_access = match h.market_access.as_deref() {
            None | Some("absolute") => MarketAccess::Absolute,
            Some("relative") => MarketAccess::Relative,
            Some(other) => {
                issues.unknown(
                    "scenario.market_access",
                    "market-access option",
                    other,
                    &["absolute", "relative"],
                );
                MarketAccess::Absolute
            }
        };

        let mut parameters: Vec<Uncertain> = PARAMS.iter().map(|p| p.default.to_uncertain()).collect();
        let mut parameter_set = vec![false; PARAMS.len()];
        let names: Vec<&str> = PARAMS.iter().map(|p| p.name).collect();
        for (name, value) in &raw.parameters {
            let path = format!("parameters.{name}");
            let Some(k) = params::index_of(name) else {
                issues.unknown(&path, "parameter", name, &names);
                continue;
            };
            let Some(u) = Uncertain::parse(value, &path, &mut issues) else {
                continue;
            };
            let spec = &PARAMS[k];
            if !spec.domain.contains_support(u.support()) {
                let hint = if u.is_fixed() {
                    String::new()
                } else {
                    "; narrow it or add truncate = [lo, hi] inside the domain".to_string()
                };
                issues.push(
                    &path,
                    format!(
                        "found {u}, which can take values outside the domain {} of {}{hint}",
                        spec.domain, spec.name
                    ),
                );
                continue;
            }
            parameters[k] = u;
            parameter_set[k] = true;
        }

        let mut targets = region.targets.clone();
        let entity_ids: Vec<&str> = region.cities.iter().map(|c| c.id.as_str()).chain(["region"]).collect();
        for (k, t) in raw.targets.iter().enumerate() {
            let path = format!("targets[{k}]");
            if raw.targets[..k].iter().any(|o| o.name == t.name) {
                issues.push(&format!("{path}.name"), format!("duplicate target `{}`", t.name));
            }
            let entity = region.entity_index(&t.entity);
            if entity.is_none() {
                issues.unknown(&format!("{path}.entity"), "entity", &t.entity, &entity_ids);
            }
            if t.year < b as i64 || t.year > horizon {
                issues.push(
                    &format!("{path}.year"),
                    format!("found {}; expected a year in {b}..={horizon}", t.year),
                );
            }
            let indicator = Indicator::from_name(&t.indicator);
            if indicator.is_none() {
                issues.unknown(&format!("{path}.indicator"), "indicator", &t.indicator, &Indicator::names());
            }
            if let Some(ind) = indicator
                && ind.is_flow()
                && t.year == b as i64
            {
                issues.push(
                    &format!("{path}.year"),
                    format!("`{}` is a flow: it exists from {} on", ind.name(), b + 1),
                );
            }
            let cmp = match (t.at_least, t.at_most) {
                (Some(x), None) => Some((Comparison::AtLeast, x)),
                (None, Some(x)) => Some((Comparison::AtMost, x)),
                _ => {
                    issues.push(&path, "expected exactly one of `at_least` or `at_most`");
                    None
                }
            };
            if let Some((_, x)) = cmp
                && !x.is_finite()
            {
                issues.push(&path, format!("found threshold {x}; expected a finite number"));
            }
            if let (Some(entity), Some(indicator), Some((comparison, threshold))) = (entity, indicator, cmp) {
                let target = Target {
                    name: t.name.clone(),
                    entity,
                    year: t.year as i32,
                    indicator,
                    comparison,
                    threshold,
                };
                match targets.iter_mut().find(|o| o.name == t.name) {
                    Some(o) => *o = target,
                    None => targets.push(target),
                }
            }
        }
        // Region targets beyond the horizon are dropped (a short run cannot answer them).
        targets.retain(|t| t.year <= horizon as i32);
        issues.finish(Scenario {
            name: h.name.clone(),
            description: h.description.clone().unwrap_or_default(),
            horizon: horizon as i32,
            draws: draws as u64,
            seed: seed as u64,
            market_access,
            parameters,
            parameter_set,
            targets,
        })
    }

    /// The scenario with every default filled in, as TOML (`validate --resolved`).
    pub fn to_toml(&self, region: &Region) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "[scenario]");
        let _ = writeln!(s, "name = {}", toml_str(&self.name));
        let _ = writeln!(s, "description = {}", toml_str(&self.description));
        let _ = writeln!(s, "horizon = {}", self.horizon);
        let _ = writeln!(s, "draws = {}", self.draws);
        let _ = writeln!(s, "seed = {}", self.seed);
        let _ = writeln!(s, "market_access = {}", toml_str(self.market_access.name()));
        let _ = writeln!(s, "\n[parameters]");
        for (p, u) in PARAMS.iter().zip(&self.parameters) {
            let _ = writeln!(s, "{} = {}", p.name, u.to_toml());
        }
        for t in &self.targets {
            let _ = writeln!(s, "\n[[targets]]");
            let _ = writeln!(s, "name = {}", toml_str(&t.name));
            let _ = writeln!(s, "entity = {}", toml_str(region.entity_id(t.entity)));
            let _ = writeln!(s, "year = {}", t.year);
            let _ = writeln!(s, "indicator = {}", toml_str(t.indicator.name()));
            let _ = writeln!(s, "{} = {:?}", t.comparison.name(), t.threshold);
        }
        s
    }

    /// SHA-256 of the resolved scenario (its [`Scenario::to_toml`] text).
    pub fn sha256(&self, region: &Region) -> String {
        Sha256::digest(self.to_toml(region).as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expect: &str) {
        let r = Region::embedded();
        let e = Scenario::parse("s.toml", text, &r).expect_err(text).to_string();
        assert!(e.contains(expect), "expected `{expect}` in:\n{e}");
    }

    #[test]
    fn defaults_fill_a_minimal_scenario() {
        let r = Region::embedded();
        let s = Scenario::parse("s.toml", "[scenario]\nname = \"x\"\n", &r).unwrap();
        assert_eq!((s.horizon, s.draws, s.seed), (2035, 10_000, 20_181_231));
        assert_eq!(s.targets.len(), 5);
        assert!(s.parameter_set.iter().all(|x| !x));
        // the resolved text parses back to the same scenario
        let again = Scenario::parse("r.toml", &s.to_toml(&r), &r).unwrap();
        assert_eq!(again.to_toml(&r), s.to_toml(&r));
    }

    #[test]
    fn errors_name_line_key_and_expectation() {
        check(
            "[scenario]\nname = \"x\"\nhorizon = 2060\n",
            "s.toml:3:1: `scenario.horizon`: found 2060; expected a year in 2019..=2050",
        );
        check("[scenario]\nname = \"X y\"\n", "s.toml:2:1: `scenario.name`");
        check("[scenario]\nname = \"x\"\n[parameters]\ntfr_long_rn = 1.0\n", "did you mean `tfr_long_run`?");
        check(
            "[scenario]\nname = \"x\"\n[parameters]\ndepreciation = 1.5\n",
            "s.toml:4:1: `parameters.depreciation`: found 1.5",
        );
        check(
            "[scenario]\nname = \"x\"\n[parameters]\ntfr_long_run = { dist = \"normal\", mean = 1.1, sd = 0.2 }\n",
            "add truncate",
        );
        check("[scenario]\nname = \"x\"\nseeds = 3\n", "did you mean `seed`?");
        check("[scenario]\nname = \"x\"\ndraws = 0\n", "`scenario.draws`: found 0");
        check("[scenario]\nname = \"x\"\nmarket_access = \"relativ\"\n", "did you mean `relative`?");
        check(
            "[scenario]\nname = \"x\"\n[[targets]]\nname = \"t\"\nentity = \"xiamn\"\nyear = 2025\nindicator = \"gdp_real\"\nat_least = 1.0\n",
            "s.toml:5:1: `targets[0].entity`: unknown entity `xiamn` (did you mean `xiamen`?)",
        );
        check(
            "[scenario]\nname = \"x\"\n[[targets]]\nname = \"t\"\nentity = \"region\"\nyear = 2025\nindicator = \"gdp_real\"\nat_least = 1.0\nat_most = 2.0\n",
            "exactly one of `at_least` or `at_most`",
        );
        check("[scenario]\nname = \"x\"\nhorizon = \"soon\"\n", "s.toml:3:11: `scenario.horizon`");
        check("[scenario\nname = \"x\"\n", "s.toml:1:");
        check("[parameters]\n", "missing field `scenario`");
    }
}
