//! The engine gives the reference path's bits: for every scenario of `scenarios/` and
//! `tests/extreme/`, 1 000 draws spread over the stream numbers (in batches of every size, and
//! alone), and the deterministic draw, in every compiled version the processor runs; the same
//! diagnostics, and the same error for a draw that fails.

mod common;

use common::root;
use minxinan::isa::Isa;
use minxinan::model::engine::{self, BATCH, Batch, Workspace};
use minxinan::model::{Mode, Model, reference};
use minxinan::rng::Streams;
use minxinan::{Region, Scenario};

/// Every scenario file of the library and the extreme tests, with its model.
fn models() -> Vec<(String, Model)> {
    let region = Region::embedded();
    let read = |p: &std::path::Path| std::fs::read_to_string(p).map_err(|e| e.to_string());
    let mut out = Vec::new();
    for dir in ["scenarios", "tests/extreme"] {
        let mut paths: Vec<_> =
            std::fs::read_dir(root().join(dir)).unwrap().map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            let sc = Scenario::load(&path, &read, &region).unwrap();
            out.push((path.display().to_string(), Model::new(&region, &sc).unwrap()));
        }
    }
    assert!(out.len() >= 10, "the library's scenarios and the extremes");
    out
}

fn same(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

/// 1 000 draw indices spread over the stream numbers (a xorshift sequence).
fn draws() -> Vec<u64> {
    let mut s = 0x2545_f491_4f6c_dd1du64;
    (0..1000)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s % 1_000_000_000
        })
        .collect()
}

/// The engine against the reference for the draws `draws` of `model`, alone and in batches of
/// every size up to [`BATCH`], in the compiled version `isa`.
fn check(name: &str, model: &Model, seed: u64, draws: &[u64], mode: Mode, isa: Isa) {
    let w = model.layout.len();
    let (mut ws, mut batch) = (Workspace::on(isa, model), Batch::on(isa, model));
    let (mut alone, mut rows) = (vec![0.0; w], vec![0.0; BATCH * w]);
    let mut at = 0;
    for size in (1..=BATCH).cycle() {
        if at == draws.len() {
            break;
        }
        let group: Vec<Streams> =
            draws[at..(at + size).min(draws.len())].iter().map(|&d| Streams::of(seed, d)).collect();
        at += group.len();
        let rows = &mut rows[..group.len() * w];
        let batched = engine::simulate_batch(model, &group, mode, &mut batch, rows);
        let mut first_error = None;
        for (k, s) in group.iter().enumerate() {
            let want = reference::simulate(model, s, mode);
            let got = engine::simulate(model, s, mode, &mut ws, &mut alone);
            match (&want, got) {
                (Ok(r), Ok(d)) => {
                    assert!(same(&r.values, &alone), "{name} {isa:?} {mode:?} draw {}: alone", s.draw);
                    assert_eq!(r.diagnostics, d, "{name} {isa:?} draw {}", s.draw);
                    if batched.is_ok() {
                        let row = &rows[k * w..(k + 1) * w];
                        assert!(same(&r.values, row), "{name} {isa:?} {mode:?} draw {}: in a batch", s.draw);
                    }
                }
                (Err(a), Err(b)) => {
                    assert_eq!(a.to_string(), b.to_string(), "{name} draw {}", s.draw);
                    first_error.get_or_insert((k, a.to_string()));
                }
                (want, got) => {
                    panic!("{name} draw {}: the reference gives {want:?}, the engine {got:?}", s.draw)
                }
            }
        }
        match (batched, first_error) {
            (Ok(_), None) => {}
            (Err((k, e)), Some((first, message))) => {
                assert_eq!((k, e.to_string()), (first, message), "{name}")
            }
            (b, f) => panic!("{name}: the batch gives {b:?}, its draws alone {f:?}"),
        }
    }
}

#[test]
fn the_engine_gives_the_reference_s_bits_for_every_scenario() {
    let draws = draws();
    for (name, model) in models() {
        for isa in Isa::available_versions() {
            // The widest version on every draw; the others on a tenth of them (each version's
            // kernels are also tested against the portable ones, lane for lane).
            let n = if isa == Isa::widest() { draws.len() } else { draws.len() / 10 };
            check(&name, &model, 20181231, &draws[..n], Mode::Stochastic, isa);
            check(&name, &model, 20181231, &[0], Mode::Deterministic, isa);
        }
    }
}

#[test]
fn a_failing_draw_fails_alike_in_both() {
    // About 60% of the draws cannot meet this truncation; every shock and parameter else moves.
    let region = Region::embedded();
    let text = "[scenario]\nname = \"t\"\n[parameters]\ntfr_long_run = { dist = \"normal\", mean = 1.0, sd = 0.01, truncate = [1.033, 3.0] }\n";
    let model = Model::new(&region, &Scenario::parse("t.toml", text, &region).unwrap()).unwrap();
    check("truncated", &model, 8, &(0..64).collect::<Vec<_>>(), Mode::Stochastic, Isa::widest());
}

#[test]
fn history_variants_give_the_reference_s_bits() {
    // History up to each year (fewer forced city-years, other fitted ages and restatements) and
    // with the grade-D figures used (三明 2022, 漳州 2023, 龙岩's GDP levels).
    let region = Region::embedded();
    let baseline = std::fs::read_to_string(root().join("scenarios/baseline.toml")).unwrap();
    let draws = &draws()[..200];
    for extra in ["until = 2018", "until = 2019", "until = 2021", "min_confidence = \"D\""] {
        let text = baseline.replace("observed = \"embedded\"", &format!("observed = \"embedded\"\n{extra}"));
        let model = Model::new(&region, &Scenario::parse("t.toml", &text, &region).unwrap()).unwrap();
        assert!(model.history.is_some());
        check(extra, &model, 20181231, draws, Mode::Stochastic, Isa::widest());
        check(extra, &model, 20181231, &[0], Mode::Deterministic, Isa::widest());
    }
}
