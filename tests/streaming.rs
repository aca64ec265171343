//! The streaming summary (`runner::summarise_run`, which keeps only the values near each
//! quantile) gives the same bits as summarising a run that keeps every draw, whatever the thread
//! count, the stage sizes, or whether a series had to be gathered again in full.

mod common;

use common::*;
use minxinan::runner::{self, SieveConfig};
use minxinan::stats::{self, Summary};
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
    pool.install(|| runner::summarise_run(model, cfg, &sc.targets, sieve, &|_| {}, &|| false)).unwrap()
}

fn kept(model: &Model, sc: &minxinan::Scenario, cfg: &RunConfig) -> Summary {
    let ens = runner::run(model, cfg, &|_| {}).unwrap();
    stats::summary_of(&ens, &sc.targets)
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
    let cfg = RunConfig { draws: 1000..4000, seed: 7, deterministic: false };
    let want = kept(&model, &sc, &cfg);
    let sieve = SieveConfig { first_stage: 512, z: 5.0 };
    for threads in [1, 2, 3] {
        let got = streamed(&model, &sc, &cfg, sieve, threads);
        assert_same(&got, &want, &format!("{threads} threads"));
        assert_eq!(got.regathered, 0);
    }
    // The default stages (one stage below 2 048 draws) and the deterministic run.
    let small = RunConfig { draws: 0..300, seed: 7, deterministic: false };
    assert_same(
        &streamed(&model, &sc, &small, SieveConfig::default(), 2),
        &kept(&model, &sc, &small),
        "300 draws",
    );
    let det = RunConfig { draws: 0..300, seed: 7, deterministic: true };
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
    let cfg = RunConfig { draws: 0..2000, seed: 3, deterministic: false };
    // z = 0 leaves four ranks either side of each quantile: many series lose a rank.
    let got = streamed(&model, &sc, &cfg, SieveConfig { first_stage: 256, z: 0.0 }, 2);
    assert!(got.regathered > 10, "only {} series regathered", got.regathered);
    assert_same(&got, &kept(&model, &sc, &cfg), "z = 0");
}

#[test]
fn cancelling_stops_the_run_in_any_stage() {
    let (_, sc, model) = model_of(&baseline_text());
    let cfg = RunConfig { draws: 0..3000, seed: 1, deterministic: false };
    let sieve = SieveConfig { first_stage: 256, z: 5.0 };
    for after in [0, 300, 2000] {
        let seen = std::sync::atomic::AtomicU64::new(0);
        let progress = |k: u64| {
            seen.fetch_add(k, std::sync::atomic::Ordering::Relaxed);
        };
        let cancel = || seen.load(std::sync::atomic::Ordering::Relaxed) >= after;
        let r = runner::summarise_run(&model, &cfg, &sc.targets, sieve, &progress, &cancel);
        assert!(matches!(r, Err(minxinan::ModelError::Cancelled)), "cancelled after {after}");
        assert!(seen.into_inner() < 3000, "cancelled after {after}: every draw ran");
    }
}

#[test]
fn a_large_run_streams_and_writes_the_same_files_as_one_that_keeps_every_draw() {
    // 30 000 baseline draws would keep 0.6 GB of outcomes: `run` streams them. --save-draws keeps
    // them all (to write draws.csv); every other file must be byte-identical.
    let dir = tempfile::tempdir().unwrap();
    let (_, _, model) = model_of(&baseline_text());
    assert!(runner::streams(&model, 30_000) && !runner::streams(&model, 10_000));
    let base = root().join("scenarios/baseline.toml");
    let base = base.to_str().unwrap();
    let run = |out: &str, extra: &[&str]| {
        let mut args = vec!["run", base, "--draws", "30000", "--quiet", "--no-report", "--out", out];
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
