//! `compare`: paired draws (common random numbers), its files, and its refusals.

mod common;

use common::*;
use minxinan::indicators::Indicator;
use minxinan::{RunConfig, runner};

#[test]
fn a_scenario_compared_with_itself_differs_by_exactly_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let o = minxinan(
        d,
        &[
            "compare",
            &scen("baseline.toml"),
            &scen("baseline.toml"),
            "--draws",
            "300",
            "--quiet",
            "--no-report",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(d.join("out/compare-baseline-vs-baseline/compare.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        &header[..13],
        [
            "base",
            "alternative",
            "entity",
            "year",
            "indicator",
            "unit",
            "base_p50",
            "alt_p50",
            "diff_mean",
            "diff_p05",
            "diff_p50",
            "diff_p95",
            "prob_alt_higher"
        ]
    );
    let mut n = 0;
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f[6], f[7], "{l}");
        assert!(f[8..].iter().all(|x| *x == "0"), "{l}");
        n += 1;
    }
    assert_eq!(n, 2016);
    assert!(!d.join("out/compare-baseline-vs-baseline/report.html").exists(), "--no-report");
}

#[test]
fn paired_draws_shrink_the_noise_of_a_difference() {
    // industry-transfer − baseline, Longyan real GDP 2035: paired (same seed) against unpaired
    // (different seeds).
    let (_, _, base) = model_of(&baseline_text());
    let (region, _, _) = model_of(&baseline_text());
    let read = |p: &std::path::Path| std::fs::read_to_string(p).map_err(|e| e.to_string());
    let alt_sc =
        minxinan::Scenario::load(&root().join("scenarios/industry-transfer.toml"), &read, &region).unwrap();
    let alt = minxinan::Model::new(&region, &alt_sc).unwrap();
    let run = |m: &minxinan::Model, seed| ensemble(m, &RunConfig::new(0..2000, seed));
    let (b, a, a2) = (run(&base, 1), run(&alt, 1), run(&alt, 2));
    let j = b.layout.index(4, 2035, Indicator::GdpReal);
    let sd = |x: &minxinan::Ensemble, y: &minxinan::Ensemble| {
        let d: Vec<f64> = (0..2000).map(|k| x.row(k)[j] - y.row(k)[j]).collect();
        minxinan::stats::mean_sd(&d).1
    };
    let (paired, unpaired) = (sd(&a, &b), sd(&a2, &b));
    eprintln!(
        "sd of the 2035 Longyan GDP difference: paired {paired:.2}, different seeds {unpaired:.2} (100M CNY), ratio {:.1}",
        unpaired / paired
    );
    assert!(unpaired >= 5.0 * paired, "paired {paired} vs unpaired {unpaired}");
}

#[test]
fn compare_writes_side_by_side_files_and_a_report_that_report_rebuilds() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let o = minxinan(
        d,
        &[
            "compare",
            &scen("baseline.toml"),
            &scen("industry-transfer.toml"),
            &scen("co-built-parks.toml"),
            "--draws",
            "100",
            "--quiet",
            "--excel",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dir = d.join("out/compare-baseline-vs-industry-transfer-vs-co-built-parks");
    for f in [
        "compare.csv",
        "summary.csv",
        "targets.csv",
        "parks.csv",
        "pyramids.csv",
        "manifest.json",
        "report.html",
        "entities.csv",
    ] {
        assert!(dir.join(f).exists(), "{f}");
    }
    let targets = std::fs::read_to_string(dir.join("targets.csv")).unwrap();
    assert!(targets.starts_with('\u{feff}'), "--excel writes a BOM");
    for s in ["baseline,gdp-2025", "industry-transfer,gdp-2025", "co-built-parks,gdp-2025"] {
        assert!(targets.contains(s), "{s}");
    }
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["comparison"]["alternatives"], serde_json::json!(["industry-transfer", "co-built-parks"]));
    assert_eq!(m["scenarios"].as_array().unwrap().len(), 3);
    assert_eq!(m["scenarios"][1]["scenario"]["sha256"].as_str().unwrap().len(), 64);
    let before = std::fs::read(dir.join("report.html")).unwrap();
    let o = minxinan(d, &["report", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(dir.join("report.html")).unwrap(), before, "report DIR rebuilds the same page");
    let html = String::from_utf8(before).unwrap();
    assert!(html.contains("Difference 差异: industry-transfer − baseline"));
    assert!(html.contains("P — co-built-parks"));
    // Five headline indicators: an overlay per entity and indicator (6 × 5), a difference chart
    // per alternative, entity and indicator (2 × 30), the five-city page (5), the pyramids (6).
    assert_eq!(std::fs::read_dir(dir.join("charts")).unwrap().count(), 30 + 2 * 30 + 5 + 6);
}

#[test]
fn compare_refuses_alternatives_with_other_settings_and_bad_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_scenario(
        d,
        "short.toml",
        &format!("[scenario]\nname = \"short\"\nextends = \"{}\"\nhorizon = 2030\n", scen("baseline.toml")),
    );
    let o = minxinan(d, &["compare", &scen("baseline.toml"), "short.toml", "--draws", "10", "--quiet"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("horizon = 2030 differs from the base scenario's horizon = 2035")
    );
    let o = minxinan(d, &["compare", &scen("baseline.toml")]);
    assert_eq!(o.status.code(), Some(2), "compare needs an alternative");
    let o = minxinan(d, &["report", "nowhere"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no summary.csv"));
    assert!(!d.join("out").exists());
}

#[test]
fn a_failing_draw_is_reported_as_the_row_by_row_order_meets_it() {
    use minxinan::model::Mode;
    use minxinan::model::engine::{Workspace, simulate};
    use minxinan::rng::Streams;
    // Each scenario fails about 60% of its draws (a 3.3-sd tail in 1 000 tries), on a parameter
    // of its own: within a batch, the alternative may fail at an earlier draw than the base.
    let truncated = |param: &str, mean: f64| {
        format!(
            "[scenario]\nname = \"t\"\n[parameters]\n{param} = {{ dist = \"normal\", mean = {mean}, sd = 0.001, truncate = [{}, 0.9] }}\n",
            mean + 0.0033
        )
    };
    let (_, _, a) = model_of(&truncated("depreciation", 0.05));
    let (_, _, b) = model_of(&truncated("capital_share", 0.4));
    let models = [a, b];
    let mut alternative_first = 0;
    for seed in 0..40 {
        // What running row by row meets first: the lowest failing draw, the base before the
        // alternative.
        let mut expected = None;
        'rows: for draw in 0..64 {
            for m in &models {
                let mut ws = Workspace::new(m);
                let mut out = vec![0.0; m.layout.len()];
                if let Err(e) = simulate(m, &Streams::of(seed, draw), Mode::Stochastic, &mut ws, &mut out) {
                    expected = Some((draw, std::ptr::eq(m, &models[1]), e.to_string()));
                    break 'rows;
                }
            }
        }
        let Some((draw, alternative, message)) = expected else { continue };
        let cfg = RunConfig::new(0..64, seed);
        let targets: [&[minxinan::region::Target]; 2] = [&[], &[]];
        let sink =
            runner::Summaries::new(targets.to_vec()).strategy(runner::Strategy::Stream(Default::default()));
        let got = runner::run(&[&models[0], &models[1]], &cfg, sink, runner::Hooks::none());
        let e = got.expect_err("a draw fails");
        assert_eq!(e.to_string(), message, "seed {seed}: draw {draw}");
        // The base also fails later in the same batch: the alternative's earlier failure wins.
        let later_in_batch = (draw + 1..(draw / 8 + 1) * 8).any(|d| {
            let mut ws = Workspace::new(&models[0]);
            let mut out = vec![0.0; models[0].layout.len()];
            simulate(&models[0], &Streams::of(seed, d), Mode::Stochastic, &mut ws, &mut out).is_err()
        });
        alternative_first += usize::from(alternative && later_in_batch);
    }
    assert!(alternative_first > 0, "some seed had the alternative fail first, the base later in its batch");
}

/// Every target of every scenario on every scenario, with the paired columns: the change in
/// probability is the share of draws where only the alternative meets the target less the share
/// where only the base does (an identity of paired draws), kept and streamed alike.
#[test]
fn compare_evaluates_every_target_on_every_scenario_with_paired_shares() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let alt = format!(
        "[scenario]\nname = \"my-policy\"\nextends = \"{}\"\n[[targets]]\nname = \"longyan-gdp-2030\"\nentity = \"longyan\"\nyear = 2030\nindicator = \"gdp_real\"\nat_least = 5500\n[[targets]]\nname = \"gdp-2025\"\nentity = \"region\"\nyear = 2025\nindicator = \"gdp_nominal\"\nat_least = 40000\n",
        scen("industry-transfer.toml")
    );
    std::fs::write(d.join("alt.toml"), alt).unwrap();
    let o = minxinan(
        d,
        &["compare", &scen("baseline.toml"), "alt.toml", "--draws", "400", "--out", "c", "--no-report"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning: target `gdp-2025` is defined differently in `baseline` and `my-policy`"),
        "{err}"
    );
    let rows: Vec<std::collections::HashMap<String, String>> =
        csv::Reader::from_path(d.join("c/targets.csv")).unwrap().deserialize().map(|r| r.unwrap()).collect();
    let names = |s: &str| -> Vec<String> {
        rows.iter().filter(|r| r["scenario"] == s).map(|r| r["target"].clone()).collect()
    };
    let want = [
        "gdp-2020",
        "urbanization-2020",
        "gdp-2025@baseline",
        "urbanization-2025",
        "urbanization-2025-about",
        "gdp-2025@my-policy",
        "longyan-gdp-2030",
    ];
    assert_eq!(names("baseline"), want);
    assert_eq!(names("my-policy"), want, "the alternative's own target has a baseline row too");
    let f = |r: &std::collections::HashMap<String, String>, k: &str| r[k].parse::<f64>().unwrap();
    for r in rows.iter().filter(|r| r["scenario"] == "my-policy") {
        let base = rows.iter().find(|b| b["scenario"] == "baseline" && b["target"] == r["target"]).unwrap();
        assert_eq!(r["probability_base"], base["probability"]);
        let delta = f(r, "probability") - f(base, "probability");
        assert!((f(r, "delta") - delta).abs() < 1e-12);
        assert!((f(r, "share_alt_only") - f(r, "share_base_only") - delta).abs() < 1e-12, "{r:?}");
    }
    let lg = rows.iter().find(|r| r["scenario"] == "my-policy" && r["target"] == "longyan-gdp-2030").unwrap();
    assert!(f(lg, "share_alt_only") > 0.0, "the transfer raises 龙岩's GDP in some draws: {lg:?}");
    assert!(rows.iter().filter(|r| r["scenario"] == "baseline").all(|r| r["delta"].is_empty()));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("c/manifest.json")).unwrap()).unwrap();
    assert_eq!(m["comparison"]["target_warnings"].as_array().unwrap().len(), 1);
}

#[test]
fn paired_target_shares_are_the_same_kept_and_streamed() {
    use minxinan::runner::{Strategy, Summaries};
    let (_, a, ma) = model_of(&baseline_text());
    let text = std::fs::read_to_string(root().join("scenarios/industry-transfer.toml")).unwrap();
    let region = minxinan::Region::embedded();
    let read = |p: &std::path::Path| {
        if p.ends_with("t.toml") {
            Ok(text.clone())
        } else {
            std::fs::read_to_string(p).map_err(|e| e.to_string())
        }
    };
    let b = minxinan::Scenario::load(&root().join("scenarios/t.toml"), &read, &region).unwrap();
    let mb = minxinan::Model::new(&region, &b).unwrap();
    let (targets, _) = minxinan::scenario::union_targets(&[&a, &b]);
    let cfg = RunConfig::new(0..600, 5);
    let run = |strategy| {
        let sink = Summaries::new(vec![targets.as_slice(); 2]).strategy(strategy);
        runner::run(&[&ma, &mb], &cfg, sink, runner::Hooks::none()).unwrap().target_pairs
    };
    let kept = run(Strategy::Keep);
    let streamed = run(Strategy::Stream(Default::default()));
    assert_eq!(kept, streamed);
    assert_eq!(kept[0].len(), targets.len());
}
