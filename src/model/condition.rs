//! Conditioning on the observed years (docs/MODEL.md §12): how likely a draw makes what was
//! published, and the shocks of the city-years nobody published, drawn given the ones that were.
//!
//! Part 1 (§11) forces every draw through the observed city-years. Here each observation is
//! scored by its density under the model, given the draw's state before the year:
//!
//! - a **level** (population, urbanization rate): the model's one-year-ahead prediction without
//!   the year's shock, the shock's spread carried onto the observation's scale (the Jacobian of
//!   the map from shock to observation, which depends on the draw), and the observation's own
//!   error ([`observation_sd`]) — [`level_log_density`];
//! - **real growth**: the total TFP shocks x_i = z_i + d that give the observed growth of the
//!   observed cities, jointly (one common factor, or the region's correlation matrix, plus the
//!   observation errors), with the year's disaster integrated out in closed form —
//!   [`tfp_evidence`]. The map from x to the observed growth, ln(1 + g) = x + ln(Y⁰/Y(t−1)), has a
//!   Jacobian 1/(1 + g) that no draw changes, so it cancels from the weights.
//!
//! [`TfpEvidence::draw`] then draws the year's disaster and the TFP shocks of the cities without
//! a growth figure from their law given the observed ones.

use nalgebra::{DMatrix, DVector};

use crate::observed::{Confidence, Measure, Observation, Vintage};

/// Size of a disaster: uniform on [lo, hi] (MODEL.md §3; the model's `DISASTER_SIZE`).
const DISASTER: (f64, f64) = super::DISASTER_SIZE;

/// ln √(2π).
const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// The standard normal distribution function Φ.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// Φ⁻¹(p) for p in (0, 1): Acklam's rational approximation, refined by one Halley step on
/// Φ (relative error below 1e-15 in the centre, about 1e-13 in the far tails).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] =
        [7.784_695_709_041_462e-3, 3.224_671_290_700_398e-1, 2.445_134_137_142_996, 3.754_408_661_907_416];
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let x = if p < 0.024_25 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.024_25 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    // Halley's step on Φ(x) − p.
    let e = normal_cdf(x) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (0.5 * x * x).exp();
    x - u / (1.0 + 0.5 * x * u)
}

/// ln of the N(0, var) density at r.
#[inline]
pub fn normal_log_pdf(r: f64, var: f64) -> f64 {
    -0.5 * (r * r / var + var.ln()) - LN_SQRT_2PI
}

/// The log-density of an observed level given the model's prediction (docs/MODEL.md §12.1):
/// `residual` = observed − predicted (the prediction with the year's shock at zero), `model_sd`
/// the shock's spread on the observation's scale, `obs_sd` the observation's error
/// ([`observation_sd`]): N(residual; 0, model_sd² + obs_sd²).
#[inline]
pub fn level_log_density(residual: f64, model_sd: f64, obs_sd: f64) -> f64 {
    normal_log_pdf(residual, model_sd * model_sd + obs_sd * obs_sd)
}

/// The error of a published figure beyond the model, as a standard deviation in the measure's
/// unit (10k persons, % points, % a year, ‰; docs/MODEL.md §12.1): rounding to its printed
/// resolution (uniform: step/√12) and revision by vintage, scaled by confidence.
///
/// Revision (one sd): population 0.05 % of the level for a census, 0.1 % revised / final /
/// yearbook, 0.2 % first release, 0.3 % sample survey, 0.5 % preliminary; urbanization rate,
/// real growth and crude rates (‰) in points: 0.05 census, 0.1 revised / final / yearbook, 0.2 (rate) or 0.3
/// (growth) first release, 0.3 sample survey, 0.5 preliminary. Confidence multiplies it by
/// 1 (A, B), 1.5 (C: a secondary table), 2 (D). Other measures: none (they are not scored).
pub fn observation_sd(o: &Observation) -> f64 {
    let rounding = o.step / 12f64.sqrt();
    let growth_first = matches!(o.measure, Measure::GdpRealGrowth);
    let points = match o.vintage {
        Vintage::Census => 0.05,
        Vintage::Revised | Vintage::Final | Vintage::Yearbook => 0.1,
        Vintage::FirstRelease if growth_first => 0.3,
        Vintage::FirstRelease => 0.2,
        Vintage::SampleSurvey => 0.3,
        Vintage::Preliminary => 0.5,
    };
    let revision = match o.measure {
        // Population: the same grades as a per cent of the level.
        Measure::Population => points / 100.0 * o.value,
        Measure::UrbanizationRate | Measure::GdpRealGrowth => points,
        // Crude rates: the same grades in ‰.
        Measure::CrudeBirthRate | Measure::CrudeDeathRate => points,
        // Nominal GDP: as a per cent of the level, 2.5 times population's grades (the final
        // verification moves a first release by some tenths of a per cent).
        Measure::GdpNominal => 2.5 * points / 100.0 * o.value,
        _ => 0.0,
    };
    let scale = match o.confidence {
        Confidence::A | Confidence::B => 1.0,
        Confidence::C => 1.5,
        Confidence::D => 2.0,
    };
    (rounding * rounding + (scale * revision).powi(2)).sqrt()
}

/// A year's TFP evidence: the law of the observed cities' total shocks, its density at the
/// observed values, the posterior of the year's disaster, and what the year's shocks are drawn
/// from given the observed (docs/MODEL.md §12.2).
#[derive(Debug, Clone)]
pub struct TfpEvidence {
    /// ln p(y_O): the mixture over no disaster and a disaster of size D ~ U[0.02, 0.06].
    pub log_density: f64,
    /// P(disaster | y_O).
    pub p_disaster: f64,
    /// The disaster size's posterior given one occurred: N(centre, spread²) truncated to
    /// [0.02, 0.06].
    centre: f64,
    spread: f64,
    /// The recovery carried in from last year's disaster (d = carried − D).
    carried: f64,
    /// Observed cities, in city order, and their observation variances.
    observed: Vec<usize>,
    obs_var: Vec<f64>,
    /// y_O: each observed city's total shock less the persistent part's expectation.
    y: DVector<f64>,
    /// σ_z²R (n × n) and its lower Cholesky factor.
    cov: DMatrix<f64>,
    cov_chol: DMatrix<f64>,
    /// The Cholesky factor of Σ_y = σ_z²R_OO + σ_e²I + S (none without observations).
    y_chol: Option<nalgebra::Cholesky<f64, nalgebra::Dyn>>,
    /// σ_e, the persistent part's innovation sd.
    drift_sd: f64,
}

/// The TFP evidence of one year (docs/MODEL.md §12.2). `cov`: σ_z²·R of all n cities (R the
/// one-factor correlation or the region's matrix); `carried`: last year's disaster recovery;
/// `p_d`: the disaster probability; `drift_sd`: σ_e of TFP growth's persistent part;
/// `observed`: (city, y_i, observation variance in log points²) of the cities with a growth
/// figure, in city order, y_i = x_i − φ_e·e_i(t − 1) the total shock less the persistent
/// part's expectation. Then y_O = d + z_O + σ_e·ν_O + error, d = carried − D.
pub fn tfp_evidence(
    cov: &DMatrix<f64>,
    carried: f64,
    p_d: f64,
    drift_sd: f64,
    observed: &[(usize, f64, f64)],
) -> TfpEvidence {
    let n = cov.nrows();
    let o: Vec<usize> = observed.iter().map(|o| o.0).collect();
    let y = DVector::from_iterator(o.len(), observed.iter().map(|o| o.1));
    let obs_var: Vec<f64> = observed.iter().map(|o| o.2).collect();
    let cov_chol = cov.clone().cholesky().map(|c| c.l()).unwrap_or_else(|| DMatrix::zeros(n, n));
    let (lo, hi) = DISASTER;
    let mut e = TfpEvidence {
        log_density: 0.0,
        p_disaster: p_d,
        centre: 0.5 * (lo + hi),
        spread: f64::INFINITY,
        carried,
        observed: o.clone(),
        obs_var,
        y,
        cov: cov.clone(),
        cov_chol,
        y_chol: None,
        drift_sd,
    };
    if o.is_empty() {
        return e;
    }
    let mut s_y = DMatrix::from_fn(o.len(), o.len(), |a, b| cov[(o[a], o[b])]);
    for (a, ob) in observed.iter().enumerate() {
        s_y[(a, a)] += ob.2 + drift_sd * drift_sd;
    }
    let chol = s_y.cholesky().expect("σ_z²R + σ_e²I + S is positive definite");
    let k = o.len() as f64;
    let log_det: f64 = 2.0 * chol.l().diagonal().iter().map(|d| d.ln()).sum::<f64>();
    let r0 = e.y.add_scalar(-carried);
    let ones = DVector::from_element(o.len(), 1.0);
    let inv_r0 = chol.solve(&r0);
    let inv_1 = chol.solve(&ones);
    let q0 = r0.dot(&inv_r0);
    let s = ones.dot(&inv_r0);
    let h = ones.dot(&inv_1);
    let log_none = -0.5 * (q0 + log_det) - k * LN_SQRT_2PI;
    // ∫ φ(y; carried − D, Σ_y) dD/(hi − lo): Q(D) = Q0 + 2Ds + D²h, a Gaussian in D around −s/h.
    e.centre = -s / h;
    e.spread = 1.0 / h.sqrt();
    let log_mass = log_normal_mass((lo - e.centre) / e.spread, (hi - e.centre) / e.spread);
    let log_some = log_none
        + 0.5 * s * s / h
        + (e.spread * (2.0 * std::f64::consts::PI).sqrt() / (hi - lo)).ln()
        + log_mass;
    let (a, b) = ((1.0 - p_d).ln() + log_none, p_d.ln() + log_some);
    let top = a.max(b);
    e.log_density = top + ((a - top).exp() + (b - top).exp()).ln();
    e.p_disaster = if b == f64::NEG_INFINITY { 0.0 } else { (b - e.log_density).exp() };
    e.y_chol = Some(chol);
    e
}

/// ln(Φ(b) − Φ(a)) for a < b, accurate in either tail.
fn log_normal_mass(a: f64, b: f64) -> f64 {
    let upper = |z: f64| 0.5 * libm::erfc(z / std::f64::consts::SQRT_2);
    let mass = if a > 0.0 { upper(a) - upper(b) } else { normal_cdf(b) - normal_cdf(a) };
    if mass > 0.0 { mass.ln() } else { f64::NEG_INFINITY }
}

impl TfpEvidence {
    /// Normals [`TfpEvidence::draw`] takes: n for z, n for ν, one per observed city for its
    /// error.
    pub fn normals_needed(&self) -> usize {
        2 * self.cov.nrows() + self.observed.len()
    }

    /// The year's disaster D (0 when none), every city's TFP shock z_i into `z` and the
    /// persistent part's innovation ν_i into `nu`, from their law given y_O: a disaster with its
    /// posterior probability (`u_occur` uniform), its size by the inverse of its truncated-normal
    /// posterior (`u_size`); then (z, ν) by Matheron's rule — a draw from the prior
    /// (z = L·ε, ν, the errors; `normals`) moved by Cov(·, y)Σ_y⁻¹(y − d − its own y) — which
    /// is exact for a Gaussian and needs no factor of the conditional covariance (Journel &
    /// Huijbregts 1978; Wilson et al. 2020).
    pub fn draw(&self, u_occur: f64, u_size: f64, normals: &[f64], z: &mut [f64], nu: &mut [f64]) -> f64 {
        let n = self.cov.nrows();
        let (lo, hi) = DISASTER;
        let size = if u_occur >= self.p_disaster {
            0.0
        } else if self.spread.is_infinite() {
            lo + (hi - lo) * u_size
        } else {
            truncated_normal(self.centre, self.spread, lo, hi, u_size)
        };
        let d = self.carried - size;
        let z_prior = &self.cov_chol * DVector::from_column_slice(&normals[..n]);
        for i in 0..n {
            z[i] = z_prior[i];
            nu[i] = normals[n + i];
        }
        let Some(chol) = &self.y_chol else { return size };
        let k = self.observed.len();
        let own = DVector::from_fn(k, |a, _| {
            let i = self.observed[a];
            z_prior[i] + self.drift_sd * normals[n + i] + self.obs_var[a].sqrt() * normals[2 * n + a]
        });
        let alpha = chol.solve(&(self.y.add_scalar(-d) - own));
        for (i, zi) in z.iter_mut().enumerate() {
            *zi += (0..k).map(|a| self.cov[(i, self.observed[a])] * alpha[a]).sum::<f64>();
        }
        for (a, &i) in self.observed.iter().enumerate() {
            nu[i] += self.drift_sd * alpha[a];
        }
        size
    }

    /// The mean of every city's z given a disaster of `size` (tests and docs):
    /// Cov(z, y_O)·Σ_y⁻¹·(y_O − d).
    pub fn z_mean(&self, size: f64) -> DVector<f64> {
        let n = self.cov.nrows();
        let Some(chol) = &self.y_chol else { return DVector::zeros(n) };
        let alpha = chol.solve(&self.y.add_scalar(-(self.carried - size)));
        DVector::from_fn(n, |i, _| {
            (0..self.observed.len()).map(|a| self.cov[(i, self.observed[a])] * alpha[a]).sum()
        })
    }

    /// The covariance of every city's z given the observations (tests and docs):
    /// σ_z²R − Cov(z, y_O)·Σ_y⁻¹·Cov(y_O, z).
    pub fn z_cov(&self) -> DMatrix<f64> {
        let n = self.cov.nrows();
        let Some(chol) = &self.y_chol else { return self.cov.clone() };
        let c = DMatrix::from_fn(n, self.observed.len(), |i, a| self.cov[(i, self.observed[a])]);
        &self.cov - &c * chol.solve(&c.transpose())
    }
}

/// The value at probability u of N(centre, spread²) truncated to [lo, hi] (inverse CDF; the
/// upper tail by the complement, so that a posterior far from the interval stays inside it).
fn truncated_normal(centre: f64, spread: f64, lo: f64, hi: f64, u: f64) -> f64 {
    let (a, b) = ((lo - centre) / spread, (hi - centre) / spread);
    let z = if a > 0.0 {
        // Both in the upper tail: work with Φc = 1 − Φ.
        let upper = |z: f64| 0.5 * libm::erfc(z / std::f64::consts::SQRT_2);
        let (ua, ub) = (upper(a), upper(b));
        -normal_quantile(ua - u * (ua - ub))
    } else {
        let (pa, pb) = (normal_cdf(a), normal_cdf(b));
        normal_quantile(pa + u * (pb - pa))
    };
    (centre + spread * z).clamp(lo, hi)
}

/// The complete-data log-density of a year's TFP shocks (docs/MODEL.md §12.3): given the year's
/// disaster (d the year's total disaster term), the observed cities' x_i − d (with their
/// observation variance) and the others' z_i jointly N(0, σ_z²R + S). A move step compares it
/// across parameter values with the shocks of the unobserved cities held.
pub fn tfp_complete_log_density(
    cov: &DMatrix<f64>,
    d: f64,
    observed: &[(usize, f64, f64)],
    z: &[f64],
) -> f64 {
    let n = cov.nrows();
    let mut sigma = cov.clone();
    let mut v = DVector::from_column_slice(&z[..n]);
    for &(i, x, var) in observed {
        v[i] = x - d;
        sigma[(i, i)] += var;
    }
    let Some(chol) = sigma.cholesky() else { return f64::NEG_INFINITY };
    let log_det: f64 = 2.0 * chol.l().diagonal().iter().map(|d| d.ln()).sum::<f64>();
    let q = v.dot(&chol.solve(&v));
    -0.5 * (q + log_det) - n as f64 * LN_SQRT_2PI
}

/// What observations that share one standard normal factor say of it: y_j = b·ε + u_j (the
/// residuals `observed`, each with its variance v_j: y_j less its part without ε), ε ~ N(0, 1),
/// u_j ~ N(0, v_j) independent; so y ~ N(0, b²·11ᵀ + V) and ε | y ~ N(mean, sd²)
/// (Sherman–Morrison: no matrix). With no observation the density is 1 and ε keeps its prior.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FactorEvidence {
    /// ln p(y).
    pub log_density: f64,
    /// E[ε | y].
    pub mean: f64,
    /// sd(ε | y).
    pub sd: f64,
}

/// [`FactorEvidence`] of the residuals `observed` (value, variance) with loading `b`.
pub fn one_factor(b: f64, observed: impl IntoIterator<Item = (f64, f64)>) -> FactorEvidence {
    let (mut quad, mut log_det, mut h, mut s, mut n) = (0.0, 0.0, 0.0, 0.0, 0usize);
    for (r, var) in observed {
        quad += r * r / var;
        log_det += var.ln();
        h += 1.0 / var;
        s += r / var;
        n += 1;
    }
    let precision = 1.0 + b * b * h;
    quad -= b * b * s * s / precision;
    log_det += precision.ln();
    FactorEvidence {
        log_density: -0.5 * (quad + log_det) - n as f64 * LN_SQRT_2PI,
        mean: b * s / precision,
        sd: precision.sqrt().recip(),
    }
}

/// A year's deflator evidence (docs/MODEL.md §12.1b): the observed deflators d_j (log growth,
/// each with its variance v_j) are c(ε) = ln(1 + π̄ + σ_π·ε) plus independent discrepancies,
/// ε ~ N(0, 1). With c linearised at ε̂, c(ε) ≈ a + b·ε (b = σ_π/(1 + π̄ + σ_π·ε̂), a = c(ε̂) − b·ε̂),
/// d ~ N(a·1, b²·11ᵀ + V) and ε | d ~ N(mean, sd²) ([`one_factor`] of d − a); ε̂ is 0 and then
/// twice the posterior mean (Gauss–Newton: the linearisation's error is then of third order).
/// `observed`: (value, variance); π̄ `pi_mean`, yearly noise `pi_sd`.
pub fn deflator_evidence(pi_mean: f64, pi_sd: f64, observed: &[(f64, f64)]) -> FactorEvidence {
    let mut at = 0.0;
    let mut e = FactorEvidence { log_density: 0.0, mean: 0.0, sd: 1.0 };
    for _ in 0..3 {
        let level = (1.0 + pi_mean + pi_sd * at).max(0.5);
        let b = pi_sd / level;
        let a = level.ln() - b * at;
        e = one_factor(b, observed.iter().map(|&(d, var)| (d - a, var)));
        at = e.mean;
    }
    e
}

/// One particle of the history pass: a draw's inputs and the shocks of the observed years, as
/// conditioned (docs/MODEL.md §12.3).
#[derive(Debug, Clone)]
pub struct Particle {
    /// Parameters, offsets, openings, sizes (levers: each output draw takes its own).
    pub inputs: super::inputs::DrawInputs,
    /// The shocks of years b+1..=until.
    pub shocks: Vec<super::shocks::YearShocks>,
    /// The complete-data log-likelihood of the observations and shocks so far, with the current
    /// year's tempered (docs/MODEL.md §12.3): plus (α − 1)·`marginal` at temperature α.
    pub log_lik: f64,
    /// The log-density of the current year's observations given the particle's parameters and
    /// past, ln p(y_t | θ, y_{<t}) (its weight increment, brought in by stages when tempered).
    pub marginal: f64,
}

/// One observed year of the history pass, for the manifest and the report.
#[derive(Debug, Clone, PartialEq)]
pub struct YearReport {
    /// The year.
    pub year: i32,
    /// Observed values scored (population, urbanization, growth).
    pub observed: usize,
    /// Kish's effective sample size of the weights after the year, (Σw)²/Σw² (after the last
    /// tempering stage, when the year was tempered).
    pub ess: f64,
    /// The effective sample size the year's whole likelihood would have left at once (equal to
    /// `ess` when the year was not tempered).
    pub ess_at_once: f64,
    /// Tempering stages (each a reweighting to the stage's ESS target, a resampling and the
    /// move sweeps) before the year's last weights; 0 when the year came in at once.
    pub stages: usize,
    /// The weight share of the heaviest 1 % of the pool.
    pub top1_share: f64,
    /// Whether the pool was resampled.
    pub resampled: bool,
    /// Move sweeps made, and the share of proposals accepted.
    pub moves: usize,
    /// The share of proposals accepted.
    pub acceptance: f64,
    /// Distinct particles after the moves.
    pub distinct: usize,
    /// ln of the year's mean incremental weight (the evidence of the year).
    pub log_evidence: f64,
}

/// A parameter's prior and posterior, for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamPosterior {
    /// The parameter (or `migration_offset.<city>`).
    pub name: String,
    /// Prior 5 %, 50 %, 95 % (the pool before conditioning).
    pub prior: [f64; 3],
    /// Posterior 5 %, 50 %, 95 %.
    pub posterior: [f64; 3],
}

/// The history pass's result (docs/MODEL.md §12.3): an equally weighted pool, and which of it
/// each output draw takes.
#[derive(Debug, Clone)]
pub struct Conditioned {
    /// The last observed year.
    pub until: i32,
    /// The pool, equally weighted.
    pub particles: Vec<Particle>,
    /// Output draw k takes `particles[order[k mod pool]]` (a seeded permutation: any run of
    /// draws is an unbiased subsample).
    pub order: Vec<u32>,
    /// Each observed year.
    pub years: Vec<YearReport>,
    /// Each moved quantity's prior and posterior.
    pub posterior: Vec<ParamPosterior>,
    /// Warnings (few distinct particles, an implausible year).
    pub warnings: Vec<String>,
    /// The price block (§12.1b): the observed deflators, and the acceptance rate of π̄'s sampler
    /// (none when no deflator is observed).
    pub prices: Option<PriceBlock>,
    /// The births' persistent part (§12.4) by observed year: the year and the pool's median
    /// factor e^f(t) on the TFR path (empty when σ_f = 0 in every particle).
    pub births: Vec<(i32, f64)>,
}

/// What the history pass's price block did (docs/MODEL.md §12.1b).
#[derive(Debug, Clone, PartialEq)]
pub struct PriceBlock {
    /// Observed deflators.
    pub deflators: usize,
    /// Steps of π̄'s independence sampler per particle (0: π̄ is a number).
    pub steps: usize,
    /// Their acceptance rate.
    pub acceptance: f64,
    /// Each year with observed deflators and the pool's mean price shock ε_π of it.
    pub mean_shocks: Vec<(i32, f64)>,
}

impl Conditioned {
    /// The particle output draw `k` takes.
    pub fn particle(&self, k: u64) -> &Particle {
        &self.particles[self.order[(k % self.order.len() as u64) as usize] as usize]
    }
}

/// σ_z²·R for the one-factor structure (R = ρ·11ᵀ + (1 − ρ)·I) or the region's matrix given by
/// its lower Cholesky factor (row-major n × n).
pub fn shock_cov(n: usize, sd: f64, rho: f64, cholesky: Option<&[f64]>) -> DMatrix<f64> {
    let v = sd * sd;
    match cholesky {
        None => DMatrix::from_fn(n, n, |a, b| if a == b { v } else { v * rho }),
        Some(l) => {
            let l = DMatrix::from_row_slice(n, n, l);
            (&l * l.transpose()) * v
        }
    }
}

/// Simpson's rule: ∫ f over [lo, hi] with `n` (even) intervals (the tests' quadrature).
#[cfg(test)]
pub(crate) fn simpson(f: impl Fn(f64) -> f64, lo: f64, hi: f64, n: usize) -> f64 {
    let h = (hi - lo) / n as f64;
    let inner: f64 = (1..n).map(|k| if k % 2 == 1 { 4.0 } else { 2.0 } * f(lo + k as f64 * h)).sum();
    (f(lo) + inner + f(hi)) * h / 3.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-factor density without disasters, by Sherman–Morrison and the matrix determinant
    /// lemma (independent of the Cholesky route): Σ = diag(a) + β²·11ᵀ.
    fn one_factor_log_pdf(x: &[f64], mean: f64, sd: f64, rho: f64, obs_var: &[f64]) -> f64 {
        let beta2 = sd * sd * rho;
        let a: Vec<f64> = obs_var.iter().map(|s| sd * sd * (1.0 - rho) + s).collect();
        let r: Vec<f64> = x.iter().map(|v| v - mean).collect();
        let sum_inv: f64 = a.iter().map(|v| 1.0 / v).sum();
        let sum_r: f64 = r.iter().zip(&a).map(|(r, a)| r / a).sum();
        let q = r.iter().zip(&a).map(|(r, a)| r * r / a).sum::<f64>()
            - beta2 * sum_r * sum_r / (1.0 + beta2 * sum_inv);
        let log_det = a.iter().map(|v| v.ln()).sum::<f64>() + (1.0 + beta2 * sum_inv).ln();
        -0.5 * (q + log_det) - x.len() as f64 * LN_SQRT_2PI
    }

    fn example() -> (DMatrix<f64>, Vec<(usize, f64, f64)>) {
        let cov = shock_cov(5, 0.015, 0.6, None);
        let obs = vec![(0, -0.020, 1e-6), (2, -0.031, 4e-6), (3, 0.004, 1e-6)];
        (cov, obs)
    }

    #[test]
    fn the_deflator_evidence_is_the_integral_over_the_price_shock() {
        // p(d) = ∫ N(ε; 0, 1)·Π N(d_j; ln(1 + π̄ + σ_π ε), v_j) dε by Simpson's rule on the exact
        // map, and ε's posterior mean and sd by the same quadrature: the closed form linearises
        // the map at the posterior mean (Gauss–Newton): within 0.005 in ln, 0.01 in ε.
        let (pi, sd) = (0.017, 0.01);
        let obs = [(0.0606, 0.0168f64.powi(2)), (0.0339, 0.0168f64.powi(2)), (0.0385, 0.0107f64.powi(2))];
        let e = deflator_evidence(pi, sd, &obs);
        let f = |eps: f64| {
            let c = (1.0 + pi + sd * eps).ln();
            (normal_log_pdf(eps, 1.0) + obs.iter().map(|&(d, v)| normal_log_pdf(d - c, v)).sum::<f64>()).exp()
        };
        let moment = |p: i32| simpson(|x| x.powi(p) * f(x), -12.0, 12.0, 4000);
        let (m0, m1, m2) = (moment(0), moment(1), moment(2));
        let (mean, var) = (m1 / m0, m2 / m0 - (m1 / m0).powi(2));
        assert!((e.log_density - m0.ln()).abs() < 5e-3, "{} {}", e.log_density, m0.ln());
        assert!((e.mean - mean).abs() < 0.01, "{} {mean}", e.mean);
        assert!((e.sd - var.sqrt()).abs() < 0.01, "{} {}", e.sd, var.sqrt());
        // The posterior moved toward the observations (about 3.9 %, against π̄ = 1.7 %).
        assert!(e.mean > 1.0, "{}", e.mean);
        // Without observations: the prior, and a density of 1.
        let none = deflator_evidence(pi, sd, &[]);
        assert_eq!((none.log_density, none.mean, none.sd), (0.0, 0.0, 1.0));
    }

    #[test]
    fn a_region_s_correlation_matrix_enters_through_its_cholesky_factor() {
        // shock_cov gives σ²·L·Lᵀ, and the density is the matrix normal's: against the
        // one-factor closed form when the matrix is the one-factor correlation.
        let (sd, rho) = (0.015, 0.6);
        let r = DMatrix::from_fn(5, 5, |a, b| if a == b { 1.0 } else { rho });
        let l = r.clone().cholesky().unwrap().l();
        let flat: Vec<f64> = (0..25).map(|k| l[(k / 5, k % 5)]).collect();
        let cov = shock_cov(5, sd, 0.0, Some(&flat));
        assert!((&cov - shock_cov(5, sd, rho, None)).abs().max() < 1e-18);
        let (_, obs) = example();
        let e = tfp_evidence(&cov, 0.01, 0.0, 0.0, &obs);
        let x: Vec<f64> = obs.iter().map(|o| o.1).collect();
        let v: Vec<f64> = obs.iter().map(|o| o.2).collect();
        assert!((e.log_density - one_factor_log_pdf(&x, 0.01, sd, rho, &v)).abs() < 1e-10);
    }

    #[test]
    fn without_disasters_the_density_is_the_one_factor_normal() {
        let (cov, obs) = example();
        let e = tfp_evidence(&cov, 0.01, 0.0, 0.0, &obs);
        let x: Vec<f64> = obs.iter().map(|o| o.1).collect();
        let v: Vec<f64> = obs.iter().map(|o| o.2).collect();
        let want = one_factor_log_pdf(&x, 0.01, 0.015, 0.6, &v);
        assert!((e.log_density - want).abs() < 1e-12, "{} vs {want}", e.log_density);
        assert_eq!(e.p_disaster, 0.0);
    }

    #[test]
    fn the_disaster_mixture_matches_numerical_integration() {
        let (cov, obs) = example();
        let x: Vec<f64> = obs.iter().map(|o| o.1).collect();
        let v: Vec<f64> = obs.iter().map(|o| o.2).collect();
        for (carried, p) in [(0.0, 0.05), (0.015, 0.3), (0.0, 0.9)] {
            let e = tfp_evidence(&cov, carried, p, 0.0, &obs);
            // Simpson's rule over D in [0.02, 0.06], 2000 intervals.
            let f = |d: f64| one_factor_log_pdf(&x, carried - d, 0.015, 0.6, &v).exp() / 0.04;
            let integral = simpson(f, 0.02, 0.06, 2000);
            let none = one_factor_log_pdf(&x, carried, 0.015, 0.6, &v).exp();
            let want = (1.0 - p) * none + p * integral;
            assert!((e.log_density - want.ln()).abs() < 1e-9, "p {p}: {} vs {}", e.log_density, want.ln());
            assert!((e.p_disaster - p * integral / want).abs() < 1e-9);
        }
    }

    #[test]
    fn the_posterior_of_a_disaster_averages_to_its_prior() {
        // E[P(disaster | x)] = p under the model's own law of x (law of total probability).
        use crate::model::shocks::normal;
        use rand::RngExt;
        let cov = shock_cov(5, 0.015, 0.6, None);
        let p = 0.2;
        let mut rng = crate::rng::stream(7, crate::rng::purpose("test.posterior"), 0);
        let l = cov.clone().cholesky().unwrap().l();
        let (mut sum, draws) = (0.0, 20_000);
        for _ in 0..draws {
            let eps = DVector::from_fn(5, |_, _| normal(&mut rng));
            let z = &l * eps;
            let occur: f64 = rng.random();
            let size = 0.02 + 0.04 * rng.random::<f64>();
            let d = if occur < p { -size } else { 0.0 };
            let obs: Vec<(usize, f64, f64)> = [0, 1, 4].iter().map(|&i| (i, z[i] + d, 0.0)).collect();
            sum += tfp_evidence(&cov, 0.0, p, 0.0, &obs).p_disaster;
        }
        let mean = sum / draws as f64;
        // The posterior is in [0, 1]; its mean's sd is below 0.5/√draws.
        assert!((mean - p).abs() < 4.0 * 0.5 / (draws as f64).sqrt(), "mean posterior {mean}");
    }

    #[test]
    fn missing_cities_are_drawn_from_the_one_factor_conditional() {
        // Without observation error, persistent part and disaster: c | x_O ~ N(m, 1/q),
        // q = 1 + β²Σ1/a, m = βΣ(x_i − d)/a / q; z_M = βc + √(σ²(1 − ρ))ε.
        let (sd, rho, carried) = (0.015, 0.6, 0.004);
        let cov = shock_cov(5, sd, rho, None);
        let obs = vec![(1, 0.021, 0.0), (3, -0.012, 0.0)];
        let e = tfp_evidence(&cov, carried, 0.0, 0.0, &obs);
        let beta = sd * rho.sqrt();
        let a = sd * sd * (1.0 - rho);
        let q = 1.0 + beta * beta * 2.0 / a;
        let m = beta * obs.iter().map(|o| (o.1 - carried) / a).sum::<f64>() / q;
        let (mean, cov_z) = (e.z_mean(0.0), e.z_cov());
        let missing = [0, 2, 4];
        for (k, &i) in missing.iter().enumerate() {
            assert!((mean[i] - beta * m).abs() < 1e-14);
            for (l, &j) in missing.iter().enumerate() {
                let want = beta * beta / q + if k == l { a } else { 0.0 };
                assert!((cov_z[(i, j)] - want).abs() < 1e-14, "{i},{j}");
            }
        }
        // Matheron's rule: the draws meet the observations exactly and have that mean and
        // covariance (20 000 draws: within 4 standard errors).
        use crate::model::shocks::normal;
        let mut rng = crate::rng::stream(3, crate::rng::purpose("test.matheron"), 0);
        let draws = 20_000;
        let (mut sum, mut sum2) = ([0.0; 5], [[0.0; 5]; 5]);
        for _ in 0..draws {
            let normals: Vec<f64> = (0..e.normals_needed()).map(|_| normal(&mut rng)).collect();
            let (mut z, mut nu) = ([0.0; 5], [0.0; 5]);
            assert_eq!(e.draw(0.5, 0.5, &normals, &mut z, &mut nu), 0.0);
            assert!((z[1] - (0.021 - carried)).abs() < 1e-15 && (z[3] - (-0.012 - carried)).abs() < 1e-15);
            for i in 0..5 {
                sum[i] += z[i];
                for j in 0..5 {
                    sum2[i][j] += z[i] * z[j];
                }
            }
        }
        let n = draws as f64;
        for &i in &missing {
            let mu = sum[i] / n;
            let se = (cov_z[(i, i)] / n).sqrt();
            assert!((mu - mean[i]).abs() < 4.0 * se, "mean {i}: {mu} vs {}", mean[i]);
            for &j in &missing {
                let c = sum2[i][j] / n - mu * sum[j] / n;
                let se = ((cov_z[(i, i)] * cov_z[(j, j)] + cov_z[(i, j)].powi(2)) / n).sqrt();
                assert!((c - cov_z[(i, j)]).abs() < 4.0 * se, "cov {i},{j}: {c} vs {}", cov_z[(i, j)]);
            }
        }
    }

    #[test]
    fn with_a_persistent_part_the_observed_total_is_split_and_met() {
        // y_O = d + z_O + σ_e·ν_O: the draw meets it for every observed city (no error); the
        // innovations of the missing cities are their own normals; the density is the one-factor
        // normal with σ_e² added on the diagonal.
        let cov = shock_cov(5, 0.015, 0.6, None);
        let obs = vec![(0, 0.01, 0.0), (2, -0.02, 0.0), (4, 0.005, 0.0)];
        let e = tfp_evidence(&cov, 0.0, 0.0, 0.01, &obs);
        let x: Vec<f64> = obs.iter().map(|o| o.1).collect();
        let want = one_factor_log_pdf(&x, 0.0, 0.015, 0.6, &[1e-4; 3]);
        assert!((e.log_density - want).abs() < 1e-12);
        let normals: Vec<f64> =
            (0..e.normals_needed()).map(|k| ((k * 7919) % 13) as f64 / 6.0 - 1.0).collect();
        let (mut z, mut nu) = ([0.0; 5], [0.0; 5]);
        e.draw(0.9, 0.5, &normals, &mut z, &mut nu);
        for &(i, y, _) in &obs {
            assert!((z[i] + 0.01 * nu[i] - y).abs() < 1e-15, "city {i}");
        }
        for i in [1, 3] {
            assert_eq!(nu[i], normals[5 + i]);
        }
    }

    #[test]
    fn a_disaster_size_follows_its_truncated_posterior() {
        let cov = shock_cov(5, 0.015, 0.6, None);
        // A region-wide fall of about 4%: a disaster is likely and its size near 0.04.
        let obs: Vec<(usize, f64, f64)> = (0..5).map(|i| (i, -0.04 + 0.002 * i as f64, 1e-6)).collect();
        let e = tfp_evidence(&cov, 0.0, 0.05, 0.0, &obs);
        assert!(e.p_disaster > 0.5, "{}", e.p_disaster);
        let mut z = [0.0; 5];
        let mut last = 0.0;
        for k in 1..100 {
            let u = k as f64 / 100.0;
            let size = e.draw(0.0, u, &[0.0; 15], &mut z, &mut [0.0; 5]);
            assert!((0.02..=0.06).contains(&size) && size > last, "u {u}: {size}");
            last = size;
            // The CDF of the truncated normal at the drawn size is u.
            let (a, b) = ((0.02 - e.centre) / e.spread, (0.06 - e.centre) / e.spread);
            let cdf =
                (normal_cdf((size - e.centre) / e.spread) - normal_cdf(a)) / (normal_cdf(b) - normal_cdf(a));
            assert!((cdf - u).abs() < 1e-9, "u {u}: cdf {cdf}");
        }
        // No disaster when u_occur is above the posterior.
        assert_eq!(e.draw(0.999_999, 0.5, &[0.0; 15], &mut z, &mut [0.0; 5]), 0.0);
    }

    #[test]
    fn the_normal_quantile_inverts_the_distribution_function() {
        for k in 1..2000 {
            let p = k as f64 / 2000.0;
            assert!((normal_cdf(normal_quantile(p)) - p).abs() < 1e-14, "{p}");
        }
        for p in [1e-300, 1e-100, 1e-20, 1e-8] {
            let x = normal_quantile(p);
            assert!(((normal_cdf(x) - p) / p).abs() < 1e-10, "{p}: {x}");
        }
    }

    #[test]
    fn observation_errors_follow_rounding_vintage_and_confidence() {
        use crate::observed::Entity;
        let o = |measure, value, step, vintage, confidence| Observation {
            entity: Entity::City(0),
            year: 2022,
            measure,
            value,
            step,
            vintage,
            confidence,
            source: String::new(),
            line: 0,
        };
        use crate::observed::printed_step;
        assert_eq!(printed_step("512"), 1.0);
        assert_eq!(printed_step("530.8"), 0.1);
        assert!((printed_step("90.19") - 0.01).abs() < 1e-18);
        assert_eq!(printed_step("1e3"), 0.0);
        // 512万, revised, grade C: rounding 1/√12 = 0.289, revision 1.5 × 0.1 % × 512 = 0.768.
        let sd = observation_sd(&o(Measure::Population, 512.0, 1.0, Vintage::Revised, Confidence::C));
        assert!((sd - (1.0 / 12.0 + 0.768f64.powi(2)).sqrt()).abs() < 1e-12);
        // Growth 3.1 %, first release, B: 0.3 points and 0.1/√12.
        let sd = observation_sd(&o(Measure::GdpRealGrowth, 3.1, 0.1, Vintage::FirstRelease, Confidence::B));
        assert!((sd - (0.01 / 12.0 + 0.09f64).sqrt()).abs() < 1e-12);
        let sd =
            observation_sd(&o(Measure::UrbanizationRate, 90.19, 0.01, Vintage::FirstRelease, Confidence::A));
        assert!((sd - (1e-4 / 12.0 + 0.04f64).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn a_level_density_is_the_convolution_of_model_and_observation() {
        // ∫ N(r; 0, m²) N(y − r; 0, s²) dr = N(y; 0, m² + s²): checked by quadrature.
        let (m, s, y) = (0.8, 0.5, 1.1);
        let h = 1e-3;
        let mut integral = 0.0;
        for k in -10_000..=10_000 {
            let r = k as f64 * h;
            integral += (normal_log_pdf(r, m * m) + normal_log_pdf(y - r, s * s)).exp() * h;
        }
        assert!((level_log_density(y, m, s) - integral.ln()).abs() < 1e-9);
    }
}
