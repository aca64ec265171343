//! `report.html`: one self-contained page (inline SVG and CSS, no script, nothing from the
//! network) built from a run's or a comparison's output files, so that `minxinan report DIR`
//! rebuilds it from the folder alone. It holds a summary table (2025 and 2035: median and 90% band
//! of GDP, population and urbanization per city and region), the plan targets' probabilities, the
//! charts, the paired-difference table of a comparison, and the run's manifest.

use super::charts::{self, Fan, Marker};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The output files a report is built from (file name → text).
pub type Files = BTreeMap<String, String>;

/// The files of an output folder a report reads (those present).
pub const INPUTS: [&str; 8] = [
    "summary.csv",
    "targets.csv",
    "pyramids.csv",
    "compare.csv",
    "entities.csv",
    "observed.csv",
    "backtest_summary.csv",
    "manifest.json",
];

/// A built report: the HTML and the charts it inlines (name, SVG).
pub struct Report {
    /// The page.
    pub html: String,
    /// The charts, also written to `charts/NAME.svg`.
    pub charts: Vec<(String, String)>,
}

type Row = BTreeMap<String, String>;
/// (scenario or alternative, entity, indicator) → [(year, the nine quantiles)].
type Bands = BTreeMap<(String, String, String), Vec<(i32, [f64; 9])>>;

fn rows(files: &Files, name: &str) -> Result<Vec<Row>, String> {
    let Some(text) = files.get(name) else { return Ok(Vec::new()) };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    rdr.deserialize().map(|r| r.map_err(|e| format!("{name}: {e}"))).collect()
}

fn f(r: &Row, k: &str) -> f64 {
    r.get(k).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
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

/// Chinese and English names of the charted indicators.
fn indicator_title(ind: &str) -> &'static str {
    match ind {
        "population" => "常住人口 Resident population",
        "urbanization_rate" => "城镇化率 Urbanization rate",
        "gdp_real" => "实际GDP Real GDP",
        "gdp_nominal" => "名义GDP Nominal GDP",
        "gdp_per_capita" => "人均GDP GDP per capita",
        "gdp_assessment" => "考核GDP Assessment GDP",
        _ => "",
    }
}

const CHARTED: [&str; 5] = ["population", "urbanization_rate", "gdp_real", "gdp_nominal", "gdp_per_capita"];
const DIFFED: [&str; 3] = ["gdp_real", "population", "urbanization_rate"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn fmt(x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    let a = x.abs();
    if a >= 100.0 {
        charts::fmt_tick(x)
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// Build the report from the files of an output folder.
pub fn build(files: &Files) -> Result<Report, String> {
    let inp = Inputs::read(files)?;
    let mut charts = fan_charts(&inp)?;
    if inp.is_compare() {
        charts.extend(difference_charts(&inp)?);
    }
    charts.extend(pyramid_charts(&inp)?);
    let mut h = String::new();
    page_head(&inp, &mut h);
    if !inp.backtest.is_empty() {
        backtest_section(&inp, &mut h);
    }
    key_figures(&inp, &mut h);
    target_table(&inp, &mut h);
    if inp.is_compare() {
        difference_tables(&inp, &mut h);
    }
    page_end(&inp, &charts, &mut h);
    Ok(Report { html: h, charts })
}

/// An output folder's files as the report reads them.
struct Inputs {
    targets: Vec<Row>,
    observed: Vec<Row>,
    backtest: Vec<Row>,
    pyramids: Vec<Row>,
    compare: Vec<Row>,
    entities: Vec<Row>,
    manifest: String,
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
        let targets = rows(files, "targets.csv")?;
        let observed = rows(files, "observed.csv")?;
        let backtest = rows(files, "backtest_summary.csv")?;
        let pyramids = rows(files, "pyramids.csv")?;
        let compare = rows(files, "compare.csv")?;
        let entities = rows(files, "entities.csv")?;
        let manifest = files.get("manifest.json").cloned().unwrap_or_default();
        let mut scenarios: Vec<String> = Vec::new();
        let mut ents: Vec<String> = Vec::new();
        for r in &summary {
            if !scenarios.contains(&r["scenario"]) {
                scenarios.push(r["scenario"].clone());
            }
            if !ents.contains(&r["entity"]) {
                ents.push(r["entity"].clone());
            }
        }
        // (scenario, entity, indicator) → [(year, q)], and the unit of each indicator.
        let mut series: Bands = BTreeMap::new();
        let mut units: BTreeMap<String, String> = BTreeMap::new();
        for r in &summary {
            let q: [f64; 9] = std::array::from_fn(|k| f(r, QCOLS[k]));
            let year = r["year"].parse().unwrap_or(0);
            series
                .entry((r["scenario"].clone(), r["entity"].clone(), r["indicator"].clone()))
                .or_default()
                .push((year, q));
            units.insert(r["indicator"].clone(), r["unit"].clone());
        }
        Ok(Inputs {
            targets,
            observed,
            backtest,
            pyramids,
            compare,
            entities,
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
}

/// Fan charts (one scenario) or overlays (several) of every entity and charted indicator, with
/// the plan targets as markers.
fn fan_charts(inp: &Inputs) -> Result<Vec<(String, String)>, String> {
    let mut out_charts = Vec::new();
    for e in &inp.ents {
        for ind in CHARTED {
            let fans: Vec<Fan<'_>> = inp
                .scenarios
                .iter()
                .filter_map(|s| {
                    inp.series
                        .get(&(s.clone(), e.clone(), ind.to_string()))
                        .map(|p| Fan { name: s, points: p.clone() })
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
            let title = format!("{} — {}", inp.name_of(e), indicator_title(ind));
            let observed = inp.observed_points(&inp.scenarios[0], e, ind);
            let svg = charts::fan_chart(&title, &unit, &fans, &markers, &observed, false)?;
            out_charts.push((format!("fan-{e}-{ind}"), svg));
        }
    }
    Ok(out_charts)
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
            for ind in DIFFED {
                let Some(p) = diff.get(&(alt.clone(), e.clone(), ind.to_string())) else { continue };
                let name = format!("{alt} − {}", inp.scenarios[0]);
                let title = format!("{} — {}: {name} (paired 配对差)", inp.name_of(e), indicator_title(ind));
                let unit = inp.units.get(ind).cloned().unwrap_or_default();
                let svg = charts::fan_chart(
                    &title,
                    &format!("difference 差, {unit}"),
                    &[Fan { name: &name, points: p.clone() }],
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
    let groups: Vec<String> = {
        let mut g: Vec<String> = Vec::new();
        for r in &inp.pyramids {
            if !g.contains(&r["age_group"]) {
                g.push(r["age_group"].clone());
            }
        }
        g
    };
    let years: Vec<i32> = {
        let mut y: Vec<i32> = inp.pyramids.iter().filter_map(|r| r["year"].parse().ok()).collect();
        y.sort_unstable();
        y.dedup();
        y
    };
    if years.len() == 2 && !groups.is_empty() {
        for e in &inp.ents {
            let data = |year: i32| -> Vec<[f64; 2]> {
                groups
                    .iter()
                    .map(|g| {
                        let get = |sex: &str| {
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
                        [get("female"), get("male")]
                    })
                    .collect()
            };
            let (a, b) = (data(years[0]), data(years[1]));
            let gl: Vec<&str> = groups.iter().map(String::as_str).collect();
            let title =
                format!("{} — 人口金字塔 Population pyramid {} vs {}", inp.name_of(e), years[0], years[1]);
            out_charts.push((
                format!("pyramid-{e}"),
                charts::pyramid(&title, &gl, (years[0], &a), (years[1], &b))?,
            ));
        }
    }
    Ok(out_charts)
}

/// The page's head, title and lead.
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
    let _ = writeln!(
        h,
        "<p class=\"lead\">Medians with 90% bands (5th–95th percentiles) over the Monte Carlo draws. Real values at 2018 prices. 中位数及90%区间。</p>"
    );
    let until = serde_json::from_str::<serde_json::Value>(&inp.manifest).ok().and_then(|m| {
        let one = m["history"]["until"].as_i64();
        one.or_else(|| m["scenarios"][0]["history"]["until"].as_i64())
    });
    if let (Some(until), false) = (until, inp.observed.is_empty()) {
        let _ = writeln!(
            h,
            "<p class=\"lead\">Conditioned on the official statistics up to {until} (2018 base restated on the census-revised basis): every draw passes through each observed population, urbanization rate and real growth. Observations are drawn as points — filled: used; hollow: not used (see observed.csv for why). 以{until}年及以前的统计数据为条件。</p>"
        );
    }
}

/// The key figures of each scenario: 2025 and 2035 medians and 90% bands of real GDP,
/// population and urbanization per entity.
fn key_figures(inp: &Inputs, h: &mut String) {
    for s in &inp.scenarios {
        let _ = writeln!(h, "<h2>Key figures 主要指标 — {}</h2>\n<table>\n<tr><th>entity</th>", esc(s));
        for (ind, label) in [
            ("gdp_real", "real GDP, 100M CNY"),
            ("population", "population, 10k"),
            ("urbanization_rate", "urbanization, %"),
        ] {
            for y in [2025, 2035] {
                let _ = write!(h, "<th>{label} {y}</th>");
            }
            let _ = ind;
        }
        let _ = writeln!(h, "</tr>");
        for e in &inp.ents {
            let _ = write!(h, "<tr><td>{}</td>", esc(&inp.name_of(e)));
            for ind in ["gdp_real", "population", "urbanization_rate"] {
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

/// The plan targets' probabilities and medians, the scenarios side by side.
fn target_table(inp: &Inputs, h: &mut String) {
    if !inp.targets.is_empty() {
        let _ = writeln!(
            h,
            "<h2>Plan targets 规划目标: probability of meeting each</h2>\n<table>\n<tr><th>target</th><th>entity</th><th>year</th><th>indicator</th><th>threshold</th>"
        );
        for s in &inp.scenarios {
            let _ = write!(h, "<th>P — {}</th><th>median — {}</th>", esc(s), esc(s));
        }
        let observed = inp.targets.iter().any(|t| t.get("status").is_some_and(|s| s != "projected"));
        if observed {
            let _ = write!(
                h,
                "<th>observed 实际</th><th>status 结果</th><th>on the target's basis 按目标口径</th>"
            );
        }
        let _ = writeln!(h, "</tr>");
        let names: Vec<&Row> = inp.targets.iter().filter(|t| t["scenario"] == inp.scenarios[0]).collect();
        for t in names {
            let cmp = if t["comparison"] == "at_least" { "≥" } else { "≤" };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{cmp} {}</td>",
                esc(&t["target"]),
                esc(&t["entity"]),
                esc(&t["year"]),
                esc(&t["indicator"]),
                fmt(f(t, "threshold"))
            );
            for s in &inp.scenarios {
                let r = inp.targets.iter().find(|x| &x["scenario"] == s && x["target"] == t["target"]);
                let p = r.map_or("–".into(), |r| {
                    let p = format!("{:.1}%", 100.0 * f(r, "probability"));
                    match r.get("delta").filter(|d| !d.is_empty()) {
                        None => p,
                        Some(_) => format!(
                            "{p} <span class=\"band\">({:+.1} points; only here {:.1}%, only in the base {:.1}%)</span>",
                            100.0 * f(r, "delta") + 0.0,
                            100.0 * f(r, "share_alt_only"),
                            100.0 * f(r, "share_base_only")
                        ),
                    }
                });
                let _ = write!(h, "<td>{p}</td><td>{}</td>", r.map_or("–".into(), |r| fmt(f(r, "p50"))));
            }
            if observed {
                let get = |k: &str| t.get(k).cloned().unwrap_or_default();
                let value = if get("observed").is_empty() {
                    String::new()
                } else {
                    format!("{} <span class=\"band\">({})</span>", fmt(f(t, "observed")), esc(&get("basis")))
                };
                let status = match get("note").as_str() {
                    "" => esc(&get("status")),
                    note => format!("{} <span class=\"band\">({})</span>", esc(&get("status")), esc(note)),
                };
                let on_target = if get("observed_on_target_basis").is_empty() {
                    String::new()
                } else {
                    format!(
                        "{} {} <span class=\"band\">({})</span>",
                        fmt(f(t, "observed_on_target_basis")),
                        esc(&get("status_on_target_basis")),
                        esc(&get("target_basis"))
                    )
                };
                let _ = write!(h, "<td>{value}</td><td>{status}</td><td>{on_target}</td>");
            }
            let _ = writeln!(h, "</tr>");
        }
        let _ = writeln!(h, "</table>");
    }
}

/// A backtest's scores: per indicator and forecast, the observations scored, the share inside
/// each band with its 95% interval, and the mean CRPS (also relative to the naive forecast's).
fn backtest_section(inp: &Inputs, h: &mut String) {
    let until = serde_json::from_str::<serde_json::Value>(&inp.manifest)
        .ok()
        .and_then(|m| m["backtest"]["until"].as_i64())
        .map_or_else(|| "until".to_string(), |u| u.to_string());
    let _ = writeln!(
        h,
        "<h2>Backtest 回测: observations after {until} against forecasts made with what was known up to {until}</h2>\n<p class=\"lead\"><b>history</b>: this scenario conditioned on the observations up to {until}; <b>plan-era</b>: the same scenario without history (first-release base); <b>naive</b>: each series continuing at its last observed annual change with a random-walk spread. A well-calibrated forecast holds about 50%, 80% and 90% of the observations inside its 50%, 80% and 90% bands; a lower CRPS is better (relative to naive below 1: better than naive). The charts below show the history and plan-era bands with the observations as points (hollow: after {until}, not used).</p>"
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
}

/// A comparison's paired differences in 2035, per alternative.
fn difference_tables(inp: &Inputs, h: &mut String) {
    for alt in &inp.scenarios[1..] {
        let _ = writeln!(
            h,
            "<h2>Difference 差异: {} − {} (paired draws 配对抽样), 2035</h2>\n<table>\n<tr><th>entity</th><th>indicator</th><th>base median</th><th>alternative median</th><th>difference median [90% band]</th><th>P(alternative higher)</th></tr>",
            esc(alt),
            esc(&inp.scenarios[0])
        );
        for e in &inp.ents {
            for ind in DIFFED {
                if let Some(r) = inp.compare.iter().find(|r| {
                    &r["alternative"] == alt
                        && &r["entity"] == e
                        && r["indicator"] == ind
                        && r["year"] == "2035"
                }) {
                    let _ = writeln!(
                        h,
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} <span class=\"band\">[{} – {}]</span></td><td>{:.1}%</td></tr>",
                        esc(&inp.name_of(e)),
                        esc(indicator_title(ind)),
                        fmt(f(r, "base_p50")),
                        fmt(f(r, "alt_p50")),
                        fmt(f(r, "diff_p50")),
                        fmt(f(r, "diff_p05")),
                        fmt(f(r, "diff_p95")),
                        100.0 * f(r, "prob_alt_higher")
                    );
                }
            }
        }
        let _ = writeln!(h, "</table>");
    }
}

/// The charts and the run's manifest, and the page's end.
fn page_end(inp: &Inputs, charts: &[(String, String)], h: &mut String) {
    let _ = writeln!(h, "<h2>Charts 图表</h2>\n<div class=\"charts\">");
    for (name, svg) in charts {
        let body = svg.find("<svg").map_or(svg.as_str(), |i| &svg[i..]);
        let _ = writeln!(h, "<figure class=\"chart\" id=\"{}\">{body}</figure>", esc(name));
    }
    let _ = writeln!(h, "</div>");
    let _ =
        writeln!(h, "<h2>Run manifest 运行记录</h2>\n<pre class=\"manifest\">{}</pre>", esc(&inp.manifest));
    let _ = writeln!(h, "</body>\n</html>");
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:24px auto;max-width:1600px;color:#222;padding:0 16px}\
h1{font-size:24px}h2{font-size:19px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}\
.lead{color:#555}table{border-collapse:collapse;font-size:13px;margin:8px 0}\
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}th{background:#f3f5f8}td:first-child,th:first-child{text-align:left}\
.band{color:#777;font-size:12px}.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:12px}\
figure.chart{margin:0;border:1px solid #e5e5e5;background:#fff}figure.chart svg{width:100%;height:auto;display:block}\
pre.manifest{background:#f7f7f7;padding:12px;font-size:11px;max-height:400px;overflow:auto}";
