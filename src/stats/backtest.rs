//! Scoring forecasts against later observations (docs/MODEL.md §11.5): for every observation
//! after `until` that a run can be set beside, each forecast's quantiles, whether its 50/80/90%
//! bands hold the observation, the probability integral transform (PIT) and the continuous
//! ranked probability score (CRPS); coverage per band with its Wilson interval, and mean CRPS.
//!
//! Forecasts are ensembles of draws (the model conditioned on the years up to `until`, the
//! plan-era run) or the naive one: each series continuing at its last observed annual change (a
//! growth rate at its last value), with a random-walk spread σ√h estimated from its observed
//! annual changes up to `until`.

use super::Ensemble;
use super::quantile::quantiles_type7;
use crate::indicators::{Indicator, Layout};
use crate::observed::{Entity, Measure};
use crate::scenario::History;

/// The measures a backtest scores.
pub const SCORED: [Measure; 6] = [
    Measure::Population,
    Measure::UrbanizationRate,
    Measure::GdpRealGrowth,
    Measure::GdpNominal,
    Measure::CrudeBirthRate,
    Measure::CrudeDeathRate,
];

/// The probabilities of the reported quantiles.
pub const PROBS: [f64; 7] = [0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95];

/// Standard normal quantiles of [`PROBS`] (checked against Φ in the tests).
const Z: [f64; 7] = [
    -1.644_853_626_951_472_2,
    -1.281_551_565_544_600_5,
    -0.674_489_750_196_081_7,
    0.0,
    0.674_489_750_196_081_7,
    1.281_551_565_544_600_5,
    1.644_853_626_951_472_2,
];

/// An observation a backtest scores: a city's used figure of a year after `until`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    /// The city's index.
    pub city: usize,
    /// Year.
    pub year: i32,
    /// What.
    pub measure: Measure,
    /// The observed value, in the measure's unit.
    pub observed: f64,
}

/// One forecast of one observation.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// The forecast's name.
    pub forecast: String,
    /// The observation.
    pub target: Target,
    /// Quantiles at [`PROBS`].
    pub q: [f64; 7],
    /// Whether the 50%, 80% and 90% central bands hold the observation.
    pub inside: [bool; 3],
    /// The PIT: the forecast's probability below the observation (ties count half).
    pub pit: f64,
    /// The CRPS, in the measure's unit.
    pub crps: f64,
}

/// The observations after `until` (up to `last`) that the backtest scores: the figures a run
/// would use (the history's vintage order, confidence floor and revised basis) of the cities.
pub fn targets(h: &History, until: i32, last: i32) -> Vec<Target> {
    let all = History { until: i32::MAX, ..h.clone() };
    let mut out: Vec<Target> = Vec::new();
    for o in &h.observations.rows {
        let Entity::City(city) = o.entity else { continue };
        if o.year <= until || o.year > last || !SCORED.contains(&o.measure) {
            continue;
        }
        if let Some(u) = all.used(o.entity, o.year, o.measure)
            && u.line == o.line
        {
            out.push(Target { city, year: o.year, measure: o.measure, observed: o.value });
        }
    }
    out.sort_by_key(|t| (t.city, t.measure, t.year));
    out
}

/// The value of an observed measure in draw k: an outcome indicator, or a crude rate of the
/// year's births or deaths per 1000 of the mean population.
fn draw_value(ens: &Ensemble, k: usize, t: &Target) -> f64 {
    let l: Layout = ens.layout;
    let at = |year: i32, ind: Indicator| ens.value(k, l.index(t.city, year, ind));
    let crude = |ind: Indicator| {
        1000.0 * at(t.year, ind)
            / (0.5 * (at(t.year - 1, Indicator::Population) + at(t.year, Indicator::Population)))
    };
    match t.measure {
        Measure::Population => at(t.year, Indicator::Population),
        Measure::UrbanizationRate => at(t.year, Indicator::UrbanizationRate),
        Measure::GdpRealGrowth => at(t.year, Indicator::GdpGrowth),
        Measure::GdpNominal => at(t.year, Indicator::GdpNominal),
        Measure::CrudeBirthRate => crude(Indicator::Births),
        Measure::CrudeDeathRate => crude(Indicator::Deaths),
        _ => f64::NAN,
    }
}

/// The CRPS of an ensemble (sorted) for an observation y: E|X − y| − ½E|X − X'| over the draws.
pub fn crps_ensemble(sorted: &[f64], y: f64) -> f64 {
    let n = sorted.len() as f64;
    let mut to_y = 0.0;
    let mut spread = 0.0;
    for (i, x) in sorted.iter().enumerate() {
        to_y += (x - y).abs();
        // Σ_i Σ_j |x_i − x_j| = 2 Σ_i (2i − n + 1)·x_(i), 0-based ranks of the sorted draws.
        spread += (2.0 * i as f64 - n + 1.0) * x;
    }
    to_y / n - spread / (n * n)
}

/// The standard normal distribution function Φ.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// The CRPS of N(μ, σ²) for an observation y (Gneiting & Raftery 2007, eq. 21):
/// σ·[z(2Φ(z) − 1) + 2φ(z) − 1/√π], z = (y − μ)/σ.
pub fn crps_normal(mu: f64, sigma: f64, y: f64) -> f64 {
    let z = (y - mu) / sigma;
    let pdf = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
    sigma * (z * (2.0 * normal_cdf(z) - 1.0) + 2.0 * pdf - 1.0 / std::f64::consts::PI.sqrt())
}

fn inside(q: &[f64; 7], y: f64) -> [bool; 3] {
    [(q[2]..=q[4]).contains(&y), (q[1]..=q[5]).contains(&y), (q[0]..=q[6]).contains(&y)]
}

/// Score an ensemble forecast: its type-7 quantiles, bands, mid-PIT and CRPS per target.
pub fn score_ensemble(name: &str, ens: &Ensemble, targets: &[Target]) -> Vec<Scored> {
    let mut xs = vec![0.0; ens.n_draws()];
    targets
        .iter()
        .map(|t| {
            for (k, x) in xs.iter_mut().enumerate() {
                *x = draw_value(ens, k, t);
            }
            xs.sort_by(f64::total_cmp);
            let y = t.observed;
            let q = quantiles_type7(&mut xs.clone(), &PROBS);
            let below = xs.partition_point(|x| *x < y) as f64;
            let ties = xs.partition_point(|x| *x <= y) as f64 - below;
            let n = xs.len() as f64;
            Scored {
                forecast: name.to_string(),
                target: *t,
                q,
                inside: inside(&q, y),
                pit: (below + 0.5 * ties) / n,
                crps: crps_ensemble(&xs, y),
            }
        })
        .collect()
}

/// The naive forecast's series of one city and measure: its used observations up to `until`.
fn series(h: &History, until: i32, city: usize, m: Measure) -> Vec<(i32, f64)> {
    let view = History { until, ..h.clone() };
    let e = Entity::City(city);
    let mut years: Vec<i32> =
        h.observations.rows.iter().filter(|o| o.entity == e && o.measure == m).map(|o| o.year).collect();
    years.sort_unstable();
    years.dedup();
    years.into_iter().filter_map(|y| view.used(e, y, m).map(|o| (y, o.value))).collect()
}

/// The annual changes of a series (each change over a gap divided by the gap).
fn annual_changes(s: &[(i32, f64)]) -> Vec<f64> {
    s.windows(2).map(|w| (w[1].1 - w[0].1) / f64::from(w[1].0 - w[0].0)).collect()
}

fn sample_sd(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    Some((xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt())
}

/// Score the naive forecast (module docs): a level continues at its last observed annual change
/// from its last observation (a growth rate at its last value), normal with sd σ√h, σ the sample
/// sd of the series' annual changes up to `until` (of every city's changes of the measure
/// together when the series has fewer than two); a target whose series has no observation up to
/// `until`, or whose measure has fewer than two changes in all, is not scored.
pub fn score_naive(h: &History, until: i32, targets: &[Target]) -> Vec<Scored> {
    let mut out = Vec::new();
    for t in targets {
        let s = series(h, until, t.city, t.measure);
        let Some(&(last_year, last)) = s.last() else { continue };
        let changes = annual_changes(&s);
        let drift =
            if t.measure == Measure::GdpRealGrowth { 0.0 } else { changes.last().copied().unwrap_or(0.0) };
        let sigma = sample_sd(&changes).or_else(|| {
            // Pooled: the annual changes of the measure in every city's series up to `until`.
            let cities = h.observations.rows.iter().filter_map(|o| match o.entity {
                Entity::City(i) => Some(i + 1),
                _ => None,
            });
            let pooled: Vec<f64> = (0..cities.max().unwrap_or(0))
                .flat_map(|city| annual_changes(&series(h, until, city, t.measure)))
                .collect();
            sample_sd(&pooled)
        });
        let Some(sigma) = sigma else { continue };
        let h_years = f64::from(t.year - last_year);
        let mu = last + drift * h_years;
        // A constant series has σ = 0: a floor keeps the distribution proper.
        let sd = (sigma * h_years.sqrt()).max(1e-9 * mu.abs().max(1.0));
        let q = Z.map(|z| mu + z * sd);
        let y = t.observed;
        out.push(Scored {
            forecast: "naive".into(),
            target: *t,
            q,
            inside: inside(&q, y),
            pit: normal_cdf((y - mu) / sd),
            crps: crps_normal(mu, sd, y),
        });
    }
    out
}

/// Coverage and mean CRPS of one forecast over a set of scored observations.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    /// The forecast.
    pub forecast: String,
    /// The measure, or none for all measures together (CRPS then not averaged).
    pub measure: Option<Measure>,
    /// Observations scored.
    pub n: usize,
    /// Share inside the 50%, 80% and 90% bands, each with its Wilson 95% interval.
    pub coverage: [(f64, f64, f64); 3],
    /// Mean CRPS (per measure only).
    pub mean_crps: Option<f64>,
}

/// The Wilson score interval of a binomial proportion k/n at 95% (z = 1.96).
pub fn wilson(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let (k, n, z) = (k as f64, n as f64, 1.959_963_984_540_054);
    let p = k / n;
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / (1.0 + z * z / n);
    (centre - half, centre + half)
}

/// The forecasts of `scored`, in the order they first appear.
pub fn forecasts(scored: &[Scored]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for s in scored {
        if !out.contains(&s.forecast.as_str()) {
            out.push(&s.forecast);
        }
    }
    out
}

/// Coverage per forecast and measure, then per forecast over every measure.
pub fn summarise(scored: &[Scored]) -> Vec<Coverage> {
    let mut out = Vec::new();
    for f in forecasts(scored) {
        let groups = SCORED.iter().map(Some).chain(std::iter::once(None));
        for m in groups {
            let set: Vec<&Scored> = scored
                .iter()
                .filter(|s| s.forecast == f && m.is_none_or(|m| s.target.measure == *m))
                .collect();
            if set.is_empty() {
                continue;
            }
            let n = set.len();
            let coverage = std::array::from_fn(|b| {
                let k = set.iter().filter(|s| s.inside[b]).count();
                let (lo, hi) = wilson(k, n);
                (k as f64 / n as f64, lo, hi)
            });
            let mean_crps = m.map(|_| set.iter().map(|s| s.crps).sum::<f64>() / n as f64);
            out.push(Coverage { forecast: f.to_string(), measure: m.copied(), n, coverage, mean_crps });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_normal_quantiles_are_phi_inverse() {
        for (z, p) in Z.iter().zip(PROBS) {
            assert!((normal_cdf(*z) - p).abs() < 1e-15, "{z} {p}");
        }
    }

    #[test]
    fn the_ensemble_crps_is_the_mean_distance_less_half_the_spread() {
        // Brute force over pairs against the sorted formula.
        let xs: [f64; 5] = [1.0, 2.0, 2.5, 4.0, 7.0];
        for y in [-1.0f64, 2.2, 5.0, 9.0] {
            let n = xs.len() as f64;
            let to_y: f64 = xs.iter().map(|x| (x - y).abs()).sum::<f64>() / n;
            let pairs: f64 = xs.iter().flat_map(|a| xs.iter().map(move |b| (a - b).abs())).sum::<f64>();
            let want = to_y - pairs / (2.0 * n * n);
            assert!((crps_ensemble(&xs, y) - want).abs() < 1e-12);
        }
        // A one-draw ensemble: the absolute error.
        assert_eq!(crps_ensemble(&[3.0], 5.0), 2.0);
    }

    #[test]
    fn a_large_normal_ensemble_has_the_closed_form_crps() {
        // Quantiles of N(2, 0.5²) at (i + ½)/n stand in for a large sample.
        let n = 20_000;
        let xs: Vec<f64> = (0..n)
            .map(|i| {
                let p = (i as f64 + 0.5) / n as f64;
                // Bisection on Φ.
                let (mut lo, mut hi) = (-10.0, 10.0);
                for _ in 0..80 {
                    let mid = 0.5 * (lo + hi);
                    if normal_cdf(mid) < p { lo = mid } else { hi = mid }
                }
                2.0 + 0.5 * lo
            })
            .collect();
        for y in [1.0, 2.0, 3.3] {
            let (e, c) = (crps_ensemble(&xs, y), crps_normal(2.0, 0.5, y));
            assert!((e - c).abs() < 1e-4, "{y}: {e} vs {c}");
        }
        // At the centre the CRPS of N(μ, σ²) is σ(√2 − 1)/√π.
        let centre = 0.5 * (2f64.sqrt() - 1.0) / std::f64::consts::PI.sqrt();
        assert!((crps_normal(2.0, 0.5, 2.0) - centre).abs() < 1e-15);
    }

    #[test]
    fn wilson_intervals_match_known_values() {
        // 8 of 10: (0.4902, 0.9433) (Wilson 1927; e.g. Agresti & Coull 1998, Table 1 method).
        let (lo, hi) = wilson(8, 10);
        assert!((lo - 0.4902).abs() < 1e-4 && (hi - 0.9433).abs() < 1e-4, "{lo} {hi}");
        let (lo, hi) = wilson(0, 20);
        assert!(lo.abs() < 1e-12 && (hi - 0.1611).abs() < 1e-4, "{lo} {hi}");
    }
}
