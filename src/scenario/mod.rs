//! Scenario files → a validated [`Scenario`] (INTERFACE.md "Scenario files").
//!
//! Two stages: each file of an `extends` chain is parsed into a raw serde mirror with
//! `deny_unknown_fields` (so a typo is caught with its line in the file that has it); the chain is
//! merged (`raw::merge`); the merged scenario is validated once, with every default filled in,
//! every value checked against its domain, and every problem reported at once, located in the file
//! of the chain that holds the key.

mod history;
mod raw;
mod resolved;

pub use history::{DEFAULT_POOL_CAP, History, MAX_POOL, MIN_POOL, ProjectHistory, VitalRates, default_pool};

use crate::error::{InputError, InputErrors};
use crate::indicators::Indicator;
use crate::locate::{Issues, Source};
use crate::observed::Basis;
use crate::params::{self, PARAMS};
use crate::region::items::{self, Ctx};
use crate::region::{Comparison, Park, Project, RawPark, Region, SECTORS, Target};
use crate::uncertain::Uncertain;
use raw::{RawHeader, RawScenario};
use std::path::{Component, Path, PathBuf};

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
/// Longest `extends` chain.
pub const MAX_CHAIN: usize = 32;

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

/// The industry transfer (MODEL.md §7a).
#[derive(Debug, Clone)]
pub struct Transfer {
    /// Origin cities and the transferable share χ of their base secondary capital.
    pub origins: Vec<(usize, f64)>,
    /// Destination cities and their shares of what arrives (summing to 1).
    pub destinations: Vec<(usize, f64)>,
    /// First active year.
    pub start: i32,
    /// Last active year (inclusive).
    pub end: i32,
    /// Share of the remaining transferable stock moved per active year.
    pub rate: Uncertain,
    /// Share of moved capital that arrives productive.
    pub efficiency: Uncertain,
    /// Productivity gap of the leaving firms (q = 1 − composition_gain).
    pub composition_gain: Uncertain,
}

/// What a shift adds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lever {
    /// The growth of ln A of one sector.
    Tfp,
    /// The investment rate.
    InvestmentRate,
    /// The TFR.
    Tfr,
    /// The bracket of net migration (fraction of population per year).
    MigrationRate,
    /// Labour-force participation.
    Participation,
}

impl Lever {
    /// Names in files, in the enum's order.
    pub const NAMES: [&'static str; 5] = ["tfp", "investment_rate", "tfr", "migration_rate", "participation"];
    /// How many levers there are.
    pub const COUNT: usize = Self::NAMES.len();
    /// The name in files.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
    fn parse(s: &str) -> Option<Lever> {
        use Lever::*;
        [Tfp, InvestmentRate, Tfr, MigrationRate, Participation].into_iter().find(|l| l.name() == s)
    }

    /// The largest |delta| a shift of the lever may add per year, as a message says it.
    pub fn limit(self) -> (f64, &'static str) {
        match self {
            Lever::MigrationRate => (0.1, "|delta| ≤ 0.1 (a fraction of population per year)"),
            Lever::Tfp => (0.2, "|delta| ≤ 0.2 (log points per year)"),
            Lever::Tfr => (5.0, "|delta| ≤ 5 (births per woman)"),
            Lever::InvestmentRate | Lever::Participation => (1.0, "|delta| < 1 (a fraction)"),
        }
    }
}

/// A generic shift (MODEL.md §7d).
#[derive(Debug, Clone)]
pub struct Shift {
    /// City index.
    pub city: usize,
    /// Lever.
    pub lever: Lever,
    /// Sector index (tfp only; 0 otherwise).
    pub sector: usize,
    /// First year.
    pub start: i32,
    /// Last year (inclusive).
    pub end: i32,
    /// Amount added in every year of the range.
    pub delta: Uncertain,
    /// Stream purpose of `delta`.
    pub purpose: String,
    /// Which file of the `extends` chain gives it, and its index among that file's shifts.
    pub origin: (usize, usize),
    /// Its years as the file writes them (`start..=end` may have been moved out of the history;
    /// the stream's purpose is named by these).
    pub written: (i32, i32),
}

/// How [`Scenario::load_as`] takes a scenario's `[history]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryMode {
    /// As the file writes it.
    AsWritten,
    /// Without history (the plan-era view of the same scenario).
    Off,
    /// Conditioned on the observations up to this year (the file's, or the region's).
    Until(i32),
}

/// A validated scenario: every value present and checked.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Name (`[a-z0-9-]+`), used for output folders.
    pub name: String,
    /// What the scenario assumes.
    pub description: String,
    /// The files of its `extends` chain, the scenario's own first.
    pub chain: Vec<String>,
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
    /// The industry transfer, when on.
    pub transfer: Option<Transfer>,
    /// The parks that are on (region parks the scenario enables, and new ones).
    pub parks: Vec<Park>,
    /// Every project: the region's with the scenario's overrides, then new ones.
    pub projects: Vec<Project>,
    /// Whole years added to every project's opening.
    pub delay_shift: i32,
    /// Shifts.
    pub shifts: Vec<Shift>,
    /// Plan targets: the region's, then the scenario's (a scenario target replaces a region
    /// target of the same name).
    pub targets: Vec<Target>,
    /// History mode (`[history]`): the observations a run conditions on, when on.
    pub history: Option<History>,
    /// What validation found worth saying but not refusing (a lever moved out of the history),
    /// located like errors.
    pub warnings: Vec<InputError>,
    /// Values that are allowed but implausible (a parameter or target threshold outside its
    /// plausible range), located like errors, with the likely meant value; `--strict` refuses
    /// them.
    pub plausibility: Vec<InputError>,
}

/// The targets of a comparison: every target of every scenario, by name, the base's first. Two
/// scenarios defining a name alike give it once; defining it differently, both are kept, each
/// named `name@scenario`, with a warning.
pub fn union_targets(scenarios: &[&Scenario]) -> (Vec<Target>, Vec<String>) {
    let mut union: Vec<(Target, usize)> = Vec::new();
    let mut warnings = Vec::new();
    for (k, sc) in scenarios.iter().enumerate() {
        for t in &sc.targets {
            let same_name: Vec<usize> = (0..union.len()).filter(|&i| union[i].0.name == t.name).collect();
            if same_name.iter().any(|&i| union[i].0 == *t) {
                continue;
            }
            if let Some(&i) = same_name.first() {
                let first = union[i].1;
                warnings.push(format!(
                    "target `{}` is defined differently in `{}` and `{}`: both are kept, as `{0}@{1}` and `{0}@{2}`",
                    t.name, scenarios[first].name, sc.name
                ));
                if !union[i].0.name.contains('@') {
                    union[i].0.name = format!("{}@{}", t.name, scenarios[first].name);
                }
            }
            let mut t = t.clone();
            if !same_name.is_empty() {
                t.name = format!("{}@{}", t.name, sc.name);
            }
            union.push((t, k));
        }
    }
    (union.into_iter().map(|(t, _)| t).collect(), warnings)
}

/// Lexical normalisation of a path (`a/./b/../c` → `a/c`), for cycle detection.
fn normalise(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn plain_error(file: &str, message: String) -> InputErrors {
    InputErrors(vec![InputError {
        file: file.into(),
        line: None,
        column: None,
        key: String::new(),
        message,
        suggestion: None,
    }])
}

impl Scenario {
    /// Parse and validate one scenario text against a region (`extends` can name only `file`
    /// itself, which is a cycle: use [`Scenario::load`] for chains).
    pub fn parse(file: &str, text: &str, region: &Region) -> Result<Scenario, InputErrors> {
        let own = normalise(Path::new(file));
        Scenario::load(
            Path::new(file),
            &|p: &Path| {
                if normalise(p) == own { Ok(text.to_string()) } else { Err("no such file".to_string()) }
            },
            region,
        )
    }

    /// Load a scenario file and its `extends` chain through `read`, merge and validate it.
    pub fn load(
        path: &Path,
        read: &dyn Fn(&Path) -> Result<String, String>,
        region: &Region,
    ) -> Result<Scenario, InputErrors> {
        Scenario::load_as(path, read, region, HistoryMode::AsWritten)
    }

    /// [`Scenario::load`] with its history as `mode` says (a backtest conditions on the years up
    /// to its own `until`, and sets the scenario without history beside it).
    pub fn load_as(
        path: &Path,
        read: &dyn Fn(&Path) -> Result<String, String>,
        region: &Region,
        mode: HistoryMode,
    ) -> Result<Scenario, InputErrors> {
        // Read the chain, child first, checking each file on its own.
        let mut names: Vec<String> = Vec::new();
        let mut type_errors: Vec<InputError> = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        let mut tables: Vec<toml::Table> = Vec::new();
        let mut seen: Vec<PathBuf> = Vec::new();
        let mut cur = path.to_path_buf();
        loop {
            let name = cur.display().to_string();
            let key = normalise(&cur);
            let from = names.last().cloned();
            let locate_extends = |msg: String| -> InputErrors {
                match (&from, texts.last()) {
                    (Some(f), Some(t)) => {
                        InputErrors(vec![Source::new(f.clone(), t).error("scenario.extends", msg, None)])
                    }
                    _ => plain_error(&name, msg),
                }
            };
            if seen.contains(&key) {
                return Err(locate_extends(format!(
                    "`extends` makes a cycle: {name} is already in the chain"
                )));
            }
            if seen.len() >= MAX_CHAIN {
                return Err(locate_extends(format!("the `extends` chain is longer than {MAX_CHAIN} files")));
            }
            let text = match read(&cur) {
                Ok(t) => t,
                Err(e) if from.is_some() => return Err(locate_extends(format!("cannot read `{name}`: {e}"))),
                Err(e) => return Err(plain_error(&name, format!("cannot read the scenario file: {e}"))),
            };
            let src = Source::new(name.clone(), &text);
            let table: toml::Table =
                toml::from_str(&text).map_err(|e| InputErrors(vec![src.from_toml_error(&e)]))?;
            // Every wrong type and unknown key of the file at once; the rest is validated too.
            let (raw, table, errors) = crate::locate::deserialize_all::<RawScenario>(&src, table);
            type_errors.extend(errors);
            let Some(raw) = raw else { return Err(InputErrors(type_errors)) };
            duplicate_ids(&raw, &src)?;
            let parent = raw.scenario.as_ref().and_then(|h| h.extends.clone());
            seen.push(key);
            names.push(name);
            texts.push(text);
            tables.push(table);
            match parent {
                None => break,
                Some(rel) => cur = cur.parent().unwrap_or(Path::new("")).join(rel),
            }
        }
        let sources: Vec<Source<'_>> =
            names.iter().zip(&texts).map(|(n, t)| Source::new(n.clone(), t)).collect();
        let mut merged = toml::Table::new();
        let mut shift_files = Vec::new();
        for (file, t) in tables.iter().enumerate().rev() {
            raw::merge(&mut merged, t, file, &mut shift_files);
        }
        let mut raw: RawScenario = toml::Value::Table(merged).try_into().map_err(|e: toml::de::Error| {
            plain_error(&names[0], format!("cannot merge the chain: {}", e.message()))
        })?;
        match mode {
            HistoryMode::AsWritten => {}
            HistoryMode::Off => raw.history = None,
            HistoryMode::Until(until) => {
                let mut h = raw.history.take().unwrap_or_default();
                h.until = Some(i64::from(until));
                raw.history = Some(h);
            }
        }
        let mut issues = Issues::for_chain(&sources);
        let mut warnings = Issues::for_chain(&sources);
        let mut plausible = Issues::for_chain(&sources);
        let own_name = tables[0].get("scenario").and_then(|s| s.get("name")).is_some();
        let observed = match raw.history {
            Some(_) => history::read_observed(&names, &tables, read, region, &mut issues),
            None => Ok(None),
        };
        let (observed, file_errors) = match observed {
            Err(e) => (history::Observed::Failed, e.0),
            Ok(Some(o)) => (history::Observed::File(o), Vec::new()),
            Ok(None) => (history::Observed::None, Vec::new()),
        };
        let notes = Notes { warnings: &mut warnings, plausible: &mut plausible };
        let sc = validate(raw, own_name, &shift_files, region, observed, &mut issues, notes);
        let mut sc = match issues.finish(sc) {
            Ok(sc) if file_errors.is_empty() && type_errors.is_empty() => sc,
            Ok(_) => return Err(finish_errors(Vec::new(), type_errors, file_errors, region)),
            Err(e) => return Err(finish_errors(e.0, type_errors, file_errors, region)),
        };
        sc.warnings = warnings.finish(()).err().map_or_else(Vec::new, |e| e.0);
        sc.plausibility = plausible.finish(()).err().map_or_else(Vec::new, |e| e.0);
        sc.chain = names;
        Ok(sc)
    }
}

/// Every error of a scenario chain, in file and line order: the wrong types and unknown keys,
/// the validation's (without those that only repeat a wrong type: a key found with the wrong
/// type is also missing), the observation file's; an unknown city written by its Chinese or
/// English name is told its id.
fn finish_errors(
    validation: Vec<InputError>,
    types: Vec<InputError>,
    files: Vec<InputError>,
    region: &Region,
) -> InputErrors {
    let repeats = |e: &InputError| {
        types.iter().any(|t| {
            t.file == e.file
                && t.key.strip_prefix(e.key.as_str()).is_some_and(|rest| rest.starts_with('.'))
                && t.key.rsplit('.').next().is_some_and(|last| e.message.contains(&format!("`{last}`")))
        })
    };
    let mut all: Vec<InputError> = validation.into_iter().filter(|e| !repeats(e)).collect();
    all.extend(types.iter().cloned());
    all.sort_by(|a, b| {
        (a.file.as_str(), a.line.unwrap_or(usize::MAX), a.column.unwrap_or(0)).cmp(&(
            b.file.as_str(),
            b.line.unwrap_or(usize::MAX),
            b.column.unwrap_or(0),
        ))
    });
    all.extend(files);
    for e in &mut all {
        let Some(found) = e.message.strip_prefix("unknown city `").and_then(|r| r.split('`').next()) else {
            continue;
        };
        let named =
            region.cities.iter().find(|c| c.name_zh == found || c.name_en.eq_ignore_ascii_case(found));
        if let Some(c) = named {
            e.suggestion =
                Some(format!("`{found}` is {} {}: write its id, `{}`", c.name_zh, c.name_en, c.id));
        }
    }
    InputErrors(all)
}

/// Within one file, park and project ids and target names must be unique (across files they merge).
fn duplicate_ids(raw: &RawScenario, src: &Source<'_>) -> Result<(), InputErrors> {
    let mut errors = Vec::new();
    let mut check = |what: &str, key: &str, ids: Vec<Option<&str>>| {
        for (k, id) in ids.iter().enumerate() {
            if let Some(id) = id
                && ids[..k].contains(&Some(id))
            {
                errors.push(src.error(
                    &format!("{what}[{k}].{key}"),
                    format!("`{id}` appears twice in this file; expected each {key} once"),
                    None,
                ));
            }
        }
    };
    check("parks", "id", raw.parks.iter().flatten().map(|p| p.id.as_deref()).collect());
    let projects = raw.infrastructure.as_ref().and_then(|i| i.projects.as_ref());
    check("infrastructure.projects", "id", projects.into_iter().flatten().map(|p| p.id.as_deref()).collect());
    check("targets", "name", raw.targets.iter().flatten().map(|t| t.name.as_deref()).collect());
    if errors.is_empty() { Ok(()) } else { Err(InputErrors(errors)) }
}

fn number(v: &toml::Value) -> Option<f64> {
    match v {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(x) if x.is_finite() => Some(*x),
        _ => None,
    }
}

/// Parse an uncertain value at `path` whose every possible value must satisfy `ok`.
fn uncertain_in(
    v: &toml::Value,
    path: &str,
    ok: impl Fn(f64) -> bool,
    expected: &str,
    issues: &mut Issues<'_, '_>,
) -> Option<Uncertain> {
    let u = Uncertain::parse(v, path, issues)?;
    let s = u.support();
    if !(ok(s.lo) && ok(s.hi)) {
        let hint = if u.is_fixed() { "" } else { " (narrow it or add truncate = [lo, hi])" };
        issues.push(path, format!("found {u}; expected {expected}{hint}"));
        return None;
    }
    Some(u)
}

fn validate(
    raw: RawScenario,
    own_name: bool,
    shift_files: &[(usize, usize)],
    region: &Region,
    observed: history::Observed,
    issues: &mut Issues<'_, '_>,
    notes: Notes<'_, '_, '_>,
) -> Scenario {
    let Notes { warnings, plausible } = notes;
    let b = region.base_year;
    let h = header(raw.scenario.unwrap_or_default(), own_name, b, issues);
    let (parameters, parameter_set) = parameters(raw.parameters, issues, plausible);
    let city_ids: Vec<&str> = region.cities.iter().map(|c| c.id.as_str()).collect();
    let node_ids: Vec<&str> =
        city_ids.iter().copied().chain(region.nodes.iter().map(|n| n.id.as_str())).collect();
    let ctx = Ctx { cities: &city_ids, nodes: &node_ids, base_year: b, last_year: h.horizon };
    let transfer = raw.transfer.filter(|t| t.enabled.unwrap_or(true)).and_then(|t| transfer(t, &ctx, issues));
    let (projects, delay_shift) = projects(raw.infrastructure.unwrap_or_default(), region, &ctx, issues);
    let mut parks = parks(raw.parks.unwrap_or_default(), region, &ctx, issues);
    let mut shifts = shifts(raw.shifts.unwrap_or_default(), shift_files, &ctx, issues);
    check_combined_shifts(region, &shifts, &parameters, h.horizon, issues);
    let targets = targets(raw.targets.unwrap_or_default(), region, h.horizon, issues);
    for t in &targets {
        if let Some((what, meant)) = target_plausibility(t, region) {
            let path = format!("targets[name={}].{}", t.name, t.comparison.name());
            plausible.push_suggesting(
                &path,
                format!(
                    "target `{}`: {} {} lies outside what {} usually means: {what}",
                    t.name,
                    t.comparison.name(),
                    t.threshold,
                    t.indicator.name()
                ),
                meant.map(|m| format!("did you mean {m}?")),
            );
        }
    }
    let mut transfer = transfer;
    let history = raw.history.and_then(|r| {
        let mut hist = history::validate(r, observed, region, &projects, h.horizon, issues)?;
        let levers = history::Levers { transfer: &mut transfer, parks: &mut parks, shifts: &mut shifts };
        history::move_levers(&mut hist, levers, h.horizon, warnings);
        Some(hist)
    });
    Scenario {
        name: h.name,
        description: h.description,
        chain: Vec::new(),
        horizon: h.horizon,
        draws: h.draws,
        seed: h.seed,
        market_access: h.market_access,
        parameters,
        parameter_set,
        transfer,
        parks,
        projects,
        delay_shift,
        shifts,
        targets,
        history,
        warnings: Vec::new(),
        plausibility: Vec::new(),
    }
}

/// What validation notes besides errors: warnings (a lever moved), implausible values.
struct Notes<'n, 's, 'a> {
    warnings: &'n mut Issues<'s, 'a>,
    plausible: &'n mut Issues<'s, 'a>,
}

/// The `[scenario]` table's settings.
struct Header {
    name: String,
    description: String,
    horizon: i32,
    draws: u64,
    seed: u64,
    market_access: MarketAccess,
}

/// The `[scenario]` table: name, horizon, draws, seed, market-access option.
fn header(h: RawHeader, own_name: bool, b: i32, issues: &mut Issues<'_, '_>) -> Header {
    let name = h.name.clone().unwrap_or_default();
    if !own_name {
        issues.push(
            "scenario",
            "missing `scenario.name`: every scenario file needs its own name (it names the output folder)",
        );
    } else if name.is_empty()
        || !name.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    {
        issues.push(
            "scenario.name",
            format!("found `{name}`; expected a name of a-z, 0-9 and - (it names the output folder)"),
        );
    }
    let horizon = h.horizon.unwrap_or(DEFAULT_HORIZON as i64);
    if horizon <= b as i64 || horizon > MAX_HORIZON as i64 {
        issues.push(
            "scenario.horizon",
            format!("found {horizon}; expected a year in {}..={MAX_HORIZON}", b + 1),
        );
    }
    let horizon = horizon.clamp(b as i64 + 1, MAX_HORIZON as i64) as i32;
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
    Header {
        name,
        description: h.description.unwrap_or_default(),
        horizon,
        draws: draws.max(1) as u64,
        seed: seed.max(0) as u64,
        market_access,
    }
}

/// The `[parameters]` table: every parameter of [`PARAMS`], the scenario's value or the
/// default, and whether the scenario set it. A value outside the parameter's domain is an error;
/// one whose central value lies outside its plausible range is a warning (`plausible`); either
/// says which value a slipped decimal point meant, when one fits.
fn parameters(
    raw: Option<std::collections::BTreeMap<String, toml::Value>>,
    issues: &mut Issues<'_, '_>,
    plausible: &mut Issues<'_, '_>,
) -> (Vec<Uncertain>, Vec<bool>) {
    let mut parameters: Vec<Uncertain> = PARAMS.iter().map(|p| p.default.to_uncertain()).collect();
    let mut parameter_set = vec![false; PARAMS.len()];
    let names: Vec<&str> = PARAMS.iter().map(|p| p.name).collect();
    for (pname, value) in raw.iter().flatten() {
        let path = format!("parameters.{pname}");
        let Some(k) = params::index_of(pname) else {
            issues.unknown(&path, "parameter", pname, &names);
            continue;
        };
        let Some(u) = Uncertain::parse(value, &path, issues) else { continue };
        let spec = &PARAMS[k];
        let meant = params::rescaled_into(u.central(), spec.plausible)
            .filter(|m| spec.domain.contains(*m))
            .map(|m| format!("did you mean {m}?"));
        if !spec.domain.contains_support(u.support()) {
            let hint = if u.is_fixed() {
                String::new()
            } else {
                "; narrow it or add truncate = [lo, hi] inside the domain".to_string()
            };
            issues.push_suggesting(
                &path,
                format!(
                    "found {u}, which can take values outside the domain {} of {}{hint}",
                    spec.domain, spec.name
                ),
                meant,
            );
            continue;
        }
        if !spec.is_plausible(u.central()) {
            let (lo, hi) = spec.plausible;
            plausible.push_suggesting(
                &path,
                format!(
                    "{} = {} lies outside the plausible range {lo}–{hi} {} ({})",
                    spec.name,
                    u.central(),
                    spec.unit,
                    spec.plausible_basis
                ),
                meant,
            );
        }
        parameters[k] = u;
        parameter_set[k] = true;
    }
    (parameters, parameter_set)
}

/// The plausible thresholds of a target by its indicator: a rate or share in % from 1 to 100, a
/// growth rate from −30 to 30 % a year, a level between a fifth and 5 (population) or 20 (GDP)
/// times the entity's base-year value; and the likely meant value of one outside.
fn target_plausibility(t: &Target, region: &Region) -> Option<(String, Option<f64>)> {
    use crate::indicators::Indicator as I;
    let x = t.threshold;
    let entity = |f: &dyn Fn(&crate::region::City) -> f64| -> f64 {
        match region.cities.get(t.entity) {
            Some(c) => f(c),
            None => region.cities.iter().map(f).sum(),
        }
    };
    let (range, what): ((f64, f64), String) = match t.indicator.unit() {
        "%" => ((1.0, 100.0), "a percentage (75 for 75 %)".into()),
        "% per year" => ((-30.0, 30.0), "a growth rate in % a year (6 for 6 %)".into()),
        _ => {
            let base = match t.indicator {
                I::Population | I::UrbanPopulation | I::Employment => entity(&|c| c.population),
                I::GdpReal | I::GdpNominal | I::GdpAssessment => entity(&|c| c.gdp),
                I::GdpPerCapita => 1e4 * entity(&|c| c.gdp) / entity(&|c| c.population),
                _ => return None,
            };
            let hi = if matches!(t.indicator, I::Population | I::UrbanPopulation | I::Employment) {
                5.0
            } else {
                20.0
            };
            ((0.2 * base, hi * base), format!("{} near the base year's {base:.0}", t.indicator.unit()))
        }
    };
    if (range.0..=range.1).contains(&x) {
        return None;
    }
    // A share written as a fraction: 0.75 meant 75 %.
    let meant = if t.indicator.unit() == "%" && x > 0.0 && x < 1.0 {
        Some(x * 100.0)
    } else {
        params::rescaled_into(x, range)
    };
    Some((what, meant))
}

/// The index of city `v` (an unknown city is reported at `path`).
fn city_index(ctx: &Ctx<'_>, v: &str, path: &str, issues: &mut Issues<'_, '_>) -> Option<usize> {
    let i = ctx.cities.iter().position(|c| *c == v);
    if i.is_none() {
        issues.unknown(path, "city", v, ctx.cities);
    }
    i
}

/// An inclusive range of simulated years `start..=end` (each in b+1..=H).
fn year_range(
    ctx: &Ctx<'_>,
    start: Option<i64>,
    end: Option<i64>,
    path: &str,
    issues: &mut Issues<'_, '_>,
) -> Option<(i32, i32)> {
    let (b, horizon) = (ctx.base_year, ctx.last_year);
    let (Some(s), Some(e)) = (start, end) else {
        issues.push(path, "needs `start` and `end` (inclusive years)");
        return None;
    };
    let ok = |y: i64| y > b as i64 && y <= horizon as i64;
    if !ok(s) {
        issues.push(&format!("{path}.start"), format!("found {s}; expected a year in {}..={horizon}", b + 1));
    }
    if !ok(e) {
        issues.push(&format!("{path}.end"), format!("found {e}; expected a year in {}..={horizon}", b + 1));
    }
    if ok(s) && ok(e) && e < s {
        issues.push(&format!("{path}.end"), format!("found end = {e} before start = {s}"));
    }
    (ok(s) && ok(e) && s <= e).then_some((s as i32, e as i32))
}

/// The `[transfer]` table, when it is on.
fn transfer(t: raw::RawTransfer, ctx: &Ctx<'_>, issues: &mut Issues<'_, '_>) -> Option<Transfer> {
    let before = issues.len();
    let shares = |m: &Option<std::collections::BTreeMap<String, toml::Value>>,
                  key: &str,
                  ok: fn(f64) -> bool,
                  expected: &str,
                  issues: &mut Issues<'_, '_>| {
        let path = format!("transfer.{key}");
        let Some(m) = m.as_ref().filter(|m| !m.is_empty()) else {
            issues.push("transfer", format!("needs `{key}`, a table of city = share"));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (c, v) in m {
            let p = format!("{path}.{c}");
            let i = city_index(ctx, c, &p, issues);
            match number(v) {
                Some(x) if ok(x) => {
                    if let Some(i) = i {
                        out.push((i, x));
                    }
                }
                _ => issues.push(&p, format!("found {v}; expected {expected}")),
            }
        }
        out.sort_by_key(|x| x.0);
        out
    };
    let origins =
        shares(&t.origins, "origins", |x| x > 0.0 && x <= 1.0, "a transferable share in (0, 1]", issues);
    let destinations =
        shares(&t.destinations, "destinations", |x| (0.0..=1.0).contains(&x), "a share in [0, 1]", issues);
    let sum: f64 = destinations.iter().map(|d| d.1).sum();
    if !destinations.is_empty() && (sum - 1.0).abs() > 1e-9 {
        issues.push("transfer.destinations", format!("shares sum to {sum}; expected 1 (within 1e-9)"));
    }
    for (o, _) in &origins {
        if destinations.iter().any(|d| d.0 == *o) {
            issues.push(
                &format!("transfer.destinations.{}", ctx.cities[*o]),
                format!("`{}` is both an origin and a destination", ctx.cities[*o]),
            );
        }
    }
    let years = year_range(ctx, t.start, t.end, "transfer", issues);
    let rate = match &t.rate {
        Some(v) => uncertain_in(
            v,
            "transfer.rate",
            |x| (0.0..=0.2).contains(&x),
            "a rate in [0, 0.2] per year",
            issues,
        ),
        None => {
            issues.push(
                "transfer",
                "needs `rate`, the share of the remaining transferable stock moved per year",
            );
            None
        }
    };
    let efficiency = match &t.efficiency {
        Some(v) => {
            uncertain_in(v, "transfer.efficiency", |x| (0.0..=1.0).contains(&x), "a share in [0, 1]", issues)
        }
        None => Some(Uncertain::triangular(0.6, 0.8, 0.95)),
    };
    let composition_gain = match &t.composition_gain {
        Some(v) => uncertain_in(
            v,
            "transfer.composition_gain",
            |x| (0.0..=0.3).contains(&x),
            "a gain in [0, 0.3]",
            issues,
        ),
        None => Some(Uncertain::uniform(0.1, 0.3)),
    };
    if issues.len() > before {
        return None;
    }
    let (start, end) = years?;
    Some(Transfer {
        origins,
        destinations,
        start,
        end,
        rate: rate?,
        efficiency: efficiency?,
        composition_gain: composition_gain?,
    })
}

/// The projects: the region's with the scenario's overrides, then its new ones; and the delay
/// shift (`[infrastructure]`).
fn projects(
    infra: raw::RawInfrastructure,
    region: &Region,
    ctx: &Ctx<'_>,
    issues: &mut Issues<'_, '_>,
) -> (Vec<Project>, i32) {
    let delay_shift = infra.delay_shift.unwrap_or(0);
    if !(-20..=50).contains(&delay_shift) {
        issues.push(
            "infrastructure.delay_shift",
            format!("found {delay_shift}; expected whole years in -20..=50"),
        );
    }
    let mut projects = region.projects.clone();
    for (k, p) in infra.projects.iter().flatten().enumerate() {
        let Some(id) = p.id.clone() else {
            issues.push("infrastructure.projects", format!("entry {} needs an `id`", k + 1));
            continue;
        };
        let path = format!("infrastructure.projects[id={id}]");
        let base = projects.iter().position(|q| q.id == id);
        // An entry that gives none of a new project's fields is most likely a misspelt id.
        let new_fields = [p.name.is_some(), p.kind.is_some(), p.stage.is_some(), p.open_year.is_some()];
        if base.is_none() && !new_fields.contains(&true) && p.pairs.is_none() && p.tfp.is_none() {
            let known: Vec<&str> = region.projects.iter().map(|q| q.id.as_str()).collect();
            let suggestion =
                crate::locate::suggest(&id, &known).or_else(|| Some(format!("known: {}", known.join(", "))));
            issues.push_suggesting(
                &format!("{path}.id"),
                format!("`{id}` is not a project of the region; a new project needs `name`, `kind`, `stage`, `open_year` and `pairs` or `tfp`"),
                suggestion,
            );
            continue;
        }
        if let Some(pr) = items::resolve_project(p, &path, base.map(|i| &projects[i]), ctx, issues) {
            match base {
                Some(i) => projects[i] = pr,
                None => projects.push(pr),
            }
        }
    }
    (projects, delay_shift as i32)
}

/// The parks: a scenario entry enables (or overrides) a region park by id, or adds a new one.
fn parks(raw: Vec<RawPark>, region: &Region, ctx: &Ctx<'_>, issues: &mut Issues<'_, '_>) -> Vec<Park> {
    let mut parks: Vec<Park> = Vec::new();
    for (k, p) in raw.iter().enumerate() {
        let Some(id) = p.id.clone() else {
            issues.push("parks", format!("entry {} needs an `id`", k + 1));
            continue;
        };
        if !p.enabled.unwrap_or(true) {
            continue;
        }
        let path = format!("parks[id={id}]");
        let base = region.parks.iter().find(|q| q.id == id);
        // An entry that gives none of a new park's fields is most likely a misspelt id.
        if base.is_none() && p.host.is_none() && p.partner.is_none() && p.value_added.is_none() {
            let known: Vec<&str> = region.parks.iter().map(|q| q.id.as_str()).collect();
            let suggestion =
                crate::locate::suggest(&id, &known).or_else(|| Some(format!("known: {}", known.join(", "))));
            issues.push_suggesting(
                &format!("{path}.id"),
                format!(
                    "`{id}` is not a park of the region; a new park needs `host`, `partner` and `value_added`"
                ),
                suggestion,
            );
            continue;
        }
        if let Some(park) = items::resolve_park(p, &path, base, &region.park_defaults, ctx, issues) {
            parks.push(park);
        }
    }
    parks
}

/// The shifts, each with its stream's purpose (`shift.<city>.<lever>.<sector|all>.<years>`, a
/// `#k` added to repeats); `shift_files` says which file of the chain each came from.
fn shifts(
    raw: Vec<raw::RawShift>,
    shift_files: &[(usize, usize)],
    ctx: &Ctx<'_>,
    issues: &mut Issues<'_, '_>,
) -> Vec<Shift> {
    let mut shifts: Vec<Shift> = Vec::new();
    for (k, s) in raw.iter().enumerate() {
        let (file, local) = shift_files.get(k).copied().unwrap_or((0, k));
        let before = issues.len();
        let shift = shift(s, file, local, ctx, issues);
        if issues.len() > before {
            continue;
        }
        if let Some(mut shift) = shift {
            let (lever, sector) = (shift.lever, shift.sector);
            let key = format!(
                "shift.{}.{}.{}.{}-{}",
                ctx.cities[shift.city],
                lever.name(),
                if lever == Lever::Tfp { SECTORS[sector] } else { "all" },
                shift.start,
                shift.end
            );
            let dup = shifts
                .iter()
                .filter(|x| x.purpose == key || x.purpose.starts_with(&format!("{key}#")))
                .count();
            shift.purpose = if dup == 0 { key } else { format!("{key}#{}", dup + 1) };
            shifts.push(shift);
        }
    }
    shifts
}

/// One shift, entry `local` of chain file `file`: city, lever, sector, years and amount (its
/// purpose is given by [`shifts`]).
fn shift(
    s: &raw::RawShift,
    file: usize,
    local: usize,
    ctx: &Ctx<'_>,
    issues: &mut Issues<'_, '_>,
) -> Option<Shift> {
    let (b, horizon, city_ids) = (ctx.base_year, ctx.last_year, ctx.cities);
    let path = format!("shifts[{local}]");
    let c = match &s.city {
        Some(c) => {
            let i = city_ids.iter().position(|x| x == c);
            if i.is_none() {
                issues.push_in(
                    file,
                    &format!("{path}.city"),
                    format!("unknown city `{c}` (known: {})", city_ids.join(", ")),
                );
            }
            i
        }
        None => {
            issues.push_in(file, &path, "a shift needs `city`");
            None
        }
    };
    let lever = match s.lever.as_deref() {
        Some(l) => {
            let lv = Lever::parse(l);
            if lv.is_none() {
                let hint = crate::locate::suggest(l, &Lever::NAMES).unwrap_or_default();
                issues.push_in(
                    file,
                    &format!("{path}.lever"),
                    format!("unknown lever `{l}`; expected one of {} {hint}", Lever::NAMES.join(", ")),
                );
            }
            lv
        }
        None => {
            issues.push_in(file, &path, format!("a shift needs `lever`, one of {}", Lever::NAMES.join(", ")));
            None
        }
    };
    let sector = match (&s.sector, lever) {
        (Some(sec), Some(Lever::Tfp)) => {
            let i = SECTORS.iter().position(|x| x == sec);
            if i.is_none() {
                issues.push_in(
                    file,
                    &format!("{path}.sector"),
                    format!("unknown sector `{sec}`; expected primary, secondary or tertiary"),
                );
            }
            i
        }
        (None, Some(Lever::Tfp)) => {
            issues.push_in(file, &path, "a tfp shift needs `sector` (primary, secondary or tertiary)");
            None
        }
        (Some(_), Some(_)) => {
            issues.push_in(file, &format!("{path}.sector"), "only a tfp shift takes a `sector`");
            None
        }
        (_, _) => Some(0),
    };
    let (sy, ey) = (s.start, s.end);
    let years = match (sy, ey) {
        (Some(a), Some(e)) if a > b as i64 && e <= horizon as i64 && a <= e => Some((a as i32, e as i32)),
        (Some(a), Some(e)) => {
            issues.push_in(
                file,
                &format!("{path}.start"),
                format!("found {a}..={e}; expected start ≤ end within {}..={horizon}", b + 1),
            );
            None
        }
        _ => {
            issues.push_in(file, &path, "a shift needs `start` and `end` (inclusive years)");
            None
        }
    };
    let limit = lever.map_or(Lever::InvestmentRate.limit(), Lever::limit);
    let delta = match &s.delta {
        Some(v) => {
            let dp = format!("{path}.delta");
            match Uncertain::parse(v, &dp, issues) {
                Some(u) if u.support().lo >= -limit.0 && u.support().hi <= limit.0 => Some(u),
                Some(u) => {
                    issues.push_in(file, &dp, format!("found {u}; expected {}", limit.1));
                    None
                }
                None => None,
            }
        }
        None => {
            issues.push_in(file, &path, "a shift needs `delta`");
            None
        }
    };
    let (start, end) = years?;
    Some(Shift {
        city: c?,
        lever: lever?,
        sector: sector?,
        start,
        end,
        delta: delta?,
        purpose: String::new(),
        origin: (file, local),
        written: (start, end),
    })
}

/// Combined shifts must keep participation in (0, 1] and the investment rate in [0, 1) in every
/// year (with the long-run rate anywhere in its support).
fn check_combined_shifts(
    region: &Region,
    shifts: &[Shift],
    parameters: &[Uncertain],
    horizon: i32,
    issues: &mut Issues<'_, '_>,
) {
    let b = region.base_year;
    let s_lr = parameters[params::P::InvestmentRateLongRun as usize].support();
    for (ci, c) in region.cities.iter().enumerate() {
        for year in b + 1..=horizon {
            let sum = |lever: Lever| {
                shifts
                    .iter()
                    .filter(|s| s.city == ci && s.lever == lever && s.start <= year && year <= s.end)
                    .fold((0.0, 0.0), |acc, s| {
                        let sup = s.delta.support();
                        (acc.0 + sup.lo, acc.1 + sup.hi)
                    })
            };
            let (plo, phi) = sum(Lever::Participation);
            if (plo, phi) != (0.0, 0.0)
                && !(c.constants.participation + plo > 0.0 && c.constants.participation + phi <= 1.0)
            {
                issues.push(
                    "shifts",
                    format!("participation of {} in {year} would leave (0, 1] with its shifts", c.id),
                );
                break;
            }
            let (ilo, ihi) = sum(Lever::InvestmentRate);
            let s_b = c.constants.investment_rate_base;
            if (ilo, ihi) != (0.0, 0.0) && !(s_b.min(s_lr.lo) + ilo >= 0.0 && s_b.max(s_lr.hi) + ihi < 1.0) {
                issues.push(
                    "shifts",
                    format!("the investment rate of {} in {year} would leave [0, 1) with its shifts", c.id),
                );
                break;
            }
        }
    }
}

/// The targets: the region's, replaced or added to by the scenario's `[[targets]]`; those past
/// the horizon dropped (a short run cannot answer them).
fn targets(
    raw: Vec<raw::RawTarget>,
    region: &Region,
    horizon: i32,
    issues: &mut Issues<'_, '_>,
) -> Vec<Target> {
    let b = region.base_year;
    let city_ids: Vec<&str> = region.cities.iter().map(|c| c.id.as_str()).collect();
    let mut targets = region.targets.clone();
    let entity_ids: Vec<&str> = city_ids.iter().copied().chain(["region"]).collect();
    for t in &raw {
        let Some(tname) = t.name.clone() else {
            issues.push("targets", "a target needs `name`");
            continue;
        };
        let path = format!("targets[name={tname}]");
        let entity = match &t.entity {
            Some(e) => {
                let i = region.entity_index(e);
                if i.is_none() {
                    issues.unknown(&format!("{path}.entity"), "entity", e, &entity_ids);
                }
                i
            }
            None => {
                issues.push(&path, "a target needs `entity`");
                None
            }
        };
        let year = t.year.unwrap_or(-1);
        if year < b as i64 || year > horizon as i64 {
            issues.push(&format!("{path}.year"), format!("found {year}; expected a year in {b}..={horizon}"));
        }
        let indicator = match &t.indicator {
            Some(i) => {
                let ind = Indicator::from_name(i);
                if ind.is_none() {
                    issues.unknown(&format!("{path}.indicator"), "indicator", i, &Indicator::names());
                }
                ind
            }
            None => {
                issues.push(&path, "a target needs `indicator`");
                None
            }
        };
        if let Some(ind) = indicator
            && ind.is_flow()
            && year == b as i64
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
        let basis = match t.basis.as_deref() {
            None => Some(None),
            Some(s) => match Basis::parse(s) {
                Some(b) => Some(Some(b)),
                None => {
                    issues.unknown(&format!("{path}.basis"), "basis", s, &["first_release", "revised"]);
                    None
                }
            },
        };
        if let (Some(entity), Some(indicator), Some((comparison, threshold)), Some(basis)) =
            (entity, indicator, cmp, basis)
        {
            let target = Target {
                name: tname.clone(),
                entity,
                year: year as i32,
                indicator,
                comparison,
                threshold,
                basis,
                label: (t.label_zh.clone().unwrap_or_default(), t.label_en.clone().unwrap_or_default()),
            };
            match targets.iter_mut().find(|o| o.name == tname) {
                Some(o) => *o = target,
                None => targets.push(target),
            }
        }
    }
    // Region targets beyond the horizon are dropped (a short run cannot answer them).
    targets.retain(|t| t.year <= horizon);
    targets
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
            "s.toml:5:1: `targets[name=t].entity`: unknown entity `xiamn` (did you mean `xiamen`?)",
        );
        check(
            "[scenario]\nname = \"x\"\n[[targets]]\nname = \"t\"\nentity = \"region\"\nyear = 2025\nindicator = \"gdp_real\"\nat_least = 1.0\nat_most = 2.0\n",
            "exactly one of `at_least` or `at_most`",
        );
        check("[scenario]\nname = \"x\"\nhorizon = \"soon\"\n", "s.toml:3:11: `scenario.horizon`");
        check("[scenario\nname = \"x\"\n", "s.toml:1:");
        check("[parameters]\n", "missing `scenario.name`");
    }
}
