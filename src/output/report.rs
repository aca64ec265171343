//! `report.html`: one self-contained page (inline SVG and CSS, no script, nothing from the
//! network) built from a run's, a comparison's or a backtest's output files, so that `minxinan
//! report DIR` rebuilds it from the folder alone. It reads top down: what the run is, a
//! headline sentence per target, the target table, the key figures (2025 and 2035), the five
//! cities side by side, a comparison's differences, the charts of every entity, and the run's
//! manifest (collapsed).

use super::charts::{self, Fan, Marker};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The output files a report is built from (file name → text).
pub type Files = BTreeMap<String, String>;

/// The files of an output folder a report reads (those present).
pub const INPUTS: [&str; 9] = [
    "summary.csv",
    "targets.csv",
    "pyramids.csv",
    "compare.csv",
    "entities.csv",
    "observed.csv",
    "backtest_summary.csv",
    "backtest_horizons.csv",
    "manifest.json",
];

/// A built report: the HTML and the charts it inlines (name, SVG).
pub struct Report {
    /// The page.
    pub html: String,
    /// The charts, also written to `charts/NAME.svg`.
    pub charts: Vec<(String, String)>,
}

pub(super) type Row = BTreeMap<String, String>;
/// (scenario or alternative, entity, indicator) → [(year, the nine quantiles)].
/// One series: per year, the nine summary quantiles.
type Series = Vec<(i32, [f64; 9])>;
type Bands = BTreeMap<(String, String, String), Series>;

pub(super) fn rows(files: &Files, name: &str) -> Result<Vec<Row>, String> {
    let Some(text) = files.get(name) else { return Ok(Vec::new()) };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    rdr.deserialize().map(|r| r.map_err(|e| format!("{name}: {e}"))).collect()
}

fn f(r: &Row, k: &str) -> f64 {
    r.get(k).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
}

fn get<'r>(r: &'r Row, k: &str) -> &'r str {
    r.get(k).map_or("", String::as_str)
}

const QCOLS: [&str; 9] = ["p025", "p05", "p10", "p25", "p50", "p75", "p90", "p95", "p975"];
const DCOLS: [&str; 9] = [
    "diff_p025",
    "diff_p05",
    "diff_p10",
    "diff_p25",
    "diff_p50",
    "diff_p75",
    "diff_p90",
    "diff_p95",
    "diff_p975",
];

/// The headline indicators, in the order the page shows them.
pub(super) const HEADLINE: [&str; 5] =
    ["population", "urbanization_rate", "gdp_real", "gdp_nominal", "gdp_per_capita"];

/// Chinese and English names of the charted indicators.
pub(super) fn indicator_title(ind: &str) -> &'static str {
    match ind {
        "population" => "常住人口 Resident population",
        "urbanization_rate" => "城镇化率 Urbanization rate",
        "gdp_real" => "实际GDP Real GDP (2018 prices)",
        "gdp_nominal" => "名义GDP Nominal GDP",
        "gdp_per_capita" => "人均GDP GDP per capita",
        "gdp_assessment" => "考核GDP Assessment GDP",
        "gdp_growth" => "GDP增速 Real GDP growth",
        _ => "",
    }
}

/// Short unit words for tables.
fn unit_words(unit: &str) -> &str {
    match unit {
        "10k persons" => "万人 10k persons",
        "%" => "%",
        "% per year" => "% a year",
        "100M CNY (2018 prices)" => "亿元 100M CNY, 2018 prices",
        "100M CNY (current prices)" => "亿元 100M CNY, current prices",
        "CNY per person (2018 prices)" => "元 CNY per person, 2018 prices",
        other => other,
    }
}

pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A number for a table: thousands separated above 100, one or two decimals below; never `-0`.
fn fmt(x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    let a = x.abs();
    let s = if a >= 100.0 {
        charts::fmt_tick(x)
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    };
    // A value that rounds to zero is written without its sign.
    if s.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') {
        s.trim_start_matches('-').to_string()
    } else {
        s
    }
}

/// A value in words with its unit: 36 400 亿元 is "3.64万亿元 (36,400 亿元)", 535 万人, 72 %.
fn amount(unit: &str, v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    match unit {
        u if u.starts_with("100M CNY") => {
            let real = if u.contains("2018") { ", 2018 prices" } else { "" };
            if v.abs() >= 10_000.0 {
                format!("{:.2}万亿元 ({} 亿元{real})", v / 10_000.0, charts::fmt_tick(v))
            } else {
                format!("{} 亿元{real}", fmt(v))
            }
        }
        "10k persons" => format!("{}万人", fmt(v)),
        "%" => format!("{} %", fmt(v)),
        "% per year" => format!("{} % a year", fmt(v)),
        "CNY per person (2018 prices)" => format!("{} 元 a person", charts::fmt_tick(v)),
        other => format!("{} {other}", fmt(v)),
    }
}

/// Build the report from the files of an output folder.
pub fn build(files: &Files) -> Result<Report, String> {
    let inp = Inputs::read(files)?;
    let mut charts = cities_charts(&inp)?;
    charts.extend(fan_charts(&inp)?);
    if inp.is_compare() {
        charts.extend(difference_charts(&inp)?);
    }
    charts.extend(pyramid_charts(&inp)?);
    let mut h = String::new();
    page_head(&inp, &mut h);
    headlines(&inp, &mut h);
    target_table(&inp, &mut h);
    if !inp.backtest.is_empty() {
        backtest_section(&inp, &mut h);
    }
    // A comparison answers its question (what the alternative changes) before the levels.
    if inp.is_compare() {
        difference_tables(&inp, &mut h);
    }
    key_figures(&inp, &mut h);
    conditioning_section(&inp, &mut h);
    figures(&mut h, "Five cities side by side 五市对比", &charts, |n| n.starts_with("cities-"));
    figures(&mut h, "Charts by city and region 分地区图表", &charts, |n| {
        !n.starts_with("cities-") && !n.starts_with("diff-")
    });
    for alt in inp.scenarios.iter().skip(1).filter(|_| inp.is_compare()) {
        let heading = format!(
            "Difference charts 差异图: {} − {} (paired draws 配对抽样)",
            esc(alt),
            esc(&inp.scenarios[0])
        );
        let names: Vec<String> = inp
            .ents
            .iter()
            .flat_map(|e| HEADLINE.iter().map(move |ind| format!("diff-{alt}-{e}-{ind}")))
            .collect();
        figures(&mut h, &heading, &charts, |n| names.iter().any(|m| m == n));
    }
    page_end(&inp, &mut h);
    Ok(Report { html: h, charts })
}

/// An output folder's files as the report reads them.
struct Inputs {
    targets: Vec<Row>,
    observed: Vec<Row>,
    backtest: Vec<Row>,
    /// `backtest_horizons.csv`'s rows (empty unless a backtest).
    backtest_horizons: Vec<Row>,
    pyramids: Vec<Row>,
    compare: Vec<Row>,
    entities: Vec<Row>,
    manifest: String,
    /// The manifest, parsed (null when absent or unreadable).
    meta: serde_json::Value,
    /// The scenarios and entities, in file order.
    scenarios: Vec<String>,
    ents: Vec<String>,
    /// (scenario, entity, indicator) → [(year, q)], and the unit of each indicator.
    series: Bands,
    units: BTreeMap<String, String>,
}

impl Inputs {
    /// The files of a folder (summary.csv is required; the others may be missing).
    fn read(files: &Files) -> Result<Inputs, String> {
        let summary = rows(files, "summary.csv")?;
        if summary.is_empty() {
            return Err("summary.csv is missing or empty".into());
        }
        let manifest = files.get("manifest.json").cloned().unwrap_or_default();
        let mut scenarios: Vec<String> = Vec::new();
        let mut ents: Vec<String> = Vec::new();
        let mut series: Bands = BTreeMap::new();
        let mut units: BTreeMap<String, String> = BTreeMap::new();
        for r in &summary {
            if !scenarios.contains(&r["scenario"]) {
                scenarios.push(r["scenario"].clone());
            }
            if !ents.contains(&r["entity"]) {
                ents.push(r["entity"].clone());
            }
            let q: [f64; 9] = std::array::from_fn(|k| f(r, QCOLS[k]));
            let year = r["year"].parse().unwrap_or(0);
            series
                .entry((r["scenario"].clone(), r["entity"].clone(), r["indicator"].clone()))
                .or_default()
                .push((year, q));
            units.insert(r["indicator"].clone(), r["unit"].clone());
        }
        Ok(Inputs {
            targets: rows(files, "targets.csv")?,
            observed: rows(files, "observed.csv")?,
            backtest: rows(files, "backtest_summary.csv")?,
            backtest_horizons: rows(files, "backtest_horizons.csv")?,
            pyramids: rows(files, "pyramids.csv")?,
            compare: rows(files, "compare.csv")?,
            entities: rows(files, "entities.csv")?,
            meta: serde_json::from_str(&manifest).unwrap_or(serde_json::Value::Null),
            manifest,
            scenarios,
            ents,
            series,
            units,
        })
    }

    /// An entity's Chinese and English names (its id when entities.csv lacks it).
    fn name_of(&self, id: &str) -> String {
        self.entities
            .iter()
            .find(|e| e["entity"] == id)
            .map_or(id.to_string(), |e| format!("{} {}", e["name_zh"], e["name_en"]))
    }

    /// A short name for chart titles: a city's Chinese and English names, the region's Chinese.
    fn short_name(&self, id: &str) -> String {
        match self.entities.iter().find(|e| e["entity"] == id) {
            Some(e) if id == "region" => e["name_zh"].clone(),
            Some(e) => format!("{} {}", e["name_zh"], e["name_en"]),
            None => id.to_string(),
        }
    }

    /// The observations of a scenario's entity and indicator (observed.csv), as chart points.
    fn observed_points(&self, scenario: &str, entity: &str, indicator: &str) -> Vec<charts::ObsPoint> {
        self.observed
            .iter()
            .filter(|r| r["scenario"] == scenario && r["entity"] == entity && r["indicator"] == indicator)
            .filter_map(|r| {
                Some(charts::ObsPoint {
                    year: r["year"].parse().ok()?,
                    value: r["value"].parse().ok()?,
                    used: r["use"] != "unused",
                })
            })
            .collect()
    }

    /// Whether the folder is a comparison's.
    fn is_compare(&self) -> bool {
        !self.compare.is_empty()
    }

    /// The year up to which the run is conditioned on observations, if it is.
    fn until(&self) -> Option<i64> {
        let m = &self.meta;
        m["history"]["until"].as_i64().or_else(|| m["scenarios"][0]["history"]["until"].as_i64())
    }

    /// Every warning the manifest records (levers moved, implausible values, target names).
    fn warnings(&self) -> Vec<String> {
        let m = &self.meta;
        let runs: Vec<&serde_json::Value> = match m["scenarios"].as_array() {
            Some(a) => a.iter().collect(),
            None => vec![m],
        };
        let mut out: Vec<String> = Vec::new();
        for r in runs {
            let lists = ["plausibility", "levers"].map(|kind| &r["warnings"][kind]);
            for list in lists.into_iter().chain([&r["history"]["conditioning"]["warnings"]]) {
                for w in list.as_array().into_iter().flatten() {
                    let w = w.as_str().unwrap_or_default().to_string();
                    if !out.contains(&w) {
                        out.push(w);
                    }
                }
            }
        }
        out.extend(
            m["comparison"]["target_warnings"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|w| w.as_str().map(String::from)),
        );
        out
    }

    /// A target's rows (one per scenario), the base's first.
    fn target_rows<'a>(&'a self, name: &str) -> Vec<&'a Row> {
        self.scenarios
            .iter()
            .filter_map(|s| self.targets.iter().find(|t| &t["scenario"] == s && t["target"] == name))
            .collect()
    }

    /// The targets' names, in the base's order.
    fn target_names(&self) -> Vec<&str> {
        let base = self.scenarios.first().map_or("", String::as_str);
        self.targets.iter().filter(|t| t["scenario"] == base).map(|t| t["target"].as_str()).collect()
    }
}

/// A target's name in words: its labels, else what it checks.
fn target_label(inp: &Inputs, t: &Row) -> String {
    let (zh, en) = (get(t, "label_zh"), get(t, "label_en"));
    let cmp = if get(t, "comparison") == "at_least" { "at least" } else { "at most" };
    let made = || {
        format!(
            "{} {} in {}: {cmp} {}",
            inp.name_of(get(t, "entity")),
            indicator_title(get(t, "indicator"))
                .split(' ')
                .skip(1)
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase(),
            get(t, "year"),
            amount(get(t, "unit"), f(t, "threshold"))
        )
    };
    match (zh.is_empty(), en.is_empty()) {
        (true, true) => made(),
        (false, true) => zh.to_string(),
        (true, false) => en.to_string(),
        (false, false) => format!("{zh} — {en}"),
    }
}

/// A change with its sign and short unit: "+1,234 亿元", "−0.52万人", "±0 亿元" (never −0).
fn signed_amount(unit: &str, v: f64) -> String {
    let n = fmt(v.abs());
    let zero = !n.chars().any(|c| ('1'..='9').contains(&c));
    let (sign, n) = if zero {
        ("±", "0".to_string())
    } else if v > 0.0 {
        ("+", n)
    } else {
        ("−", n)
    };
    let short = match unit {
        u if u.starts_with("100M CNY") => " 亿元",
        "10k persons" => "万人",
        "%" => " points",
        u if u.starts_with("CNY per person") => " 元",
        _ => "",
    };
    format!("{sign}{n}{short}")
}

/// For each alternative of a comparison, one sentence on what it changes at the horizon (paired
/// medians): the region's real GDP and population, and the city where each moves most.
fn effect_headlines(inp: &Inputs, h: &mut String) {
    for alt in &inp.scenarios[1..] {
        let rows: Vec<&Row> = inp.compare.iter().filter(|r| &r["alternative"] == alt).collect();
        let Some(year) = rows.iter().filter_map(|r| r["year"].parse::<i32>().ok()).max() else { continue };
        let year = year.to_string();
        let mut parts = Vec::new();
        for ind in ["gdp_real", "population"] {
            let at: Vec<&&Row> = rows.iter().filter(|r| r["indicator"] == ind && r["year"] == year).collect();
            let rel = |r: &Row| f(r, "diff_p50") / f(r, "base_p50");
            let Some(region) = at.iter().find(|r| r["entity"] == "region") else { continue };
            let unit = get(region, "unit");
            let mut part = format!(
                "{} of the region {} ({}%; 90% of paired draws {} to {})",
                esc(indicator_title(ind)),
                signed_amount(unit, f(region, "diff_p50")),
                fmt_signed(100.0 * rel(region)),
                signed_amount(unit, f(region, "diff_p05")),
                signed_amount(unit, f(region, "diff_p95"))
            );
            let city = at
                .iter()
                .filter(|r| r["entity"] != "region" && rel(r).is_finite())
                .max_by(|a, b| rel(a).abs().total_cmp(&rel(b).abs()));
            if let Some(c) = city.filter(|c| rel(c).abs() >= 0.0005) {
                let _ = write!(
                    part,
                    ", most in {} ({}, {}%)",
                    esc(&inp.name_of(&c["entity"])),
                    signed_amount(unit, f(c, "diff_p50")),
                    fmt_signed(100.0 * rel(c))
                );
            }
            parts.push(part);
        }
        if !parts.is_empty() {
            let _ = writeln!(
                h,
                "<li><b>{} − {}</b> in {year} (median of the paired differences): {}.</li>",
                esc(alt),
                esc(&inp.scenarios[0]),
                parts.join("; ")
            );
        }
    }
}

/// One sentence per target, in plain words: how often the draws meet it (in each scenario of a
/// comparison, with the change and the paired shares), or what was observed; in a comparison, a
/// sentence per alternative on what it changes.
fn headlines(inp: &Inputs, h: &mut String) {
    let names = inp.target_names();
    if names.is_empty() && !inp.is_compare() {
        return;
    }
    let _ = writeln!(h, "<h2>At a glance 要点</h2>\n<ul class=\"headlines\">");
    if inp.is_compare() {
        effect_headlines(inp, h);
    }
    for name in names {
        let rows = inp.target_rows(name);
        let Some(base) = rows.first() else { continue };
        let unit = get(base, "unit");
        let mut s = format!("<b>{}</b> (<code>{}</code>): ", esc(&target_label(inp, base)), esc(name));
        let status = get(base, "status");
        match status {
            "met" | "missed" => {
                let _ = write!(
                    s,
                    "{} — observed {} ({} basis)",
                    if status == "met" { "<b>met</b>" } else { "<b>missed</b>" },
                    amount(unit, f(base, "observed")),
                    esc(get(base, "basis"))
                );
                if !get(base, "observed_on_target_basis").is_empty() {
                    let _ = write!(
                        s,
                        "; on the {} basis the target was set on, {}: {}",
                        esc(get(base, "target_basis")).replace('_', "-"),
                        amount(unit, f(base, "observed_on_target_basis")),
                        esc(get(base, "status_on_target_basis"))
                    );
                }
                s.push('.');
            }
            _ => {
                if status == "not observed" {
                    let _ = write!(s, "not observed ({}); ", esc(get(base, "note")));
                }
                let p = |r: &Row| format!("{:.0}%", 100.0 * f(r, "probability"));
                if rows.len() == 1 {
                    let _ = write!(
                        s,
                        "met in <b>{}</b> of the draws (median {}).",
                        p(base),
                        amount(unit, f(base, "p50"))
                    );
                } else {
                    let _ = write!(s, "met in {} of the draws of {}", p(base), esc(get(base, "scenario")));
                    for r in &rows[1..] {
                        let delta = 100.0 * f(r, "delta");
                        let _ = write!(
                            s,
                            "; in <b>{}</b> of {} ({} points; in {:.1}% of the paired draws only {} meets it, in {:.1}% only {})",
                            p(r),
                            esc(get(r, "scenario")),
                            fmt_signed(delta),
                            100.0 * f(r, "share_alt_only"),
                            esc(get(r, "scenario")),
                            100.0 * f(r, "share_base_only"),
                            esc(get(base, "scenario"))
                        );
                    }
                    s.push('.');
                }
            }
        }
        let _ = writeln!(h, "<li>{s}</li>");
    }
    let _ = writeln!(h, "</ul>");
}

/// A change with its sign (+1.2, −0.4, 0).
fn fmt_signed(x: f64) -> String {
    let s = format!("{x:.1}");
    match s.as_str() {
        "0.0" | "-0.0" => "±0".into(),
        _ if x > 0.0 => format!("+{s}"),
        _ => s.replace('-', "−"),
    }
}

/// Fan charts (one scenario) or overlays (several) of every entity and headline indicator, with
/// the plan targets as markers and the observations as points.
fn fan_charts(inp: &Inputs) -> Result<Vec<(String, String)>, String> {
    let mut out_charts = Vec::new();
    for e in &inp.ents {
        for ind in HEADLINE {
            let fans: Vec<Fan<'_>> = inp
                .scenarios
                .iter()
                .enumerate()
                .filter_map(|(k, s)| {
                    // Every scenario after the first dashed: one drawn over an equal one shows.
                    inp.series.get(&(s.clone(), e.clone(), ind.to_string())).map(|p| Fan {
                        name: s,
                        points: p.clone(),
                        dashed: k > 0,
                    })
                })
                .collect();
            if fans.is_empty() {
                continue;
            }
            let markers: Vec<Marker<'_>> = inp
                .targets
                .iter()
                .filter(|t| t["scenario"] == inp.scenarios[0] && &t["entity"] == e && t["indicator"] == ind)
                .map(|t| Marker {
                    name: &t["target"],
                    year: t["year"].parse().unwrap_or(0),
                    threshold: f(t, "threshold"),
                })
                .collect();
            let unit = inp.units.get(ind).cloned().unwrap_or_default();
            let title = format!("{} — {}", inp.short_name(e), indicator_title(ind));
            let observed = inp.observed_points(&inp.scenarios[0], e, ind);
            let svg = charts::fan_chart(&title, &unit, &fans, &markers, &observed, false)?;
            out_charts.push((format!("fan-{e}-{ind}"), svg));
        }
    }
    Ok(out_charts)
}

/// The five cities side by side, one chart per headline indicator (the first scenario's
/// medians and 80% bands on one axis).
fn cities_charts(inp: &Inputs) -> Result<Vec<(String, String)>, String> {
    let s = &inp.scenarios[0];
    let cities: Vec<&String> = inp.ents.iter().filter(|e| *e != "region").collect();
    let mut out = Vec::new();
    for ind in HEADLINE {
        let series: Vec<(String, Series)> = cities
            .iter()
            .filter_map(|e| {
                let p = inp.series.get(&(s.clone(), e.to_string(), ind.to_string()))?;
                Some((inp.short_name(e), p.clone()))
            })
            .collect();
        if series.len() < 2 {
            continue;
        }
        let fans: Vec<Fan<'_>> =
            series.iter().map(|(n, p)| Fan { name: n, points: p.clone(), dashed: false }).collect();
        let unit = inp.units.get(ind).cloned().unwrap_or_default();
        let title = format!("{} — {}", indicator_title(ind), esc(s));
        out.push((format!("cities-{ind}"), charts::fan_chart(&title, &unit, &fans, &[], &[], false)?));
    }
    Ok(out)
}

/// The difference fan charts of a comparison: each alternative minus the base, paired.
fn difference_charts(inp: &Inputs) -> Result<Vec<(String, String)>, String> {
    let mut out_charts = Vec::new();
    let mut diff: Bands = BTreeMap::new();
    for r in &inp.compare {
        let q: [f64; 9] = std::array::from_fn(|k| f(r, DCOLS[k]));
        diff.entry((r["alternative"].clone(), r["entity"].clone(), r["indicator"].clone()))
            .or_default()
            .push((r["year"].parse().unwrap_or(0), q));
    }
    for alt in &inp.scenarios[1..] {
        for e in &inp.ents {
            for ind in HEADLINE {
                let Some(p) = diff.get(&(alt.clone(), e.clone(), ind.to_string())) else { continue };
                let name = format!("{alt} − {} (paired 配对差)", inp.scenarios[0]);
                let title = format!("{} — {}", inp.short_name(e), indicator_title(ind));
                let unit = inp.units.get(ind).cloned().unwrap_or_default();
                let svg = charts::fan_chart(
                    &title,
                    &format!("difference 差, {unit}"),
                    &[Fan { name: &name, points: p.clone(), dashed: false }],
                    &[],
                    &[],
                    true,
                )?;
                out_charts.push((format!("diff-{alt}-{e}-{ind}"), svg));
            }
        }
    }
    Ok(out_charts)
}

/// The population pyramids of the first scenario, base year vs horizon (medians).
fn pyramid_charts(inp: &Inputs) -> Result<Vec<(String, String)>, String> {
    let mut out_charts = Vec::new();
    let mut groups: Vec<String> = Vec::new();
    for r in &inp.pyramids {
        if !groups.contains(&r["age_group"]) {
            groups.push(r["age_group"].clone());
        }
    }
    let mut years: Vec<i32> = inp.pyramids.iter().filter_map(|r| r["year"].parse().ok()).collect();
    years.sort_unstable();
    years.dedup();
    if years.len() == 2 && !groups.is_empty() {
        for e in &inp.ents {
            let data = |year: i32| -> Vec<[f64; 2]> {
                groups
                    .iter()
                    .map(|g| {
                        let value = |sex: &str| {
                            inp.pyramids
                                .iter()
                                .find(|r| {
                                    r["scenario"] == inp.scenarios[0]
                                        && &r["entity"] == e
                                        && r["year"] == year.to_string()
                                        && r["sex"] == sex
                                        && &r["age_group"] == g
                                })
                                .map_or(0.0, |r| f(r, "p50"))
                        };
                        [value("female"), value("male")]
                    })
                    .collect()
            };
            let (a, b) = (data(years[0]), data(years[1]));
            let gl: Vec<&str> = groups.iter().map(String::as_str).collect();
            let title =
                format!("{} — 人口金字塔 Population pyramid {} vs {}", inp.short_name(e), years[0], years[1]);
            out_charts.push((
                format!("pyramid-{e}"),
                charts::pyramid(&title, &gl, (years[0], &a), (years[1], &b))?,
            ));
        }
    }
    Ok(out_charts)
}

/// The page's head, title, what the run is, and its warnings.
fn page_head(inp: &Inputs, h: &mut String) {
    let title = if !inp.backtest.is_empty() {
        format!("backtest: {}", inp.scenarios.join(" vs "))
    } else if inp.is_compare() {
        format!("{} vs {}", inp.scenarios[0], inp.scenarios[1..].join(", "))
    } else {
        inp.scenarios[0].clone()
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n<title>minxinan — {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(&title)
    );
    let _ = writeln!(h, "<h1>闽西南协同发展区 projections — {}</h1>", esc(&title));
    let description = inp.meta["scenario"]["description"].as_str().unwrap_or_default();
    if !description.is_empty() {
        let _ = writeln!(h, "<p class=\"lead\">{}</p>", esc(description));
    }
    let draws = inp.meta["draws"].as_u64().map_or(String::new(), |d| format!("{d} "));
    let _ = writeln!(
        h,
        "<p class=\"lead\">Medians with 90% bands (5th–95th percentiles) over {draws}Monte Carlo draws. Real values at 2018 prices; nominal GDP (the plan's GDP targets) at current prices. 中位数及90%区间。</p>"
    );
    if let (Some(until), false) = (inp.until(), inp.observed.is_empty()) {
        let _ = writeln!(
            h,
            "<p class=\"lead\">Conditioned on the official statistics up to {until} (2018 base restated on the census-revised basis): every draw passes through each observed population, urbanization rate and real growth. Observations are drawn as points — filled: used; hollow: not used (see observed.csv for why). 以{until}年及以前的统计数据为条件。</p>"
        );
    }
    let warnings = inp.warnings();
    if !warnings.is_empty() {
        let _ = writeln!(h, "<div class=\"warnings\"><b>Warnings 提示</b><ul>");
        for w in warnings {
            let _ = writeln!(h, "<li>{}</li>", esc(&w));
        }
        let _ = writeln!(h, "</ul></div>");
    }
}

/// The key figures of each scenario: 2025 and 2035 medians and 90% bands of the headline
/// indicators per entity.
fn key_figures(inp: &Inputs, h: &mut String) {
    for s in &inp.scenarios {
        let _ = writeln!(
            h,
            "<h2>Key figures 主要指标 — {}</h2>\n<table class=\"figures\">\n<tr><th>entity</th>",
            esc(s)
        );
        for ind in HEADLINE {
            let unit = inp.units.get(ind).map_or("", String::as_str);
            let _ = write!(
                h,
                "<th colspan=\"2\">{}<br><span class=\"band\">{}</span></th>",
                esc(indicator_title(ind)),
                esc(unit_words(unit))
            );
        }
        let _ =
            writeln!(h, "</tr>\n<tr><th></th>{}</tr>", "<th>2025</th><th>2035</th>".repeat(HEADLINE.len()));
        for e in &inp.ents {
            let _ = write!(h, "<tr><td>{}</td>", esc(&inp.name_of(e)));
            for ind in HEADLINE {
                for y in [2025, 2035] {
                    let cell = inp
                        .series
                        .get(&(s.clone(), e.clone(), ind.to_string()))
                        .and_then(|p| p.iter().find(|(yy, _)| *yy == y))
                        .map_or("–".to_string(), |(_, q)| {
                            format!(
                                "{} <span class=\"band\">[{} – {}]</span>",
                                fmt(q[4]),
                                fmt(q[1]),
                                fmt(q[7])
                            )
                        });
                    let _ = write!(h, "<td>{cell}</td>");
                }
            }
            let _ = writeln!(h, "</tr>");
        }
        let _ = writeln!(h, "</table>");
    }
}

/// The targets: each named in Chinese and English with its threshold in its unit, the
/// probability and median in each scenario (with the change and paired shares of an
/// alternative), and what was observed.
fn target_table(inp: &Inputs, h: &mut String) {
    let names = inp.target_names();
    if names.is_empty() {
        return;
    }
    let _ =
        writeln!(h, "<h2>Targets 规划目标</h2>\n<table>\n<tr><th>target 目标</th><th>threshold 目标值</th>");
    for s in &inp.scenarios {
        let _ = write!(h, "<th>P — {}</th><th>median — {}</th>", esc(s), esc(s));
    }
    let observed = inp.targets.iter().any(|t| t.get("status").is_some_and(|s| s != "projected"));
    if observed {
        let _ =
            write!(h, "<th>observed 实际</th><th>status 结果</th><th>on the target's basis 按目标口径</th>");
    }
    let _ = writeln!(h, "</tr>");
    for name in names {
        let rows = inp.target_rows(name);
        let Some(t) = rows.first() else { continue };
        let unit = get(t, "unit");
        let cmp = if get(t, "comparison") == "at_least" { "≥" } else { "≤" };
        let _ = write!(
            h,
            "<tr><td>{} <span class=\"band\">({}, {} {})</span></td><td>{cmp} {}</td>",
            esc(&target_label(inp, t)),
            esc(name),
            esc(get(t, "entity")),
            esc(get(t, "year")),
            esc(&amount(unit, f(t, "threshold")))
        );
        for r in &rows {
            let p = format!("{:.1}%", 100.0 * f(r, "probability"));
            let p = match r.get("delta").filter(|d| !d.is_empty()) {
                None => p,
                Some(_) => format!(
                    "{p} <span class=\"band\">({} points; only here {:.1}%, only in the base {:.1}%)</span>",
                    fmt_signed(100.0 * f(r, "delta")),
                    100.0 * f(r, "share_alt_only"),
                    100.0 * f(r, "share_base_only")
                ),
            };
            let _ = write!(h, "<td>{p}</td><td>{}</td>", esc(&amount(unit, f(r, "p50"))));
        }
        if observed {
            let value = if get(t, "observed").is_empty() {
                String::new()
            } else {
                format!(
                    "{} <span class=\"band\">({})</span>",
                    esc(&amount(unit, f(t, "observed"))),
                    esc(get(t, "basis"))
                )
            };
            let status = match get(t, "note") {
                "" => esc(get(t, "status")),
                note => format!("{} <span class=\"band\">({})</span>", esc(get(t, "status")), esc(note)),
            };
            let on_target = if get(t, "observed_on_target_basis").is_empty() {
                String::new()
            } else {
                format!(
                    "{} {} <span class=\"band\">({})</span>",
                    esc(&amount(unit, f(t, "observed_on_target_basis"))),
                    esc(get(t, "status_on_target_basis")),
                    esc(get(t, "target_basis"))
                )
            };
            let _ = write!(h, "<td>{value}</td><td>{status}</td><td>{on_target}</td>");
        }
        let _ = writeln!(h, "</tr>");
    }
    let _ = writeln!(h, "</table>");
}

/// A backtest's scores: per indicator and forecast, the observations scored, the share inside
/// each band with its 95% interval, and the mean CRPS (also relative to the naive forecast's).
fn backtest_section(inp: &Inputs, h: &mut String) {
    let until = inp.meta["backtest"]["until"].as_i64().map_or_else(|| "until".to_string(), |u| u.to_string());
    let _ = writeln!(
        h,
        "<h2>Backtest 回测: observations after {until} against forecasts made with what was known up to {until}</h2>\n<p class=\"lead\"><b>history</b>: this scenario conditioned on the observations up to {until}; <b>plan-era</b>: the same scenario without history (first-release base); <b>naive</b>: each series continuing at its last observed annual change with a random-walk spread. A well-calibrated forecast holds about 50%, 80% and 90% of the observations inside its 50%, 80% and 90% bands; a lower CRPS is better (relative to naive below 1: better than naive; for <i>all</i> indicators together, the geometric mean of the indicators' ratios, each weighted by its observations). The charts below show the history and plan-era bands with the observations as points (hollow: after {until}, not used).</p>"
    );
    let _ = writeln!(
        h,
        "<table>\n<tr><th>indicator</th><th>forecast</th><th>n</th><th>inside 50% band</th><th>inside 80% band</th><th>inside 90% band</th><th>mean CRPS</th><th>CRPS / naive</th></tr>"
    );
    let mut indicators: Vec<&str> = Vec::new();
    for r in &inp.backtest {
        if !indicators.contains(&r["indicator"].as_str()) {
            indicators.push(&r["indicator"]);
        }
    }
    for ind in indicators {
        for r in inp.backtest.iter().filter(|r| r["indicator"] == ind) {
            let cov = |b: &str| {
                let pct = |k: &str| format!("{:.0}", 100.0 * f(r, k));
                format!(
                    "{}% <span class=\"band\">[{}–{}]</span>",
                    pct(&format!("coverage{b}")),
                    pct(&format!("coverage{b}_lo")),
                    pct(&format!("coverage{b}_hi"))
                )
            };
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(ind),
                esc(&r["forecast"]),
                esc(&r["n"]),
                cov("50"),
                cov("80"),
                cov("90"),
                fmt(f(r, "mean_crps")),
                fmt(f(r, "crps_relative_to_naive"))
            );
        }
    }
    let _ = writeln!(h, "</table>");
    horizons_table(inp, &until, h);
}

/// The backtest's CRPS relative to naive by years ahead (`backtest_horizons.csv`): a row per
/// indicator and ensemble forecast, a column per horizon, the observations in brackets.
fn horizons_table(inp: &Inputs, until: &str, h: &mut String) {
    let rows: Vec<&Row> = inp.backtest_horizons.iter().filter(|r| r["forecast"] != "naive").collect();
    let horizon = |r: &Row| r["horizon"].parse::<i64>().unwrap_or(0);
    let Some(last) = rows.iter().map(|r| horizon(r)).max() else { return };
    let _ = writeln!(
        h,
        "<p class=\"lead\">The CRPS relative to naive by years ahead (an observation of {until} + k is k years ahead; the observations in brackets): where a forecast is better than naive (below 1) and where worse. Few observations a cell: read the pattern, not a single ratio.</p>\n<table>\n<tr><th>indicator</th><th>forecast</th>{}</tr>",
        (1..=last)
            .map(|k| format!("<th>{k} year{} ahead</th>", if k == 1 { "" } else { "s" }))
            .collect::<String>()
    );
    // As the summary table: each indicator's forecasts together, `all` last.
    let (mut indicators, mut forecasts): (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
    for r in &rows {
        if !indicators.contains(&r["indicator"].as_str()) {
            indicators.push(&r["indicator"]);
        }
        if !forecasts.contains(&r["forecast"].as_str()) {
            forecasts.push(&r["forecast"]);
        }
    }
    indicators.sort_by_key(|&ind| ind == "all");
    let keys = indicators.iter().flat_map(|&ind| forecasts.iter().map(move |&fc| (ind, fc)));
    for (ind, forecast) in keys {
        let cells: String = (1..=last)
            .map(|k| {
                let r = rows
                    .iter()
                    .find(|r| r["indicator"] == ind && r["forecast"] == forecast && horizon(r) == k);
                r.map_or_else(
                    || "<td></td>".to_string(),
                    |r| {
                        format!(
                            "<td>{} <span class=\"band\">({})</span></td>",
                            fmt(f(r, "crps_relative_to_naive")),
                            esc(&r["n"])
                        )
                    },
                )
            })
            .collect();
        let _ = writeln!(h, "<tr><td>{}</td><td>{}</td>{cells}</tr>", esc(ind), esc(forecast));
    }
    let _ = writeln!(h, "</table>");
}

/// What conditioning on the observed years did (docs/MODEL.md §12.5): per year the effective
/// sample size, the heaviest 1 %'s weight, the moves; each informed quantity's prior and
/// posterior (5 %, 50 %, 95 %). Absent when the draws were not conditioned.
fn conditioning_section(inp: &Inputs, h: &mut String) {
    let m = &inp.meta;
    let c = if m["history"]["conditioning"].is_object() {
        &m["history"]["conditioning"]
    } else {
        &m["scenarios"][0]["history"]["conditioning"]
    };
    let (Some(years), Some(pool)) = (c["years"].as_array(), c["pool"].as_u64()) else { return };
    let _ = writeln!(
        h,
        "<h2>Conditioning on the observed years 以观测年份为条件</h2>\n<p class=\"lead\">A pool of {pool} draws went through the observed years one at a time; each was weighted by how likely it made that year's published figures, the pool resampled and its parameters moved (docs/MODEL.md §12). The effective sample size says how many equally weighted draws the weights were worth before resampling; a year whose figures the pool could hardly produce was brought in by stages (tempering), and its effective sample size at once is shown beside.</p>\n<table>\n<tr><th>year</th><th>values scored</th><th>effective sample size</th><th>at once (tempering stages)</th><th>weight of the heaviest 1 %</th><th>move sweeps</th><th>accepted</th><th>distinct after the moves</th></tr>"
    );
    for y in years {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{:.0} ({:.1}%)</td><td>{}</td><td>{:.1}%</td><td>{}</td><td>{:.0}%</td><td>{}</td></tr>",
            y["year"],
            y["values_scored"],
            y["ess"].as_f64().unwrap_or(f64::NAN),
            100.0 * y["ess"].as_f64().unwrap_or(f64::NAN) / pool as f64,
            match y["tempering_stages"].as_u64() {
                Some(k) if k > 0 => format!("{:.0} ({k})", y["ess_at_once"].as_f64().unwrap_or(f64::NAN)),
                _ => "–".to_string(),
            },
            100.0 * y["top1_weight_share"].as_f64().unwrap_or(f64::NAN),
            y["move_sweeps"],
            100.0 * y["acceptance"].as_f64().unwrap_or(f64::NAN),
            y["distinct_after_moves"]
        );
    }
    let _ = writeln!(h, "</table>");
    if let Some(n) = c["prices"]["deflators_scored"].as_u64() {
        let _ = writeln!(
            h,
            "<p>Prices 价格: the {n} yearly GDP deflators that two successive years of published nominal GDP and real growth imply were scored against the region's price growth apart from the weights (nothing real depends on prices): the mean deflator <code>inflation_mean</code> was drawn from its posterior ({} steps a draw, {:.0}% accepted), then each observed year's price shock (docs/MODEL.md §12.1b).</p>",
            c["prices"]["sampler_steps"],
            100.0 * c["prices"]["acceptance"].as_f64().unwrap_or(f64::NAN)
        );
    }
    let levels: Vec<String> = c["births_level"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| {
            // Rounded to whole per cents, without the sign of a zero.
            let pct = (100.0 * (b["median_factor"].as_f64()? - 1.0)).round();
            Some(format!(
                "{} {}%",
                b["year"],
                if pct == 0.0 { "0".to_string() } else { format!("{pct:+.0}") }
            ))
        })
        .collect();
    if !levels.is_empty() {
        let _ = writeln!(
            h,
            "<p>Births 出生: the published birth and death rates weighted the draws, and each observed year's shock to the births' level was drawn given the year's birth rates (docs/MODEL.md §12.4). The draws' births against their fertility path (median): {}. After the last observed year the shock fades as <code>fertility_persistence</code> sets.</p>",
            levels.join(", ")
        );
    }
    let _ = writeln!(
        h,
        "<h3>What the observations say of the parameters 参数的先验与后验</h3>\n<table>\n<tr><th>quantity</th><th>prior 5% · 50% · 95%</th><th>posterior 5% · 50% · 95%</th><th>posterior spread / prior spread</th><th>prior (grey) and posterior (blue), 90% and median</th></tr>"
    );
    for p in c["posterior"].as_array().into_iter().flatten() {
        let q = |k: &str| -> Vec<f64> {
            p[k].as_array().into_iter().flatten().filter_map(serde_json::Value::as_f64).collect()
        };
        let (a, b) = (q("prior_p05_p50_p95"), q("posterior_p05_p50_p95"));
        if a.len() != 3 || b.len() != 3 {
            continue;
        }
        let four = |x: &f64| {
            let t = format!("{x:.4}");
            // A value that rounds to zero is written without its sign.
            if t.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') {
                t.trim_start_matches('-').to_string()
            } else {
                t
            }
        };
        let three = |v: &[f64]| v.iter().map(four).collect::<Vec<_>>().join(" · ");
        let ratio = if a[2] > a[0] { format!("{:.2}", (b[2] - b[0]) / (a[2] - a[0])) } else { "–".into() };
        let _ = writeln!(
            h,
            "<tr><td class=\"l\"><code>{}</code></td><td>{}</td><td>{}</td><td>{ratio}</td><td>{}</td></tr>",
            esc(p["name"].as_str().unwrap_or_default()),
            three(&a),
            three(&b),
            interval_chart(&a, &b)
        );
    }
    let _ = writeln!(h, "</table>");
}

/// A small inline chart of a prior's and a posterior's 90 % intervals and medians (5 %, 50 %,
/// 95 % each), on the scale of both.
fn interval_chart(prior: &[f64], post: &[f64]) -> String {
    let lo = prior[0].min(post[0]);
    let hi = prior[2].max(post[2]);
    let (w, pad) = (220.0, 6.0);
    let x = |v: f64| if hi > lo { pad + (w - 2.0 * pad) * (v - lo) / (hi - lo) } else { w / 2.0 };
    let line = |q: &[f64], y: f64, colour: &str| {
        format!(
            "<line x1=\"{:.1}\" y1=\"{y}\" x2=\"{:.1}\" y2=\"{y}\" stroke=\"{colour}\" stroke-width=\"4\"/><circle cx=\"{:.1}\" cy=\"{y}\" r=\"4\" fill=\"{colour}\"/>",
            x(q[0]),
            x(q[2]),
            x(q[1])
        )
    };
    format!(
        "<svg width=\"{w}\" height=\"26\" viewBox=\"0 0 {w} 26\" role=\"img\" aria-label=\"prior and posterior\">{}{}</svg>",
        line(prior, 8.0, "#a0a0a0"),
        line(post, 18.0, "#0072b2")
    )
}

/// A comparison's paired differences in 2025, 2030 and 2035 of every headline indicator, per
/// alternative, with units.
fn difference_tables(inp: &Inputs, h: &mut String) {
    const YEARS: [&str; 3] = ["2025", "2030", "2035"];
    for alt in &inp.scenarios[1..] {
        let _ = writeln!(
            h,
            "<h2>Difference 差异: {} − {} (paired draws 配对抽样)</h2>\n<table>\n<tr><th>entity</th><th>indicator (unit)</th>{}<th>P(higher) 2035</th></tr>",
            esc(alt),
            esc(&inp.scenarios[0]),
            YEARS.map(|y| format!("<th>{y}: median [90% band]</th>")).concat()
        );
        for e in &inp.ents {
            for ind in HEADLINE {
                let row = |y: &str| {
                    inp.compare.iter().find(|r| {
                        &r["alternative"] == alt
                            && &r["entity"] == e
                            && r["indicator"] == ind
                            && r["year"] == y
                    })
                };
                let Some(last) = row("2035") else { continue };
                let unit = inp.units.get(ind).map_or("", String::as_str);
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td class=\"l\">{} <span class=\"band\">({})</span></td>",
                    esc(&inp.name_of(e)),
                    esc(indicator_title(ind)),
                    esc(unit_words(unit))
                );
                for y in YEARS {
                    let cell = row(y).map_or("–".into(), |r| {
                        format!(
                            "{} <span class=\"band\">[{} – {}]</span>",
                            fmt(f(r, "diff_p50")),
                            fmt(f(r, "diff_p05")),
                            fmt(f(r, "diff_p95"))
                        )
                    });
                    let _ = write!(h, "<td>{cell}</td>");
                }
                let _ = writeln!(h, "<td>{:.1}%</td></tr>", 100.0 * f(last, "prob_alt_higher"));
            }
        }
        let _ = writeln!(h, "</table>");
    }
}

/// The charts whose names `pick` chooses, under a heading.
fn figures(h: &mut String, heading: &str, charts: &[(String, String)], pick: impl Fn(&str) -> bool) {
    let chosen: Vec<&(String, String)> = charts.iter().filter(|(n, _)| pick(n)).collect();
    if chosen.is_empty() {
        return;
    }
    let _ = writeln!(h, "<h2>{heading}</h2>\n<div class=\"charts\">");
    for (name, svg) in chosen {
        let body = svg.find("<svg").map_or(svg.as_str(), |i| &svg[i..]);
        let _ = writeln!(h, "<figure class=\"chart\" id=\"{}\">{body}</figure>", esc(name));
    }
    let _ = writeln!(h, "</div>");
}

/// The run's manifest, collapsed, and the page's end.
fn page_end(inp: &Inputs, h: &mut String) {
    let _ = writeln!(
        h,
        "<details class=\"manifest\"><summary>Run manifest 运行记录 (manifest.json: engine, scenario, seed, parameters, diagnostics, history)</summary>\n<pre>{}</pre></details>",
        esc(&inp.manifest)
    );
    let _ = writeln!(h, "</body>\n</html>");
}

pub(super) const CSS: &str = "body{font-family:system-ui,-apple-system,'Noto Sans CJK SC','WenQuanYi Zen Hei','Microsoft YaHei',sans-serif;margin:24px auto;max-width:1600px;color:#222;padding:0 16px;font-size:15px}\
h1{font-size:26px}h2{font-size:20px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}\
.lead{color:#444;max-width:1100px}table{border-collapse:collapse;font-size:14px;margin:8px 0}\
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right;vertical-align:top}td.l{text-align:left}th{background:#f3f5f8}td:first-child,th:first-child{text-align:left}\
table.figures{font-size:13px}.band{color:#666;font-size:12px}ul.headlines li{margin:6px 0;max-width:1200px}\
.warnings{background:#fff8e1;border:1px solid #e0c060;padding:8px 12px;margin:12px 0;max-width:1200px}.warnings li{font-size:13px}\
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(640px,1fr));gap:12px}\
figure.chart{margin:0;border:1px solid #e5e5e5;background:#fff}figure.chart svg{width:100%;height:auto;display:block}\
details.manifest{margin-top:32px}details.manifest pre{background:#f7f7f7;padding:12px;font-size:12px;max-height:500px;overflow:auto}";
