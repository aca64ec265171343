//! Fuzz target: any bytes as a scenario file → parse → validate → resolve → model setup → one
//! deterministic draw. Must never panic: bad input is an `Err`, a valid scenario runs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minxinan::model::Mode;
use minxinan::model::engine::{Workspace, simulate};
use minxinan::rng::Streams;
use minxinan::{Model, Region, Scenario};
use std::sync::LazyLock;

static REGION: LazyLock<Region> = LazyLock::new(Region::embedded);

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(scenario) = Scenario::parse("fuzz.toml", text, &REGION) else { return };
    let Ok(model) = Model::new(&REGION, &scenario) else { return };
    let mut ws = Workspace::new(&model);
    let mut out = vec![0.0; model.layout.len()];
    let _ = simulate(&model, &Streams::of(1, 0), Mode::Deterministic, &mut ws, &mut out);
});
