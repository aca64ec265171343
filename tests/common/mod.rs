//! Helpers shared by the integration tests.
#![allow(dead_code)]

use minxinan::runner::{self, Hooks, KeepDraws};
use minxinan::stats::Ensemble;
use minxinan::{Model, Region, RunConfig, Scenario};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The path of a library scenario (`scenarios/NAME`), as an argument.
pub fn scen(name: &str) -> String {
    root().join("scenarios").join(name).to_str().unwrap().to_string()
}

/// The baseline scenario text (history mode: conditioned on the embedded observations).
pub fn baseline_text() -> String {
    std::fs::read_to_string(root().join("scenarios/baseline.toml")).unwrap()
}

/// The plan-era scenario text (the baseline without history, as the plan saw it from 2018).
pub fn plan_era_text() -> String {
    std::fs::read_to_string(root().join("scenarios/plan-era.toml")).unwrap()
}

/// Region, scenario and model of a scenario text (with the embedded region).
pub fn model_of(text: &str) -> (Region, Scenario, Model) {
    let region = Region::embedded();
    let scenario = Scenario::parse("test.toml", text, &region).unwrap();
    let model = Model::new(&region, &scenario).unwrap();
    (region, scenario, model)
}

/// Every draw of a run kept: the runner with the [`KeepDraws`] sink.
pub fn ensemble(model: &Model, cfg: &RunConfig) -> Ensemble {
    runner::run(&[model], cfg, KeepDraws::default(), Hooks::none()).unwrap().remove(0)
}

/// Run the binary with arguments in a working directory.
pub fn minxinan(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_minxinan"))
        .current_dir(dir)
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

/// Run the binary with extra environment variables.
pub fn minxinan_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_minxinan"));
    c.current_dir(dir).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// The cities.csv rows of the embedded data, parsed independently of the engine.
pub fn cities_data() -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_path(root().join("data/cities.csv")).unwrap();
    r.deserialize().map(|x| x.unwrap()).collect()
}

/// A summary.csv as (entity, year, indicator) → row fields.
pub fn read_summary(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.deserialize().map(|x| x.unwrap()).collect()
}

/// A baseline scenario with a given draw count (written to `dir`).
pub fn write_scenario(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

/// The eleven co-built parks of the embedded region (plan 专栏6).
pub const PARK_IDS: [&str; 11] = [
    "haitou-changtai",
    "xiangan-yunxiao",
    "zhaoan-tongan",
    "xiaquan-anxi",
    "xiamen-longyan",
    "wuping-siming",
    "jimei-qingliu",
    "jinjiang-changting",
    "mingxi-licheng",
    "quangang-ninghua",
    "longhai-taining",
];
