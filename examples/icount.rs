//! The work that `.ci/icount` counts instructions of under callgrind: one baseline draw, and a
//! 1000-draw baseline ensemble with its exact quantiles, each in one function
//! (`icount::measured_*`) so that callgrind's `--toggle-collect` counts only it. Setup (region,
//! scenario, model, buffers) is outside the counted functions. Single-threaded, so the count is
//! exactly repeatable.
//!
//! Usage: `icount one_draw | ensemble_1k`.

use minxinan::model::sim::{self, Mode, Workspace};
use minxinan::{Model, Region, Scenario, stats};
use std::hint::black_box;

#[inline(never)]
fn measured_one_draw(model: &Model, ws: &mut Workspace, out: &mut [f64]) {
    sim::simulate(model, 20181231, black_box(7), Mode::Stochastic, ws, out).expect("draw");
}

#[inline(never)]
fn measured_ensemble_1k(model: &Model, ws: &mut Workspace, out: &mut [f64], column: &mut Vec<f64>) -> f64 {
    let width = model.layout.len();
    for k in 0..1000u64 {
        sim::simulate(
            model,
            20181231,
            k,
            Mode::Stochastic,
            ws,
            &mut out[k as usize * width..(k as usize + 1) * width],
        )
        .expect("draw");
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
    let region = Region::embedded();
    let scenario = Scenario::parse("baseline.toml", include_str!("../scenarios/baseline.toml"), &region)
        .expect("baseline");
    let model = Model::new(&region, &scenario).expect("model");
    let mut ws = Workspace::new(&model);
    match which.as_str() {
        "one_draw" => {
            let mut out = vec![0.0; model.layout.len()];
            measured_one_draw(&model, &mut ws, &mut out);
            black_box(&out);
        }
        "ensemble_1k" => {
            let mut out = vec![0.0; model.layout.len() * 1000];
            let mut column = Vec::with_capacity(1000);
            black_box(measured_ensemble_1k(&model, &mut ws, &mut out, &mut column));
        }
        _ => {
            eprintln!("usage: icount one_draw | ensemble_1k");
            std::process::exit(2);
        }
    }
}
