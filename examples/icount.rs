//! The work that `.ci/icount` counts instructions of under callgrind: one baseline draw, and a
//! 1000-draw baseline ensemble (in batches, as the runner runs it) with its exact quantiles,
//! each in one function (`icount::measured_*`) so that callgrind's `--toggle-collect` counts
//! only it; the same of the plan-era view (no history). Setup (region, scenario, model,
//! buffers) is outside the counted functions. Single-threaded, so the count is exactly
//! repeatable.
//!
//! Usage: `icount one_draw | ensemble_1k | one_draw_plan_era | ensemble_1k_plan_era`
//! (`MINXINAN_ISA` chooses the compiled version, as for the command line; `.ci/icount` asks for
//! AVX2, which valgrind runs).

use minxinan::isa::Isa;
use minxinan::model::engine::{self, BATCH, Batch, Workspace};
use minxinan::model::{Mode, Model};
use minxinan::rng::Streams;
use minxinan::{Region, Scenario, stats};
use std::hint::black_box;

const SEED: u64 = 20181231;

#[inline(never)]
fn measured_one_draw(model: &Model, ws: &mut Workspace, out: &mut [f64]) {
    engine::simulate(model, &Streams::of(SEED, black_box(7)), Mode::Stochastic, ws, out).expect("draw");
}

#[inline(never)]
fn measured_ensemble_1k(model: &Model, batch: &mut Batch, out: &mut [f64], column: &mut Vec<f64>) -> f64 {
    let width = model.layout.len();
    // In batches, as the runner runs them.
    for first in (0..1000u64).step_by(BATCH) {
        let last = (first + BATCH as u64).min(1000);
        let rows = &mut out[first as usize * width..last as usize * width];
        let draws: Vec<Streams> = (first..last).map(|d| Streams::of(SEED, d)).collect();
        engine::simulate_batch(model, &draws, Mode::Stochastic, batch, rows).expect("draws");
    }
    let mut acc = 0.0;
    for j in 0..width {
        column.clear();
        column.extend((0..1000).map(|k| out[k * width + j]));
        acc += stats::series_stats(column).q[4];
    }
    acc
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let isa = Isa::chosen(std::env::var("MINXINAN_ISA").ok().as_deref());
    let region = Region::embedded();
    let (name, text) = match which.strip_suffix("_plan_era") {
        Some(_) => ("plan-era.toml", include_str!("../scenarios/plan-era.toml")),
        None => ("baseline.toml", include_str!("../scenarios/baseline.toml")),
    };
    let scenario = Scenario::parse(name, text, &region).expect("scenario");
    let model = Model::new(&region, &scenario).expect("model");
    match which.trim_end_matches("_plan_era") {
        "one_draw" => {
            let mut ws = Workspace::on(isa, &model);
            let mut out = vec![0.0; model.layout.len()];
            measured_one_draw(&model, &mut ws, &mut out);
            black_box(&out);
        }
        "ensemble_1k" => {
            let mut out = vec![0.0; model.layout.len() * 1000];
            let mut column = Vec::with_capacity(1000);
            let mut batch = Batch::on(isa, &model);
            black_box(measured_ensemble_1k(&model, &mut batch, &mut out, &mut column));
        }
        _ => {
            eprintln!("usage: icount one_draw | ensemble_1k | one_draw_plan_era | ensemble_1k_plan_era");
            std::process::exit(2);
        }
    }
}
