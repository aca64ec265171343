//! Fuzz target: any bytes as a `sensitivity --groups` file → parse → regroup the inputs of the
//! industry-transfer scenario → the streams of one design row of each input. Must never panic:
//! bad input is an `Err`; a valid file partitions the streams a draw reads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minxinan::sensitivity::{Design, groups};
use minxinan::{Model, Region, Scenario};
use std::sync::LazyLock;

static MODEL: LazyLock<Model> = LazyLock::new(|| {
    let region = Region::embedded();
    let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/industry-transfer.toml"));
    let read = |p: &std::path::Path| std::fs::read_to_string(p).map_err(|e| e.to_string());
    let scenario = Scenario::load(path, &read, &region).expect("a library scenario");
    Model::new(&region, &scenario).expect("its model")
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(inputs) = groups::regroup(&MODEL, "fuzz.toml", text) else { return };
    let mut purposes: Vec<u64> = inputs.iter().flat_map(|g| g.purposes.iter().copied()).collect();
    let n = purposes.len();
    purposes.sort_unstable();
    purposes.dedup();
    assert_eq!(purposes.len(), n, "an input's stream in two groups");
    let design = Design { samples: 64, seed: 1, inputs, replicates: 0 };
    for row in 0..design.inputs.len() as u64 + 2 {
        let _ = design.streams(row);
    }
});
