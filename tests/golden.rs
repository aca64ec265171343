//! The deterministic plan-era baseline (`scenarios/plan-era.toml`) against `../shared/golden/baseline-deterministic.csv`, computed by an
//! independent implementation of MODEL.md (an external oracle): every row to 1e-6 relative, or
//! 1e-7 absolute in the indicator's unit.

mod common;

use common::*;
use minxinan::indicators::Indicator;
use minxinan::model::Mode;
use minxinan::model::engine::{Workspace, simulate};
use minxinan::rng::Streams;

#[test]
fn deterministic_baseline_matches_the_independent_implementation() {
    let golden = root().join("../shared/golden/baseline-deterministic.csv");
    if !golden.exists() {
        eprintln!("skipped: {} is not beside this checkout", golden.display());
        return;
    }
    let (region, _, model) = model_of(&plan_era_text());
    let mut ws = Workspace::new(&model);
    let mut out = vec![0.0; model.layout.len()];
    simulate(&model, &Streams::of(0, 0), Mode::Deterministic, &mut ws, &mut out).unwrap();
    let mut rdr = csv::Reader::from_path(&golden).unwrap();
    let mut rows = 0;
    let mut worst = (0.0f64, String::new());
    for rec in rdr.records() {
        let rec = rec.unwrap();
        let entity = region.entity_index(&rec[0]).unwrap();
        let year: i32 = rec[1].parse().unwrap();
        let ind = Indicator::from_name(&rec[2]).unwrap();
        let want: f64 = rec[3].parse().unwrap();
        let got = out[model.layout.index(entity, year, ind)];
        let diff = if (got - want).abs() <= 1e-7 { 0.0 } else { (got - want).abs() / want.abs().max(1e-9) };
        if diff > worst.0 {
            worst = (diff, format!("{} {year} {}: {got} vs {want}", &rec[0], &rec[2]));
        }
        rows += 1;
    }
    assert_eq!(rows, 2016, "every reported row is in the golden file");
    assert!(worst.0 <= 1e-6, "worst: {worst:?}");
}
