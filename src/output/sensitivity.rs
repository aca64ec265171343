//! The files of `minxinan sensitivity` (INTERFACE.md "sensitivity"; docs/SENSITIVITY.md):
//! `sensitivity.csv`, `convergence.csv`, `manifest.json` and `report.html`, the report built from
//! the files alone (so that `minxinan report DIR` rebuilds it).

use super::charts::{self, Layer};
use super::report::{CSS, Files, HEADLINE, Report, Row, esc, indicator_title, rows};
use crate::region::Region;
use crate::sensitivity::{Analysis, OutputIndices};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The years of the top-driver tables and the convergence table.
pub const KEY_YEARS: [i32; 3] = [2025, 2030, 2035];

/// The interval width above which a headline index is warned of.
pub const WIDE: f64 = 0.1;

/// The header of `sensitivity.csv`.
pub const SENSITIVITY_HEADER: &str = "entity,year,indicator,input,S1,S1_lo,S1_hi,ST,ST_lo,ST_hi,n\n";

/// The header of `convergence.csv`.
pub const CONVERGENCE_HEADER: &str = "entity,year,indicator,input,n,S1,ST\n";

/// An index for a file: four decimals, never `-0.0000`.
fn idx(x: f64) -> String {
    if !x.is_finite() {
        return "NaN".into();
    }
    let s = format!("{x:.4}");
    if s == "-0.0000" { "0.0000".into() } else { s }
}

/// `sensitivity.csv`: one row per outcome with variance × input, outcomes in `summary.csv`
/// order (entity, year, indicator), inputs in the design's order. An outcome without variance
/// (nothing to explain) has no rows.
pub fn sensitivity_csv(region: &Region, a: &Analysis) -> String {
    let mut s = String::from(SENSITIVITY_HEADER);
    for o in &a.outputs {
        let Some(ix) = &o.indices else { continue };
        for (i, input) in a.design.inputs.iter().enumerate() {
            let _ = writeln!(
                s,
                "{},{},{},{},{},{},{},{},{},{},{}",
                region.entity_id(o.key.entity),
                o.key.year,
                o.key.indicator.name(),
                input.name,
                idx(ix.s1[i]),
                idx(ix.s1_ci[i].0),
                idx(ix.s1_ci[i].1),
                idx(ix.st[i]),
                idx(ix.st_ci[i].0),
                idx(ix.st_ci[i].1),
                a.design.samples
            );
        }
    }
    s
}

/// Whether an outcome is in the convergence table and the warnings: a headline indicator in a
/// key year.
fn is_headline(o: &OutputIndices) -> bool {
    HEADLINE.contains(&o.key.indicator.name()) && KEY_YEARS.contains(&o.key.year)
}

/// `convergence.csv`: the indices of the headline outcomes in 2025, 2030 and 2035 at the nested
/// prefixes N/8, N/4, N/2 and N of the one design (point estimates).
pub fn convergence_csv(region: &Region, a: &Analysis) -> String {
    let mut s = String::from(CONVERGENCE_HEADER);
    for o in a.outputs.iter().filter(|o| is_headline(o)) {
        for (i, input) in a.design.inputs.iter().enumerate() {
            for (n, est) in &o.convergence {
                let _ = writeln!(
                    s,
                    "{},{},{},{},{},{},{}",
                    region.entity_id(o.key.entity),
                    o.key.year,
                    o.key.indicator.name(),
                    input.name,
                    n,
                    idx(est[i].0),
                    idx(est[i].1)
                );
            }
        }
    }
    s
}

/// The warnings of a study: how many headline indices (S1 or ST of a headline indicator in a
/// key year) have a 95 % interval wider than [`WIDE`], with the widest.
pub fn warnings(region: &Region, a: &Analysis) -> Vec<String> {
    let mut wide: Vec<(f64, String)> = Vec::new();
    let mut total = 0;
    for o in a.outputs.iter().filter(|o| is_headline(o)) {
        let Some(ix) = &o.indices else { continue };
        for (i, input) in a.design.inputs.iter().enumerate() {
            for (what, (lo, hi)) in [("S1", ix.s1_ci[i]), ("ST", ix.st_ci[i])] {
                total += 1;
                if hi - lo > WIDE {
                    let label = format!(
                        "{what} of {} for {} {} {}",
                        input.name,
                        region.entity_id(o.key.entity),
                        o.key.indicator.name(),
                        o.key.year
                    );
                    wide.push((hi - lo, label));
                }
            }
        }
    }
    if wide.is_empty() {
        return Vec::new();
    }
    wide.sort_by(|x, y| y.0.total_cmp(&x.0).then_with(|| x.1.cmp(&y.1)));
    vec![format!(
        "{} of {total} headline indices have a 95% interval wider than {WIDE} (widest: {}, {:.2}); rerun with a larger --samples (the interval narrows as 1/√N)",
        wide.len(),
        wide[0].1,
        wide[0].0
    )]
}

/// What one input is, in words, for the report's and the manifest's input table.
pub fn input_description(name: &str) -> String {
    if let Some(spec) = crate::params::PARAMS.iter().find(|p| p.name == name) {
        return format!("parameter {} ({})", spec.symbol, spec.unit);
    }
    let words = match name {
        "shocks.tfp" => {
            "yearly TFP shocks (common factor, idiosyncratic, and the persistent part's innovations)"
        }
        "shocks.disaster" => "yearly disaster draws and their size",
        "shocks.migration" => "yearly migration shocks (and the persistent part's innovations)",
        "shocks.migration_offset" => "each city's migration offset (drawn once)",
        "shocks.urbanization" => "yearly urbanization shocks",
        "shocks.fertility" => "yearly shocks to the births' level",
        "shocks.inflation" => "yearly inflation shocks",
        "projects.opening" => "every project's opening delay",
        "projects.tfp_size" => "every project's TFP effect sizes",
        "transfer" => "the industry transfer's uncertain rate, efficiency and composition gain",
        _ if name.starts_with("park.") => "a co-built park's uncertain quantities",
        _ if name.starts_with("shift.") => "a shift lever's uncertain change",
        _ if name.ends_with(".opening") => "a project's opening delay",
        _ if name.ends_with(".tfp_size") => "a project's TFP effect sizes",
        _ if name.starts_with("project.") => "a project's opening delay and TFP effect sizes",
        _ => "a group of inputs (--groups)",
    };
    words.to_string()
}

/// The study's `manifest.json`.
#[allow(clippy::too_many_arguments)]
pub fn manifest_json(
    scenario: &crate::Scenario,
    region: &Region,
    a: &Analysis,
    scenario_path: &str,
    groups_path: Option<&str>,
    threads: usize,
    started_at: &str,
    elapsed_seconds: f64,
    warnings: &[String],
) -> String {
    use serde_json::json;
    let no_variance: Vec<String> = a
        .outputs
        .iter()
        .filter(|o| o.indices.is_none())
        .map(|o| format!("{} {} {}", region.entity_id(o.key.entity), o.key.indicator.name(), o.key.year))
        .collect();
    let commit = env!("MINXINAN_GIT_COMMIT");
    let v = json!({
        "engine": { "name": "minxinan", "version": env!("CARGO_PKG_VERSION"), "git_commit": (!commit.is_empty()).then_some(commit) },
        "command": "sensitivity",
        "scenario": {
            "name": scenario.name,
            "description": scenario.description,
            "path": scenario_path,
            "sha256": scenario.sha256(region),
            "horizon": scenario.horizon,
        },
        "region": { "name": region.name, "base_year": region.base_year, "sha256": region.sha256 },
        "seed": a.design.seed,
        "samples": a.design.samples,
        "inputs_count": a.design.inputs.len(),
        "draws": a.design.draws(),
        "bootstrap_replicates": a.design.replicates,
        "threads": threads,
        "started_at": started_at,
        "elapsed_seconds": elapsed_seconds,
        "history": "off: the scenario's prior (no observed year forced or conditioned on); the indices explain the plan-era bands of its inputs",
        "design": "Saltelli (2010): A = draws 0..N, B = draws N..2N, AB_i = draw j with input i's streams from draw N + j; S1 Saltelli (2010), ST Jansen (1999); 95% intervals from a Poisson bootstrap",
        "groups": groups_path,
        "inputs": a.design.inputs.iter().map(|g| json!({
            "name": g.name,
            "streams": g.purposes.len(),
            "description": input_description(&g.name),
        })).collect::<Vec<_>>(),
        "fixed_parameters": "not inputs: no index is reported for them",
        "no_variance": no_variance,
        "warnings": warnings,
        "diagnostics": a.diagnostics.0.iter().sum::<u64>(),
    });
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}

fn num(r: &Row, k: &str) -> f64 {
    r.get(k).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
}

/// The indices of one (entity, indicator) by year and input: year → input → (S1, lo, hi, ST,
/// lo, hi).
type Table = BTreeMap<i32, BTreeMap<String, [f64; 6]>>;

/// The layers shown in a chart: at most this many inputs (of those with a colour on the page),
/// the rest as "other inputs".
const SHOWN: usize = 6;

/// Build the report of a sensitivity folder from its files (`sensitivity.csv`, `entities.csv`,
/// `manifest.json`).
pub fn build_report(files: &Files) -> Result<Report, String> {
    let sens = rows(files, "sensitivity.csv")?;
    if sens.is_empty() {
        return Err("sensitivity.csv is missing or empty".into());
    }
    let entities = rows(files, "entities.csv")?;
    let manifest = files.get("manifest.json").cloned().unwrap_or_default();
    let meta: serde_json::Value = serde_json::from_str(&manifest).unwrap_or(serde_json::Value::Null);
    let mut inputs: Vec<String> = Vec::new();
    let mut ents: Vec<String> = Vec::new();
    let mut tables: BTreeMap<(String, String), Table> = BTreeMap::new();
    for r in &sens {
        if !inputs.contains(&r["input"]) {
            inputs.push(r["input"].clone());
        }
        if !ents.contains(&r["entity"]) {
            ents.push(r["entity"].clone());
        }
        let year: i32 =
            r["year"].parse().map_err(|_| format!("sensitivity.csv: bad year `{}`", r["year"]))?;
        let v = ["S1", "S1_lo", "S1_hi", "ST", "ST_lo", "ST_hi"].map(|k| num(r, k));
        tables
            .entry((r["entity"].clone(), r["indicator"].clone()))
            .or_default()
            .entry(year)
            .or_default()
            .insert(r["input"].clone(), v);
    }
    let name_of = |id: &str| {
        entities
            .iter()
            .find(|e| e["entity"] == id)
            .map_or(id.to_string(), |e| format!("{} {}", e["name_zh"], e["name_en"]))
    };
    // Chart titles: a city's Chinese and English names, the region's Chinese name alone.
    let short_name = |id: &str| match entities.iter().find(|e| e["entity"] == id) {
        Some(e) if id == "region" => e["name_zh"].clone(),
        Some(e) => format!("{} {}", e["name_zh"], e["name_en"]),
        None => id.to_string(),
    };
    let scenario = meta["scenario"]["name"].as_str().unwrap_or("scenario").to_string();
    let mut charts: Vec<(String, String)> = Vec::new();
    let colours = page_colours(&tables);
    for ind in HEADLINE {
        for e in &ents {
            let Some(t) = tables.get(&(e.clone(), ind.to_string())) else { continue };
            let title = format!("{} — {}", short_name(e), indicator_title(ind));
            charts.push((format!("shares-{e}-{ind}"), shares_chart(&title, t, &inputs, &colours)?));
        }
    }
    let mut h = String::new();
    let title = format!("sensitivity of {scenario}");
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n<title>minxinan — {}</title>\n<style>{}</style>\n</head>\n<body>\n",
        esc(&title),
        CSS
    );
    let _ = writeln!(
        h,
        "<h1>闽西南协同发展区 — which uncertainty drives each band 不确定性来源: {}</h1>",
        esc(&scenario)
    );
    let samples = meta["samples"].as_u64().unwrap_or(0);
    let draws = meta["draws"].as_u64().unwrap_or(0);
    let _ = writeln!(
        h,
        "<p class=\"lead\">For each outcome, the share of its variance across the draws that each uncertain input explains: the first-order index S1 (the input alone) and the total index ST (with its interactions), by the Saltelli design with N = {samples} base samples and {} inputs ({draws} draws), with 95% bootstrap intervals. 一阶指数S1：该输入单独解释的方差比例；总指数ST：含交互作用。</p>",
        inputs.len()
    );
    let _ = writeln!(
        h,
        "<p class=\"lead\"><b>Without history 不含历史数据:</b> the indices explain the scenario's prior bands from the 2018 base — no observed year is forced or conditioned on, so they say what drives the uncertainty of the plan-era projection, not of the conditioned one.</p>"
    );
    let warnings: Vec<&str> =
        meta["warnings"].as_array().into_iter().flatten().filter_map(|w| w.as_str()).collect();
    if !warnings.is_empty() {
        let _ = writeln!(h, "<div class=\"warnings\"><b>Warnings 提示</b><ul>");
        for w in warnings {
            let _ = writeln!(h, "<li>{}</li>", esc(w));
        }
        let _ = writeln!(h, "</ul></div>");
    }
    // At a glance: the region's largest driver of each headline indicator in 2025 and 2035.
    let _ = writeln!(h, "<h2>At a glance 要点</h2>\n<ul class=\"headlines\">");
    for ind in HEADLINE {
        let Some(t) = tables.get(&("region".to_string(), ind.to_string())) else { continue };
        let mut parts = Vec::new();
        for year in [2025, 2035] {
            if let Some(top) = t.get(&year).and_then(|by| ranked(by).into_iter().next()) {
                let v = t[&year][&top];
                parts.push(format!(
                    "in {year} <b>{}</b> ({} alone, {} with its interactions)",
                    esc(&top),
                    share(v[0]),
                    share(v[3])
                ));
            }
        }
        if !parts.is_empty() {
            let _ = writeln!(
                h,
                "<li>{} of the region 全区: the largest source of uncertainty is {}.</li>",
                indicator_title(ind),
                parts.join("; ")
            );
        }
    }
    let _ = writeln!(h, "</ul>");
    for ind in HEADLINE {
        let _ = writeln!(h, "<h2>{}</h2>", indicator_title(ind));
        let _ = writeln!(
            h,
            "<table class=\"figures\"><tr><th>entity 地区</th><th class=\"l\">top drivers 2025 主要来源: S1 · ST [ST's 95% interval]</th><th class=\"l\">top drivers 2035</th><th>interactions 2035 (1 − ΣS1)</th></tr>"
        );
        for e in &ents {
            let Some(t) = tables.get(&(e.clone(), ind.to_string())) else { continue };
            let cell = |year: i32| -> String {
                let Some(by) = t.get(&year) else { return "–".into() };
                ranked(by)
                    .into_iter()
                    .take(3)
                    .map(|name| {
                        let v = by[&name];
                        format!(
                            "{} {:.2} · {:.2} <span class=\"band\">[{:.2}–{:.2}]</span>",
                            esc(&name),
                            v[0],
                            v[3],
                            v[4],
                            v[5]
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("<br>")
            };
            let rest = t
                .get(&2035)
                .map_or("–".to_string(), |by| percent(1.0 - by.values().map(|v| v[0]).sum::<f64>()));
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{rest}</td></tr>",
                esc(&name_of(e)),
                cell(2025),
                cell(2035)
            );
        }
        let _ = writeln!(h, "</table>");
        let _ = writeln!(h, "<div class=\"charts\">");
        for (name, svg) in charts.iter().filter(|(n, _)| n.ends_with(&format!("-{ind}"))) {
            let body = svg.find("<svg").map_or(svg.as_str(), |i| &svg[i..]);
            let _ = writeln!(h, "<figure class=\"chart\" id=\"{}\">{body}</figure>", esc(name));
        }
        let _ = writeln!(h, "</div>");
    }
    let _ = writeln!(
        h,
        "<h2>Inputs 输入</h2>\n<table><tr><th>input</th><th class=\"l\">what it is</th><th>streams</th></tr>"
    );
    for g in meta["inputs"].as_array().into_iter().flatten() {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"l\">{}</td><td>{}</td></tr>",
            esc(g["name"].as_str().unwrap_or_default()),
            esc(g["description"].as_str().unwrap_or_default()),
            g["streams"]
        );
    }
    let _ = writeln!(h, "</table>");
    let _ = writeln!(
        h,
        "<p class=\"lead\">Reading: S1 near ST means the input acts on its own; ST well above S1 means it acts through interactions. The grey layer 1 − ΣS1 is the variance no input explains alone. Indices are estimates: small negative values are noise around zero. convergence.csv gives the indices at N/8, N/4, N/2 and N of the same design: if they still move between N/2 and N, rerun with a larger --samples.</p>"
    );
    let _ = writeln!(
        h,
        "<details class=\"manifest\"><summary>Run manifest 运行记录 (manifest.json)</summary>\n<pre>{}</pre></details>\n</body>\n</html>",
        esc(&manifest)
    );
    Ok(Report { html: h, charts })
}

/// An index as a share of the variance in the report's sentences: clamped to 0–100 % (an
/// estimate beyond is noise around the bound).
fn share(x: f64) -> String {
    format!("{:.0}%", 100.0 * x.clamp(0.0, 1.0))
}

/// A signed percentage, never `-0%`.
fn percent(x: f64) -> String {
    let s = format!("{:.0}%", 100.0 * x);
    if s == "-0%" { "0%".into() } else { s }
}

/// The inputs of one year, largest total index first (ties by name).
fn ranked(by: &BTreeMap<String, [f64; 6]>) -> Vec<String> {
    let mut v: Vec<(&String, f64)> = by.iter().map(|(k, x)| (k, x[3])).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    v.into_iter().map(|(k, _)| k.clone()).collect()
}

/// The stacked first-order shares of one outcome over the years: of the inputs that have a
/// colour (`colours`, input → colour, by their weight over the page), the [`SHOWN`] with the
/// largest S1 here, in the page's order; the other inputs together; the interactions (1 − ΣS1).
fn shares_chart(
    title: &str,
    t: &Table,
    inputs: &[String],
    colours: &[(String, usize)],
) -> Result<String, String> {
    let years: Vec<i32> = t.keys().copied().collect();
    let s1 = |name: &str, y: &i32| t[y].get(name).map_or(0.0, |v| v[0].max(0.0));
    let weight = |n: &str| years.iter().map(|y| s1(n, y)).sum::<f64>();
    let mut here: Vec<&(String, usize)> = colours.iter().filter(|(n, _)| weight(n) > 0.0).collect();
    here.sort_by(|a, b| weight(&b.0).total_cmp(&weight(&a.0)).then_with(|| a.1.cmp(&b.1)));
    here.truncate(SHOWN);
    here.sort_by_key(|(_, c)| *c);
    let shown: Vec<&String> = here.iter().map(|(n, _)| n).collect();
    let mut layers: Vec<Layer> = here
        .iter()
        .map(|(n, c)| Layer {
            name: n.clone(),
            shares: years.iter().map(|y| s1(n, y)).collect(),
            colour: Some(*c),
        })
        .collect();
    let others: Vec<f64> =
        years.iter().map(|y| inputs.iter().filter(|n| !shown.contains(n)).map(|n| s1(n, y)).sum()).collect();
    layers.push(Layer { name: "other inputs 其他".into(), shares: others, colour: None });
    let interactions: Vec<f64> =
        years.iter().map(|y| (1.0 - inputs.iter().map(|n| s1(n, y)).sum::<f64>()).max(0.0)).collect();
    layers
        .push(Layer { name: "interactions 交互 (1 − ΣS1)".into(), shares: interactions, colour: None });
    charts::shares_chart(title, &years, &layers)
}

/// Each input's colour on the page: the inputs by their first-order weight over every chart
/// (the sum of their S1 over entities, headline indicators and years), the heaviest first, as
/// many as there are colours.
fn page_colours(tables: &BTreeMap<(String, String), Table>) -> Vec<(String, usize)> {
    let mut weight: BTreeMap<&str, f64> = BTreeMap::new();
    for ((_, ind), t) in tables {
        if !HEADLINE.contains(&ind.as_str()) {
            continue;
        }
        for by in t.values() {
            for (n, v) in by {
                *weight.entry(n.as_str()).or_default() += v[0].max(0.0);
            }
        }
    }
    let mut order: Vec<(&str, f64)> = weight.into_iter().filter(|(_, w)| *w > 0.0).collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    order
        .into_iter()
        .take(charts::LAYER_COLOURS.len())
        .enumerate()
        .map(|(k, (n, _))| (n.to_string(), k))
        .collect()
}
