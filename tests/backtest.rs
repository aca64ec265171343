//! `minxinan backtest`: the files it writes, scores consistent with their own rows, one naive
//! forecast recomputed by hand from the observations, and its bad input.

mod common;

use common::*;
use std::collections::HashMap;

type Rows = Vec<HashMap<String, String>>;

fn read(path: &std::path::Path) -> Rows {
    csv::Reader::from_path(path).unwrap().deserialize().map(|r| r.unwrap()).collect()
}

fn f(r: &HashMap<String, String>, k: &str) -> f64 {
    r[k].parse().unwrap()
}

#[test]
fn a_backtest_scores_every_later_observation_against_three_forecasts() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let scenario = root().join("scenarios/baseline.toml");
    let o = minxinan(
        d,
        &["backtest", scenario.to_str().unwrap(), "--until", "2021", "--draws", "400", "--quiet"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = d.join("out/backtest-baseline-2021");
    for file in [
        "backtest.csv",
        "backtest_summary.csv",
        "backtest_horizons.csv",
        "summary.csv",
        "observed.csv",
        "manifest.json",
        "report.html",
    ] {
        assert!(out.join(file).exists(), "{file}");
    }
    let rows = read(&out.join("backtest.csv"));
    let forecasts: Vec<&str> = ["history", "plan-era", "naive"].into();
    for r in &rows {
        assert!(forecasts.contains(&r["forecast"].as_str()));
        assert!(f(r, "year") > 2021.0 && f(r, "horizon") >= 1.0, "{r:?}");
        let q: Vec<f64> = ["p05", "p10", "p25", "p50", "p75", "p90", "p95"].iter().map(|k| f(r, k)).collect();
        assert!(q.windows(2).all(|w| w[0] <= w[1]), "{r:?}");
        let y = f(r, "observed");
        assert_eq!(r["inside50"] == "1", q[2] <= y && y <= q[4]);
        assert_eq!(r["inside90"] == "1", q[0] <= y && y <= q[6]);
        assert!((0.0..=1.0).contains(&f(r, "pit")) && f(r, "crps") >= 0.0);
    }
    // The same observations for the two ensembles; 厦门's 2022–2024 populations among them.
    let of = |name: &str| rows.iter().filter(|r| r["forecast"] == name).count();
    assert_eq!(of("history"), of("plan-era"));
    assert!(
        rows.iter().any(|r| r["entity"] == "xiamen" && r["indicator"] == "population" && r["year"] == "2024")
    );
    // The summary's coverage is the share of the rows' flags, per forecast and indicator.
    for s in read(&out.join("backtest_summary.csv")) {
        let set: Vec<_> = rows
            .iter()
            .filter(|r| {
                r["forecast"] == s["forecast"]
                    && (s["indicator"] == "all" || r["indicator"] == s["indicator"])
            })
            .collect();
        assert_eq!(set.len().to_string(), s["n"]);
        let share = set.iter().filter(|r| r["inside80"] == "1").count() as f64 / set.len() as f64;
        assert!((share - f(&s, "coverage80")).abs() < 1e-12);
        assert!(f(&s, "coverage80_lo") <= share && share <= f(&s, "coverage80_hi"));
    }
    // `all`'s relative CRPS: the geometric mean of the indicators' (own CRPS summed over naive's
    // on the same observations), weighted by their observations; the naive forecast's is 1.
    let summary = read(&out.join("backtest_summary.csv"));
    for forecast in ["history", "plan-era", "naive"] {
        let (mut log_sum, mut n) = (0.0, 0.0);
        for s in summary.iter().filter(|s| s["forecast"] == forecast && s["indicator"] != "all") {
            let (mut own, mut naive, mut k) = (0.0, 0.0, 0.0);
            for r in rows.iter().filter(|r| r["forecast"] == forecast && r["indicator"] == s["indicator"]) {
                let same = |x: &&HashMap<String, String>| {
                    x["forecast"] == "naive" && ["entity", "year", "indicator"].iter().all(|c| x[*c] == r[*c])
                };
                if let Some(y) = rows.iter().find(same) {
                    (own, naive, k) = (own + f(r, "crps"), naive + f(y, "crps"), k + 1.0);
                }
            }
            assert!((own / naive - f(s, "crps_relative_to_naive")).abs() < 1e-9, "{s:?}");
            (log_sum, n) = (log_sum + k * (own / naive).ln(), n + k);
        }
        let all = summary.iter().find(|s| s["forecast"] == forecast && s["indicator"] == "all").unwrap();
        assert!(all["mean_crps"].is_empty());
        assert!(((log_sum / n).exp() - f(all, "crps_relative_to_naive")).abs() < 1e-9, "{all:?}");
    }
    // `backtest_horizons.csv` splits the same scores by years ahead: per forecast and
    // indicator the horizons' observations add up to the summary's and their CRPS to its mean,
    // and each horizon's relative CRPS is its rows' own over naive's (recomputed from
    // backtest.csv), `all` the weighted geometric mean of the indicators' at that horizon.
    let horizons = read(&out.join("backtest_horizons.csv"));
    assert!(horizons.iter().any(|r| r["horizon"] == "3"));
    let relative = |forecast: &str, indicator: &str, horizon: &str| {
        let (mut own, mut naive, mut k) = (0.0, 0.0, 0.0);
        for r in rows
            .iter()
            .filter(|r| r["forecast"] == forecast && r["indicator"] == indicator && r["horizon"] == horizon)
        {
            let same = |x: &&HashMap<String, String>| {
                x["forecast"] == "naive" && ["entity", "year", "indicator"].iter().all(|c| x[*c] == r[*c])
            };
            if let Some(y) = rows.iter().find(same) {
                (own, naive, k) = (own + f(r, "crps"), naive + f(y, "crps"), k + 1.0);
            }
        }
        (own / naive, k)
    };
    for s in summary.iter().filter(|s| s["indicator"] != "all") {
        let parts: Vec<_> = horizons
            .iter()
            .filter(|h| h["forecast"] == s["forecast"] && h["indicator"] == s["indicator"])
            .collect();
        let n: f64 = parts.iter().map(|h| f(h, "n")).sum();
        assert_eq!(n, f(s, "n"), "{s:?}");
        let crps: f64 = parts.iter().map(|h| f(h, "n") * f(h, "mean_crps")).sum();
        assert!((crps / n - f(s, "mean_crps")).abs() < 1e-9, "{s:?}");
        for h in parts {
            let (r, _) = relative(&h["forecast"], &h["indicator"], &h["horizon"]);
            if r.is_finite() {
                assert!((r - f(h, "crps_relative_to_naive")).abs() < 1e-9, "{h:?}");
            }
        }
    }
    for h in horizons.iter().filter(|h| h["indicator"] == "all") {
        let (mut log_sum, mut n) = (0.0, 0.0);
        for ind in [
            "population",
            "urbanization_rate",
            "gdp_real_growth",
            "gdp_nominal",
            "crude_birth_rate",
            "crude_death_rate",
        ] {
            let (r, k) = relative(&h["forecast"], ind, &h["horizon"]);
            if k > 0.0 && r.is_finite() {
                (log_sum, n) = (log_sum + k * r.ln(), n + k);
            }
        }
        assert!(((log_sum / n).exp() - f(h, "crps_relative_to_naive")).abs() < 1e-9, "{h:?}");
    }
    // The naive forecast of 厦门's 2024 population, by hand: the revised series 496, 512, 518
    // (2018–2020) and the 2021 release 528 change by 16, 6, 10 a year; it continues at +10 from
    // 528 with sd = sd(16, 6, 10)·√3.
    let r = rows
        .iter()
        .find(|r| {
            r["forecast"] == "naive"
                && r["entity"] == "xiamen"
                && r["indicator"] == "population"
                && r["year"] == "2024"
        })
        .unwrap();
    let sd =
        (((16.0f64 - 32.0 / 3.0).powi(2) + (6.0f64 - 32.0 / 3.0).powi(2) + (10.0f64 - 32.0 / 3.0).powi(2))
            / 2.0)
            .sqrt();
    assert!((f(r, "p50") - 558.0).abs() < 1e-9, "{r:?}");
    assert!((f(r, "p95") - (558.0 + 1.6448536269514722 * sd * 3f64.sqrt())).abs() < 1e-9);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["backtest"]["until"], 2021);
    assert_eq!(m["scenarios"][0]["history"]["until"], 2021);
    assert!(m["scenarios"][1]["history"].is_null(), "the plan-era run has no history");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Backtest 回测: observations after 2021"));
    // The table by years ahead: one column per horizon (2022–2024: three), history's population
    // row with its one-year ratio as backtest_horizons.csv has it.
    assert!(html.contains("<th>3 years ahead</th>") && !html.contains("<th>4 years ahead</th>"));
    let one = horizons
        .iter()
        .find(|h| h["forecast"] == "history" && h["indicator"] == "population" && h["horizon"] == "1")
        .unwrap();
    let ratio = f(one, "crps_relative_to_naive");
    // The report prints three significant figures: two decimals below 10.
    assert!(ratio < 10.0, "{ratio}");
    let row = format!(
        "<tr><td>population</td><td>history</td><td>{ratio:.2} <span class=\"band\">({})</span>",
        one["n"]
    );
    assert!(html.contains(&row), "{row}");
}

#[test]
fn a_backtest_with_nothing_to_score_or_outside_the_run_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let scenario = root().join("scenarios/baseline.toml");
    let s = scenario.to_str().unwrap();
    for (until, expect) in [
        ("2024", "--until 2024: no observation after it to score (the observations end in 2024)"),
        ("2040", "`history.until`: found 2040; expected a year of the run, 2018..=2035"),
        ("twenty", "invalid value 'twenty' for '--until <UNTIL>'"),
    ] {
        let o = minxinan(d, &["backtest", s, "--until", until, "--draws", "10", "--quiet"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{until}: {err}");
        assert!(err.contains(expect), "{until}: {err}");
        assert!(!d.join("out").exists());
    }
}
