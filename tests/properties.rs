//! Property tests over generated valid scenarios: parameters anywhere in their domains, the
//! transfer on or off, any subset of the parks, any delay shift. In every draw the identities and
//! bounds of MODEL.md hold, the engine gives the reference path's bits, and the summary
//! quantiles are ordered.

mod common;

use common::{PARK_IDS, ensemble};
use minxinan::indicators::Indicator;
use minxinan::model::engine::{Workspace, simulate_observed};
use minxinan::model::{Mode, reference};
use minxinan::params::P;
use minxinan::rng::Streams;
use minxinan::{Model, Region, RunConfig, Scenario, stats};
use proptest::prelude::*;

prop_compose! {
    fn scenario_text()(
        tfr in 0.3f64..2.5,
        iota in 0.0f64..0.1,
        gamma in -0.05f64..0.1,
        alpha in 0.1f64..0.9,
        delta in 0.02f64..0.3,
        sz in 0.0f64..0.2,
        rho in 0.0f64..1.0,
        pd in 0.0f64..1.0,
        sm in 0.0f64..0.05,
        beta_w in 0.0f64..2.0,
        umax in 0.91f64..1.0,
        transfer in proptest::option::of((0.0f64..0.2, 2019i32..2030, 0usize..6)),
        parks in proptest::collection::vec(any::<bool>(), 11),
        shift in -3i32..6,
        relative in any::<bool>(),
    ) -> String {
        let mut s = format!(
            "[scenario]\nname = \"prop\"\nhorizon = 2035\nmarket_access = \"{}\"\n[parameters]\ntfr_long_run = {tfr}\nmortality_improvement = {iota}\ntfp_growth_long_run = {gamma}\ncapital_share = {alpha}\ndepreciation = {delta}\ntfp_shock_sd = {sz}\ntfp_shock_correlation = {rho}\ndisaster_probability = {pd}\nmigration_shock_sd = {sm}\nmigration_wage_response = {beta_w}\nurbanization_ceiling = {umax}\n[infrastructure]\ndelay_shift = {shift}\n",
            if relative { "relative" } else { "absolute" }
        );
        if let Some((rate, start, len)) = transfer {
            s.push_str(&format!("[transfer]\norigins = {{ xiamen = 0.35, quanzhou = 0.5 }}\ndestinations = {{ sanming = 0.3, longyan = 0.7 }}\nstart = {start}\nend = {}\nrate = {rate}\n", start + len as i32));
        }
        for (id, on) in PARK_IDS.iter().zip(parks) {
            if on {
                s.push_str(&format!("[[parks]]\nid = \"{id}\"\n"));
            }
        }
        s
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn identities_and_bounds_hold_in_every_draw(text in scenario_text()) {
        let region = Region::embedded();
        let sc = Scenario::parse("prop.toml", &text, &region).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let model = Model::new(&region, &sc).unwrap();
        let mut ws = Workspace::new(&model);
        let mut out = vec![0.0; model.layout.len()];
        let l = model.layout;
        for draw in 0..3 {
            let mut failures: Vec<String> = Vec::new();
            simulate_observed(&model, &Streams::of(9, draw), Mode::Stochastic, &mut ws, &mut out, |v| {
                let u_max = v.param(P::UrbanizationCeiling);
                for i in 0..v.n() {
                    let (b, d, n) = v.flows(i);
                    let (p, p0) = (v.population(i), v.population_prev(i));
                    if ((p - (p0 + b - d + n)) / p).abs() > 1e-9 {
                        failures.push(format!("identity {} {i}", v.year));
                    }
                    if v.cells(i).iter().flatten().any(|c| !(c.is_finite() && *c >= 0.0)) {
                        failures.push(format!("cell {} {i}", v.year));
                    }
                    let u = v.urban(i) / p;
                    if !(0.0..=u_max * (1.0 + 1e-12)).contains(&u) {
                        failures.push(format!("urbanization {u} {} {i}", v.year));
                    }
                }
            }).unwrap();
            prop_assert!(failures.is_empty(), "{:?}\n{}", failures, text);
            // The engine gives the reference path's bits (model::reference).
            let r = reference::simulate(&model, &Streams::of(9, draw), Mode::Stochastic).unwrap();
            let same = r.values.iter().zip(&out).all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()));
            prop_assert!(same, "draw {} differs from the reference\n{}", draw, text);
            for year in 2018..=2035 {
                let sum: f64 = (0..5).map(|e| out[l.index(e, year, Indicator::GdpReal)]).sum();
                let region_gdp = out[l.index(5, year, Indicator::GdpReal)];
                prop_assert!((sum - region_gdp).abs() <= 1e-9 * region_gdp);
                let assess: f64 = (0..5).map(|e| out[l.index(e, year, Indicator::GdpAssessment)]).sum();
                prop_assert!(assess >= region_gdp * (1.0 - 1e-12), "dual parks only add");
            }
        }
        let ens = ensemble(&model, &RunConfig::new(0..5, 9));
        for st in stats::summarise(&ens).iter().filter(|s| !s.mean.is_nan()) {
            prop_assert!(st.q.windows(2).all(|w| w[0] <= w[1]));
        }
    }
}
