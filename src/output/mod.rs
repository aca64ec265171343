//! Serialisation of a run's results to bytes: `summary.csv`, `entities.csv`, `targets.csv`,
//! `draws.csv` and `manifest.json` (INTERFACE.md "Outputs"). Nothing here touches files; the
//! command line writes what these functions return.
//!
//! Numbers are written in Rust's shortest round-trip form, so a file reproduces the exact
//! doubles and the same run gives byte-identical files.

use crate::Scenario;
use crate::diagnostics::DIAGS;
use crate::indicators::{INDICATORS, Indicator};
use crate::region::Region;
use crate::stats::Ensemble;
use crate::stats::{PROB_NAMES, Summary};
use std::io::{self, Write};

/// The UTF-8 byte-order mark `--excel` puts first.
pub const BOM: &str = "\u{feff}";

fn num(x: f64) -> String {
    if x == 0.0 { "0".to_string() } else { format!("{x}") }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// `summary.csv`: one row per entity × year × indicator, sorted by entity, year, indicator.
pub fn summary_csv(scenario: &str, region: &Region, sum: &Summary) -> String {
    let stats = &sum.stats;
    let mut s = String::with_capacity(stats.len() * 160);
    s.push_str("scenario,entity,year,indicator,unit,mean,sd,");
    s.push_str(&PROB_NAMES.join(","));
    s.push('\n');
    for (e, year, ind, j) in sum.layout.reported() {
        let st = &stats[j];
        s.push_str(&format!(
            "{},{},{},{},{},{},{}",
            csv_field(scenario),
            region.entity_id(e),
            year,
            ind.name(),
            csv_field(ind.unit()),
            num(st.mean),
            num(st.sd)
        ));
        for q in st.q {
            s.push(',');
            s.push_str(&num(q));
        }
        s.push('\n');
    }
    s
}

/// `entities.csv`: ids with Chinese and English names.
pub fn entities_csv(region: &Region) -> String {
    let mut s = String::from("entity,name_zh,name_en\n");
    for c in &region.cities {
        s.push_str(&format!("{},{},{}\n", c.id, csv_field(&c.name_zh), csv_field(&c.name_en)));
    }
    s.push_str(&format!("region,{},{}\n", csv_field(&region.name_zh), csv_field(&region.name_en)));
    s
}

/// The header of `targets.csv`.
pub const TARGETS_HEADER: &str = "scenario,target,entity,year,indicator,comparison,threshold,probability,p50,observed,basis,status,target_basis,observed_on_target_basis,status_on_target_basis,note,unit,label_zh,label_en\n";

/// Whether a value meets a target, in words.
fn status_of(t: &crate::region::Target, value: f64) -> &'static str {
    if t.comparison.holds(value, t.threshold) { "met" } else { "missed" }
}

/// `targets.csv`: the probability of each plan target over the draws and the indicator's
/// median; in history mode, for a target of a year up to `until`, what was observed
/// (`observed` on the run's `basis`, `status` met or missed, or `not observed` with the cities
/// lacking a figure in `note`) and, when the target was set on another basis (the plan's on the
/// first releases), the observation on that basis and its status. A later target's status is
/// `projected`. `sum` must have been made with `scenario.targets`; `record` is the model's
/// restatement (history mode).
pub fn targets_csv(
    scenario: &Scenario,
    region: &Region,
    sum: &Summary,
    record: Option<&[crate::model::history::CityRestatement]>,
) -> String {
    let mut s = String::from(TARGETS_HEADER);
    for line in target_rows(scenario, &scenario.targets, region, sum, record) {
        s.push_str(&line);
        s.push('\n');
    }
    s
}

/// The header of a comparison's `targets.csv`: a run's columns, then the paired ones.
pub const COMPARE_TARGETS_HEADER: &str = "scenario,target,entity,year,indicator,comparison,threshold,probability,p50,observed,basis,status,target_basis,observed_on_target_basis,status_on_target_basis,note,unit,label_zh,label_en,probability_base,delta,share_alt_only,share_base_only\n";

/// What a comparison knows of one scenario for its `targets.csv`: the scenario, its summary
/// (made with the comparison's targets), its restatement (history mode) and, for an
/// alternative, the paired counts of [`crate::runner::Outcomes::target_pairs`].
pub struct CompareRun<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// Its summary.
    pub summary: &'a Summary,
    /// Its model's restatement.
    pub record: Option<&'a [crate::model::history::CityRestatement]>,
    /// Per target, the paired draws where only this scenario meets it and where only the base
    /// does (none for the base).
    pub pairs: Option<&'a [(u64, u64)]>,
}

/// A comparison's `targets.csv`: every target of the comparison (the union of the scenarios'
/// targets, [`crate::scenario::union_targets`]) on every scenario, with a run's columns; an
/// alternative's rows add the base's probability, the change (`delta` = alternative − base) and
/// the shares of the paired draws in which only the alternative meets the target and only the
/// base does.
pub fn compare_targets_csv(
    runs: &[CompareRun<'_>],
    targets: &[crate::region::Target],
    region: &Region,
) -> String {
    let mut s = String::from(COMPARE_TARGETS_HEADER);
    let base = runs[0].summary;
    for r in runs {
        let lines = target_rows(r.scenario, targets, region, r.summary, r.record);
        let n = r.summary.n_draws() as f64;
        for (i, line) in lines.into_iter().enumerate() {
            s.push_str(&line);
            match r.pairs {
                None => s.push_str(",,,,"),
                Some(pairs) => {
                    let (pb, pa) = (base.target_probability(i), r.summary.target_probability(i));
                    let (only_alt, only_base) = pairs.get(i).copied().unwrap_or_default();
                    s.push_str(&format!(
                        ",{},{},{},{}",
                        num(pb),
                        num(pa - pb),
                        num(only_alt as f64 / n),
                        num(only_base as f64 / n)
                    ));
                }
            }
            s.push('\n');
        }
    }
    s
}

/// The rows (without their line ends) of `targets` in a run's `targets.csv` (its columns up to
/// `note`); `sum` must have been made with `targets`.
fn target_rows(
    scenario: &Scenario,
    targets: &[crate::region::Target],
    region: &Region,
    sum: &Summary,
    record: Option<&[crate::model::history::CityRestatement]>,
) -> Vec<String> {
    use crate::model::history;
    let mut out = Vec::with_capacity(targets.len());
    for (i, t) in targets.iter().enumerate() {
        let j = sum.layout.index(t.entity, t.year, t.indicator);
        let p = sum.target_probability(i);
        let (mut observed, mut basis, mut status) = (String::new(), String::new(), "projected".to_string());
        let (mut on_target, mut status_on_target, mut note) = (String::new(), String::new(), String::new());
        if let Some(h) = scenario.history.as_ref().filter(|h| t.year <= h.until) {
            match history::observed_value(region, h, t.entity, t.year, t.indicator) {
                Ok(v) => {
                    observed = num(v);
                    status = status_of(t, v).into();
                    let factor = record.and_then(|r| history::first_release_factor(r, t.entity, t.indicator));
                    basis = if factor.is_some() { "revised" } else { "any" }.into();
                    if let (Some(crate::observed::Basis::FirstRelease), Some(f)) = (t.basis, factor) {
                        on_target = num(v * f);
                        status_on_target = status_of(t, v * f).into();
                    }
                }
                Err(missing) => {
                    status = "not observed".into();
                    note = if missing.is_empty() {
                        format!("{} is not in the observations", t.indicator.name())
                    } else {
                        format!("no figure for {}", missing.join(", "))
                    };
                }
            }
        }
        out.push(format!(
            "{},{},{},{},{},{},{},{},{},{observed},{basis},{status},{},{on_target},{status_on_target},{},{},{},{}",
            csv_field(&scenario.name),
            csv_field(&t.name),
            region.entity_id(t.entity),
            t.year,
            t.indicator.name(),
            t.comparison.name(),
            num(t.threshold),
            num(p),
            num(sum.stats[j].q[4]),
            t.basis.map_or("", |b| b.name()),
            csv_field(&note),
            csv_field(t.indicator.unit()),
            csv_field(&t.label.0),
            csv_field(&t.label.1),
        ));
    }
    out
}

/// The outcome indicator an observation can be set beside, if any.
pub fn indicator_of(m: crate::observed::Measure) -> Option<Indicator> {
    use crate::observed::Measure as M;
    Some(match m {
        M::Population => Indicator::Population,
        M::UrbanizationRate => Indicator::UrbanizationRate,
        M::GdpNominal => Indicator::GdpNominal,
        M::GdpRealGrowth => Indicator::GdpGrowth,
        M::GdpShare(0) => Indicator::GdpSharePrimary,
        M::GdpShare(1) => Indicator::GdpShareSecondary,
        M::GdpShare(_) => Indicator::GdpShareTertiary,
        _ => return None,
    })
}

/// The header of `observed.csv`.
pub const OBSERVED_HEADER: &str =
    "scenario,entity,year,indicator,value,unit,vintage,confidence,basis,use,note,p05,p50,p95,source\n";

/// `observed.csv` (history mode): every row of the observation file with its basis, what the
/// run did with it (`forced`, `base`, `check`, `compared`, `unused` with the reason in `note`)
/// and, where it has one, the run's median and 90% band of the same indicator.
pub fn observed_csv(
    scenario: &Scenario,
    region: &Region,
    sum: &Summary,
    uses: &[crate::model::history::Use],
) -> String {
    let mut s = String::from(OBSERVED_HEADER);
    let Some(h) = &scenario.history else { return s };
    let l = sum.layout;
    for (o, u) in h.observations.rows.iter().zip(uses) {
        let entity = match o.entity {
            crate::observed::Entity::City(i) => Some(i),
            crate::observed::Entity::Region => Some(region.cities.len()),
            crate::observed::Entity::Parent => None,
        };
        let id =
            entity.map_or_else(|| h.parent.clone().unwrap_or_default(), |e| region.entity_id(e).to_string());
        let band = entity
            .zip(indicator_of(o.measure))
            .filter(|(_, ind)| o.year <= l.horizon && o.year >= l.base_year + i32::from(ind.is_flow()))
            .map(|(e, ind)| &sum.stats[l.index(e, o.year, ind)]);
        let (p05, p50, p95) = band.map_or((String::new(), String::new(), String::new()), |st| {
            (num(st.q[1]), num(st.q[4]), num(st.q[7]))
        });
        let note = match u {
            crate::model::history::Use::Unused(why) => why.as_str(),
            _ => "",
        };
        s.push_str(&format!(
            "{},{id},{},{},{},{},{},{},{},{},{},{p05},{p50},{p95},{}\n",
            csv_field(&scenario.name),
            o.year,
            o.measure,
            num(o.value),
            csv_field(o.measure.unit()),
            o.vintage.name(),
            o.confidence.name(),
            h.basis(o).map_or("any", |b| b.name()),
            u.name(),
            csv_field(note),
            csv_field(&o.source),
        ));
    }
    s
}

/// `parks.csv` (when parks are on): value added, workers, capital and tax to the partner of each
/// park, years b+1..=H, with mean, p05, p50 and p95 over the draws.
pub fn parks_csv(scenario: &Scenario, region: &Region, sum: &Summary) -> String {
    use crate::indicators::PARK_INDICATORS;
    let mut s = String::from("scenario,park,host,partner,year,indicator,unit,mean,p05,p50,p95\n");
    for (pk, park) in scenario.parks.iter().enumerate() {
        for year in sum.layout.base_year + 1..=sum.layout.horizon {
            for (k, name, unit) in PARK_INDICATORS {
                let st = &sum.stats[sum.layout.park_index(pk, year, k)];
                s.push_str(&format!(
                    "{},{},{},{},{year},{name},{},{},{},{},{}\n",
                    csv_field(&scenario.name),
                    park.id,
                    region.cities[park.host].id,
                    region.cities[park.partner].id,
                    csv_field(unit),
                    num(st.mean),
                    num(st.q[1]),
                    num(st.q[4]),
                    num(st.q[7])
                ));
            }
        }
    }
    s
}

/// `pyramids.csv`: the median population by sex and 5-year age group of every city and the
/// region in the base year and at the horizon.
pub fn pyramids_csv(scenario: &str, region: &Region, sum: &Summary) -> String {
    use crate::indicators::PYRAMID_GROUPS;
    use crate::region::AGE_GROUPS;
    let l = sum.layout;
    let mut s = String::from("scenario,entity,year,sex,age_group,unit,p50\n");
    for e in 0..l.entities() {
        for (which, year) in [(0, l.base_year), (1, l.horizon)] {
            for (sex, sex_name) in ["female", "male"].iter().enumerate() {
                for (g, group) in AGE_GROUPS.iter().enumerate().take(PYRAMID_GROUPS) {
                    let st = &sum.stats[l.pyramid_index(e, which, sex, g)];
                    s.push_str(&format!(
                        "{},{},{year},{sex_name},{group},10k persons,{}\n",
                        csv_field(scenario),
                        region.entity_id(e),
                        num(st.q[4])
                    ));
                }
            }
        }
    }
    s
}

/// `compare.csv`: for each alternative, entity, year and indicator, the medians of base and
/// alternative and the statistics of their paired difference. The columns of INTERFACE.md come
/// first; the remaining quantiles of the difference follow (for the difference fan charts).
pub fn compare_csv(
    base: &str,
    alt: &str,
    region: &Region,
    sum_b: &Summary,
    sum_a: &Summary,
    diff: &[crate::stats::DiffStats],
) -> String {
    let (st_b, st_a) = (&sum_b.stats, &sum_a.stats);
    let mut s = String::new();
    for (e, year, ind, j) in sum_b.layout.reported() {
        let d = &diff[j];
        s.push_str(&format!(
            "{},{},{},{year},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            csv_field(base),
            csv_field(alt),
            region.entity_id(e),
            ind.name(),
            csv_field(ind.unit()),
            num(st_b[j].q[4]),
            num(st_a[j].q[4]),
            num(d.mean),
            num(d.q[1]),
            num(d.q[4]),
            num(d.q[7]),
            num(d.prob_alt_higher),
            num(d.q[0]),
            num(d.q[2]),
            num(d.q[3]),
            num(d.q[5]),
            num(d.q[6]),
            num(d.q[8]),
        ));
    }
    s
}

/// The header of `compare.csv`.
pub const COMPARE_HEADER: &str = "base,alternative,entity,year,indicator,unit,base_p50,alt_p50,diff_mean,diff_p05,diff_p50,diff_p95,prob_alt_higher,diff_p025,diff_p10,diff_p25,diff_p75,diff_p90,diff_p975\n";

/// Stream `draws.csv` (`draw,entity,year,indicator,value`) for the chosen indicators.
pub fn write_draws_csv<W: Write>(
    w: &mut W,
    region: &Region,
    ens: &Ensemble,
    only: Option<&[Indicator]>,
) -> io::Result<()> {
    writeln!(w, "draw,entity,year,indicator,value")?;
    let keep = |i: Indicator| only.is_none_or(|l| l.contains(&i));
    let cols: Vec<_> = ens.layout.reported().filter(|(_, _, i, _)| keep(*i)).collect();
    let mut row = vec![0.0; ens.layout.len()];
    for k in 0..ens.n_draws() {
        ens.row_into(k, &mut row);
        let d = ens.draws.start + k as u64;
        for (e, year, ind, j) in &cols {
            writeln!(w, "{d},{},{year},{},{}", region.entity_id(*e), ind.name(), num(row[*j]))?;
        }
    }
    Ok(())
}

/// What `manifest.json` records of a run besides the results.
pub struct RunInfo<'a> {
    /// Path of the scenario file as given.
    pub scenario_path: &'a str,
    /// Threads used.
    pub threads: usize,
    /// Start time (RFC 3339, UTC).
    pub started_at: &'a str,
    /// Wall time in seconds.
    pub elapsed_seconds: f64,
    /// Whether the run was deterministic.
    pub deterministic: bool,
    /// Git commit of the engine, if known.
    pub git_commit: Option<&'a str>,
    /// Seed used.
    pub seed: u64,
    /// History mode as the model used it, when on.
    pub history: Option<&'a crate::model::ModelHistory>,
    /// The history pass, when the draws were conditioned (docs/MODEL.md §12).
    pub conditioned: Option<&'a crate::model::condition::Conditioned>,
    /// The parts a merged run was put together from (folder, draws), in draw order.
    pub merged: Option<Vec<(std::path::PathBuf, std::ops::Range<u64>)>>,
    /// The processes of an MPI run.
    pub ranks: Option<usize>,
}

/// `manifest.json` of a run.
pub fn manifest_json(scenario: &Scenario, region: &Region, ens: &Summary, info: &RunInfo<'_>) -> String {
    let mut s =
        serde_json::to_string_pretty(&manifest_value(scenario, region, ens, info)).unwrap_or_default();
    s.push('\n');
    s
}

/// `manifest.json` of a comparison: the shared settings and each scenario's manifest.
pub fn compare_manifest_json(
    runs: &[(&Scenario, &Summary, RunInfo<'_>)],
    region: &Region,
    target_warnings: &[String],
) -> String {
    let comparison = serde_json::json!({
        "base": runs[0].0.name,
        "alternatives": runs[1..].iter().map(|r| r.0.name.clone()).collect::<Vec<_>>(),
        "paired_draws": "common random numbers: draw k of every scenario shares every random quantity they have in common",
        "targets": "every target of every scenario, evaluated on every scenario",
        "target_warnings": target_warnings,
    });
    runs_manifest_json(runs, region, ("comparison", comparison))
}

/// `manifest.json` of a backtest: the shared settings, what was scored, and the manifests of the
/// conditioned run (`history`) and the run without history (`plan-era`).
pub fn backtest_manifest_json(
    runs: &[(&Scenario, &Summary, RunInfo<'_>)],
    region: &Region,
    until: i32,
    scored: usize,
) -> String {
    let backtest = serde_json::json!({
        "until": until,
        "observations_scored": scored,
        "forecasts": {
            "history": "the scenario conditioned on the observations up to `until` (docs/MODEL.md §11)",
            "plan-era": "the same scenario without history, on the same draws",
            "naive": "each series at its last observed annual change (a growth rate at its last value), normal with sd σ√h, σ from its annual changes up to `until`",
        },
        "scores": "type-7 quantiles of the draws; mid-PIT; CRPS of the ensemble (E|X − y| − ½E|X − X′|) or of the naive normal (Gneiting & Raftery 2007); coverage intervals: Wilson 95%",
    });
    runs_manifest_json(runs, region, ("backtest", backtest))
}

/// The manifest of several runs on the same draws: the engine, what they are (`what`), the
/// shared settings, and each run's own manifest.
fn runs_manifest_json(
    runs: &[(&Scenario, &Summary, RunInfo<'_>)],
    region: &Region,
    what: (&str, serde_json::Value),
) -> String {
    let (_, ens, info) = &runs[0];
    let mut v = serde_json::json!({
        "engine": { "name": "minxinan", "version": env!("CARGO_PKG_VERSION"), "git_commit": info.git_commit },
        "seed": info.seed,
        "draws": ens.n_draws(),
        "draw_range": [ens.draws.start, ens.draws.end],
        "threads": info.threads,
        "started_at": info.started_at,
        "elapsed_seconds": info.elapsed_seconds,
        "scenarios": runs.iter().map(|(s, e, i)| manifest_value(s, region, e, i)).collect::<Vec<_>>(),
    });
    v[what.0] = what.1;
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}

fn manifest_value(
    scenario: &Scenario,
    region: &Region,
    ens: &Summary,
    info: &RunInfo<'_>,
) -> serde_json::Value {
    use serde_json::{Map, Value, json};
    let mut params = Map::new();
    for ((spec, u), set) in
        crate::params::PARAMS.iter().zip(&scenario.parameters).zip(&scenario.parameter_set)
    {
        params.insert(
            spec.name.to_string(),
            json!({
                "value": u.to_toml(),
                "central": u.central(),
                "unit": spec.unit,
                "source": if *set { "scenario" } else { "default" },
            }),
        );
    }
    let mut diags = Map::new();
    for (d, name) in DIAGS {
        diags.insert(name.to_string(), Value::from(ens.diagnostics.0[d as usize]));
    }
    let mut v = json!({
        "engine": { "name": "minxinan", "version": env!("CARGO_PKG_VERSION"), "git_commit": info.git_commit },
        "scenario": {
            "name": scenario.name,
            "description": scenario.description,
            "path": info.scenario_path,
            "sha256": scenario.sha256(region),
            "horizon": scenario.horizon,
            "market_access": scenario.market_access.name(),
        },
        "region": { "name": region.name, "base_year": region.base_year, "sha256": region.sha256 },
        "seed": info.seed,
        "draws": ens.n_draws(),
        "draw_range": [ens.draws.start, ens.draws.end],
        "deterministic": info.deterministic,
        "threads": info.threads,
        "started_at": info.started_at,
        "elapsed_seconds": info.elapsed_seconds,
        "quantiles": "Hyndman–Fan type 7; sd with n − 1",
        "indicators": INDICATORS.iter().map(|i| json!({"name": i.name(), "unit": i.unit()})).collect::<Vec<_>>(),
        "parameters": params,
        "diagnostics": diags,
        "extends": scenario.chain.iter().skip(1).collect::<Vec<_>>(),
        "history": history_value(scenario, region, info.history, info.conditioned),
        "warnings": {
            "levers": scenario.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "plausibility": scenario.plausibility.iter().map(ToString::to_string).collect::<Vec<_>>(),
        },
        "levers": {
            "transfer": scenario.transfer.is_some(),
            "parks": scenario.parks.iter().map(|p| p.id.clone()).collect::<Vec<_>>(),
            "delay_shift": scenario.delay_shift,
            "shifts": scenario.shifts.len(),
        },
    });
    if let Some(ranks) = info.ranks {
        // An MPI run's only addition: how many processes ran the draws.
        v["ranks"] = json!(ranks);
    }
    if let Some(parts) = &info.merged {
        // How the run was put together: a merge's only addition (its outputs are the single
        // run's).
        v["merged_from"] = parts
            .iter()
            .map(|(dir, r)| json!({ "part": dir.display().to_string(), "draws": [r.start, r.end] }))
            .collect();
    }
    v
}

/// The manifest's `history` section: the observations used, what the restated base year rests
/// on (both bases), the age fits, the levers moved and the projects' history.
fn history_value(
    scenario: &Scenario,
    region: &Region,
    model: Option<&crate::model::ModelHistory>,
    conditioned: Option<&crate::model::condition::Conditioned>,
) -> serde_json::Value {
    use serde_json::json;
    let (Some(h), Some(m)) = (&scenario.history, model) else { return serde_json::Value::Null };
    let uses = crate::model::history::uses(region, h, m);
    let count = |name: &str| uses.iter().filter(|u| u.name() == name).count();
    let forced = &m.forced;
    let n_forced = |v: &[f64]| v.iter().filter(|x| !x.is_nan()).count();
    let round = |x: f64| (x * 1e6).round() / 1e6;
    let two = |t: &crate::model::history::TwoBases| json!({ "first_release": round(t.first_release), "revised": round(t.revised), "from": t.from });
    let restated: Vec<_> = m
        .restatement
        .iter()
        .map(|r| {
            let a = &r.ages;
            json!({
                "city": r.city,
                "population": two(&r.population),
                "gdp": two(&r.gdp),
                "urbanization_rate": two(&r.urbanization),
                "age_structure": {
                    "shares_of": a.shares_of.as_ref().map(|(e, y)| format!("{e} {y}")),
                    "groups": a.targets.iter().map(|g| format!("{}-{}", g.from, g.to)).collect::<Vec<_>>(),
                    "target_shares": a.targets.iter().map(|g| round(g.share)).collect::<Vec<_>>(),
                    "from_region_profile": a.before.iter().map(|x| round(*x)).collect::<Vec<_>>(),
                    "fitted": a.after.iter().map(|x| round(*x)).collect::<Vec<_>>(),
                    "iterations": a.iterations,
                    "crude_birth_rate": { "region_profile": round(a.birth_rate.0), "fitted": round(a.birth_rate.1), "observed_base_year": a.birth_rate.2 },
                    "crude_death_rate": { "region_profile": round(a.death_rate.0), "fitted": round(a.death_rate.1), "observed_base_year": a.death_rate.2 },
                    "note": a.note,
                },
                "vital_rates": a.vital.as_ref().map(|((birth, death), l)| json!({
                    "mortality_level": round(l.mortality),
                    "fertility_level": round(l.fertility),
                    "crude_birth_rate": round(*birth),
                    "crude_death_rate": round(*death),
                    "iterations": l.iterations,
                    "from": l.from,
                })),
            })
        })
        .collect();
    let projects: Vec<_> = scenario
        .projects
        .iter()
        .zip(&h.projects)
        .filter(|(p, _)| p.enabled)
        .map(|(p, ph)| {
            let what = match ph {
                crate::scenario::ProjectHistory::Drawn => "drawn as without history (no record)".to_string(),
                crate::scenario::ProjectHistory::Opened(y) => format!("opened in {y}"),
                crate::scenario::ProjectHistory::NotBefore(y) => {
                    format!("not open by {}: not before {y}", y - 1)
                }
            };
            json!({ "id": p.id, "history": what })
        })
        .collect();
    json!({
        "observed": h.source,
        "file": h.observations.file,
        "sha256": h.observations.sha256,
        "until": h.until,
        "min_confidence": h.min_confidence.name(),
        "vital_rates": h.vital_rates.name(),
        "crude_rates_scored": m.crude.iter().map(|c| json!({
            "year": c.year,
            "entity": c.city.map_or_else(|| "region (the parent's rate less the base year's gap)".to_string(), |i| region.cities[i].id.clone()),
            "indicator": if c.deaths { "crude_death_rate" } else { "crude_birth_rate" },
            "value": round(c.value),
            "sd": round(c.sd),
        })).collect::<Vec<_>>(),
        "rows": { "total": uses.len(), "forced": count("forced"), "base": count("base"), "check": count("check"), "scored": count("scored"), "compared": count("compared"), "unused": count("unused") },
        "forced_city_years": { "population": n_forced(&forced.population), "urbanization_rate": n_forced(&forced.urbanization), "gdp_real_growth": n_forced(&forced.growth) },
        "nominal_gdp": "compared, not forced: the model has one regional price level (docs/MODEL.md §11.2); the deflators implied by two successive years' nominal GDP and the later year's real growth are scored (§12.1b)",
        "deflators_scored": m.deflators.iter().map(|d| json!({
            "year": d.year,
            "entity": d.city.map_or_else(|| "region (the parent's deflator)".to_string(), |i| region.cities[i].id.clone()),
            "log_growth": round(d.value),
            "sd": round(d.sd),
        })).collect::<Vec<_>>(),
        "crude_rates": "the base year's are a check on the fitted age structures; later ones are compared, not forced",
        "gdp_deflator": m.deflator,
        "restated_base": restated,
        "not_restated": "the calibration's references (2016–2018 growth of GDP, population and urbanization, first-release basis: rates, comparable across bases) and the market-access masses (first-release GDP; only their ratios enter)",
        "levers_moved": h.moved,
        "projects": projects,
        "conditioning": conditioning_value(conditioned),
    })
}

/// The history pass's diagnostics (docs/MODEL.md §12.5): per observed year the values scored,
/// Kish's effective sample size, the heaviest 1 %'s weight, resampling and moves; each moved
/// quantity's prior and posterior; warnings. Null when the draws were not conditioned.
pub fn conditioning_value(c: Option<&crate::model::condition::Conditioned>) -> serde_json::Value {
    use serde_json::json;
    let Some(c) = c else { return serde_json::Value::Null };
    let r = |x: f64| (x * 1e4).round() / 1e4;
    let years: Vec<_> = c
        .years
        .iter()
        .map(|y| {
            json!({
                "year": y.year,
                "values_scored": y.observed,
                "ess": r(y.ess),
                "ess_at_once": r(y.ess_at_once),
                "tempering_stages": y.stages,
                "top1_weight_share": r(y.top1_share),
                "resampled": y.resampled,
                "move_sweeps": y.moves,
                "acceptance": r(y.acceptance),
                "distinct_after_moves": y.distinct,
                "log_evidence": r(y.log_evidence),
            })
        })
        .collect();
    let posterior: Vec<_> = c
        .posterior
        .iter()
        .map(|p| {
            let six = |x: f64| (x * 1e6).round() / 1e6;
            json!({ "name": p.name, "prior_p05_p50_p95": p.prior.map(six), "posterior_p05_p50_p95": p.posterior.map(six) })
        })
        .collect();
    json!({
        "pool": c.particles.len(),
        "method": "sequential Monte Carlo over the observed years: weights from the observations' density, systematic resampling when the ESS falls below half the pool and after the last year, Metropolis–Hastings moves (docs/MODEL.md §12.3)",
        "years": years,
        "posterior": posterior,
        "prices": c.prices.as_ref().map(|b| json!({
            "method": "the price block: π̄ by an independence sampler with its prior as the proposal, each observed year's ε_π from its normal posterior given π̄, apart from the pool's weights (nothing real depends on them; docs/MODEL.md §12.1b)",
            "deflators_scored": b.deflators,
            "sampler_steps": b.steps,
            "acceptance": r(b.acceptance),
        })),
        "births_level": c.births.iter().map(|&(year, level)| json!({ "year": year, "median_factor": r(level) })).collect::<Vec<_>>(),
        "warnings": c.warnings,
    })
}

/// `inputs.csv` (`run --save-draws --save-inputs`): one row per draw — `draw`, each uncertain
/// parameter (a fixed one is the same in every draw and left out), each city's migration offset,
/// each project's opening year (empty: not within the run).
pub fn inputs_csv(model: &crate::Model, rows: &[(u64, crate::model::inputs::DrawInputs)]) -> String {
    use crate::params::PARAMS;
    let uncertain: Vec<usize> = (0..PARAMS.len()).filter(|&k| !model.params[k].value.is_fixed()).collect();
    let mut s = String::from("draw");
    for &k in &uncertain {
        s.push(',');
        s.push_str(PARAMS[k].name);
    }
    for c in &model.city_ids {
        s.push_str(&format!(",migration_offset.{c}"));
    }
    for p in &model.projects {
        s.push_str(&format!(",open.{}", p.id));
    }
    s.push('\n');
    for (draw, inputs) in rows {
        s.push_str(&draw.to_string());
        let v = inputs.params.values();
        for &k in &uncertain {
            s.push_str(&format!(",{}", v[k]));
        }
        for o in &inputs.offsets {
            s.push_str(&format!(",{o}"));
        }
        for &year in &inputs.open {
            s.push(',');
            if year != i32::MAX {
                s.push_str(&year.to_string());
            }
        }
        s.push('\n');
    }
    s
}

/// `backtest.csv`: every scored observation of every forecast (docs/MODEL.md §11.5).
pub fn backtest_csv(region: &Region, until: i32, scored: &[crate::stats::backtest::Scored]) -> String {
    let mut s = String::from(
        "forecast,entity,year,indicator,unit,observed,horizon,p05,p10,p25,p50,p75,p90,p95,inside50,inside80,inside90,pit,crps\n",
    );
    for x in scored {
        let t = &x.target;
        s.push_str(&format!(
            "{},{},{},{},{},{},{}",
            x.forecast,
            region.entity_id(t.city),
            t.year,
            t.measure,
            csv_field(t.measure.unit()),
            num(t.observed),
            t.year - until
        ));
        for q in x.q {
            s.push(',');
            s.push_str(&num(q));
        }
        for b in x.inside {
            s.push_str(if b { ",1" } else { ",0" });
        }
        s.push_str(&format!(",{},{}\n", num(x.pit), num(x.crps)));
    }
    s
}

/// The CRPS of `forecast`'s scores that pass `keep`, summed, over the naive forecast's on the
/// same observations: (the ratio, the observations both scored); `None` without naive CRPS.
fn relative_to_naive(
    scored: &[crate::stats::backtest::Scored],
    forecast: &str,
    keep: impl Fn(&crate::stats::backtest::Scored) -> bool,
) -> Option<(f64, usize)> {
    let (mut own, mut naive, mut n) = (0.0, 0.0, 0usize);
    for x in scored.iter().filter(|x| x.forecast == forecast && keep(x)) {
        if let Some(y) = scored.iter().find(|y| y.forecast == "naive" && y.target == x.target) {
            own += x.crps;
            naive += y.crps;
            n += 1;
        }
    }
    (naive > 0.0).then_some((own / naive, n))
}

/// The relative CRPS of `forecast` over the scores that pass `keep`: of one indicator when
/// `measure` is given, else (`all`) the geometric mean of the indicators', each weighted by its
/// observations.
fn relative_crps(
    scored: &[crate::stats::backtest::Scored],
    forecast: &str,
    measure: Option<crate::observed::Measure>,
    keep: impl Fn(&crate::stats::backtest::Scored) -> bool,
) -> Option<f64> {
    let of = |m: crate::observed::Measure| {
        relative_to_naive(scored, forecast, |x: &crate::stats::backtest::Scored| {
            x.target.measure == m && keep(x)
        })
    };
    match measure {
        Some(m) => of(m).map(|(r, _)| r),
        None => {
            let parts: Vec<(f64, usize)> =
                crate::stats::backtest::SCORED.iter().filter_map(|&m| of(m)).collect();
            let n: usize = parts.iter().map(|p| p.1).sum();
            (n > 0).then(|| (parts.iter().map(|&(r, k)| k as f64 * r.ln()).sum::<f64>() / n as f64).exp())
        }
    }
}

/// `backtest_summary.csv`: per forecast and indicator (then `all`), the observations scored,
/// the coverage of the 50/80/90% bands with Wilson 95% intervals, the mean CRPS and the CRPS
/// relative to the naive forecast's over the observations both scored; for `all` (units differ:
/// no mean CRPS) the geometric mean of the indicators' relative CRPS, each weighted by its
/// observations.
pub fn backtest_summary_csv(scored: &[crate::stats::backtest::Scored]) -> String {
    let mut s = String::from(
        "forecast,indicator,n,coverage50,coverage50_lo,coverage50_hi,coverage80,coverage80_lo,coverage80_hi,coverage90,coverage90_lo,coverage90_hi,mean_crps,crps_relative_to_naive\n",
    );
    for c in crate::stats::backtest::summarise(scored) {
        s.push_str(&format!("{},{},{}", c.forecast, c.measure.map_or("all".into(), |m| m.name()), c.n));
        for (share, lo, hi) in c.coverage {
            s.push_str(&format!(",{},{},{}", num(share), num(lo), num(hi)));
        }
        let relative = relative_crps(scored, &c.forecast, c.measure, |_| true);
        let opt = |v: Option<f64>| v.map_or(String::new(), num);
        s.push_str(&format!(",{},{}\n", opt(c.mean_crps), opt(relative)));
    }
    s
}

/// `backtest_horizons.csv`: `backtest_summary.csv`'s CRPS split by the years ahead of `until`
/// (an observation of year y has horizon y − until): per forecast, indicator (then `all`) and
/// horizon, the observations scored, their mean CRPS (none for `all`) and the CRPS relative to
/// the naive forecast's on the same observations (for `all` the weighted geometric mean).
pub fn backtest_horizons_csv(scored: &[crate::stats::backtest::Scored], until: i32) -> String {
    use crate::stats::backtest::SCORED;
    let mut s = String::from("forecast,indicator,horizon,n,mean_crps,crps_relative_to_naive\n");
    let last = scored.iter().map(|x| x.target.year - until).max().unwrap_or(0);
    let opt = |v: Option<f64>| v.map_or(String::new(), num);
    for f in crate::stats::backtest::forecasts(scored) {
        for m in SCORED.iter().copied().map(Some).chain(std::iter::once(None)) {
            for h in 1..=last {
                let keep = |x: &crate::stats::backtest::Scored| x.target.year - until == h;
                let set: Vec<f64> = scored
                    .iter()
                    .filter(|x| x.forecast == f && keep(x) && m.is_none_or(|m| x.target.measure == m))
                    .map(|x| x.crps)
                    .collect();
                if set.is_empty() {
                    continue;
                }
                let mean = m.map(|_| set.iter().sum::<f64>() / set.len() as f64);
                let name = m.map_or("all".into(), |m| m.name());
                s.push_str(&format!(
                    "{f},{name},{h},{},{},{}\n",
                    set.len(),
                    opt(mean),
                    opt(relative_crps(scored, f, m, keep))
                ));
            }
        }
    }
    s
}

/// Join CSV texts that share a header (the header once).
pub fn concat_csv(parts: &[String]) -> String {
    let mut out = String::new();
    for (k, p) in parts.iter().enumerate() {
        if k == 0 {
            out.push_str(p);
        } else if let Some((_, body)) = p.split_once('\n') {
            out.push_str(body);
        }
    }
    out
}
pub mod charts;
pub mod report;
pub mod sensitivity;
pub mod xlsx;
