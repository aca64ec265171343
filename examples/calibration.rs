//! Calibration of the history pass (docs/MODEL.md §12.5): does conditioning on synthetic
//! observations give bands that hold the truth at their nominal rates?
//!
//! For K truths k: draw k of the baseline's model *without* forcing (its own parameters and
//! shocks, persistent parts included) is the truth; its population, urbanization rate and real
//! growth in the city-years the embedded data observe are published as the embedded data were
//! (rounded to the row's printed resolution; optionally exact, or with a revision error of the
//! row's vintage and confidence first), and its price growth in the years of the scored deflators
//! with their discrepancy and error (and its crude rates, when the baseline scores them, the
//! same way); the baseline's model is forced through those figures and
//! conditioned on them (the history pass, pool P), N output draws are run, and the truth's later
//! population, urbanization rate, real and nominal GDP and births of each city in 2025, 2030 and 2035 are
//! checked against the draws' central 50, 80 and 90 % bands. Each share is printed with two 95 %
//! intervals: Wilson's, as if every value were independent, and in braces one that counts each
//! truth as one draw (its cities share the truth's parameters and the region's shocks).
//!
//! `cargo run --release --example calibration -- [K] [P] [N] [publication]` (defaults 200 400
//! 400 0; publication 0 rounded, 1 exact, 2 revised and rounded).

use minxinan::indicators::Indicator;
use minxinan::model::condition::observation_sd;
use minxinan::model::engine::{self, Workspace};
use minxinan::model::history::CrudeScore;
use minxinan::model::{Mode, shocks::normal};
use minxinan::observed::{Entity, Measure};
use minxinan::rng::{Streams, purpose, stream};
use minxinan::runner::history::{HistorySettings, condition};
use minxinan::runner::{self, Hooks, KeepDraws};
use minxinan::{Model, Region, RunConfig, Scenario};
use std::sync::Arc;

/// Wilson's 95 % interval of a share.
fn wilson(hits: usize, n: usize) -> (f64, f64) {
    let (p, n, z) = (hits as f64 / n as f64, n as f64, 1.96f64);
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / (1.0 + z * z / n);
    (centre - half, centre + half)
}

/// The 95 % interval of a share whose values come in clusters of equal size (a truth's five
/// cities, or all its cells): the normal interval of the mean of the clusters' shares, their
/// spread measured between clusters (Kish 1965, *Survey Sampling*, the design effect of a
/// cluster sample), so values of one truth count as the one draw they are.
fn clustered(shares: &[f64]) -> (f64, f64) {
    let j = shares.len() as f64;
    let mean = shares.iter().sum::<f64>() / j;
    let var = shares.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / (j - 1.0);
    let half = 1.96 * (var / j).sqrt();
    (mean - half, mean + half)
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("a number")).collect();
    let (k_truths, pool, draws) = (
        args.first().copied().unwrap_or(200),
        args.get(1).copied().unwrap_or(400),
        args.get(2).copied().unwrap_or(400),
    );
    // How the truth is published (a fourth argument): 0 rounded to the embedded row's printed
    // resolution (the protocol, the default), 1 exactly, 2 with a revision error of the
    // row's vintage and confidence and then rounded.
    let publication = args.get(3).copied().unwrap_or(0);
    // Move sweeps after each resampling and after the last year (fifth and sixth arguments).
    let defaults = HistorySettings::for_draws(pool as u64);
    let sweeps = args.get(4).copied().unwrap_or(defaults.sweeps);
    let final_sweeps = args.get(5).copied().unwrap_or(defaults.final_sweeps);
    let region = Region::embedded();
    let read = |p: &std::path::Path| std::fs::read_to_string(p).map_err(|e| e.to_string());
    let scenario = Scenario::load(std::path::Path::new("scenarios/baseline.toml"), &read, &region)
        .expect("the baseline");
    let model = Model::new(&region, &scenario).expect("its model");
    let h = scenario.history.as_ref().expect("history mode");
    let forced = model.history.as_ref().expect("history").forced.clone();
    let (b, n, until) = (model.base_year, model.n, forced.until);
    // The truth: the same model, nothing forced.
    let mut free = model.clone();
    {
        let f = &mut free.history.as_mut().expect("history").forced;
        for v in [&mut f.population, &mut f.urbanization, &mut f.growth] {
            v.fill(f64::NAN);
        }
    }
    let layout = model.layout;
    let checks = [
        Indicator::Population,
        Indicator::UrbanizationRate,
        Indicator::GdpReal,
        Indicator::GdpNominal,
        Indicator::Births,
    ];
    let years = [2025, 2030, 2035];
    let levels = [(0.5, 3, 5), (0.8, 2, 6), (0.9, 1, 7)];
    // hits[indicator][year][level], out of k_truths × n; by_truth[k][indicator][year][level],
    // out of n (the clustered intervals).
    let mut hits = vec![vec![[0usize; 3]; years.len()]; checks.len()];
    let mut by_truth = vec![vec![vec![[0usize; 3]; years.len()]; checks.len()]; k_truths];
    // The truth's PIT (share of draws below it), summed: a mean far from 0.5 is a bias.
    let mut pit = vec![vec![0.0f64; years.len()]; checks.len()];
    // The region's births (the cities' share one births' shock f: their cells are not
    // independent), out of k_truths.
    let mut region_hits = vec![[0usize; 3]; years.len()];
    let mut ws = Workspace::new(&free);
    let mut row = vec![0.0; layout.len()];
    let start = std::time::Instant::now();
    for (k, truth_hits) in by_truth.iter_mut().enumerate() {
        engine::simulate(&free, &Streams::of(777, k as u64), Mode::Stochastic, &mut ws, &mut row)
            .expect("a truth");
        // Publish it as the embedded data were published.
        let mut noise = stream(777, purpose("calibration.publication"), k as u64);
        let mut m = model.clone();
        {
            let f = &mut m.history.as_mut().expect("history").forced;
            for t in b + 1..=until {
                for i in 0..n {
                    let at = (t - b - 1) as usize * n + i;
                    for (measure, ind, scale) in [
                        (Measure::Population, Indicator::Population, 1.0),
                        (Measure::UrbanizationRate, Indicator::UrbanizationRate, 100.0),
                        (Measure::GdpRealGrowth, Indicator::GdpGrowth, 100.0),
                    ] {
                        let Some(o) = h.used(Entity::City(i), t, measure) else { continue };
                        let truth = row[layout.index(i, t, ind)];
                        let rounding = o.step / 12f64.sqrt();
                        let revision = (observation_sd(o).powi(2) - rounding * rounding).max(0.0).sqrt();
                        let mut v = truth;
                        if publication == 2 {
                            v += revision * normal(&mut noise);
                        }
                        if publication != 1 && o.step > 0.0 {
                            v = (v / o.step).round() * o.step;
                        }
                        let slot = match measure {
                            Measure::Population => &mut f.population,
                            Measure::UrbanizationRate => &mut f.urbanization,
                            _ => &mut f.growth,
                        };
                        slot[at] = v / scale;
                    }
                }
            }
            // The scored deflators (docs/MODEL.md §12.1b): the truth's price growth of the year
            // with a discrepancy and error of the score's sd, as the scoring assumes.
            let price = |t: i32| {
                row[layout.index(0, t, Indicator::GdpNominal)] / row[layout.index(0, t, Indicator::GdpReal)]
            };
            for d in &mut m.history.as_mut().expect("history").deflators {
                d.value = (price(d.year) / price(d.year - 1)).ln() + d.sd * normal(&mut noise);
            }
            // The scored crude rates (§12.1, when the baseline scores them): the truth's rate of
            // the city or of the region's cities together, with a discrepancy and error of the
            // score's sd.
            let rate = |cities: &[usize], t: i32, ind: Indicator| {
                let sum = |t: i32, ind: Indicator| {
                    cities.iter().map(|&i| row[layout.index(i, t, ind)]).sum::<f64>()
                };
                1000.0 * sum(t, ind)
                    / (0.5 * (sum(t - 1, Indicator::Population) + sum(t, Indicator::Population)))
            };
            let all: Vec<usize> = (0..n).collect();
            for c in &mut m.history.as_mut().expect("history").crude {
                let ind = if c.deaths { Indicator::Deaths } else { Indicator::Births };
                let truth = match c.city {
                    Some(i) => rate(&[i], c.year, ind),
                    None => rate(&all, c.year, ind),
                };
                *c = CrudeScore::new(c.year, c.city, c.deaths, truth + c.sd * normal(&mut noise), c.sd);
            }
        }
        let seed = 1000 + k as u64;
        let settings = HistorySettings { pool, sweeps, final_sweeps, ..defaults.clone() };
        let c = condition(&m, seed, &settings, &|| false).expect("the history pass");
        m.conditioned = Some(Arc::new(c));
        let cfg = RunConfig::new(0..draws as u64, seed);
        let ens = runner::run(&[&m], &cfg, KeepDraws::default(), Hooks::none()).expect("the run").remove(0);
        for (a, &ind) in checks.iter().enumerate() {
            for (y, &year) in years.iter().enumerate() {
                // Each city, and (births: `region_hits`) the region's, entity n.
                for i in 0..=n {
                    if i == n && ind != Indicator::Births {
                        continue;
                    }
                    let j = layout.index(i, year, ind);
                    let mut v: Vec<f64> = (0..draws).map(|d| ens.value(d, j)).collect();
                    v.sort_by(f64::total_cmp);
                    let q = |p: f64| {
                        let h = (v.len() - 1) as f64 * p;
                        let lo = h.floor() as usize;
                        v[lo] + (h - h.floor()) * (v[(lo + 1).min(v.len() - 1)] - v[lo])
                    };
                    let truth = row[j];
                    let inside = |width: f64| {
                        let tail = (1.0 - width) / 2.0;
                        (q(tail)..=q(1.0 - tail)).contains(&truth)
                    };
                    if i == n {
                        for (l, &(width, _, _)) in levels.iter().enumerate() {
                            region_hits[y][l] += usize::from(inside(width));
                        }
                        continue;
                    }
                    pit[a][y] += v.iter().filter(|x| **x < truth).count() as f64 / v.len() as f64;
                    for (l, &(width, _, _)) in levels.iter().enumerate() {
                        if inside(width) {
                            hits[a][y][l] += 1;
                            truth_hits[a][y][l] += 1;
                        }
                    }
                }
            }
        }
    }
    let total = k_truths * n;
    println!(
        "calibration: {k_truths} synthetic truths × {n} cities, pool {pool}, {draws} output draws each ({:.1} s)",
        start.elapsed().as_secs_f64()
    );
    println!(
        "indicator          year  inside 50 % [Wilson 95 %] {{by truth}}   80 %                              90 %"
    );
    let (mut all, mut count) = ([0usize; 3], 0);
    for (a, ind) in checks.iter().enumerate() {
        for (y, year) in years.iter().enumerate() {
            let cells: Vec<String> = (0..3)
                .map(|l| {
                    let (lo, hi) = wilson(hits[a][y][l], total);
                    let shares: Vec<f64> = by_truth.iter().map(|t| t[a][y][l] as f64 / n as f64).collect();
                    let (clo, chi) = clustered(&shares);
                    format!(
                        "{:5.1} [{:4.1}–{:4.1}] {{{:4.1}–{:4.1}}}",
                        100.0 * hits[a][y][l] as f64 / total as f64,
                        100.0 * lo,
                        100.0 * hi,
                        100.0 * clo,
                        100.0 * chi
                    )
                })
                .collect();
            println!(
                "{:18} {year}  {}   mean PIT {:.3}",
                ind.name(),
                cells.join("   "),
                pit[a][y] / total as f64
            );
            for l in 0..3 {
                all[l] += hits[a][y][l];
            }
            count += total;
        }
    }
    let cells: Vec<String> = (0..3)
        .map(|l| {
            let (lo, hi) = wilson(all[l], count);
            // Each truth's share over all its cells and cities: one cluster.
            let cells_of_truth = (checks.len() * years.len() * n) as f64;
            let shares: Vec<f64> = by_truth
                .iter()
                .map(|t| t.iter().flatten().map(|c| c[l] as f64).sum::<f64>() / cells_of_truth)
                .collect();
            let (clo, chi) = clustered(&shares);
            format!(
                "{:5.1} [{:4.1}–{:4.1}] {{{:4.1}–{:4.1}}}",
                100.0 * all[l] as f64 / count as f64,
                100.0 * lo,
                100.0 * hi,
                100.0 * clo,
                100.0 * chi
            )
        })
        .collect();
    println!("{:18} all   {}", "all", cells.join("   "));
    for (y, year) in years.iter().enumerate() {
        let cells: Vec<String> = (0..3)
            .map(|l| {
                let (lo, hi) = wilson(region_hits[y][l], k_truths);
                let share = 100.0 * region_hits[y][l] as f64 / k_truths as f64;
                format!("{share:5.1} [{:4.1}–{:4.1}]", 100.0 * lo, 100.0 * hi)
            })
            .collect();
        println!("{:18} {year}  {}", "births (region)", cells.join("   "));
    }
}
