//! Times each compiled version of the baseline draw that this processor runs (generic, AVX2,
//! AVX-512), interleaved: rounds of 200 draws per version in turn, so that a shared machine's
//! drift hits every version alike. Prints each version's median and fastest round (µs per
//! draw, one thread), and the ratio of medians to the generic one.
//!
//! Usage: `versions [rounds]` (default 40).

use minxinan::model::sim::{Isa, Mode, Workspace, simulate_on};
use minxinan::{Model, Region, Scenario};
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(40);
    let region = Region::embedded();
    let text = std::fs::read_to_string("scenarios/baseline.toml").expect("run from the project root");
    let scenario = Scenario::parse("baseline.toml", &text, &region).expect("scenario");
    let model = Model::new(&region, &scenario).expect("model");
    let versions: Vec<Isa> =
        [Isa::Generic, Isa::Avx2, Isa::Avx512].into_iter().filter(|v| v.available()).collect();
    let mut ws = Workspace::new(&model);
    let mut out = vec![0.0; model.layout.len()];
    let mut times = vec![Vec::new(); versions.len()];
    const PER_ROUND: u64 = 200;
    for round in 0..rounds as u64 {
        for (v, &isa) in versions.iter().enumerate() {
            let start = Instant::now();
            for k in 0..PER_ROUND {
                let draw = black_box(round * PER_ROUND + k);
                simulate_on(isa, &model, 20181231, draw, Mode::Stochastic, &mut ws, &mut out, |_| {})
                    .expect("draw");
            }
            times[v].push(start.elapsed().as_secs_f64() * 1e6 / PER_ROUND as f64);
        }
    }
    let median = |t: &mut Vec<f64>| {
        t.sort_by(f64::total_cmp);
        t[t.len() / 2]
    };
    let base = median(&mut times[0].clone());
    for (v, isa) in versions.iter().enumerate() {
        let m = median(&mut times[v]);
        println!(
            "{isa:?}: median {m:.1} µs, fastest {:.1} µs, {:.3}× the generic time",
            times[v][0],
            m / base
        );
    }
}
