//! `minxinan sensitivity` (docs/SENSITIVITY.md): the indices against a brute-force
//! Var(E[Y | X]) on the model, their invariants, a one-input scenario, the same bytes for any
//! thread count, and bad input refused with exit 2 and nothing written.

mod common;

use common::*;
use minxinan::indicators::Indicator;
use minxinan::isa::Isa;
use minxinan::model::inputs::sensitivity_inputs;
use minxinan::runner::Hooks;
use minxinan::scenario::HistoryMode;
use minxinan::sensitivity::{self as sa, Analysis, Design};
use minxinan::uncertain::Uncertain;
use minxinan::{Model, Region, RunConfig, Scenario};
use rand::RngExt;
use std::path::Path;

/// The baseline as `sensitivity` takes it: without its history.
fn baseline_prior() -> (Region, Model) {
    let region = Region::embedded();
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| e.to_string());
    let path = root().join("scenarios/baseline.toml");
    let scenario = Scenario::load_as(&path, &read, &region, HistoryMode::Off).unwrap();
    let model = Model::new(&region, &scenario).unwrap();
    (region, model)
}

fn analyse(model: &Model, samples: u64, seed: u64, indicators: &[Indicator]) -> Analysis {
    let design = Design { samples, seed, inputs: sensitivity_inputs(model), replicates: sa::REPLICATES };
    let outputs = sa::outputs(model, indicators);
    sa::analyse(model, &design, &outputs, Isa::widest(), u64::MAX, Hooks::none()).unwrap()
}

/// The region's real GDP in 2035: its position in a draw's outcomes.
fn region_gdp_2035(model: &Model) -> usize {
    model.layout.index(model.n, 2035, Indicator::GdpReal)
}

#[test]
fn first_order_index_of_the_tfp_trend_agrees_with_brute_force() {
    // S1 of the TFP trend γ_LR for the region's 2035 real GDP, two ways:
    // (1) the Saltelli design, N = 2048;
    // (2) brute force: γ_LR fixed at the midpoints of 32 equal-probability strata of its
    //     distribution, 2 000 draws each on common random numbers (draws 0..2000: every other
    //     stream the same), S1 = Var_m(E[Y | x_m]) / Var(Y) over the 64 000 values; its own
    //     error from a bootstrap over the 2 000 draws (resampled jointly for every x_m).
    let (_, model) = baseline_prior();
    let a = analyse(&model, 2048, 7, &[Indicator::GdpReal]);
    let p = minxinan::params::PARAMS.iter().position(|s| s.name == "tfp_growth_long_run").unwrap();
    let i = a.design.inputs.iter().position(|g| g.name == "tfp_growth_long_run").unwrap();
    let out = a.outputs.iter().find(|o| o.key.position == region_gdp_2035(&model)).unwrap();
    let ix = out.indices.as_ref().unwrap();
    let (s1, (lo, hi)) = (ix.s1[i], ix.s1_ci[i]);

    // The strata's values: quantiles (m + ½)/32 of 200 000 draws of γ_LR's distribution.
    let mut r = minxinan::rng::stream(1, minxinan::rng::purpose("test.brute"), 0);
    let mut xs: Vec<f64> = (0..200_000).map(|_| model.params[p].value.sample(&mut r).unwrap()).collect();
    xs.sort_by(f64::total_cmp);
    let (m, n) = (32, 2000);
    let mut y = vec![vec![0.0; n]; m];
    for (k, ys) in y.iter_mut().enumerate() {
        let x = xs[((k as f64 + 0.5) / m as f64 * xs.len() as f64) as usize];
        let mut fixed = model.clone();
        fixed.params[p].value = Uncertain::fixed(x);
        let e = ensemble(&fixed, &RunConfig::new(0..n as u64, 7));
        for (d, v) in ys.iter_mut().enumerate() {
            *v = e.value(d, region_gdp_2035(&model));
        }
    }
    let brute = |w: &[usize]| {
        let means: Vec<f64> =
            y.iter().map(|ys| w.iter().map(|&d| ys[d]).sum::<f64>() / w.len() as f64).collect();
        let grand = means.iter().sum::<f64>() / m as f64;
        let between = means.iter().map(|v| (v - grand).powi(2)).sum::<f64>() / m as f64;
        let total = y.iter().flat_map(|ys| w.iter().map(move |&d| (ys[d] - grand).powi(2))).sum::<f64>()
            / (m * w.len()) as f64;
        between / total
    };
    let all: Vec<usize> = (0..n).collect();
    let s1_brute = brute(&all);
    let mut rb = minxinan::rng::stream(2, minxinan::rng::purpose("test.brute.bootstrap"), 0);
    let reps: Vec<f64> =
        (0..200).map(|_| brute(&(0..n).map(|_| rb.random_range(0..n)).collect::<Vec<_>>())).collect();
    let mean = reps.iter().sum::<f64>() / reps.len() as f64;
    let se = (reps.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (reps.len() - 1) as f64).sqrt();
    eprintln!(
        "S1(tfp_growth_long_run → region gdp_real 2035): sensitivity {s1:.4} [{lo:.4}, {hi:.4}], brute force {s1_brute:.4} ± {:.4} (1.96 se)",
        1.96 * se
    );
    assert!(s1_brute > 0.02, "the trend matters: {s1_brute}");
    assert!(
        (s1 - s1_brute).abs() <= (hi - lo) / 2.0 + 1.96 * se,
        "S1 {s1} [{lo}, {hi}] against brute force {s1_brute} ± {}",
        1.96 * se
    );
}

#[test]
fn indices_keep_their_invariants_within_their_intervals() {
    // On the baseline (N = 512, three indicators: 6 entities × 17 years × 3 × k inputs):
    // ST ≥ 0 always (a sum of squares); 0 ≤ S1 ≤ ST and ΣS1 ≤ 1 within the 95 % intervals, which
    // by chance miss in a few per cent of the indices at most.
    let (_, model) = baseline_prior();
    let a =
        analyse(&model, 512, 3, &[Indicator::Population, Indicator::GdpReal, Indicator::UrbanizationRate]);
    let (mut n, mut s1_neg, mut s1_above_st, mut sums, mut sum_above_one) = (0, 0, 0, 0, 0);
    for o in &a.outputs {
        let Some(ix) = &o.indices else { continue };
        for i in 0..a.design.inputs.len() {
            n += 1;
            assert!(ix.st[i] >= 0.0, "{:?} {}: ST {}", o.key, a.design.inputs[i].name, ix.st[i]);
            s1_neg += usize::from(ix.s1_ci[i].1 < 0.0);
            s1_above_st += usize::from(ix.s1_ci[i].0 > ix.st_ci[i].1);
        }
        sums += 1;
        sum_above_one += usize::from(ix.sum_s1_ci.0 > 1.0);
    }
    eprintln!(
        "{n} indices: S1 < 0 beyond its interval {s1_neg}, S1 > ST beyond theirs {s1_above_st}; {sums} outcomes: ΣS1 > 1 beyond its interval {sum_above_one}"
    );
    assert!(n > 5000, "{n}");
    assert!(s1_neg * 100 <= n * 3, "{s1_neg} of {n}");
    assert!(s1_above_st * 100 <= n * 3, "{s1_above_st} of {n}");
    assert!(sum_above_one * 100 <= sums * 3, "{sum_above_one} of {sums}");
}

/// The plan-era scenario with every parameter but the TFP trend fixed, no shocks (their scales
/// 0) and no projects: one uncertain input.
fn one_input_scenario(region: &Region) -> String {
    let mut s = plan_era_text().replace("name = \"plan-era\"", "name = \"one-input\"");
    s.push_str("\n[parameters]\n");
    for (spec, d) in minxinan::params::PARAMS.iter().zip(
        &Model::new(region, &Scenario::parse("p.toml", &plan_era_text(), region).unwrap()).unwrap().params,
    ) {
        let zero = [
            "tfp_shock_sd",
            "disaster_probability",
            "migration_shock_sd",
            "migration_offset_sd",
            "urbanization_shock_sd",
            "inflation_sd",
            "tfp_drift_sd",
            "migration_drift_sd",
        ];
        if spec.name == "tfp_growth_long_run" {
            continue;
        }
        let v = if zero.contains(&spec.name) { 0.0 } else { d.value.central() };
        s.push_str(&format!("{} = {v:?}\n", spec.name));
    }
    s.push_str("\n[infrastructure]\n");
    for p in &region.projects {
        s.push_str(&format!("[[infrastructure.projects]]\nid = \"{}\"\nenabled = false\n", p.id));
    }
    s
}

#[test]
fn one_uncertain_input_explains_all_of_every_band_and_fixed_parameters_have_no_index() {
    let region = Region::embedded();
    let tmp = tempfile::tempdir().unwrap();
    let path = write_scenario(tmp.path(), "one.toml", &one_input_scenario(&region));
    let o = minxinan(
        tmp.path(),
        &[
            "sensitivity",
            path.to_str().unwrap(),
            "--samples",
            "1024",
            "--out",
            "s",
            "--quiet",
            "--indicators",
            "gdp_real,population,gdp_per_capita",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut rdr = csv::Reader::from_path(tmp.path().join("s/sensitivity.csv")).unwrap();
    let rows: Vec<std::collections::HashMap<String, String>> =
        rdr.deserialize().map(|r| r.unwrap()).collect();
    let inputs: std::collections::BTreeSet<&str> = rows.iter().map(|r| r["input"].as_str()).collect();
    // Fixed parameters are no inputs: only the trend and the shock streams (read, but scaled
    // by 0) remain.
    assert!(inputs.contains("tfp_growth_long_run"));
    for i in &inputs {
        assert!(*i == "tfp_growth_long_run" || i.starts_with("shocks."), "{i} is fixed or absent");
    }
    let num = |r: &std::collections::HashMap<String, String>, k: &str| r[k].parse::<f64>().unwrap();
    let mut checked = 0;
    for r in &rows {
        if r["input"] == "tfp_growth_long_run" {
            // It explains the whole band: ST = S1 = 1, within twice the half-width of each
            // index's 95 % interval (about 4 standard errors).
            for k in ["S1", "ST"] {
                let half = (num(r, &format!("{k}_hi")) - num(r, &format!("{k}_lo"))) / 2.0;
                assert!((num(r, k) - 1.0).abs() <= 2.0 * half && half < 0.2, "{k}: {r:?}");
            }
            checked += 1;
        } else {
            // A shock scaled by 0 changes nothing: exactly 0.
            assert_eq!((num(r, "S1"), num(r, "ST")), (0.0, 0.0), "{r:?}");
        }
    }
    assert!(checked > 50, "{checked}");
}

#[test]
fn the_same_bytes_for_any_thread_count_and_the_report_rebuilds_from_the_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for t in ["1", "3"] {
        let o = minxinan(
            d,
            &[
                "sensitivity",
                &scen("baseline.toml"),
                "--samples",
                "64",
                "--out",
                &format!("t{t}"),
                "--threads",
                t,
                "--quiet",
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let read = |t: &str, f: &str| std::fs::read_to_string(d.join(t).join(f)).unwrap();
    for f in ["sensitivity.csv", "convergence.csv", "entities.csv"] {
        assert!(read("t1", f) == read("t3", f), "{f} differs");
    }
    // The report too, but for the manifest it shows (the time and threads of the run).
    let page =
        |t: &str| read(t, "report.html").split("<details class=\"manifest\">").next().unwrap().to_string();
    assert!(page("t1") == page("t3"), "report.html differs");
    let charts = |t: &str| {
        let mut v: Vec<_> =
            std::fs::read_dir(d.join(t).join("charts")).unwrap().map(|e| e.unwrap().path()).collect();
        v.sort();
        v.iter().map(|p| std::fs::read(p).unwrap()).collect::<Vec<_>>()
    };
    assert!(charts("t1") == charts("t3") && charts("t1").len() == 30, "charts differ");
    // Every chart's text is at least 12 px where the report shows it narrowest (640 of 760).
    for svg in charts("t1") {
        let svg = String::from_utf8(svg).unwrap();
        for part in svg.split("font-size=\"").skip(1) {
            let size: f64 = part.split('"').next().unwrap().parse().unwrap();
            assert!(size * 640.0 / 760.0 >= 12.0, "font-size {size}");
        }
    }
    // The report says the history is off, and rebuilds from the folder's files alone.
    let html = std::fs::read_to_string(d.join("t1/report.html")).unwrap();
    assert!(html.contains("Without history"));
    std::fs::remove_file(d.join("t1/report.html")).unwrap();
    let o = minxinan(d, &["report", "t1"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_to_string(d.join("t1/report.html")).unwrap(), html);
    // The manifest: history off, the design, the inputs.
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("t1/manifest.json")).unwrap()).unwrap();
    assert!(m["history"].as_str().unwrap().starts_with("off"));
    assert_eq!(m["samples"], 64);
    assert_eq!(m["draws"].as_u64().unwrap(), 64 * (m["inputs_count"].as_u64().unwrap() + 2));
}

#[test]
fn bad_arguments_exit_2_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let b = scen("baseline.toml");
    for (args, expect) in [
        (vec!["--samples", "10"], "--samples 10: expected 64 to"),
        (vec!["--indicators", "gdp_reel"], "no indicator `gdp_reel`"),
        (vec!["--groups", "missing.toml"], "missing.toml"),
    ] {
        let mut all = vec!["sensitivity", b.as_str(), "--out", "o", "--quiet"];
        all.extend(args.iter().copied());
        let o = minxinan(d, &all);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: expected `{expect}` in {err}");
        assert!(!d.join("o").exists(), "{args:?} left output");
    }
}

/// Each `tests/bad/groups/NAME.toml` is a groups file with one kind of mistake; its `# expect:`
/// lines give fragments of the message (the file is named by its path).
#[test]
fn every_bad_groups_file_is_refused_with_its_message() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = root().join("tests/bad/groups");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut n = 0;
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let expect: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# expect: ")).collect();
        assert!(!expect.is_empty(), "{name} has no `# expect:` line");
        let o = minxinan(
            tmp.path(),
            &[
                "sensitivity",
                &scen("industry-transfer.toml"),
                "--samples",
                "64",
                "--groups",
                path.to_str().unwrap(),
                "--quiet",
                "--out",
                "o",
            ],
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        for e in &expect {
            assert!(err.contains(e), "{name}: expected `{e}` in:\n{err}");
        }
        assert!(!err.contains("panicked") && !tmp.path().join("o").exists(), "{name}");
        n += 1;
    }
    assert!(n >= 8, "{n} bad groups files");
}

#[test]
fn a_groups_file_joins_and_splits_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let groups = write_scenario(
        tmp.path(),
        "g.toml",
        "per_project = true\n\n[[group]]\nname = \"TFP\"\ninputs = [\"tfp_growth_long_run\", \"tfp_convergence_years\", \"shocks.tfp\"]\n\n[[group]]\nname = \"fuxia\"\ninputs = [\"project.fuxia-hsr\"]\n",
    );
    let (_, model) = baseline_prior();
    let text = std::fs::read_to_string(&groups).unwrap();
    let g = sa::groups::regroup(&model, "g.toml", &text).unwrap();
    let names: Vec<&str> = g.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(&names[..2], ["TFP", "fuxia"]);
    // The joined ones are gone, each other project has its own opening and TFP-size inputs.
    for gone in ["tfp_growth_long_run", "shocks.tfp", "projects.opening", "project.fuxia-hsr.opening"] {
        assert!(!names.contains(&gone), "{gone}");
    }
    assert!(names.contains(&"project.pumei-railway.opening"));
    // Still a partition of the streams a draw reads.
    let mut owned: Vec<u64> = g.iter().flat_map(|g| g.purposes.iter().copied()).collect();
    let mut defaults: Vec<u64> =
        sensitivity_inputs(&model).iter().flat_map(|g| g.purposes.iter().copied()).collect();
    owned.sort_unstable();
    defaults.sort_unstable();
    assert_eq!(owned, defaults);
}
