//! Fuzz target: any bytes as an observation file → parse → a history-mode scenario that names it
//! → model setup (the restated base, the fitted age structures, the forced city-years) → one
//! deterministic draw. Must never panic: bad input is an `Err`, valid observations run.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minxinan::model::Mode;
use minxinan::model::engine::{Workspace, simulate};
use minxinan::rng::Streams;
use minxinan::{Model, Region, Scenario};
use std::path::Path;
use std::sync::LazyLock;

static REGION: LazyLock<Region> = LazyLock::new(Region::embedded);

const SCENARIO: &str = "[scenario]\nname = \"fuzz\"\n[history]\nobserved = \"obs.csv\"\n";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let read = |p: &Path| {
        if p.ends_with("obs.csv") {
            Ok(text.to_string())
        } else if p.ends_with("fuzz.toml") {
            Ok(SCENARIO.to_string())
        } else {
            Err("no such file".to_string())
        }
    };
    let Ok(scenario) = Scenario::load(Path::new("fuzz.toml"), &read, &REGION) else { return };
    let Ok(model) = Model::new(&REGION, &scenario) else { return };
    let mut ws = Workspace::new(&model);
    let mut out = vec![0.0; model.layout.len()];
    let _ = simulate(&model, &Streams::of(1, 0), Mode::Deterministic, &mut ws, &mut out);
});
