//! The year's shocks (MODEL.md §3, §5, §6, §8): TFP shocks with one common factor (or a region's
//! correlation matrix), region-wide disasters half recovered the next year, migration,
//! urbanization and inflation shocks, each from its own random stream in a fixed order. A
//! deterministic draw and the calibration pass have none.

use super::{DISASTER_SIZE, Model, purposes};
use crate::params::Params;
use crate::rng::Streams;
use rand::RngExt;
use rand::distr::Distribution;
use rand_distr::StandardNormal;

/// A standard normal number.
#[inline]
pub fn normal<R: rand::Rng + ?Sized>(r: &mut R) -> f64 {
    StandardNormal.sample(r)
}

/// The generators of a draw's shocks, one per purpose.
#[derive(Debug, Clone)]
pub struct ShockStreams<R> {
    /// `shocks.tfp`: per year the common factor, then each city's normal.
    pub tfp: R,
    /// `shocks.disaster`: per year an occurrence uniform, then a size uniform.
    pub disaster: R,
    /// `shocks.migration`: per year one normal per city.
    pub migration: R,
    /// `shocks.urbanization`: per year one normal per city.
    pub urbanization: R,
    /// `shocks.inflation`: one normal per year.
    pub inflation: R,
    /// `shocks.fertility`: per year one normal when σ_f > 0.
    pub fertility: R,
}

impl ShockStreams<crate::rng::Stream> {
    /// The shock streams a draw reads.
    pub fn of(streams: &Streams<'_>) -> Self {
        ShockStreams {
            tfp: streams.stream(purposes::TFP),
            disaster: streams.stream(purposes::DISASTER),
            migration: streams.stream(purposes::MIGRATION),
            urbanization: streams.stream(purposes::URBANIZATION),
            inflation: streams.stream(purposes::INFLATION),
            fertility: streams.stream(purposes::FERTILITY),
        }
    }
}

/// One year's shocks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct YearShocks {
    /// z_i(t), the TFP shock of each city.
    pub tfp: Vec<f64>,
    /// ν_i(t), the innovation of TFP growth's persistent part (docs/MODEL.md §12.4).
    pub tfp_drift: Vec<f64>,
    /// d(t): this year's disaster (negative) and last year's recovery.
    pub disaster: f64,
    /// The recovery d(t + 1) gets: half of this year's disaster.
    pub recovery: f64,
    /// η_i(t).
    pub migration: Vec<f64>,
    /// ξ_i(t), the innovation of the migration rate's persistent part (docs/MODEL.md §12.4).
    pub migration_drift: Vec<f64>,
    /// ε_i(t) of the urbanization shock.
    pub urbanization: Vec<f64>,
    /// ε_π(t).
    pub inflation: f64,
    /// ω(t), the innovation of the births' persistent part (docs/MODEL.md §12.4; 0 when σ_f = 0).
    pub fertility: f64,
}

impl YearShocks {
    /// Take `other`'s values (the same model: no allocation).
    pub fn copy_from(&mut self, other: &YearShocks) {
        self.tfp.copy_from_slice(&other.tfp);
        self.tfp_drift.copy_from_slice(&other.tfp_drift);
        self.migration.copy_from_slice(&other.migration);
        self.migration_drift.copy_from_slice(&other.migration_drift);
        self.urbanization.copy_from_slice(&other.urbanization);
        (self.disaster, self.recovery, self.inflation) = (other.disaster, other.recovery, other.inflation);
        self.fertility = other.fertility;
    }

    /// No shock, for a model's cities.
    pub fn none(model: &Model) -> YearShocks {
        let n = model.n;
        YearShocks {
            tfp: vec![0.0; n],
            tfp_drift: vec![0.0; n],
            migration: vec![0.0; n],
            migration_drift: vec![0.0; n],
            urbanization: vec![0.0; n],
            ..YearShocks::default()
        }
    }
}

/// Draw the next year's shocks into `y` (the previous year's recovery in `y.recovery` is this
/// year's start of d(t)):
/// - z_i = σ_z·(√ρ·c + √(1 − ρ)·ε_i), c and ε_i standard normals (or z = σ_z·L·ε with the region's
///   Cholesky factor L);
/// - with probability p_D a disaster d(t) −= D, D = 0.02 + 0.04·u, half recovered next year;
/// - η_i (then, when σ_q > 0, ξ_i), ε_i of urbanization, ε_π and, when σ_f > 0, ω standard normals.
pub fn draw<R: rand::Rng>(model: &Model, p: &Params, s: &mut ShockStreams<R>, y: &mut YearShocks) {
    let sz = p.tfp_shock_sd;
    match &model.cholesky {
        None => {
            let rho = p.tfp_shock_correlation;
            let c = normal(&mut s.tfp);
            let (a, b) = (rho.sqrt(), (1.0 - rho).sqrt());
            for z in y.tfp.iter_mut() {
                *z = sz * (a * c + b * normal(&mut s.tfp));
            }
        }
        Some(l) => {
            // The city normals first (the z's room holds them), then z = σ_z·L·ε from the last
            // city up, so that each ε is read before its place is overwritten.
            let n = model.n;
            for z in y.tfp.iter_mut() {
                *z = normal(&mut s.tfp);
            }
            for i in (0..n).rev() {
                let mut acc = 0.0;
                for j in 0..=i {
                    acc += l[i * n + j] * y.tfp[j];
                }
                y.tfp[i] = sz * acc;
            }
        }
    }
    // TFP growth's persistent part, when the scenario has one (§12.4): one normal per city after
    // the year's z's (nothing read otherwise).
    if p.tfp_drift_sd > 0.0 {
        for e in y.tfp_drift.iter_mut() {
            *e = normal(&mut s.tfp);
        }
    }
    let occur: f64 = s.disaster.random();
    let size: f64 = s.disaster.random();
    let d = DISASTER_SIZE.0 + (DISASTER_SIZE.1 - DISASTER_SIZE.0) * size;
    y.disaster = y.recovery;
    y.recovery = 0.0;
    if occur < p.disaster_probability {
        y.disaster -= d;
        y.recovery = 0.5 * d;
    }
    for e in y.migration.iter_mut() {
        *e = normal(&mut s.migration);
    }
    // The migration rate's persistent part, when the scenario has one (§12.4): one normal per
    // city after the η's (nothing read otherwise, so the plan-era draws are unchanged).
    if p.migration_drift_sd > 0.0 {
        for e in y.migration_drift.iter_mut() {
            *e = normal(&mut s.migration);
        }
    }
    for e in y.urbanization.iter_mut() {
        *e = normal(&mut s.urbanization);
    }
    y.inflation = normal(&mut s.inflation);
    // The births' persistent part, when the scenario has one (§12.4): one normal of its own
    // stream (nothing read otherwise).
    if p.fertility_shock_sd > 0.0 {
        y.fertility = normal(&mut s.fertility);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::Region;
    use crate::scenario::Scenario;

    fn corr(a: &[f64], b: &[f64]) -> f64 {
        let n = a.len() as f64;
        let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
        let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
        let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
        let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
        cov / (va * vb).sqrt()
    }

    /// `years` years of TFP shocks of draw 0 (seed 1), each city's series.
    fn shock_series(region: &Region, years: usize) -> Vec<Vec<f64>> {
        let sc = Scenario::parse("t.toml", "[scenario]\nname = \"t\"\n", region).unwrap();
        let model = Model::new(region, &sc).unwrap();
        let p = Params::from_values(&std::array::from_fn(|k| {
            crate::params::PARAMS[k].default.to_uncertain().central()
        }));
        let mut streams = ShockStreams::of(&Streams::of(1, 0));
        let mut y = YearShocks::none(&model);
        let mut series = vec![Vec::with_capacity(years); model.n];
        for _ in 0..years {
            draw(&model, &p, &mut streams, &mut y);
            for (i, z) in y.tfp.iter().enumerate() {
                series[i].push(*z);
            }
        }
        series
    }

    #[test]
    fn one_factor_shocks_have_the_stated_correlation_and_sd() {
        let z = shock_series(&Region::embedded(), 40_000);
        let sd = (z[0].iter().map(|x| x * x).sum::<f64>() / z[0].len() as f64).sqrt();
        assert!((sd - 0.015).abs() < 0.0003, "sd {sd}");
        for j in 1..5 {
            let r = corr(&z[0], &z[j]);
            assert!((r - 0.6).abs() < 0.02, "corr(0,{j}) = {r}");
        }
    }

    #[test]
    fn a_region_correlation_matrix_is_used_through_its_cholesky_factor() {
        let mut region = Region::embedded();
        let mut r = nalgebra::DMatrix::<f64>::identity(5, 5);
        r[(0, 1)] = 0.9;
        r[(1, 0)] = 0.9;
        r[(3, 4)] = -0.5;
        r[(4, 3)] = -0.5;
        region.shock_cholesky = Some(nalgebra::Cholesky::new(r).unwrap().l());
        let z = shock_series(&region, 40_000);
        assert!((corr(&z[0], &z[1]) - 0.9).abs() < 0.02);
        assert!(corr(&z[0], &z[2]).abs() < 0.02);
        assert!((corr(&z[3], &z[4]) + 0.5).abs() < 0.02);
    }

    #[test]
    fn a_disaster_is_half_recovered_the_next_year() {
        let region = Region::embedded();
        let sc = Scenario::parse("t.toml", "[scenario]\nname = \"t\"\n", &region).unwrap();
        let model = Model::new(&region, &sc).unwrap();
        let mut p = Params { disaster_probability: 1.0, ..Params::default() };
        let mut streams = ShockStreams::of(&Streams::of(1, 0));
        let mut y = YearShocks::none(&model);
        draw(&model, &p, &mut streams, &mut y);
        let d = -y.disaster;
        assert!((0.02..=0.06).contains(&d) && y.recovery == 0.5 * d);
        p.disaster_probability = 0.0;
        draw(&model, &p, &mut streams, &mut y);
        assert_eq!((y.disaster, y.recovery), (0.5 * d, 0.0));
    }
}
