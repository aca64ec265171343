//! Invariants of the model in every draw, city and year: the demographic identity, no negative
//! cell, urbanization within [0, u_max], region rows as sums or ratios of sums, the base year equal
//! to the data in every draw, and calibration reproducing the reference year.

mod common;

use common::*;
use minxinan::RunConfig;
use minxinan::indicators::{INDICATORS, Indicator};
use minxinan::model::Mode;
use minxinan::model::engine::{Workspace, simulate, simulate_observed};
use minxinan::params::P;
use minxinan::rng::Streams;

const DRAWS: u64 = 300;

#[test]
fn demographic_identity_bounds_and_no_negative_cell_in_every_draw() {
    let (_, _, model) = model_of(&baseline_text());
    let mut ws = Workspace::new(&model);
    let mut out = vec![0.0; model.layout.len()];
    let mut checked = 0;
    for draw in 0..DRAWS {
        let mut failures = Vec::new();
        simulate_observed(&model, &Streams::of(20181231, draw), Mode::Stochastic, &mut ws, &mut out, |v| {
            let u_max = v.param(P::UrbanizationCeiling);
            for i in 0..v.n() {
                let (b, d, n) = v.flows(i);
                let (p, p0) = (v.population(i), v.population_prev(i));
                let rhs = p0 + b - d + n;
                if ((p - rhs) / p).abs() > 1e-9 {
                    failures.push(format!("identity: draw {draw} year {} city {i}: {p} vs {rhs}", v.year));
                }
                let cells: f64 = v.cells(i).iter().flatten().sum();
                if ((cells - p) / p).abs() > 1e-12 {
                    failures.push(format!("cells sum {cells} vs P {p}"));
                }
                if v.cells(i).iter().flatten().any(|c| *c < 0.0 || !c.is_finite()) {
                    failures.push(format!("negative cell: draw {draw} year {} city {i}", v.year));
                }
                let u = v.urban(i) / p;
                if !(0.0..=u_max).contains(&u) {
                    failures.push(format!("urbanization {u} outside [0, {u_max}]"));
                }
                if v.capital(i).iter().any(|k| *k < 0.0) || b < 0.0 || d < 0.0 {
                    failures.push("negative capital, births or deaths".into());
                }
                checked += 1;
            }
        })
        .unwrap();
        assert!(failures.is_empty(), "{failures:?}");
    }
    assert_eq!(checked, DRAWS as usize * 5 * 17);
}

#[test]
fn region_rows_are_sums_or_ratios_of_sums_in_every_draw() {
    let (_, _, model) = model_of(&baseline_text());
    let cfg = RunConfig::new(0..DRAWS, 7);
    let ens = ensemble(&model, &cfg);
    let l = ens.layout;
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    use Indicator::*;
    for k in 0..ens.n_draws() {
        let row = ens.row(k);
        for year in 2018..=2035 {
            let get = |e: usize, i: Indicator| row[l.index(e, year, i)];
            let sum = |i: Indicator| (0..5).map(|e| get(e, i)).sum::<f64>();
            for ind in [Population, UrbanPopulation, Employment, GdpReal, GdpNominal, GdpAssessment] {
                assert!(close(get(5, ind), sum(ind)), "{} {year}", ind.name());
            }
            if year > 2018 {
                for ind in [Births, Deaths, NetMigration, ParkTaxToPartner] {
                    assert!(close(get(5, ind), sum(ind)), "{} {year}", ind.name());
                }
                let prev = |e: usize, i: Indicator| row[l.index(e, year - 1, i)];
                let sp = |i: Indicator| (0..5).map(|e| prev(e, i)).sum::<f64>();
                assert!(close(get(5, GdpGrowth), 100.0 * (sum(GdpReal) / sp(GdpReal) - 1.0)));
                assert!(close(get(5, PopulationGrowth), 100.0 * (sum(Population) / sp(Population) - 1.0)));
                let pmid = 0.5 * (sum(Population) + sp(Population));
                assert!(close(get(5, GdpPerCapita), 1e4 * sum(GdpReal) / pmid));
            }
            assert!(close(get(5, UrbanizationRate), 100.0 * sum(UrbanPopulation) / sum(Population)));
            // Shares: the region's is the GDP-weighted mean of the cities'.
            for ind in [GdpSharePrimary, GdpShareSecondary, GdpShareTertiary] {
                let w: f64 = (0..5).map(|e| get(e, ind) * get(e, GdpReal)).sum::<f64>() / sum(GdpReal);
                assert!(close(get(5, ind), w), "{} {year}", ind.name());
            }
            // Working-age share and dependency: ratios of sums of the cities' counts.
            let wa: f64 = (0..5).map(|e| get(e, WorkingAgeShare) * get(e, Population)).sum::<f64>();
            assert!(close(get(5, WorkingAgeShare), wa / sum(Population)));
            let old: f64 = (0..5)
                .map(|e| get(e, OldAgeDependency) * get(e, WorkingAgeShare) * get(e, Population))
                .sum::<f64>();
            assert!(close(get(5, OldAgeDependency), old / wa));
            for e in 0..6 {
                let shares = get(e, GdpSharePrimary) + get(e, GdpShareSecondary) + get(e, GdpShareTertiary);
                assert!(close(shares, 100.0));
                assert!(close(get(e, GdpAssessment), get(e, GdpReal)));
            }
        }
    }
}

#[test]
fn base_year_equals_the_data_in_every_draw() {
    let (_, _, model) = model_of(&plan_era_text());
    let cfg = RunConfig::new(0..200, 99);
    let ens = ensemble(&model, &cfg);
    let data = cities_data();
    let l = ens.layout;
    let f = |m: &std::collections::HashMap<String, String>, k: &str| m[k].parse::<f64>().unwrap();
    for k in 0..ens.n_draws() {
        let row = ens.row(k);
        let v = |e: usize, i: Indicator| row[l.index(e, 2018, i)];
        for (e, c) in data.iter().enumerate() {
            assert_eq!(v(e, Indicator::Population), f(c, "population_2018"));
            assert!((v(e, Indicator::UrbanizationRate) - f(c, "urbanization_2018")).abs() < 1e-9);
            assert!((v(e, Indicator::GdpReal) - f(c, "gdp_2018")).abs() < 1e-9);
            assert!((v(e, Indicator::GdpNominal) - f(c, "gdp_2018")).abs() < 1e-9);
            assert!((v(e, Indicator::GdpSharePrimary) - f(c, "share_primary_2018")).abs() < 1e-9);
            assert!((v(e, Indicator::GdpShareTertiary) - f(c, "share_tertiary_2018")).abs() < 1e-9);
            // The age profile puts 72.0 % at ages 15-64 and 10.0 % at 65+ (age_profile_2018.csv).
            assert!((v(e, Indicator::WorkingAgeShare) - 72.0).abs() < 1e-9);
            assert!((v(e, Indicator::Employment) - 0.75 * 0.72 * f(c, "population_2018")).abs() < 1e-9);
        }
        // The plan's base (第一章第一节): 2317 万人, 21954 亿元, 67.1 %, 5.7 : 50.7 : 43.9
        // (shares normalised to 5.68 : 50.55 : 43.77 in data/README.md).
        assert_eq!(v(5, Indicator::Population), 2317.0);
        assert!((v(5, Indicator::GdpReal) - 21954.04).abs() < 1e-9);
        assert!((v(5, Indicator::UrbanizationRate) - 67.10).abs() < 0.005);
        assert!((v(5, Indicator::GdpSharePrimary) - 5.68).abs() < 0.01);
        assert!((v(5, Indicator::GdpShareSecondary) - 50.55).abs() < 0.01);
        assert!((v(5, Indicator::GdpShareTertiary) - 43.77).abs() < 0.01);
    }
}

#[test]
fn deterministic_calibration_reproduces_the_reference_year() {
    let (_, _, model) = model_of(&plan_era_text());
    let mut ws = Workspace::new(&model);
    let mut out = vec![0.0; model.layout.len()];
    simulate(&model, &Streams::of(1, 0), Mode::Deterministic, &mut ws, &mut out).unwrap();
    let l = model.layout;
    let f = |m: &std::collections::HashMap<String, String>, k: &str| m[k].parse::<f64>().unwrap();
    for (e, c) in cities_data().iter().enumerate() {
        let g = out[l.index(e, 2019, Indicator::GdpGrowth)];
        assert!((g - f(c, "real_growth_2018")).abs() < 1e-6, "{} gdp growth {g}", c["id"]);
        let n = out[l.index(e, 2019, Indicator::PopulationGrowth)];
        assert!((n - f(c, "pop_growth_2016_2018")).abs() < 1e-6, "{} population growth {n}", c["id"]);
        let du = out[l.index(e, 2019, Indicator::UrbanizationRate)]
            - out[l.index(e, 2018, Indicator::UrbanizationRate)];
        assert!(
            (du - f(c, "urbanization_change_2016_2018")).abs() < 1e-6,
            "{} urbanization change {du}",
            c["id"]
        );
    }
}

#[test]
fn stochastic_calibration_uses_each_draws_parameters() {
    // Without shocks and with every project delayed past the horizon, the calibration pass and
    // the first simulated year coincide, so each draw reproduces the reference year exactly.
    let text = format!(
        "{}\n[parameters]\ntfp_shock_sd = 0\ndisaster_probability = 0\nmigration_shock_sd = 0\nmigration_offset_sd = 0\nurbanization_shock_sd = 0\n",
        plan_era_text()
    );
    let (_, _, model) = model_of(&text);
    let mut model = model;
    for p in &mut model.projects {
        p.open_year = 3000;
    }
    let mut ws = Workspace::new(&model);
    let mut out = vec![0.0; model.layout.len()];
    let l = model.layout;
    let data = cities_data();
    for draw in 0..50 {
        simulate(&model, &Streams::of(3, draw), Mode::Stochastic, &mut ws, &mut out).unwrap();
        for (e, c) in data.iter().enumerate() {
            let g = out[l.index(e, 2019, Indicator::GdpGrowth)];
            assert!((g - c["real_growth_2018"].parse::<f64>().unwrap()).abs() < 1e-6);
            let n = out[l.index(e, 2019, Indicator::PopulationGrowth)];
            assert!((n - c["pop_growth_2016_2018"].parse::<f64>().unwrap()).abs() < 1e-6);
        }
    }
}

#[test]
fn scenarios_that_share_a_parameter_share_its_draws() {
    // Fixing one parameter must not move the draws of any other (named streams).
    let (_, _, a) = model_of(&baseline_text());
    let (_, _, b) =
        model_of(&baseline_text().replace("[parameters]", "[parameters]\nmarket_access_elasticity = 0.05"));
    let params = |m: &minxinan::Model, draw: u64| {
        let mut ws = Workspace::new(m);
        let mut out = vec![0.0; m.layout.len()];
        let mut seen = Vec::new();
        simulate_observed(m, &Streams::of(11, draw), Mode::Stochastic, &mut ws, &mut out, |v| {
            if v.year == 2019 {
                seen = vec![
                    v.param(P::TfrLongRun),
                    v.param(P::TfpGrowthLongRun),
                    v.param(P::InflationMean),
                    v.param(P::MarketAccessElasticity),
                ];
            }
        })
        .unwrap();
        seen
    };
    for draw in 0..20 {
        let (pa, pb) = (params(&a, draw), params(&b, draw));
        assert_eq!(pa[..3], pb[..3], "draw {draw}");
        assert_eq!(pb[3], 0.05);
    }
}

#[test]
fn every_indicator_is_finite_and_draws_differ() {
    let (_, _, model) = model_of(&baseline_text());
    let cfg = RunConfig::new(0..50, 5);
    let ens = ensemble(&model, &cfg);
    for k in 0..ens.n_draws() {
        for (_, _, _, j) in ens.layout.reported() {
            assert!(ens.row(k)[j].is_finite());
        }
    }
    // Uncertainty is real: 2035 regional GDP differs between draws.
    let j = ens.layout.index(5, 2035, Indicator::GdpReal);
    assert_ne!(ens.row(0)[j], ens.row(1)[j]);
    assert_eq!(INDICATORS.len(), 19);
}

/// The extreme scenarios of tests/extreme/ (every parameter at an end of its range, a disaster
/// every year, TFR 0.5, the largest transfer, giant parks): every draw finishes with finite
/// outcomes and no negative cell.
#[test]
fn extreme_scenarios_stay_finite_and_non_negative() {
    let region = minxinan::Region::embedded();
    let read = |p: &std::path::Path| std::fs::read_to_string(p).map_err(|e| e.to_string());
    for name in ["high.toml", "low.toml", "high-history.toml"] {
        let path = root().join("tests/extreme").join(name);
        let sc = minxinan::Scenario::load(&path, &read, &region).unwrap_or_else(|e| panic!("{e}"));
        let model = minxinan::Model::new(&region, &sc).unwrap();
        let mut ws = Workspace::new(&model);
        let mut out = vec![0.0; model.layout.len()];
        for draw in 0..100 {
            let mut bad = Vec::new();
            simulate_observed(&model, &Streams::of(3, draw), Mode::Stochastic, &mut ws, &mut out, |v| {
                for i in 0..v.n() {
                    if v.cells(i).iter().flatten().any(|c| !(c.is_finite() && *c >= 0.0)) {
                        bad.push((v.year, i));
                    }
                    if v.capital(i).iter().any(|k| !(k.is_finite() && *k > 0.0)) {
                        bad.push((v.year, i));
                    }
                }
            })
            .unwrap_or_else(|e| panic!("{name} draw {draw}: {e}"));
            assert!(bad.is_empty(), "{name} draw {draw}: {bad:?}");
            for (_, _, _, j) in model.layout.reported() {
                assert!(out[j].is_finite(), "{name} draw {draw}");
            }
        }
    }
}

#[test]
fn a_higher_mortality_level_raises_deaths_by_about_its_factor_and_lowers_later_populations() {
    // λ_d = 1.2 multiplies every hazard: the deaths of b+1 rise by (1 − e^(−1.2m))/(1 − e^(−m)),
    // a little under 1.2 (1.166 at the oldest ages' m = 0.3); the calibration pass keeps b+1's
    // population growth (its migration trend makes up the deaths), so the populations fall later.
    let run = |text: &str| {
        let (_, _, model) = model_of(text);
        let mut ws = Workspace::new(&model);
        let mut out = vec![0.0; model.layout.len()];
        simulate(&model, &Streams::of(1, 0), Mode::Deterministic, &mut ws, &mut out).unwrap();
        (model.layout, out)
    };
    let (l, base) = run(&plan_era_text());
    let (_, high) = run(&format!("{}\n[parameters]\nmortality_level = 1.2\n", plan_era_text()));
    for e in 0..5 {
        let d = |o: &[f64]| o[l.index(e, 2019, Indicator::Deaths)];
        let ratio = d(&high) / d(&base);
        assert!(ratio > 1.15 && ratio < 1.2, "city {e}: deaths × {ratio}");
        let g = |o: &[f64]| o[l.index(e, 2019, Indicator::PopulationGrowth)];
        assert!((g(&high) - g(&base)).abs() < 1e-9, "city {e}: b+1 growth {} vs {}", g(&high), g(&base));
        let p = |o: &[f64]| o[l.index(e, 2035, Indicator::Population)];
        assert!(p(&high) < p(&base), "city {e}: 2035 population {} vs {}", p(&high), p(&base));
        let d35 = |o: &[f64]| o[l.index(e, 2035, Indicator::Deaths)];
        assert!(d35(&high) > d35(&base), "city {e}: 2035 deaths {} vs {}", d35(&high), d35(&base));
    }
}
