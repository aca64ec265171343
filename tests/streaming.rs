//! The streamed summary (`runner::Summaries` with `Strategy::Stream`, which keeps only the values
//! near each quantile) gives the same bits as summarising a run that keeps every draw, whatever
//! the thread count, the stage sizes, or whether a series had to be gathered again in full; so
//! does a streamed comparison against paired ensembles.

mod common;

use common::*;
use minxinan::runner::{
    self, Hooks, KeepDraws, Outcomes, STREAM_ABOVE_BYTES, SieveConfig, Strategy, Summaries,
};
use minxinan::stats::{self, DiffStats, Summary};
use minxinan::{Model, RunConfig};

fn bits(s: &Summary) -> Vec<u64> {
    s.stats.iter().flat_map(|x| [x.mean, x.sd].into_iter().chain(x.q)).map(f64::to_bits).collect()
}

fn streamed(
    model: &Model,
    sc: &minxinan::Scenario,
    cfg: &RunConfig,
    sieve: SieveConfig,
    threads: usize,
) -> Summary {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let sink = Summaries::new(vec![&sc.targets]).strategy(Strategy::Stream(sieve));
    let mut got = pool.install(|| runner::run(&[model], cfg, sink, Hooks::none())).unwrap();
    assert!(got.kept.is_empty(), "the streamed summary keeps no draw");
    got.summaries.remove(0)
}

fn kept(model: &Model, sc: &minxinan::Scenario, cfg: &RunConfig) -> Summary {
    stats::summary_of(&ensemble(model, cfg), &sc.targets)
}

/// A comparison of `models` streamed through a sieve of `sieve`.
fn compared(
    models: &[Model],
    targets: &[&[minxinan::region::Target]],
    cfg: &RunConfig,
    sieve: SieveConfig,
    hooks: Hooks<'_>,
) -> Outcomes {
    let models: Vec<&Model> = models.iter().collect();
    let sink = Summaries::new(targets.to_vec()).strategy(Strategy::Stream(sieve));
    runner::run(&models, cfg, sink, hooks).unwrap()
}

fn assert_same(a: &Summary, b: &Summary, what: &str) {
    assert_eq!(a.draws, b.draws, "{what}");
    assert_eq!(a.target_hits, b.target_hits, "{what}");
    assert_eq!(a.diagnostics, b.diagnostics, "{what}");
    let (x, y) = (bits(a), bits(b));
    let differ = x.iter().zip(&y).filter(|(p, q)| p != q).count();
    if let Some(i) = x.iter().zip(&y).position(|(p, q)| p != q) {
        eprintln!(
            "{what}: first difference at number {i} (series {}, stat {}): {} vs {}",
            i / 11,
            i % 11,
            f64::from_bits(x[i]),
            f64::from_bits(y[i])
        );
    }
    assert_eq!(differ, 0, "{what}: {differ} of {} numbers differ", x.len());
}

#[test]
fn streaming_equals_keeping_every_draw() {
    let (_, sc, model) = model_of(&baseline_text());
    // 3 000 draws: a first stage of 512, then 1 024, 2 048 and the rest (brackets narrowed
    // three times); a draw range that does not start at 0 nor end on a chunk boundary.
    let cfg = RunConfig::new(1000..4000, 7);
    let want = kept(&model, &sc, &cfg);
    let sieve = SieveConfig { first_stage: 512, z: 5.0 };
    for threads in [1, 2, 3] {
        let got = streamed(&model, &sc, &cfg, sieve, threads);
        assert_same(&got, &want, &format!("{threads} threads"));
        assert_eq!(got.regathered, 0);
    }
    // The default stages (one stage below 2 048 draws) and the deterministic run.
    let small = RunConfig::new(0..300, 7);
    assert_same(
        &streamed(&model, &sc, &small, SieveConfig::default(), 2),
        &kept(&model, &sc, &small),
        "300 draws",
    );
    let det = RunConfig { deterministic: true, ..RunConfig::new(0..300, 7) };
    assert_same(
        &streamed(&model, &sc, &det, SieveConfig::default(), 2),
        &kept(&model, &sc, &det),
        "deterministic",
    );
}

#[test]
fn a_series_that_loses_its_bracket_is_gathered_again_exactly() {
    let region = minxinan::Region::embedded();
    let read = |p: &std::path::Path| std::fs::read_to_string(p).map_err(|e| e.to_string());
    let sc = minxinan::Scenario::load(&root().join("scenarios/plan-full.toml"), &read, &region).unwrap();
    let model = Model::new(&region, &sc).unwrap();
    let cfg = RunConfig::new(0..2000, 3);
    // z = 0 leaves four ranks either side of each quantile: many series lose a rank.
    let got = streamed(&model, &sc, &cfg, SieveConfig { first_stage: 256, z: 0.0 }, 2);
    assert!(got.regathered > 10, "only {} series regathered", got.regathered);
    assert_same(&got, &kept(&model, &sc, &cfg), "z = 0");
}

#[test]
fn cancelling_stops_the_run_in_any_stage() {
    let (_, sc, model) = model_of(&baseline_text());
    let cfg = RunConfig::new(0..3000, 1);
    let sieve = SieveConfig { first_stage: 256, z: 5.0 };
    for after in [0, 300, 2000] {
        let seen = std::sync::atomic::AtomicU64::new(0);
        let progress = |k: u64| {
            seen.fetch_add(k, std::sync::atomic::Ordering::Relaxed);
        };
        let cancel = || seen.load(std::sync::atomic::Ordering::Relaxed) >= after;
        let sink = Summaries::new(vec![&sc.targets]).strategy(Strategy::Stream(sieve));
        let r = runner::run(&[&model], &cfg, sink, Hooks { progress: &progress, cancelled: &cancel });
        assert!(
            matches!(r, Err(minxinan::Error::Model(minxinan::ModelError::Cancelled))),
            "cancelled after {after}"
        );
        assert!(seen.into_inner() < 3000, "cancelled after {after}: every draw ran");
    }
}

#[test]
fn a_large_run_streams_and_writes_the_same_files_as_one_that_keeps_every_draw() {
    // 35 000 baseline draws would keep 0.6 GB of outcomes: `run` streams them. --save-draws keeps
    // them all (to write draws.csv); every other file must be byte-identical.
    let dir = tempfile::tempdir().unwrap();
    let (_, _, model) = model_of(&baseline_text());
    let kept = |n| KeepDraws::bytes(&[&model], n);
    assert!(kept(35_000) > STREAM_ABOVE_BYTES && kept(10_000) <= STREAM_ABOVE_BYTES);
    let base = root().join("scenarios/baseline.toml");
    let base = base.to_str().unwrap();
    let run = |out: &str, extra: &[&str]| {
        let mut args = vec!["run", base, "--draws", "35000", "--quiet", "--no-report", "--out", out];
        args.extend_from_slice(extra);
        let o = minxinan(dir.path(), &args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    run("streamed", &[]);
    run("kept", &["--save-draws=gdp_real"]);
    assert!(!dir.path().join("streamed/draws.csv").exists(), "draws.csv without --save-draws");
    assert!(dir.path().join("kept/draws.csv").exists());
    for f in ["summary.csv", "targets.csv", "pyramids.csv"] {
        let a = std::fs::read(dir.path().join("streamed").join(f)).unwrap();
        let b = std::fs::read(dir.path().join("kept").join(f)).unwrap();
        assert!(a == b, "{f} differs");
    }
}

fn scenario(name: &str) -> (minxinan::Scenario, Model) {
    let region = minxinan::Region::embedded();
    let read = |p: &std::path::Path| std::fs::read_to_string(p).map_err(|e| e.to_string());
    let sc = minxinan::Scenario::load(&root().join("scenarios").join(name), &read, &region).unwrap();
    let model = Model::new(&region, &sc).unwrap();
    (sc, model)
}

fn diff_bits(d: &[DiffStats]) -> Vec<u64> {
    d.iter().flat_map(|x| [x.mean, x.prob_alt_higher].into_iter().chain(x.q)).map(f64::to_bits).collect()
}

#[test]
fn a_streamed_comparison_equals_paired_ensembles_that_keep_every_draw() {
    // A base and two alternatives, one with parks (a longer layout); 2 500 draws from 1 000: a
    // first stage of 512, then 1 024 and the rest.
    let runs: Vec<(minxinan::Scenario, Model)> =
        ["baseline.toml", "co-built-parks.toml", "industry-transfer.toml"].map(scenario).into();
    let models: Vec<Model> = runs.iter().map(|(_, m)| m.clone()).collect();
    let targets: Vec<&[minxinan::region::Target]> = runs.iter().map(|(s, _)| s.targets.as_slice()).collect();
    let cfg = RunConfig::new(1000..3500, 5);
    let ensembles: Vec<_> = models.iter().map(|m| ensemble(m, &cfg)).collect();
    let want: Vec<Summary> =
        ensembles.iter().zip(&runs).map(|(e, (sc, _))| stats::summary_of(e, &sc.targets)).collect();
    let want_diffs: Vec<Vec<DiffStats>> =
        (1..3).map(|k| stats::paired(&ensembles[0], &ensembles[k])).collect();
    assert!(
        want_diffs.iter().all(|d| d.iter().any(|x| x.mean != 0.0)),
        "the alternatives differ from the base"
    );
    for (threads, z) in [(1, 5.0), (2, 5.0), (3, 5.0), (2, 0.0)] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let sieve = SieveConfig { first_stage: 512, z };
        let progress = std::sync::atomic::AtomicU64::new(0);
        let count = |k: u64| {
            progress.fetch_add(k, std::sync::atomic::Ordering::Relaxed);
        };
        let hooks = Hooks { progress: &count, cancelled: &|| false };
        let got = pool.install(|| compared(&models, &targets, &cfg, sieve, hooks));
        let what = format!("{threads} threads, z = {z}");
        assert_eq!(progress.into_inner(), 3 * 2500, "{what}: every scenario's draws counted");
        for (k, (g, w)) in got.summaries.iter().zip(&want).enumerate() {
            assert_same(g, w, &format!("{what}, scenario {k}"));
        }
        for (k, (g, w)) in got.diffs.iter().zip(&want_diffs).enumerate() {
            assert_eq!(g.len(), w.len());
            assert!(diff_bits(g) == diff_bits(w), "{what}, alternative {}: paired differences", k + 1);
        }
        if z == 0.0 {
            assert!(got.summaries.iter().any(|s| s.regathered > 0), "{what}: some series regathered");
        }
    }
}

#[test]
fn a_deterministic_comparison_is_one_draw_of_central_values() {
    let runs = ["baseline.toml", "industry-transfer.toml"].map(scenario);
    let models: Vec<Model> = runs.iter().map(|(_, m)| m.clone()).collect();
    let targets: Vec<&[minxinan::region::Target]> = runs.iter().map(|(s, _)| s.targets.as_slice()).collect();
    let cfg = RunConfig { deterministic: true, ..RunConfig::new(0..500, 9) };
    let got = compared(&models, &targets, &cfg, SieveConfig::default(), Hooks::none());
    let ensembles: Vec<_> = models.iter().map(|m| ensemble(m, &cfg)).collect();
    for ((g, e), (sc, _)) in got.summaries.iter().zip(&ensembles).zip(&runs) {
        assert_eq!(g.n_draws(), 1, "one draw");
        assert_same(g, &stats::summary_of(e, &sc.targets), "deterministic");
    }
    let want = stats::paired(&ensembles[0], &ensembles[1]);
    assert!(diff_bits(&got.diffs[0]) == diff_bits(&want), "paired differences of the central draws");
    // One draw: every quantile of a difference is that draw's difference.
    assert!(got.diffs[0].iter().all(|d| d.q.iter().all(|&q| q.to_bits() == d.mean.to_bits())));
}

#[test]
fn a_large_comparison_streams_and_writes_every_file() {
    // Two scenarios of 20 000 draws would keep 0.8 GB of outcomes: `compare` streams them.
    let dir = tempfile::tempdir().unwrap();
    let models = [scenario("baseline.toml").1, scenario("co-built-parks.toml").1];
    let kept = |n| KeepDraws::bytes(&[&models[0], &models[1]], n);
    assert!(kept(20_000) > STREAM_ABOVE_BYTES && kept(5_000) <= STREAM_ABOVE_BYTES);
    let (base, alt) = (root().join("scenarios/baseline.toml"), root().join("scenarios/co-built-parks.toml"));
    let args = ["compare", base.to_str().unwrap(), alt.to_str().unwrap(), "--draws", "20000", "--quiet"];
    let o = minxinan(dir.path(), &[&args[..], &["--no-report", "--out", "cmp"]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in ["summary.csv", "targets.csv", "pyramids.csv", "parks.csv", "compare.csv", "manifest.json"] {
        assert!(dir.path().join("cmp").join(f).exists(), "{f} written");
    }
    let rows = read_summary(&dir.path().join("cmp/compare.csv"));
    assert!(rows.len() > 1000, "{} rows of compare.csv", rows.len());
    let p = |r: &std::collections::HashMap<String, String>| r["prob_alt_higher"].parse::<f64>().unwrap();
    assert!(rows.iter().all(|r| (0.0..=1.0).contains(&p(r))), "probabilities in [0, 1]");
}
