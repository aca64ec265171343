//! The command line: files and columns of `run`, exit codes, bad input (exit 2 with file, line
//! and key, never a panic, no partial output), `validate`, `info` and `--region`.

mod common;

use common::*;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn baseline_path() -> String {
    root().join("scenarios/baseline.toml").to_str().unwrap().to_string()
}

#[test]
fn run_writes_every_file_with_the_interface_columns_and_units() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let o = minxinan(d, &["run", &baseline_path(), "--draws", "300", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "nothing but results on stdout");
    let out = d.join("out/baseline");
    for f in ["summary.csv", "targets.csv", "manifest.json", "entities.csv"] {
        assert!(out.join(f).exists(), "{f}");
    }
    assert!(!out.join("draws.csv").exists(), "draws.csv only with --save-draws");
    let text = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        "scenario,entity,year,indicator,unit,mean,sd,p025,p05,p10,p25,p50,p75,p90,p95,p975"
    );
    let rows = read_summary(&out.join("summary.csv"));
    // Units exactly as INTERFACE.md spells them.
    let units: HashMap<&str, &str> = [
        ("population", "10k persons"),
        ("urban_population", "10k persons"),
        ("employment", "10k persons"),
        ("births", "10k persons per year"),
        ("deaths", "10k persons per year"),
        ("net_migration", "10k persons per year"),
        ("urbanization_rate", "%"),
        ("working_age_share", "%"),
        ("old_age_dependency", "%"),
        ("gdp_share_primary", "%"),
        ("gdp_share_secondary", "%"),
        ("gdp_share_tertiary", "%"),
        ("gdp_growth", "% per year"),
        ("population_growth", "% per year"),
        ("gdp_real", "100M CNY (2018 prices)"),
        ("gdp_assessment", "100M CNY (2018 prices)"),
        ("park_tax_to_partner", "100M CNY (2018 prices)"),
        ("gdp_nominal", "100M CNY (current prices)"),
        ("gdp_per_capita", "CNY per person (2018 prices)"),
    ]
    .into_iter()
    .collect();
    let flows =
        ["births", "deaths", "net_migration", "park_tax_to_partner", "gdp_growth", "population_growth"];
    let mut expected = BTreeSet::new();
    for e in ["xiamen", "zhangzhou", "quanzhou", "sanming", "longyan", "region"] {
        for y in 2018..=2035 {
            for ind in units.keys() {
                if y > 2018 || !flows.contains(ind) {
                    expected.insert((e.to_string(), y.to_string(), ind.to_string()));
                }
            }
        }
    }
    let got: BTreeSet<_> =
        rows.iter().map(|r| (r["entity"].clone(), r["year"].clone(), r["indicator"].clone())).collect();
    assert_eq!(got, expected);
    assert_eq!(rows.len(), expected.len(), "no duplicate rows");
    let cols = ["p025", "p05", "p10", "p25", "p50", "p75", "p90", "p95", "p975"];
    for r in &rows {
        assert_eq!(units[r["indicator"].as_str()], r["unit"]);
        let q: Vec<f64> = cols.iter().map(|c| r[*c].parse().unwrap()).collect();
        assert!(q.windows(2).all(|w| w[0] <= w[1]), "quantiles out of order: {r:?}");
        let mean: f64 = r["mean"].parse().unwrap();
        assert!(mean.is_finite() && r["sd"].parse::<f64>().unwrap() >= 0.0);
        if r["year"] == "2018" {
            assert_eq!(q[0], q[8], "the base year is the data in every draw: {r:?}");
        }
    }
    // Sorted by entity (region order, then region), year, indicator (MODEL.md §9 order).
    let ents: Vec<&str> = rows.iter().map(|r| r["entity"].as_str()).collect();
    let first_region = ents.iter().position(|e| *e == "region").unwrap();
    assert!(ents[first_region..].iter().all(|e| *e == "region"));
    assert_eq!(rows[0]["indicator"], "population");
    assert_eq!(rows[1]["indicator"], "urban_population");

    let targets = std::fs::read_to_string(out.join("targets.csv")).unwrap();
    let mut lines = targets.lines();
    assert_eq!(
        lines.next().unwrap(),
        "scenario,target,entity,year,indicator,comparison,threshold,probability,p50,observed,basis,status,target_basis,observed_on_target_basis,status_on_target_basis,note,unit,label_zh,label_en"
    );
    let names: Vec<&str> = lines.map(|l| l.split(',').nth(1).unwrap()).collect();
    assert_eq!(
        names,
        ["gdp-2020", "urbanization-2020", "gdp-2025", "urbanization-2025", "urbanization-2025-about"]
    );
    for l in targets.lines().skip(1) {
        let p: f64 = l.split(',').nth(7).unwrap().parse().unwrap();
        assert!((0.0..=1.0).contains(&p));
    }
    // The plan's targets carry their unit and both labels (data/plan_targets.csv).
    let gdp = targets.lines().find(|l| l.contains(",gdp-2025,")).unwrap();
    assert!(gdp.ends_with(",100M CNY (current prices),2025年经济总量达到3.64万亿元左右,GDP of about 3.64 trillion CNY in 2025 (nominal)"), "{gdp}");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["scenario"]["name"], "baseline");
    assert_eq!(m["seed"], 20181231);
    assert_eq!(m["draws"], 300);
    assert_eq!(m["scenario"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(m["region"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(m["parameters"].as_object().unwrap().len(), minxinan::params::PARAMS.len());
    assert!(m["diagnostics"].as_object().unwrap().contains_key("capital_floor_binding"));
    // History mode (the baseline): observed.csv lists every row of the embedded observations
    // with what the run did with it; the manifest says what the restated base rests on.
    let obs = std::fs::read_to_string(out.join("observed.csv")).unwrap();
    let mut lines = obs.lines();
    assert_eq!(
        lines.next().unwrap(),
        "scenario,entity,year,indicator,value,unit,vintage,confidence,basis,use,note,p05,p50,p95,source"
    );
    let data_rows = std::fs::read_to_string(root().join("data/observed.csv")).unwrap().lines().count() - 1;
    let rows: Vec<HashMap<String, String>> =
        csv::Reader::from_path(out.join("observed.csv")).unwrap().deserialize().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), data_rows);
    for r in &rows {
        assert!(
            ["forced", "base", "check", "scored", "compared", "unused"].contains(&r["use"].as_str()),
            "{r:?}"
        );
        assert_eq!(r["use"] == "unused", !r["note"].is_empty(), "an unused row says why: {r:?}");
        if r["confidence"] == "D" {
            assert_eq!(r["use"], "unused");
        }
        if r["use"] == "forced" {
            let v: f64 = r["value"].parse().unwrap();
            for q in ["p05", "p95"] {
                let x: f64 = r[q].parse().unwrap();
                assert!((x - v).abs() <= 1e-9 * v.abs(), "a forced value is every draw's: {r:?}");
            }
        }
    }
    assert_eq!(m["history"]["until"], 2024);
    assert_eq!(m["history"]["restated_base"][0]["population"]["revised"], 496.0);
    // No staging folder is left behind.
    let left: Vec<_> = std::fs::read_dir(d.join("out")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, [std::ffi::OsString::from("baseline")]);
}

#[test]
fn deterministic_runs_one_draw_and_excel_adds_a_bom() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let o = minxinan(d, &["run", &baseline_path(), "--deterministic", "--out", "det", "--quiet", "--excel"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(d.join("det/summary.csv")).unwrap();
    assert!(bytes.starts_with("\u{feff}scenario,".as_bytes()));
    let text = String::from_utf8(bytes).unwrap();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[6], "0", "sd of one draw is 0");
        assert!(f[7..].iter().all(|q| q == &f[5]), "every quantile equals the value: {line}");
    }
    let entities = std::fs::read_to_string(d.join("det/entities.csv")).unwrap();
    assert!(entities.contains("xiamen,厦门,Xiamen"));
    assert!(entities.contains("region,闽西南协同发展区,Southwest Fujian Coordinated Development Zone"));
}

/// Bad scenario files: exit 2, a message with file:line, the key and what was expected; no output.
#[test]
fn bad_scenarios_exit_2_with_file_line_and_key() {
    let cases: &[(&str, &[&str])] = &[
        (
            "[scenario]\nname = \"x\"\nhorizon = 2070\n",
            &["bad.toml:3:1", "scenario.horizon", "expected a year in 2019..=2050"],
        ),
        (
            "[scenario]\nname = \"x\"\ndrawz = 10\n",
            &["bad.toml:3:1", "unknown field `drawz`", "did you mean `draws`?"],
        ),
        (
            "[scenario]\nname = \"x\"\n[parameters]\ncapital_share = 1.0\n",
            &["bad.toml:4:1", "parameters.capital_share", "(0, 1)"],
        ),
        (
            "[scenario]\nname = \"x\"\n[parameters]\nmigration_decay_years = { dist = \"uniform\", min = 0.1, max = 3 }\n",
            &["bad.toml:4:1", "≥ 0.5"],
        ),
        (
            "[scenario]\nname = \"x\"\n[parameters]\ntfr_long_run = { dist = \"triangular\", min = 1, mode = 0.5, max = 2 }\n",
            &["bad.toml:4:", "tfr_long_run.mode"],
        ),
        ("[scenario]\nname = \"x\"\n[parameters]\ninflation_mean = nan\n", &["bad.toml:4:1", "finite"]),
        (
            "[scenario]\nname = \"x\"\n[parameters]\ndepreciaton = 0.1\n",
            &["bad.toml:4:1", "did you mean `depreciation`?"],
        ),
        ("[scenario]\nname = \"Base Line\"\n", &["bad.toml:2:1", "scenario.name"]),
        ("[scenario]\nname = \"x\"\nseed = -4\n", &["bad.toml:3:1", "scenario.seed"]),
        (
            "[scenario]\nname = \"x\"\nhorizon = 2030\n[[targets]]\nname = \"late\"\nentity = \"region\"\nyear = 2035\nindicator = \"gdp_real\"\nat_least = 1\n",
            &["bad.toml:7:1", "targets[name=late].year"],
        ),
        (
            "[scenario]\nname = \"x\"\n[[targets]]\nname = \"t\"\nentity = \"region\"\nyear = 2025\nindicator = \"gdp\"\nat_least = 1\n",
            &["bad.toml:7:1", "unknown indicator `gdp`"],
        ),
        (
            "[scenario]\nname = \"x\"\n[[targets]]\nname = \"t\"\nentity = \"region\"\nyear = 2025\nindicator = \"gdp_real\"\n",
            &["bad.toml:3:", "exactly one of `at_least` or `at_most`"],
        ),
        (
            "[scenario]\nname = \"x\"\nextends = \"nothere.toml\"\n",
            &["bad.toml:3:1", "scenario.extends", "cannot read `nothere.toml`"],
        ),
        ("[scenario]\nname = \"x\"\n[transfer]\nenabled = true\n", &["bad.toml:3:", "needs `origins`"]),
        ("[scenario]\nname = \"x\"\nhorizon = 2035.5\n", &["bad.toml:3:", "scenario.horizon"]),
        (
            "[scenario]\nname = \"x\"\n[parameters]\ntfr_long_run = { dist = \"discrete\", values = [1, 2], weights = [0.3, 0.3] }\n",
            &["bad.toml:4:", "sum to"],
        ),
        ("[scenario]\nname = \"x\"\nname = \"y\"\n", &["bad.toml:3:"]),
        ("scenario = 3\n", &["bad.toml:1:"]),
        ("", &["bad.toml", "missing `scenario.name`"]),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for (text, expect) in cases {
        write_scenario(d, "bad.toml", text);
        let o = minxinan(d, &["run", "bad.toml", "--draws", "10", "--quiet"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{text}\n{err}");
        for e in *expect {
            assert!(err.contains(e), "expected `{e}` for\n{text}\ngot: {err}");
        }
        assert!(!err.contains("panicked"), "{err}");
        assert!(!d.join("out").exists(), "no output on bad input: {text}");
        let v = minxinan(d, &["validate", "bad.toml"]);
        assert_eq!(v.status.code(), Some(2), "validate: {text}");
    }
}

#[test]
fn bad_arguments_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let b = baseline_path();
    let cases: &[(&[&str], &str)] = &[
        (&["run", "missing.toml"], "cannot read the scenario file"),
        (&["run", &b, "--draw-range", "200..100"], "--draw-range"),
        (&["run", &b, "--draw-range", "x"], "--draw-range"),
        (
            &["run", &b, "--draw-range", "9000..12000"],
            "--draw-range 9000..12000: the run has 10000 draws (0..10000); expected a range inside it",
        ),
        // 1 000 000 draws × 2 016 rows a draw ≈ 103 GB: refused before anything runs.
        (
            &["run", &b, "--save-draws", "--draws", "1000000"],
            "draws.csv would hold 2016000000 rows, about 102.8 GB",
        ),
        (&["run", &b, "--save-draws=population", "--draws", "2000000"], "or add --force"),
        (&["run", &b, "--draws", "0"], "--draws"),
        (&["run", &b, "--draws", "-3"], "-3"),
        (&["run", &b, "--save-draws=gdp_reel"], "did you mean `gdp_real`?"),
        (&["run", &b, "--save-inputs"], "--save-inputs: goes with --save-draws"),
        (&["run", &b, "--threads", "0"], "--threads"),
        (&["run", &b, "--region", "nowhere/region.toml"], "cannot read"),
        (&["run"], "SCENARIO"),
        (&["frobnicate"], "unrecognized subcommand"),
        (&["validate"], "SCENARIOS"),
    ];
    for (args, expect) in cases {
        let o = minxinan(d, args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: expected `{expect}` in {err}");
        assert!(!d.join("out").exists());
    }
    let o = minxinan(d, &["--help"]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn a_failing_run_leaves_the_previous_output_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let ok = minxinan(d, &["run", &baseline_path(), "--draws", "20", "--out", "o", "--quiet"]);
    assert!(ok.status.success());
    let before = std::fs::read(d.join("o/summary.csv")).unwrap();
    // A truncation that no draw can meet: a model failure (exit 1) in the first draw.
    write_scenario(
        d,
        "t.toml",
        "[scenario]\nname = \"t\"\n[parameters]\ntfr_long_run = { dist = \"normal\", mean = 1.0, sd = 0.01, truncate = [2.0, 3.0] }\n",
    );
    let o = minxinan(d, &["run", "t.toml", "--draws", "20", "--out", "o", "--quiet"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("tfr_long_run"), "{}", stderr(&o));
    assert_eq!(std::fs::read(d.join("o/summary.csv")).unwrap(), before);
    let left: Vec<_> =
        std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(left.iter().all(|n| !n.contains(".tmp-")), "{left:?}");
}

#[test]
fn validate_and_resolved() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let o = minxinan(d, &["validate", &baseline_path()]);
    assert!(o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .contains("ok (baseline, horizon 2035, 10000 draws, seed 20181231)")
    );
    let o = minxinan(d, &["validate", &baseline_path(), "--resolved"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("tfr_long_run = { dist = \"triangular\", min = 0.8, mode = 1.1, max = 1.5 }"));
    // The resolved text is itself a valid scenario that runs to the same numbers.
    write_scenario(d, "resolved.toml", &text);
    let a = minxinan(d, &["run", "resolved.toml", "--draws", "50", "--out", "a", "--quiet"]);
    let b = minxinan(d, &["run", &baseline_path(), "--draws", "50", "--out", "b", "--quiet"]);
    assert!(a.status.success() && b.status.success());
    assert_eq!(
        std::fs::read(d.join("a/summary.csv")).unwrap(),
        std::fs::read(d.join("b/summary.csv")).unwrap()
    );
}

#[test]
fn info_lists_the_region_and_parameters() {
    let tmp = tempfile::tempdir().unwrap();
    let o = minxinan(tmp.path(), &["info"]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    for s in ["xiamen", "三明", "fuxia-hsr", "xiamen-longyan", "gdp-2025"] {
        assert!(text.contains(s), "{s}");
    }
    let o = minxinan(tmp.path(), &["info", "--parameters"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(text.lines().count(), 1 + minxinan::params::PARAMS.len(), "a header and a line per parameter");
    assert!(text.contains("market_access_elasticity") && text.contains("mortality_level"));
}

fn export(d: &Path) -> std::path::PathBuf {
    let o = minxinan(d, &["info", "--export-region", "reg"]);
    assert!(o.status.success(), "{}", stderr(&o));
    d.join("reg")
}

#[test]
fn an_exported_region_runs_to_the_same_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let reg = export(d);
    assert!(reg.join("region.toml").exists() && reg.join("README.md").exists());
    let a = minxinan(d, &["run", &baseline_path(), "--draws", "50", "--out", "a", "--quiet"]);
    let b = minxinan(
        d,
        &["run", &baseline_path(), "--draws", "50", "--out", "b", "--quiet", "--region", "reg/region.toml"],
    );
    assert!(a.status.success() && b.status.success(), "{}", stderr(&b));
    assert_eq!(
        std::fs::read(d.join("a/summary.csv")).unwrap(),
        std::fs::read(d.join("b/summary.csv")).unwrap()
    );
}

#[test]
fn save_inputs_writes_each_draw_s_sampled_inputs_as_the_engine_took_them() {
    use minxinan::model::Mode;
    use minxinan::model::engine::{Workspace, simulate_observed};
    use minxinan::params::P;
    use minxinan::rng::Streams;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let plan = root().join("scenarios/plan-era.toml");
    let o = minxinan(
        d,
        &[
            "run",
            plan.to_str().unwrap(),
            "--draws",
            "40",
            "--out",
            "o",
            "--quiet",
            "--save-draws=gdp_real",
            "--save-inputs",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(d.join("o/inputs.csv")).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header[0], "draw");
    assert!(header.contains(&"tfr_long_run".to_string()) && header.contains(&"open.fuxia-hsr".to_string()));
    assert!(!header.contains(&"capital_share".to_string()), "a fixed parameter is left out");
    let rows: Vec<std::collections::HashMap<String, String>> =
        rdr.deserialize().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 40);
    // Each draw's TFR_∞ and ε_MA are the engine's, bit for bit (the shortest round-trip text).
    let (_, _, model) = model_of(&plan_era_text());
    let mut ws = Workspace::new(&model);
    let mut out = vec![0.0; model.layout.len()];
    for (k, r) in rows.iter().enumerate() {
        assert_eq!(r["draw"], k.to_string());
        let mut seen = (0.0, 0.0);
        simulate_observed(
            &model,
            &Streams::of(20181231, k as u64),
            Mode::Stochastic,
            &mut ws,
            &mut out,
            |v| {
                seen = (v.param(P::TfrLongRun), v.param(P::MarketAccessElasticity));
            },
        )
        .unwrap();
        assert_eq!(r["tfr_long_run"].parse::<f64>().unwrap(), seen.0, "draw {k}");
        assert_eq!(r["market_access_elasticity"].parse::<f64>().unwrap(), seen.1, "draw {k}");
    }
}
