//! Determinism: the same seed gives byte-identical files; one and two threads give identical
//! files; draws a..b of a long run equal a run of just those draws.

mod common;

use common::*;
use minxinan::RunConfig;

#[test]
fn thread_count_and_draw_order_do_not_change_results() {
    let (_, _, model) = model_of(&baseline_text());
    let cfg = RunConfig::new(0..400, 42);
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let two = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let a = one.install(|| ensemble(&model, &cfg));
    let b = two.install(|| ensemble(&model, &cfg));
    let same = |x: f64, y: f64| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan());
    assert!((0..a.n_draws()).all(|k| a.row(k).into_iter().zip(b.row(k)).all(|(x, y)| same(x, y))));
    let sa = one.install(|| minxinan::stats::summarise(&a));
    let sb = two.install(|| minxinan::stats::summarise(&b));
    let bits = |v: &[minxinan::stats::SeriesStats]| -> Vec<u64> {
        v.iter().flat_map(|s| [s.mean, s.sd].into_iter().chain(s.q)).map(f64::to_bits).collect()
    };
    assert_eq!(bits(&sa), bits(&sb));
}

#[test]
fn a_range_of_draws_equals_the_same_draws_of_a_long_run() {
    let (_, _, model) = model_of(&baseline_text());
    let full = ensemble(&model, &RunConfig::new(0..300, 9));
    let part = ensemble(&model, &RunConfig::new(100..200, 9));
    for k in 0..100 {
        let (a, b) = (full.row(100 + k), part.row(k));
        assert!(
            a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())),
            "draw {}",
            100 + k
        );
    }
    // A different seed gives different draws.
    let other = ensemble(&model, &RunConfig::new(100..101, 10));
    let j = model.layout.index(5, 2035, minxinan::indicators::Indicator::GdpReal);
    assert_ne!(other.row(0)[j], part.row(0)[j]);
}

#[test]
fn cli_files_are_byte_identical_across_runs_and_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let scen = root().join("scenarios/baseline.toml");
    let s = scen.to_str().unwrap();
    let mut outs = Vec::new();
    for (k, threads) in ["1", "2", "2"].iter().enumerate() {
        let out = format!("o{k}");
        let o = minxinan_env(
            d,
            &["run", s, "--draws", "500", "--out", &out, "--quiet", "--save-draws"],
            &[("RAYON_NUM_THREADS", threads)],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        outs.push(out);
    }
    for f in ["summary.csv", "targets.csv", "draws.csv", "entities.csv"] {
        let a = std::fs::read(d.join(&outs[0]).join(f)).unwrap();
        for o in &outs[1..] {
            assert!(a == std::fs::read(d.join(o).join(f)).unwrap(), "{f} differs");
        }
    }
    // --threads does the same.
    let o = minxinan(d, &["run", s, "--draws", "500", "--out", "t1", "--quiet", "--threads", "1"]);
    assert!(o.status.success());
    assert!(
        std::fs::read(d.join("t1/summary.csv")).unwrap() == std::fs::read(d.join("o0/summary.csv")).unwrap()
    );
}

#[test]
fn cli_draw_range_matches_the_full_run_in_draws_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let scen = root().join("scenarios/baseline.toml");
    let s = scen.to_str().unwrap();
    let o = minxinan(
        d,
        &["run", s, "--draws", "1000", "--out", "full", "--quiet", "--save-draws=gdp_real,population"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = minxinan(
        d,
        &[
            "run",
            s,
            "--draws",
            "1000",
            "--draw-range",
            "100..200",
            "--out",
            "part",
            "--quiet",
            "--save-draws=gdp_real,population",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let full = std::fs::read_to_string(d.join("full/draws.csv")).unwrap();
    let part = std::fs::read_to_string(d.join("part/draws.csv")).unwrap();
    let pick: Vec<&str> = full
        .lines()
        .skip(1)
        .filter(|l| {
            let draw: u64 = l.split(',').next().unwrap().parse().unwrap();
            (100..200).contains(&draw)
        })
        .collect();
    let got: Vec<&str> = part.lines().skip(1).collect();
    assert_eq!(got.len(), 100 * 6 * (18 + 18));
    assert_eq!(pick, got);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("part/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["draw_range"], serde_json::json!([100, 200]));
    assert_eq!(manifest["draws"], 100);
}

#[test]
fn every_compiled_version_of_the_draw_gives_the_same_bits() {
    use minxinan::isa::Isa;
    use minxinan::model::Mode;
    use minxinan::model::engine::{Workspace, simulate};
    use minxinan::rng::Streams;
    if !Isa::Avx2.available() {
        eprintln!("this processor has no AVX2: only the generic version runs");
        return;
    }
    // The baseline, a scenario with every kind of lever (transfer, parks, timing, shifts), and
    // the extreme-high stress test, whose outflows meet the 90% cap thousands of times (the
    // AVX-512 kernel checks the cap as it stores the cells, the others in a pass of their own).
    let region = minxinan::Region::embedded();
    let read = |p: &std::path::Path| std::fs::read_to_string(p).map_err(|e| e.to_string());
    let load = |path: &str| {
        let sc = minxinan::Scenario::load(&root().join(path), &read, &region).unwrap();
        minxinan::Model::new(&region, &sc).unwrap()
    };
    let (plan_model, extreme_model) = (load("scenarios/plan-full.toml"), load("tests/extreme/high.toml"));
    let (_, _, base_model) = model_of(&baseline_text());
    let mut capped = 0;
    for model in [&base_model, &plan_model, &extreme_model] {
        let mut wa = Workspace::on(Isa::Generic, model);
        let mut wide: Vec<Workspace> =
            Isa::available_versions().skip(1).map(|isa| Workspace::on(isa, model)).collect();
        let (mut a, mut b) = (vec![0.0; model.layout.len()], vec![0.0; model.layout.len()]);
        for draw in 0..60 {
            for mode in [Mode::Stochastic, Mode::Deterministic] {
                let da = simulate(model, &Streams::of(5, draw), mode, &mut wa, &mut a).unwrap();
                for wb in &mut wide {
                    let isa = wb.isa();
                    let db = simulate(model, &Streams::of(5, draw), mode, wb, &mut b).unwrap();
                    assert_eq!(da, db);
                    capped += db.0[minxinan::diagnostics::Diag::MigrationCapBinding as usize];
                    let same = a
                        .iter()
                        .zip(&b)
                        .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()));
                    assert!(same, "draw {draw} {mode:?}: the {isa:?} version differs from the generic one");
                }
            }
        }
    }
    assert!(capped > 0, "the outflow cap bound somewhere");
}

#[test]
fn the_kept_matrix_holds_each_draw_as_simulated_alone() {
    use minxinan::model::Mode;
    use minxinan::model::engine::{self, Workspace};
    use minxinan::rng::Streams;
    // 300 draws: a full chunk of 256 and a partial one, each stored series by series.
    let (_, _, model) = model_of(&baseline_text());
    let ens = ensemble(&model, &RunConfig::new(7..307, 5));
    let width = model.layout.len();
    let mut ws = Workspace::new(&model);
    let mut alone = vec![0.0; 300 * width];
    for (k, row) in alone.chunks_exact_mut(width).enumerate() {
        engine::simulate(&model, &Streams::of(5, 7 + k as u64), Mode::Stochastic, &mut ws, row).unwrap();
    }
    let same = |x: f64, y: f64| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan());
    for k in 0..300 {
        let row = ens.row(k);
        assert!(
            (0..width).all(|j| same(row[j], alone[k * width + j]) && same(ens.value(k, j), row[j])),
            "draw {k}"
        );
    }
    let mut series = vec![0.0; 300];
    for j in 0..width {
        ens.series_into(j, &mut series);
        assert!((0..300).all(|k| same(series[k], alone[k * width + j])), "series {j}");
    }
}

#[test]
fn a_batch_of_draws_gives_each_draw_as_simulated_alone() {
    use minxinan::isa::Isa;
    use minxinan::model::Mode;
    use minxinan::model::engine::{BATCH, Batch, Workspace, simulate, simulate_batch};
    use minxinan::rng::Streams;
    let region = minxinan::Region::embedded();
    let read = |p: &std::path::Path| std::fs::read_to_string(p).map_err(|e| e.to_string());
    let load = |path: &str| {
        let sc = minxinan::Scenario::load(&root().join(path), &read, &region).unwrap();
        minxinan::Model::new(&region, &sc).unwrap()
    };
    let (_, _, base_model) = model_of(&baseline_text());
    let models = [base_model, load("scenarios/plan-full.toml"), load("tests/extreme/high.toml")];
    let same = |a: &[f64], b: &[f64]| {
        a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
    };
    for model in &models {
        let w = model.layout.len();
        let mut alone = vec![0.0; w];
        let mut rows = vec![0.0; BATCH * w];
        for isa in Isa::available_versions() {
            let (mut ws, mut batch) = (Workspace::on(isa, model), Batch::on(isa, model));
            // Batches of every size, at draws that do not start at a multiple of the batch.
            for (first, k) in [(3, 1), (11, 3), (20, BATCH), (29, 5), (40, BATCH)] {
                for mode in [Mode::Stochastic, Mode::Deterministic] {
                    let draws = first..first + k as u64;
                    let streams: Vec<Streams> = Streams::run(5, draws.clone()).collect();
                    let got = simulate_batch(model, &streams, mode, &mut batch, &mut rows[..k * w]).unwrap();
                    let mut sum = minxinan::diagnostics::Diagnostics::default();
                    for (draw, row) in draws.zip(rows.chunks_exact(w)) {
                        sum.merge(
                            &simulate(model, &Streams::of(5, draw), mode, &mut ws, &mut alone).unwrap(),
                        );
                        assert!(same(&alone, row), "{isa:?} {mode:?}: draw {draw} differs in a batch of {k}");
                    }
                    assert_eq!(got, sum, "the batch's diagnostics are its draws' summed");
                }
            }
        }
    }
}

#[test]
fn a_failing_draw_leaves_its_batch_and_the_lowest_failure_is_reported() {
    use minxinan::model::Mode;
    use minxinan::model::engine::{BATCH, Batch, Workspace, simulate, simulate_batch};
    use minxinan::rng::Streams;
    // About 60% of the draws cannot meet this truncation (1 000 tries of a 3.3-sd tail each).
    let text = "[scenario]\nname = \"t\"\n[parameters]\ntfr_long_run = { dist = \"normal\", mean = 1.0, sd = 0.01, truncate = [1.033, 3.0] }\n";
    let (_, _, model) = model_of(text);
    let w = model.layout.len();
    let mut ws = Workspace::new(&model);
    let mut batch = Batch::new(&model);
    let mut alone = vec![0.0; w];
    let mut rows = vec![0.0; BATCH * w];
    let (mut mixed, mut clean) = (0, 0);
    for start in (0..20 * BATCH as u64).step_by(BATCH) {
        let draws = start..start + BATCH as u64;
        let singles: Vec<_> = draws
            .clone()
            .map(|d| {
                simulate(&model, &Streams::of(8, d), Mode::Stochastic, &mut ws, &mut alone)
                    .map(|_| alone.clone())
            })
            .collect();
        let streams: Vec<Streams> = Streams::run(8, draws.clone()).collect();
        let got = simulate_batch(&model, &streams, Mode::Stochastic, &mut batch, &mut rows)
            .map_err(|(row, e)| (start + row as u64, e));
        let lowest = singles.iter().position(Result::is_err);
        match (got, lowest) {
            (Ok(_), None) => clean += 1,
            (Err((draw, e)), Some(at)) => {
                assert_eq!(draw, start + at as u64);
                assert_eq!(e.to_string(), singles[at].as_ref().unwrap_err().to_string());
                mixed += usize::from(singles.iter().any(Result::is_ok));
            }
            (got, lowest) => panic!("batch {start}: {got:?} where the first failure alone is {lowest:?}"),
        }
        // The draws that run alone run the same in the batch, whatever the others do.
        for (single, row) in singles.iter().zip(rows.chunks_exact(w)) {
            if let Ok(values) = single {
                assert!(
                    values
                        .iter()
                        .zip(row)
                        .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
                );
            }
        }
    }
    assert!(mixed > 0, "some batch held failing and running draws ({clean} ran clean)");
}
