//! `[history]` (docs/MODEL.md §11): the observations a run conditions on, up to which year and
//! from which confidence, what happened to the projects in those years, and the levers moved out
//! of them.

use super::raw::RawHistory;
use super::{Shift, Transfer};
use crate::error::InputErrors;
use crate::locate::Issues;
use crate::observed::{Confidence, Entity, Measure, Observations, Scope};
use crate::region::{Park, Project, Region};
use std::path::Path;

/// The word for the region's own observations in `history.observed`.
pub const EMBEDDED: &str = "embedded";

/// History mode, validated.
#[derive(Debug, Clone)]
pub struct History {
    /// `embedded` (the region's observations) or the path of the user's file as written.
    pub source: String,
    /// The observations.
    pub observations: Observations,
    /// The id of the region's parent in them (its figures stand in where a city has none).
    pub parent: Option<String>,
    /// The first year whose first-release level of each measure is on the revised basis.
    pub revised_from: Vec<(Measure, i32)>,
    /// The last year conditioned on: observations of later years are not used.
    pub until: i32,
    /// The lowest confidence used (lower grades are shown, not used).
    pub min_confidence: Confidence,
    /// What the history says of each of the scenario's projects (in `Scenario::projects` order).
    pub projects: Vec<ProjectHistory>,
    /// The levers moved out of the history, in words.
    pub moved: Vec<String>,
    /// Whether the draws are conditioned on the observations (docs/MODEL.md §12: weighted,
    /// resampled and moved by the history pass), not only forced through them (§11).
    pub condition: bool,
    /// Where each city's levels of mortality and fertility come from (docs/MODEL.md §11.1b).
    pub vital_rates: VitalRates,
    /// Whether the history pass also scores the published crude birth and death rates of the
    /// observed years (docs/MODEL.md §12.1; default false: they are compared, not scored).
    pub score_crude_rates: bool,
    /// The history pass's pool size (docs/MODEL.md §12.3), when the scenario sets it; else
    /// [`default_pool`] of the run's draws.
    pub pool: Option<usize>,
}

/// The smallest pool a history pass takes: its moves' random walk scales by the pool's
/// covariance, which fewer particles estimate poorly.
pub const MIN_POOL: usize = 200;
/// The largest pool a scenario may set (each particle keeps its inputs and observed years'
/// shocks: about 6 kB, measured on the baseline — 0.55 GB at pool 64 000 — so some 0.6 GB, and
/// a history pass of about 9 s on two cores, at this size).
pub const MAX_POOL: usize = 100_000;

/// The largest default pool: a run of more draws takes this many particles unless the scenario
/// sets `history.pool` (output draws beyond the pool share a particle's history and diverge
/// after it).
pub const DEFAULT_POOL_CAP: usize = 4_000;

/// The pool of a run of `draws` draws when the scenario sets none: the draws, at least
/// [`MIN_POOL`] and at most [`DEFAULT_POOL_CAP`].
pub fn default_pool(draws: u64) -> usize {
    draws.clamp(MIN_POOL as u64, DEFAULT_POOL_CAP as u64) as usize
}

/// `history.vital_rates`: the levels of the cities' death and birth rates in history mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VitalRates {
    /// Each city's life table and base TFR scaled so that its fitted base year gives the crude
    /// death and birth rates published for the base year (where they are; the default).
    BaseYear,
    /// The region's life table and TFR for every city, as in the plan-era model.
    Region,
}

impl VitalRates {
    /// The word in a scenario file.
    pub fn name(self) -> &'static str {
        match self {
            VitalRates::BaseYear => "base_year",
            VitalRates::Region => "region",
        }
    }
}

impl History {
    /// The basis of an observation's value ([`crate::region::RegionHistory::basis`]'s rule).
    pub fn basis(&self, o: &crate::observed::Observation) -> Option<crate::observed::Basis> {
        crate::observed::basis_of(o, &self.revised_from)
    }

    /// The observation used for (entity, year, measure), if its year is at most `until`, its
    /// confidence at least the floor, and its value on the revised basis (levels).
    pub fn used(&self, entity: Entity, year: i32, measure: Measure) -> Option<&crate::observed::Observation> {
        if year > self.until {
            return None;
        }
        self.observations
            .best(entity, year, measure, self.min_confidence)
            .filter(|o| self.basis(o).is_none_or(|b| b == crate::observed::Basis::Revised))
    }
}

/// What the history says of a project's opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectHistory {
    /// Nothing known: its opening year is drawn as without history.
    Drawn,
    /// It opened in this year (on or before `until`): every draw opens it then.
    Opened(i32),
    /// It had not opened by `until`: a drawn year before this one becomes this one.
    NotBefore(i32),
}

/// The user's observation file, when `history.observed` names one.
pub(super) enum Observed {
    /// None named (or `embedded`).
    None,
    /// Read and valid.
    File(Observations),
    /// Named but unreadable or invalid (reported).
    Failed,
}

/// Read the observation file `history.observed` names (relative to the file of the chain that
/// sets it): `Ok(None)` when it names none or `embedded`; an unreadable file is reported at the
/// key (and gives `Err` with no errors of its own), an invalid one by its own errors.
pub(super) fn read_observed(
    names: &[String],
    tables: &[toml::Table],
    read: &dyn Fn(&Path) -> Result<String, String>,
    region: &Region,
    issues: &mut Issues<'_, '_>,
) -> Result<Option<Observations>, InputErrors> {
    let set = tables.iter().zip(names).find_map(|(t, name)| {
        let v = t.get("history")?.get("observed")?.as_str()?;
        Some((v.to_string(), name))
    });
    let Some((value, file)) = set.filter(|(v, _)| v != EMBEDDED) else { return Ok(None) };
    let path = Path::new(file).parent().unwrap_or(Path::new("")).join(&value);
    let text = match read(&path) {
        Ok(t) => t,
        Err(e) => {
            issues.push(
                "history.observed",
                format!("cannot read `{}`: {e}; expected `embedded` or an observation file", path.display()),
            );
            return Err(InputErrors(Vec::new()));
        }
    };
    let cities: Vec<&str> = region.cities.iter().map(|c| c.id.as_str()).collect();
    let parent = region.history.as_ref().and_then(|h| h.parent.as_deref());
    let scope =
        Scope { cities: &cities, parent, first_year: region.base_year, last_year: super::MAX_HORIZON };
    Observations::parse(&path.display().to_string(), &text, &scope).map(Some)
}

/// The `[history]` table, with the observations it names.
pub(super) fn validate(
    raw: RawHistory,
    observed: Observed,
    region: &Region,
    projects: &[Project],
    horizon: i32,
    issues: &mut Issues<'_, '_>,
) -> Option<History> {
    let b = region.base_year;
    let source = raw.observed.clone().unwrap_or_else(|| EMBEDDED.to_string());
    let observations = match observed {
        Observed::File(o) => Some(o),
        Observed::Failed => None,
        Observed::None => match &region.history {
            Some(h) => Some(h.observations.clone()),
            None => {
                issues.push(
                    "history.observed",
                    "the region has no observation file (`files.observed` in its manifest); expected the path of one",
                );
                None
            }
        },
    };
    let min_confidence = match raw.min_confidence.as_deref() {
        None => Some(Confidence::C),
        Some(s) => {
            let c = Confidence::parse(s);
            if c.is_none() {
                issues.push("history.min_confidence", format!("found `{s}`; expected A, B, C or D"));
            }
            c
        }
    };
    let vital_rates = match raw.vital_rates.as_deref() {
        None | Some("base_year") => Some(VitalRates::BaseYear),
        Some("region") => Some(VitalRates::Region),
        Some(s) => {
            issues.push(
                "history.vital_rates",
                format!("found `{s}`; expected `base_year` (each city's levels from its base-year crude rates) or `region`"),
            );
            None
        }
    };
    if let Some(u) = raw.until
        && !(b as i64..=horizon as i64).contains(&u)
    {
        issues.push(
            "history.until",
            format!("found {u}; expected a year of the run, {b}..={horizon} (the base year: nothing forced)"),
        );
        return None;
    }
    let pool = match raw.pool {
        None => Some(None),
        Some(n) if (MIN_POOL as i64..=MAX_POOL as i64).contains(&n) => Some(Some(n as usize)),
        Some(n) => {
            issues.push(
                "history.pool",
                format!(
                    "found {n}; expected a pool of {MIN_POOL}..={MAX_POOL} particles (default: the draws, at most {DEFAULT_POOL_CAP})"
                ),
            );
            None
        }
    };
    let (observations, min_confidence, vital_rates, pool) =
        (observations?, min_confidence?, vital_rates?, pool?);
    let last_observed = observations
        .rows
        .iter()
        .filter(|o| matches!(o.entity, Entity::City(_)) && o.confidence <= min_confidence)
        .map(|o| o.year)
        .max()
        .unwrap_or(b);
    let until = raw.until.map_or(last_observed.min(horizon), |u| u as i32);
    let projects = projects
        .iter()
        .map(|p| match region.as_built.iter().find(|a| a.project == p.id) {
            None => ProjectHistory::Drawn,
            Some(a) => match a.model_year {
                Some(y) if y <= until => ProjectHistory::Opened(y),
                _ => ProjectHistory::NotBefore(until + 1),
            },
        })
        .collect();
    let rh = region.history.as_ref();
    Some(History {
        source,
        observations,
        parent: rh.and_then(|h| h.parent.clone()),
        revised_from: rh.map_or_else(Vec::new, |h| h.revised_from.clone()),
        until,
        min_confidence,
        projects,
        moved: Vec::new(),
        condition: raw.condition.unwrap_or(false),
        vital_rates,
        score_crude_rates: raw.score_crude_rates.unwrap_or(false),
        pool,
    })
}

/// The levers a history may move.
pub(super) struct Levers<'a> {
    pub transfer: &'a mut Option<Transfer>,
    pub parks: &'a mut Vec<Park>,
    pub shifts: &'a mut Vec<Shift>,
}

/// Levers act only after `until`: one that starts inside the history is moved to `until + 1`,
/// keeping its length (cut at the horizon) and its random streams (their purposes do not
/// change); one that would start after the horizon is dropped. Each move is a warning.
pub(super) fn move_levers(
    hist: &mut History,
    levers: Levers<'_>,
    horizon: i32,
    warnings: &mut Issues<'_, '_>,
) {
    let first = hist.until + 1;
    let mut note = |file: Option<usize>, path: &str, what: String, warnings: &mut Issues<'_, '_>| {
        let msg = format!("{what} (history until {}: levers act from {first} on)", hist.until);
        match file {
            Some(f) => warnings.push_in(f, path, msg.clone()),
            None => warnings.push(path, msg.clone()),
        }
        hist.moved.push(format!("{path}: {msg}"));
    };
    let span = |start: i32, end: i32| {
        let moved = (first, (end + first - start).min(horizon));
        if first > horizon { None } else { Some(moved) }
    };
    if let Some(t) = levers.transfer.as_mut()
        && t.start < first
    {
        match span(t.start, t.end) {
            Some((s, e)) => {
                let what = format!("the transfer's years {}–{} moved to {s}–{e}", t.start, t.end);
                (t.start, t.end) = (s, e);
                note(None, "transfer.start", what, warnings);
            }
            None => {
                note(
                    None,
                    "transfer.start",
                    "the transfer is dropped: no year of the run is left".into(),
                    warnings,
                );
                *levers.transfer = None;
            }
        }
    }
    levers.parks.retain_mut(|p| {
        if p.start >= first {
            return true;
        }
        let path = format!("parks[id={}].start", p.id);
        if first > horizon {
            note(None, &path, format!("park `{}` is dropped: no year of the run is left", p.id), warnings);
            return false;
        }
        note(None, &path, format!("park `{}` starting {} moved to {first}", p.id, p.start), warnings);
        p.start = first;
        true
    });
    levers.shifts.retain_mut(|sh| {
        if sh.start >= first {
            return true;
        }
        let (file, local) = sh.origin;
        let path = format!("shifts[{local}].start");
        match span(sh.start, sh.end) {
            Some((s, e)) => {
                let what = format!("the shift's years {}–{} moved to {s}–{e}", sh.start, sh.end);
                (sh.start, sh.end) = (s, e);
                note(Some(file), &path, what, warnings);
                true
            }
            None => {
                note(Some(file), &path, "the shift is dropped: no year of the run is left".into(), warnings);
                false
            }
        }
    });
}
