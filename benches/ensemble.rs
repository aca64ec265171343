//! Criterion benchmarks of the simulation core: one baseline draw (also in each compiled
//! version the processor runs, and in a batch of eight as the runner runs them); 1000- and
//! 10 000-draw baseline ensembles, and 1000 draws of simulation alone (the core's throughput);
//! the exact-quantile summary alone; scenario parse + resolve + model setup. Report medians;
//! never gate CI on them (noise is ±3%): `.ci/icount` is the CI check.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use minxinan::isa::Isa;
use minxinan::model::Mode;
use minxinan::model::engine::{self, BATCH, Batch, Workspace};
use minxinan::rng::Streams;
use minxinan::runner::{self, Hooks, KeepDraws};
use minxinan::stats::Ensemble;
use minxinan::{Model, Region, RunConfig, Scenario, stats};
use rayon::prelude::*;
use std::hint::black_box;

fn baseline() -> (Region, Model) {
    let region = Region::embedded();
    let text = include_str!("../scenarios/baseline.toml");
    let scenario = Scenario::parse("baseline.toml", text, &region).expect("baseline parses");
    let model = Model::new(&region, &scenario).expect("baseline model");
    (region, model)
}

fn one_draw(c: &mut Criterion) {
    let (_, model) = baseline();
    let mut ws = Workspace::new(&model);
    let mut out = vec![0.0; model.layout.len()];
    let mut draw = 0u64;
    c.bench_function("one baseline draw", |b| {
        b.iter(|| {
            draw += 1;
            engine::simulate(
                &model,
                &Streams::of(20181231, black_box(draw)),
                Mode::Stochastic,
                &mut ws,
                &mut out,
            )
            .expect("draw");
            black_box(&out);
        })
    });
    // Each compiled version this processor runs (the line above is the one `run` uses).
    for isa in Isa::available_versions() {
        let mut ws = Workspace::on(isa, &model);
        c.bench_function(&format!("one baseline draw ({isa:?})"), |b| {
            b.iter(|| {
                draw += 1;
                let streams = Streams::of(20181231, black_box(draw));
                engine::simulate(&model, &streams, Mode::Stochastic, &mut ws, &mut out).expect("draw");
                black_box(&out);
            })
        });
    }
    // A batch of draws, as the runner runs them (`engine::simulate_batch`): time per draw.
    let mut batch = Batch::new(&model);
    let mut rows = vec![0.0; BATCH * model.layout.len()];
    let mut g = c.benchmark_group("batch");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function(format!("{BATCH} baseline draws in a batch"), |b| {
        b.iter(|| {
            draw += BATCH as u64;
            let draws: Vec<Streams> = Streams::run(20181231, black_box(draw)..draw + BATCH as u64).collect();
            engine::simulate_batch(&model, &draws, Mode::Stochastic, &mut batch, &mut rows).expect("draws");
            black_box(&rows);
        })
    });
    g.finish();
}

/// Every draw of a run kept.
fn keep(model: &Model, cfg: &RunConfig) -> Ensemble {
    runner::run(&[model], cfg, KeepDraws::default(), Hooks::none()).expect("run").remove(0)
}

fn ensemble(c: &mut Criterion) {
    let (_, model) = baseline();
    let cfg = RunConfig::new(0..1000, 20181231);
    let mut g = c.benchmark_group("ensemble");
    g.sample_size(10);
    g.bench_function("1000 baseline draws (simulate)", |b| b.iter(|| black_box(keep(&model, &cfg))));
    // The core's throughput: the same draws in parallel, in batches as the runner runs them,
    // each batch written to its thread's few rows (no 20 MB outcome matrix to fault in and
    // fill, no sums).
    g.bench_function("1000 baseline draws (simulation only)", |b| {
        b.iter(|| {
            // At least 128 draws per job: a batch's buffers are built per job, not per draw.
            (0..1000usize.div_ceil(BATCH)).into_par_iter().with_min_len(128 / BATCH).for_each_init(
                || (Batch::new(&model), vec![0.0; BATCH * model.layout.len()]),
                |(batch, rows), k| {
                    let draws = (k * BATCH) as u64..((k + 1) * BATCH).min(1000) as u64;
                    let rows = &mut rows[..(draws.end - draws.start) as usize * model.layout.len()];
                    let streams: Vec<Streams> = Streams::run(20181231, draws).collect();
                    engine::simulate_batch(&model, &streams, Mode::Stochastic, batch, rows).expect("draws");
                    black_box(&rows);
                },
            )
        })
    });
    let ens = keep(&model, &cfg);
    g.bench_function("1000 baseline draws (summarise)", |b| b.iter(|| black_box(stats::summarise(&ens))));
    let cfg10k = RunConfig::new(0..10_000, 20181231);
    g.bench_function("10000 baseline draws (simulate)", |b| b.iter(|| black_box(keep(&model, &cfg10k))));
    let ens10k = keep(&model, &cfg10k);
    g.bench_function("10000 baseline draws (summarise)", |b| b.iter(|| black_box(stats::summarise(&ens10k))));
    g.finish();
}

fn parse(c: &mut Criterion) {
    let region = Region::embedded();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let read = |p: &std::path::Path| std::fs::read_to_string(p).map_err(|e| e.to_string());
    c.bench_function("plan-full: parse + resolve chain + model setup", |b| {
        b.iter(|| {
            let s = Scenario::load(&dir.join("plan-full.toml"), &read, &region).expect("parse");
            black_box(Model::new(&region, &s).expect("model"))
        })
    });
    c.bench_function("embedded region load", |b| b.iter(|| black_box(Region::embedded())));
}

criterion_group!(benches, one_draw, ensemble, parse);
criterion_main!(benches);
