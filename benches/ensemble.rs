//! Criterion benchmarks of the simulation core: one baseline draw, and a 1000-draw baseline
//! ensemble with its summary. Report medians; never gate CI on them (noise is ±3%).

use criterion::{Criterion, criterion_group, criterion_main};
use minxinan::model::sim::{self, Mode, Workspace};
use minxinan::{Model, Region, RunConfig, Scenario, runner, stats};
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
            sim::simulate(&model, 20181231, black_box(draw), Mode::Stochastic, &mut ws, &mut out)
                .expect("draw");
            black_box(&out);
        })
    });
}

fn ensemble(c: &mut Criterion) {
    let (_, model) = baseline();
    let cfg = RunConfig { draws: 0..1000, seed: 20181231, deterministic: false };
    let mut g = c.benchmark_group("ensemble");
    g.sample_size(10);
    g.bench_function("1000 baseline draws (simulate)", |b| {
        b.iter(|| black_box(runner::run(&model, &cfg, &|_| {}).expect("run")))
    });
    let ens = runner::run(&model, &cfg, &|_| {}).expect("run");
    g.bench_function("1000 baseline draws (summarise)", |b| b.iter(|| black_box(stats::summarise(&ens))));
    g.finish();
}

criterion_group!(benches, one_draw, ensemble);
criterion_main!(benches);
