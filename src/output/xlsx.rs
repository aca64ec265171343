//! `results.xlsx` (`--xlsx`): a workbook for policy staff, built like the report from the output
//! files alone: a sheet of the targets, one wide sheet per headline indicator (entities × years:
//! the median with its 90% band, each scenario of a comparison in turn), and for a comparison the
//! paired differences. Chinese and English names, units in the headers, frozen header rows and
//! the number formats of each indicator.

use super::report::Files;
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};
use std::collections::BTreeMap;

type Row = BTreeMap<String, String>;

/// The headline indicators, with their sheet names (≤ 31 characters) and number formats.
const HEADLINE: [(&str, &str, &str); 5] = [
    ("population", "Population 常住人口", "#,##0.0"),
    ("urbanization_rate", "Urbanization 城镇化率", "0.00"),
    ("gdp_real", "Real GDP 实际GDP", "#,##0"),
    ("gdp_nominal", "Nominal GDP 名义GDP", "#,##0"),
    ("gdp_per_capita", "GDP per capita 人均GDP", "#,##0"),
];

fn rows(files: &Files, name: &str) -> Result<Vec<Row>, String> {
    let Some(text) = files.get(name) else { return Ok(Vec::new()) };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    rdr.deserialize().map(|r| r.map_err(|e| format!("{name}: {e}"))).collect()
}

fn num(r: &Row, k: &str) -> Option<f64> {
    r.get(k).and_then(|v| v.parse().ok()).filter(|v: &f64| v.is_finite())
}

fn err(e: XlsxError) -> String {
    format!("results.xlsx: {e}")
}

/// The workbook of an output folder's files (summary.csv required).
pub fn build(files: &Files) -> Result<Vec<u8>, String> {
    let summary = rows(files, "summary.csv")?;
    if summary.is_empty() {
        return Err("summary.csv is missing or empty".into());
    }
    let names: BTreeMap<String, String> = rows(files, "entities.csv")?
        .into_iter()
        .map(|e| (e["entity"].clone(), format!("{} {}", e["name_zh"], e["name_en"])))
        .collect();
    let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold().set_text_wrap();
    targets_sheet(wb.add_worksheet(), &rows(files, "targets.csv")?, &name, &bold)?;
    let mut scenarios: Vec<String> = Vec::new();
    for r in &summary {
        if !scenarios.contains(&r["scenario"]) {
            scenarios.push(r["scenario"].clone());
        }
    }
    for (ind, sheet, fmt) in HEADLINE {
        let series: Vec<&Row> = summary.iter().filter(|r| r["indicator"] == ind).collect();
        if series.is_empty() {
            continue;
        }
        let ws = wb.add_worksheet();
        ws.set_name(sheet).map_err(err)?;
        wide_sheet(
            ws,
            &series,
            &scenarios,
            &name,
            &bold,
            &Format::new().set_num_format(fmt),
            ["p50", "p05", "p95"],
        )?;
    }
    let compare = rows(files, "compare.csv")?;
    if !compare.is_empty() {
        let ws = wb.add_worksheet();
        ws.set_name("Differences 配对差").map_err(err)?;
        differences_sheet(ws, &compare, &name, &bold)?;
    }
    wb.save_to_buffer().map_err(err)
}

/// The targets, one row per scenario and target, with their probability, median and (history
/// mode, a comparison) the observed status and the paired columns.
fn targets_sheet(
    ws: &mut Worksheet,
    targets: &[Row],
    name: &dyn Fn(&str) -> String,
    bold: &Format,
) -> Result<(), String> {
    ws.set_name("Targets 目标").map_err(err)?;
    let cols: [(&str, &str, f64); 16] = [
        ("scenario", "scenario 情景", 16.0),
        ("target", "target 目标", 24.0),
        ("label_zh", "目标 (规划表述)", 36.0),
        ("label_en", "target (label)", 36.0),
        ("entity", "entity 地区", 24.0),
        ("year", "year 年", 7.0),
        ("indicator", "indicator 指标", 18.0),
        ("comparison", "comparison", 10.0),
        ("threshold", "threshold 目标值", 12.0),
        ("unit", "unit 单位", 16.0),
        ("probability", "probability 达成概率", 12.0),
        ("p50", "median 中位数", 12.0),
        ("observed", "observed 实际", 12.0),
        ("status", "status 结果", 14.0),
        ("delta", "change vs base 概率变化", 12.0),
        ("note", "note", 30.0),
    ];
    let pct = Format::new().set_num_format("0.0%");
    let plain = Format::new().set_num_format("#,##0.00");
    for (c, (_, head, width)) in cols.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *head, bold).map_err(err)?;
        ws.set_column_width(c as u16, *width).map_err(err)?;
    }
    for (i, t) in targets.iter().enumerate() {
        let r = i as u32 + 1;
        for (c, (key, _, _)) in cols.iter().enumerate() {
            let c = c as u16;
            let text = t.get(*key).map(String::as_str).unwrap_or("");
            match *key {
                "probability" | "delta" => {
                    if let Some(v) = num(t, key) {
                        ws.write_number_with_format(r, c, v, &pct).map_err(err)?;
                    }
                }
                "threshold" | "p50" | "observed" => {
                    if let Some(v) = num(t, key) {
                        ws.write_number_with_format(r, c, v, &plain).map_err(err)?;
                    }
                }
                "year" => {
                    if let Some(v) = num(t, key) {
                        ws.write_number(r, c, v).map_err(err)?;
                    }
                }
                "entity" => {
                    ws.write_string(r, c, name(text)).map_err(err)?;
                }
                _ => {
                    ws.write_string(r, c, text).map_err(err)?;
                }
            }
        }
    }
    ws.set_freeze_panes(1, 2).map_err(err)?;
    Ok(())
}

/// One indicator: for each scenario and entity, its median and 90% band (rows) by year
/// (columns); `stats` names the three quantile columns of `series`.
fn wide_sheet(
    ws: &mut Worksheet,
    series: &[&Row],
    scenarios: &[String],
    name: &dyn Fn(&str) -> String,
    bold: &Format,
    fmt: &Format,
    stats: [&str; 3],
) -> Result<(), String> {
    let unit = series[0].get("unit").cloned().unwrap_or_default();
    let mut years: Vec<i32> = series.iter().filter_map(|r| r["year"].parse().ok()).collect();
    years.sort_unstable();
    years.dedup();
    let heads = ["scenario 情景", "entity 地区", &format!("statistic ({unit})")];
    for (c, h) in heads.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, bold).map_err(err)?;
    }
    for (k, y) in years.iter().enumerate() {
        ws.write_number_with_format(0, 3 + k as u16, f64::from(*y), bold).map_err(err)?;
    }
    ws.set_column_width(0, 18.0).map_err(err)?;
    ws.set_column_width(1, 26.0).map_err(err)?;
    ws.set_column_width(2, 22.0).map_err(err)?;
    let labels = ["median 中位数", "5th percentile 5%分位", "95th percentile 95%分位"];
    let mut r = 1;
    for s in scenarios {
        let mut entities: Vec<&str> = Vec::new();
        for row in series.iter().filter(|x| &x["scenario"] == s) {
            if !entities.contains(&row["entity"].as_str()) {
                entities.push(&row["entity"]);
            }
        }
        for e in entities {
            for (stat, label) in stats.iter().zip(labels) {
                ws.write_string(r, 0, s).map_err(err)?;
                ws.write_string(r, 1, name(e)).map_err(err)?;
                ws.write_string(r, 2, label).map_err(err)?;
                for (k, y) in years.iter().enumerate() {
                    let cell = series
                        .iter()
                        .find(|x| &x["scenario"] == s && x["entity"] == e && x["year"] == y.to_string());
                    if let Some(v) = cell.and_then(|x| num(x, stat)) {
                        ws.write_number_with_format(r, 3 + k as u16, v, fmt).map_err(err)?;
                    }
                }
                r += 1;
            }
        }
    }
    ws.set_freeze_panes(1, 3).map_err(err)?;
    Ok(())
}

/// A comparison's paired differences (alternative − base) of the headline indicators: the
/// median difference and its 90% band by year.
fn differences_sheet(
    ws: &mut Worksheet,
    compare: &[Row],
    name: &dyn Fn(&str) -> String,
    bold: &Format,
) -> Result<(), String> {
    let mut years: Vec<i32> = compare.iter().filter_map(|r| r["year"].parse().ok()).collect();
    years.sort_unstable();
    years.dedup();
    for (c, h) in
        ["alternative − base 情景差", "entity 地区", "indicator (unit) 指标", "statistic"].iter().enumerate()
    {
        ws.write_string_with_format(0, c as u16, *h, bold).map_err(err)?;
    }
    for (k, y) in years.iter().enumerate() {
        ws.write_number_with_format(0, 4 + k as u16, f64::from(*y), bold).map_err(err)?;
    }
    for (c, w) in [(0, 28.0), (1, 26.0), (2, 34.0), (3, 22.0)] {
        ws.set_column_width(c, w).map_err(err)?;
    }
    let fmt = Format::new().set_num_format("#,##0.00");
    let mut groups: Vec<(String, String, String, String, String)> = Vec::new();
    for r in compare {
        let key = (
            r["base"].clone(),
            r["alternative"].clone(),
            r["entity"].clone(),
            r["indicator"].clone(),
            r["unit"].clone(),
        );
        if HEADLINE.iter().any(|(i, _, _)| *i == r["indicator"]) && !groups.contains(&key) {
            groups.push(key);
        }
    }
    let mut row = 1;
    for (base, alt, e, ind, unit) in &groups {
        for (stat, label) in
            [("diff_p50", "median 中位数"), ("diff_p05", "5th percentile"), ("diff_p95", "95th percentile")]
        {
            ws.write_string(row, 0, format!("{alt} − {base}")).map_err(err)?;
            ws.write_string(row, 1, name(e)).map_err(err)?;
            ws.write_string(row, 2, format!("{ind} ({unit})")).map_err(err)?;
            ws.write_string(row, 3, label).map_err(err)?;
            for (k, y) in years.iter().enumerate() {
                let cell = compare.iter().find(|r| {
                    &r["alternative"] == alt
                        && &r["entity"] == e
                        && &r["indicator"] == ind
                        && r["year"] == y.to_string()
                });
                // No negative zero: −0.0 is written as 0.
                if let Some(v) = cell.and_then(|r| num(r, stat)) {
                    ws.write_number_with_format(row, 4 + k as u16, v + 0.0, &fmt).map_err(err)?;
                }
            }
            row += 1;
        }
    }
    ws.set_freeze_panes(1, 4).map_err(err)?;
    Ok(())
}
