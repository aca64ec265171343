//! The history pass (docs/MODEL.md §12) of a scenario: per observed year the effective sample
//! size, the resampling and moves, and each moved quantity's prior and posterior.
//!
//! `cargo run --release --example history_pass -- [SCENARIO] [POOL] [SEED]`

use minxinan::runner::history::{HistorySettings, condition};
use minxinan::{Model, Region, Scenario};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).map_or("scenarios/baseline.toml", String::as_str);
    let pool: usize = args.get(2).map_or(2000, |s| s.parse().expect("a pool size"));
    let seed: u64 = args.get(3).map_or(20181231, |s| s.parse().expect("a seed"));
    let region = Region::embedded();
    let read = |p: &std::path::Path| std::fs::read_to_string(p).map_err(|e| e.to_string());
    let scenario = Scenario::load(std::path::Path::new(path), &read, &region).expect("a scenario");
    let model = Model::new(&region, &scenario).expect("a model");
    let settings = HistorySettings { pool, ..HistorySettings::for_draws(pool as u64) };
    let start = std::time::Instant::now();
    let c = condition(&model, seed, &settings, &|| false).expect("the history pass");
    println!("history pass of {path}: pool {pool}, {:.3} s", start.elapsed().as_secs_f64());
    println!("year  scored  ESS      top1%  resampled  accept  distinct  ln evidence");
    for y in &c.years {
        println!(
            "{}  {:6}  {:7.1}  {:5.3}  {:9}  {:6.3}  {:8}  {:10.3}",
            y.year, y.observed, y.ess, y.top1_share, y.resampled, y.acceptance, y.distinct, y.log_evidence
        );
    }
    println!("quantity: prior 5/50/95 -> posterior 5/50/95");
    for p in &c.posterior {
        println!(
            "{:32} {:>9.4} {:>9.4} {:>9.4} -> {:>9.4} {:>9.4} {:>9.4}",
            p.name, p.prior[0], p.prior[1], p.prior[2], p.posterior[0], p.posterior[1], p.posterior[2]
        );
    }
    for w in &c.warnings {
        println!("warning: {w}");
    }
}
