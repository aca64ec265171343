//! The report reads top down: what a reader of a run or a comparison finds, in which order, with
//! which words, units and charts (issue 22). The pictures themselves are looked at in Chromium
//! (tests/browser.rs checks that the page loads cleanly; the closing notes describe screenshots).

mod common;

use common::*;
use std::path::Path;

/// Where each of `headings` starts in `html` (panics when one is missing).
fn positions(html: &str, headings: &[&str]) -> Vec<usize> {
    headings
        .iter()
        .map(|h| html.find(&format!("<h2>{h}")).unwrap_or_else(|| panic!("no heading {h}")))
        .collect()
}

/// The `font-size` of every text of every chart in a folder.
fn font_sizes(charts: &Path) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for f in std::fs::read_dir(charts).unwrap() {
        let p = f.unwrap().path();
        let svg = std::fs::read_to_string(&p).unwrap();
        for part in svg.split("font-size=\"").skip(1) {
            let v: f64 = part.split('"').next().unwrap().parse().unwrap();
            out.push((p.file_name().unwrap().to_string_lossy().into_owned(), v));
        }
    }
    out
}

/// No number printed as a negative zero (`-0`, `-0.0`, `−0.00`, …).
fn assert_no_negative_zero(html: &str) {
    for minus in ['-', '−'] {
        for (i, _) in html.match_indices(minus) {
            let rest: String = html[i + minus.len_utf8()..]
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let is_zero =
                !rest.is_empty() && rest.chars().all(|c| c == '0' || c == '.') && rest.starts_with('0');
            assert!(
                !is_zero,
                "negative zero `{minus}{rest}` near: {}",
                &html[i.saturating_sub(80)..(i + 40).min(html.len())]
            );
        }
    }
}

#[test]
fn a_run_report_reads_top_down_with_labels_units_and_the_five_cities_side_by_side() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let o = minxinan(d, &["run", &scen("baseline.toml"), "--draws", "300", "--quiet", "--out", "r"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(d.join("r/report.html")).unwrap();
    // The story first, the detail after, the manifest last and collapsed.
    let at = positions(
        &html,
        &["At a glance", "Targets", "Key figures", "Five cities side by side", "Charts by city and region"],
    );
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
    let details = html.find("<details class=\"manifest\">").expect("the manifest is collapsed");
    assert!(details > at[4]);
    assert!(!html[..details].contains("\"sha256\""), "no manifest JSON before its <details>");
    // A headline sentence per target, in the plan's words with the unit a reader knows.
    let glance = &html[at[0]..at[1]];
    assert_eq!(glance.matches("<li>").count(), 5);
    assert!(
        glance
            .contains("2025年经济总量达到3.64万亿元左右 — GDP of about 3.64 trillion CNY in 2025 (nominal)")
    );
    assert!(glance.contains("of the draws (median "), "{glance}");
    assert!(glance.contains("万亿元"), "nominal GDP in 万亿元");
    // Targets named in Chinese and English, thresholds with units.
    let targets = &html[at[1]..at[2]];
    assert!(targets.contains("≥ 3.64万亿元"), "{targets}");
    assert!(targets.contains("≥ 72.0 %"), "{targets}");
    // The five headline indicators, nominal GDP among them, with units.
    let figures = &html[at[2]..at[3]];
    for h in [
        "Resident population",
        "Urbanization rate",
        "Real GDP",
        "Nominal GDP",
        "GDP per capita",
        "万人",
        "亿元",
    ] {
        assert!(figures.contains(h), "key figures lack {h}");
    }
    // The five-city page: one chart per headline indicator, every city on each.
    let cities = &html[at[3]..at[4]];
    assert_eq!(cities.matches("<figure").count(), 5);
    for city in ["厦门 Xiamen", "漳州 Zhangzhou", "泉州 Quanzhou", "三明 Sanming", "龙岩 Longyan"] {
        assert_eq!(cities.matches(city).count(), 5, "{city} on each five-city chart");
    }
    // Chart text at 12 px or more where the report shows a chart at its narrowest (640 of 760).
    let sizes = font_sizes(&d.join("r/charts"));
    assert!(!sizes.is_empty());
    for (chart, s) in &sizes {
        assert!(s * 640.0 / 760.0 >= 12.0, "{chart}: font-size {s}");
    }
    // A pyramid's legend names both sexes and the outline year.
    let pyramid = std::fs::read_to_string(d.join("r/charts/pyramid-longyan.svg")).unwrap();
    for l in ["2035 male 男", "2035 female 女", "2018 (outline"] {
        assert!(pyramid.contains(l), "{l}");
    }
    // Observations as points on the charts that have them.
    let pop = std::fs::read_to_string(d.join("r/charts/fan-xiamen-population.svg")).unwrap();
    assert!(pop.contains("observed 观测值"));
    assert_no_negative_zero(&html);
}

#[test]
fn a_comparison_report_answers_first_with_the_differences_in_units() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let o = minxinan(
        d,
        &[
            "compare",
            &scen("baseline.toml"),
            &scen("industry-transfer.toml"),
            "--draws",
            "300",
            "--quiet",
            "--out",
            "c",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(d.join("c/report.html")).unwrap();
    let at = positions(
        &html,
        &[
            "At a glance",
            "Targets",
            "Difference 差异: industry-transfer − baseline",
            "Key figures",
            "Five cities side by side",
            "Charts by city and region",
            "Difference charts 差异图: industry-transfer − baseline",
        ],
    );
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
    // What the alternative changes, in a sentence, before the targets.
    let glance = &html[at[0]..at[1]];
    assert!(glance.contains("<b>industry-transfer − baseline</b> in 2035"), "{glance}");
    assert!(glance.contains("most in "), "the city that moves most is named: {glance}");
    // The difference table: 2025, 2030 and 2035 for every entity and headline indicator.
    let table = &html[at[2]..at[3]];
    for y in ["2025", "2030", "2035"] {
        assert!(table.contains(&format!("<th>{y}: median [90% band]</th>")));
    }
    assert_eq!(table.matches("<tr><td>").count(), 6 * 5, "6 entities × 5 headline indicators");
    for u in ["万人 10k persons", "亿元 100M CNY, current prices", "元 CNY per person"] {
        assert!(table.contains(u), "unit {u}");
    }
    // The difference charts under their own heading, titled by entity and indicator, 6 × 5.
    let diffs = &html[at[6]..];
    assert_eq!(diffs.matches("<figure").count(), 30);
    assert!(diffs.contains("龙岩 Longyan — 实际GDP Real GDP (2018 prices)"));
    // Overlays: the alternative dashed and its band unfilled, so that equal medians both show.
    let overlay = std::fs::read_to_string(d.join("c/charts/fan-longyan-gdp_real.svg")).unwrap();
    assert!(overlay.contains("industry-transfer (median, 80% band)"));
    let fills = overlay.matches("<polygon").count();
    assert_eq!(fills, 1, "one filled band (the base's); the alternative's is outlined");
    assert_no_negative_zero(&html);
}
