//! Times each compiled version of the baseline draw that this processor runs (generic, AVX2,
//! AVX-512), one draw at a time (`engine::simulate`) and in batches of `engine::BATCH` as the
//! runner runs them (`engine::simulate_batch`), interleaved: rounds of 200 draws per version and way in
//! turn, so that a shared machine's drift hits every one alike. Prints each one's median and
//! fastest round (µs per draw, one thread), and the ratio of medians to the generic draw alone.
//!
//! Usage: `versions [rounds]` (default 40).

use minxinan::isa::Isa;
use minxinan::model::Mode;
use minxinan::model::engine::{BATCH, Batch, Workspace, simulate, simulate_batch};
use minxinan::rng::Streams;
use minxinan::{Model, Region, Scenario};
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(40);
    let region = Region::embedded();
    let text = std::fs::read_to_string("scenarios/baseline.toml").expect("run from the project root");
    let scenario = Scenario::parse("baseline.toml", &text, &region).expect("scenario");
    let model = Model::new(&region, &scenario).expect("model");
    let versions: Vec<Isa> = Isa::available_versions().collect();
    let width = model.layout.len();
    let mut out = vec![0.0; width];
    let mut rows = vec![0.0; BATCH * width];
    // times[2v]: version v alone; times[2v + 1]: in batches.
    let mut times = vec![Vec::new(); 2 * versions.len()];
    const PER_ROUND: u64 = 200;
    for round in 0..rounds as u64 {
        for (v, &isa) in versions.iter().enumerate() {
            let (mut ws, mut batch) = (Workspace::on(isa, &model), Batch::on(isa, &model));
            let start = Instant::now();
            for k in 0..PER_ROUND {
                let draw = black_box(round * PER_ROUND + k);
                simulate(&model, &Streams::of(20181231, draw), Mode::Stochastic, &mut ws, &mut out)
                    .expect("draw");
            }
            times[2 * v].push(start.elapsed().as_secs_f64() * 1e6 / PER_ROUND as f64);
            let start = Instant::now();
            for k in (0..PER_ROUND).step_by(BATCH) {
                let first = black_box(round * PER_ROUND + k);
                let draws = first..first + BATCH.min((PER_ROUND - k) as usize) as u64;
                let rows = &mut rows[..(draws.end - draws.start) as usize * width];
                let streams: Vec<Streams> = Streams::run(20181231, draws).collect();
                simulate_batch(&model, &streams, Mode::Stochastic, &mut batch, rows).expect("draws");
            }
            times[2 * v + 1].push(start.elapsed().as_secs_f64() * 1e6 / PER_ROUND as f64);
        }
    }
    let median = |t: &mut Vec<f64>| {
        t.sort_by(f64::total_cmp);
        t[t.len() / 2]
    };
    let base = median(&mut times[0].clone());
    for (v, isa) in versions.iter().enumerate() {
        for (way, t) in ["alone", "in batches"].iter().zip(&mut times[2 * v..2 * v + 2]) {
            let m = median(t);
            println!(
                "{isa:?} {way}: median {m:.1} µs, fastest {:.1} µs, {:.3}× the generic draw alone",
                t[0],
                m / base
            );
        }
    }
}
