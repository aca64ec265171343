//! The work that `.ci/icount` counts instructions of under callgrind: one baseline draw, and a
//! 1000-draw baseline ensemble (in batches, as the runner runs it) with its exact quantiles,
//! each in one function (`icount::measured_*`) so that callgrind's `--toggle-collect` counts
//! only it. Setup (region,
//! scenario, model, buffers) is outside the counted functions. Single-threaded, so the count is
//! exactly repeatable.
//!
//! Usage: `icount one_draw | ensemble_1k`.

use minxinan::isa::Isa;
use minxinan::model::sim::{self, BATCH, Batch, Mode, Workspace};
use minxinan::{Model, Region, Scenario, stats};
use std::hint::black_box;

#[inline(never)]
fn measured_one_draw(isa: Isa, model: &Model, ws: &mut Workspace, out: &mut [f64]) {
    sim::simulate_on(isa, model, 20181231, black_box(7), Mode::Stochastic, ws, out, |_| {}).expect("draw");
}

#[inline(never)]
fn measured_ensemble_1k(
    isa: Isa,
    model: &Model,
    batch: &mut Batch,
    out: &mut [f64],
    column: &mut Vec<f64>,
) -> f64 {
    let width = model.layout.len();
    // In batches, as the runner runs them.
    for first in (0..1000u64).step_by(BATCH) {
        let last = (first + BATCH as u64).min(1000);
        let rows = &mut out[first as usize * width..last as usize * width];
        sim::simulate_batch_on(isa, model, 20181231, first..last, Mode::Stochastic, batch, rows)
            .expect("draws");
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
    // `.ci/icount` asks for the AVX2 version (valgrind has no AVX-512), as the command line does.
    let isa = Isa::chosen(std::env::var("MINXINAN_ISA").ok().as_deref());
    let region = Region::embedded();
    let scenario = Scenario::parse("baseline.toml", include_str!("../scenarios/baseline.toml"), &region)
        .expect("baseline");
    let model = Model::new(&region, &scenario).expect("model");
    let mut ws = Workspace::new(&model);
    match which.as_str() {
        "one_draw" => {
            let mut out = vec![0.0; model.layout.len()];
            measured_one_draw(isa, &model, &mut ws, &mut out);
            black_box(&out);
        }
        "ensemble_1k" => {
            let mut out = vec![0.0; model.layout.len() * 1000];
            let mut column = Vec::with_capacity(1000);
            let mut batch = Batch::new(&model);
            black_box(measured_ensemble_1k(isa, &model, &mut batch, &mut out, &mut column));
        }
        _ => {
            eprintln!("usage: icount one_draw | ensemble_1k");
            std::process::exit(2);
        }
    }
}
