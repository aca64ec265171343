//! `Uncertain`: a scalar that is either a fixed number or a distribution, parsed and checked once
//! and then sampled many times (MODEL.md §8).
//!
//! Sampling consumes a documented number of values from the stream it is given, so that a draw's
//! numbers depend only on (seed, purpose, draw). `central()` gives the value `--deterministic`
//! uses: mean, median, midpoint, mode, mode, mean, mean rounded half away from zero, and for
//! `discrete` the value with the largest weight (ties: the smallest), clamped into `truncate`.

use crate::locate::Issues;
use rand::RngExt;
use rand::distr::Distribution;
use rand_distr::StandardNormal;
use std::fmt;

/// How many times a truncated distribution resamples before giving up (MODEL.md §8).
pub const TRUNCATE_TRIES: usize = 1000;

/// The shape of an uncertain scalar.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Dist {
    /// A plain number.
    Fixed(f64),
    /// Normal(mean, sd).
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation (≥ 0).
        sd: f64,
    },
    /// exp(Normal(ln median, sigma)).
    LogNormal {
        /// Median (> 0).
        median: f64,
        /// Standard deviation of the log (≥ 0).
        sigma: f64,
    },
    /// Uniform on [min, max).
    Uniform {
        /// Lower end.
        min: f64,
        /// Upper end.
        max: f64,
    },
    /// Triangular(min, mode, max), sampled by its inverse CDF.
    Triangular {
        /// Lower end.
        min: f64,
        /// Mode.
        mode: f64,
        /// Upper end.
        max: f64,
    },
    /// PERT(min, mode, max): min + (max − min)·Beta(1 + 4(mode−min)/(max−min), 1 + 4(max−mode)/(max−min)).
    Pert {
        /// Lower end.
        min: f64,
        /// Mode.
        mode: f64,
        /// Upper end.
        max: f64,
        /// The standard beta it scales.
        beta: rand_distr::Beta<f64>,
    },
    /// min + (max − min)·Beta(alpha, beta).
    Beta {
        /// Shape α (> 0).
        alpha: f64,
        /// Shape β (> 0).
        beta: f64,
        /// Lower end.
        min: f64,
        /// Upper end.
        max: f64,
        /// The standard beta.
        sampler: rand_distr::Beta<f64>,
    },
    /// Poisson(mean).
    Poisson {
        /// Mean (> 0).
        mean: f64,
        /// The sampler.
        sampler: rand_distr::Poisson<f64>,
    },
    /// Discrete values (strictly increasing) with weights summing to 1.
    Discrete {
        /// The values.
        values: Vec<f64>,
        /// The weights.
        weights: Vec<f64>,
        /// Cumulative weights, the last one exactly 1.
        cumulative: Vec<f64>,
    },
}

/// A scalar parameter: a number or a distribution, with an optional truncation.
#[derive(Debug, Clone)]
pub struct Uncertain {
    dist: Dist,
    truncate: Option<(f64, f64)>,
}

/// Where an uncertain value may fall (for domain checks).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Support {
    /// Smallest reachable value (may be −∞).
    pub lo: f64,
    /// Largest reachable value (may be +∞).
    pub hi: f64,
    /// Whether `lo` itself can occur.
    pub lo_closed: bool,
    /// Whether `hi` itself can occur.
    pub hi_closed: bool,
}

impl Uncertain {
    /// A fixed number.
    pub fn fixed(x: f64) -> Self {
        Uncertain { dist: Dist::Fixed(x), truncate: None }
    }

    /// Uniform on [min, max).
    pub fn uniform(min: f64, max: f64) -> Self {
        Uncertain { dist: Dist::Uniform { min, max }, truncate: None }
    }

    /// Triangular(min, mode, max).
    pub fn triangular(min: f64, mode: f64, max: f64) -> Self {
        Uncertain { dist: Dist::Triangular { min, mode, max }, truncate: None }
    }

    /// Discrete values with weights (the caller has checked them).
    pub fn discrete(values: Vec<f64>, weights: Vec<f64>) -> Self {
        let mut cumulative = Vec::with_capacity(weights.len());
        let mut acc = 0.0;
        for w in &weights {
            acc += w;
            cumulative.push(acc);
        }
        if let Some(last) = cumulative.last_mut() {
            *last = 1.0;
        }
        Uncertain { dist: Dist::Discrete { values, weights, cumulative }, truncate: None }
    }

    /// The distribution.
    pub fn dist(&self) -> &Dist {
        &self.dist
    }

    /// Whether this is a plain number (sampling consumes nothing).
    pub fn is_fixed(&self) -> bool {
        matches!(self.dist, Dist::Fixed(_))
    }

    /// The central value used by `--deterministic` (see the module docs).
    pub fn central(&self) -> f64 {
        let c = match &self.dist {
            Dist::Fixed(x) => *x,
            Dist::Normal { mean, .. } => *mean,
            Dist::LogNormal { median, .. } => *median,
            Dist::Uniform { min, max } => 0.5 * (min + max),
            Dist::Triangular { mode, .. } | Dist::Pert { mode, .. } => *mode,
            Dist::Beta { alpha, beta, min, max, .. } => min + (max - min) * alpha / (alpha + beta),
            Dist::Poisson { mean, .. } => mean.round(),
            Dist::Discrete { values, weights, .. } => {
                let mut best = 0;
                for (k, w) in weights.iter().enumerate() {
                    if *w > weights[best] {
                        best = k;
                    }
                }
                values[best]
            }
        };
        match self.truncate {
            Some((lo, hi)) => c.clamp(lo, hi),
            None => c,
        }
    }

    /// One value. Consumes one value of the stream for normal, lognormal, uniform, triangular
    /// and discrete, and what rand_distr's beta or poisson sampler takes otherwise; a truncated
    /// distribution repeats that until a value falls inside (at most [`TRUNCATE_TRIES`] times).
    /// `None` when truncation found no value.
    pub fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> Option<f64> {
        match self.truncate {
            None => Some(self.sample_once(rng)),
            Some((lo, hi)) => {
                for _ in 0..TRUNCATE_TRIES {
                    let x = self.sample_once(rng);
                    if lo <= x && x <= hi {
                        return Some(x);
                    }
                }
                None
            }
        }
    }

    /// The truncation bounds, if any.
    pub fn truncate(&self) -> Option<(f64, f64)> {
        self.truncate
    }

    fn sample_once<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match &self.dist {
            Dist::Fixed(x) => *x,
            Dist::Normal { mean, sd } => {
                let z: f64 = StandardNormal.sample(rng);
                mean + sd * z
            }
            Dist::LogNormal { median, sigma } => {
                let z: f64 = StandardNormal.sample(rng);
                median * (sigma * z).exp()
            }
            Dist::Uniform { min, max } => {
                let u: f64 = rng.random();
                min + (max - min) * u
            }
            Dist::Triangular { min, mode, max } => {
                let u: f64 = rng.random();
                let width = max - min;
                if width <= 0.0 {
                    return *mode;
                }
                let fc = (mode - min) / width;
                if u < fc {
                    min + (u * width * (mode - min)).sqrt()
                } else {
                    max - ((1.0 - u) * width * (max - mode)).sqrt()
                }
            }
            Dist::Pert { min, max, beta, .. } => min + (max - min) * beta.sample(rng),
            Dist::Beta { min, max, sampler, .. } => min + (max - min) * sampler.sample(rng),
            Dist::Poisson { sampler, .. } => sampler.sample(rng),
            Dist::Discrete { values, cumulative, .. } => {
                let u: f64 = rng.random();
                let k = cumulative.iter().position(|c| u < *c).unwrap_or(values.len() - 1);
                values[k]
            }
        }
    }

    /// ln of the density at x, up to a constant that does not depend on x (for a Metropolis
    /// ratio); −∞ outside the support or the truncation; `None` for a number, a Poisson or a
    /// discrete distribution (no density to move on).
    pub fn log_density(&self, x: f64) -> Option<f64> {
        if let Some((lo, hi)) = self.truncate
            && !(lo..=hi).contains(&x)
        {
            return Some(f64::NEG_INFINITY);
        }
        let beta = |min: f64, max: f64, a: f64, b: f64| {
            let y = (x - min) / (max - min);
            if (0.0..=1.0).contains(&y) && max > min {
                (a - 1.0) * y.ln() + (b - 1.0) * (1.0 - y).ln()
            } else {
                f64::NEG_INFINITY
            }
        };
        Some(match &self.dist {
            Dist::Fixed(_) | Dist::Poisson { .. } | Dist::Discrete { .. } => return None,
            Dist::Normal { mean, sd } => -0.5 * ((x - mean) / sd).powi(2),
            Dist::LogNormal { median, sigma } if x > 0.0 => {
                -x.ln() - 0.5 * ((x / median).ln() / sigma).powi(2)
            }
            Dist::LogNormal { .. } => f64::NEG_INFINITY,
            Dist::Uniform { min, max } if (*min..=*max).contains(&x) => 0.0,
            Dist::Uniform { .. } => f64::NEG_INFINITY,
            Dist::Triangular { min, mode, max } => {
                let d = if x < *min || x > *max {
                    0.0
                } else if x < *mode {
                    (x - min) / (mode - min)
                } else if x > *mode {
                    (max - x) / (max - mode)
                } else {
                    1.0
                };
                d.ln()
            }
            Dist::Pert { min, mode, max, .. } => {
                let w = max - min;
                beta(*min, *max, 1.0 + 4.0 * (mode - min) / w, 1.0 + 4.0 * (max - mode) / w)
            }
            Dist::Beta { alpha, beta: b, min, max, .. } => beta(*min, *max, *alpha, *b),
        })
    }

    /// The values this can take.
    pub fn support(&self) -> Support {
        let (mut lo, mut hi, mut lc, mut hc) = match &self.dist {
            Dist::Fixed(x) => (*x, *x, true, true),
            Dist::Normal { mean, sd } if *sd == 0.0 => (*mean, *mean, true, true),
            Dist::Normal { .. } => (f64::NEG_INFINITY, f64::INFINITY, false, false),
            Dist::LogNormal { median, sigma } if *sigma == 0.0 => (*median, *median, true, true),
            Dist::LogNormal { .. } => (0.0, f64::INFINITY, false, false),
            Dist::Uniform { min, max }
            | Dist::Triangular { min, max, .. }
            | Dist::Pert { min, max, .. }
            | Dist::Beta { min, max, .. } => (*min, *max, true, true),
            Dist::Poisson { .. } => (0.0, f64::INFINITY, true, false),
            Dist::Discrete { values, .. } => (values[0], values[values.len() - 1], true, true),
        };
        if let Some((tlo, thi)) = self.truncate {
            if tlo > lo || (tlo == lo && !lc) {
                lo = tlo;
                lc = true;
            }
            if thi < hi || (thi == hi && !hc) {
                hi = thi;
                hc = true;
            }
        }
        Support { lo, hi, lo_closed: lc, hi_closed: hc }
    }

    /// Whether every value this can take is a whole number (for year delays).
    pub fn is_integer_valued(&self) -> bool {
        match &self.dist {
            Dist::Fixed(x) => x.fract() == 0.0,
            Dist::Poisson { .. } => true,
            Dist::Discrete { values, .. } => values.iter().all(|v| v.fract() == 0.0),
            _ => false,
        }
    }

    /// Parse a TOML value (a number or a distribution table) at `path`, recording problems.
    pub fn parse(value: &toml::Value, path: &str, issues: &mut Issues<'_, '_>) -> Option<Uncertain> {
        match value {
            toml::Value::Integer(i) => Some(Uncertain::fixed(*i as f64)),
            toml::Value::Float(x) => {
                if x.is_finite() {
                    Some(Uncertain::fixed(*x))
                } else {
                    issues.push(path, format!("found {x}; expected a finite number"));
                    None
                }
            }
            toml::Value::Table(t) => parse_table(t, path, issues),
            other => {
                issues.push(
                    path,
                    format!(
                        "found a {}; expected a number or a distribution table such as {{ dist = \"uniform\", min = 0.1, max = 0.2 }}",
                        other.type_str()
                    ),
                );
                None
            }
        }
    }

    /// The value as a TOML inline value (for `validate --resolved`).
    pub fn to_toml(&self) -> String {
        let mut s = match &self.dist {
            Dist::Fixed(x) => return fmt_num(*x),
            Dist::Normal { mean, sd } => {
                format!("{{ dist = \"normal\", mean = {}, sd = {}", fmt_num(*mean), fmt_num(*sd))
            }
            Dist::LogNormal { median, sigma } => {
                format!("{{ dist = \"lognormal\", median = {}, sigma = {}", fmt_num(*median), fmt_num(*sigma))
            }
            Dist::Uniform { min, max } => {
                format!("{{ dist = \"uniform\", min = {}, max = {}", fmt_num(*min), fmt_num(*max))
            }
            Dist::Triangular { min, mode, max } => format!(
                "{{ dist = \"triangular\", min = {}, mode = {}, max = {}",
                fmt_num(*min),
                fmt_num(*mode),
                fmt_num(*max)
            ),
            Dist::Pert { min, mode, max, .. } => {
                format!(
                    "{{ dist = \"pert\", min = {}, mode = {}, max = {}",
                    fmt_num(*min),
                    fmt_num(*mode),
                    fmt_num(*max)
                )
            }
            Dist::Beta { alpha, beta, min, max, .. } => format!(
                "{{ dist = \"beta\", alpha = {}, beta = {}, min = {}, max = {}",
                fmt_num(*alpha),
                fmt_num(*beta),
                fmt_num(*min),
                fmt_num(*max)
            ),
            Dist::Poisson { mean, .. } => {
                format!("{{ dist = \"poisson\", mean = {}", fmt_num(*mean))
            }
            Dist::Discrete { values, weights, .. } => format!(
                "{{ dist = \"discrete\", values = [{}], weights = [{}]",
                values.iter().map(|v| fmt_num(*v)).collect::<Vec<_>>().join(", "),
                weights.iter().map(|v| fmt_num(*v)).collect::<Vec<_>>().join(", ")
            ),
        };
        if let Some((lo, hi)) = self.truncate {
            s.push_str(&format!(", truncate = [{}, {}]", fmt_num(lo), fmt_num(hi)));
        }
        s.push_str(" }");
        s
    }
}

impl fmt::Display for Uncertain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_toml())
    }
}

/// A number as TOML writes it (always with a decimal point or exponent for floats).
fn fmt_num(x: f64) -> String {
    let s = format!("{x:?}");
    if s.contains('.') || s.contains('e') || s.contains("inf") || s.contains("NaN") {
        s
    } else {
        format!("{s}.0")
    }
}

/// The distribution names and their keys.
const DISTS: &[(&str, &[&str])] = &[
    ("normal", &["mean", "sd"]),
    ("lognormal", &["median", "sigma"]),
    ("uniform", &["min", "max"]),
    ("triangular", &["min", "mode", "max"]),
    ("pert", &["min", "mode", "max"]),
    ("beta", &["alpha", "beta", "min", "max"]),
    ("poisson", &["mean"]),
    ("discrete", &["values", "weights"]),
];

fn number(value: &toml::Value) -> Option<f64> {
    match value {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(x) => Some(*x),
        _ => None,
    }
}

fn parse_table(t: &toml::Table, path: &str, issues: &mut Issues<'_, '_>) -> Option<Uncertain> {
    let names: Vec<&str> = DISTS.iter().map(|d| d.0).collect();
    let Some(dist_value) = t.get("dist") else {
        issues.push(path, format!("a distribution table needs `dist`, one of {}", names.join(", ")));
        return None;
    };
    let Some(name) = dist_value.as_str() else {
        issues.push(&format!("{path}.dist"), "expected a string naming the distribution");
        return None;
    };
    let Some((_, keys)) = DISTS.iter().find(|d| d.0 == name) else {
        issues.unknown(&format!("{path}.dist"), "distribution", name, &names);
        return None;
    };
    let before = issues.len();
    // Unknown keys.
    for key in t.keys() {
        if key != "dist" && key != "truncate" && !keys.contains(&key.as_str()) {
            let mut known: Vec<&str> = keys.to_vec();
            known.push("truncate");
            issues.unknown(&format!("{path}.{key}"), &format!("key for a {name} distribution"), key, &known);
        }
    }
    let num = |key: &str, issues: &mut Issues<'_, '_>| -> f64 {
        let p = format!("{path}.{key}");
        match t.get(key) {
            None => {
                issues.push(&p, format!("a {name} distribution needs `{key}`"));
                f64::NAN
            }
            Some(v) => match number(v) {
                Some(x) if x.is_finite() => x,
                Some(x) => {
                    issues.push(&p, format!("found {x}; expected a finite number"));
                    f64::NAN
                }
                None => {
                    issues.push(&p, format!("found a {}; expected a number", v.type_str()));
                    f64::NAN
                }
            },
        }
    };
    let dist = match name {
        "normal" => {
            let (mean, sd) = (num("mean", issues), num("sd", issues));
            if sd < 0.0 {
                issues.push(&format!("{path}.sd"), format!("found {sd}; expected sd ≥ 0"));
            }
            Dist::Normal { mean, sd }
        }
        "lognormal" => {
            let (median, sigma) = (num("median", issues), num("sigma", issues));
            if median <= 0.0 {
                issues.push(&format!("{path}.median"), format!("found {median}; expected median > 0"));
            }
            if sigma < 0.0 {
                issues.push(&format!("{path}.sigma"), format!("found {sigma}; expected sigma ≥ 0"));
            }
            Dist::LogNormal { median, sigma }
        }
        "uniform" => {
            let (min, max) = (num("min", issues), num("max", issues));
            if min > max {
                issues.push(
                    &format!("{path}.max"),
                    format!("found min = {min} > max = {max}; expected min ≤ max"),
                );
            }
            Dist::Uniform { min, max }
        }
        "triangular" | "pert" => {
            let (min, mode, max) = (num("min", issues), num("mode", issues), num("max", issues));
            if !(min <= mode && mode <= max && min < max) {
                issues.push(
                    &format!("{path}.mode"),
                    format!("found min = {min}, mode = {mode}, max = {max}; expected min ≤ mode ≤ max and min < max"),
                );
                Dist::Fixed(f64::NAN)
            } else if name == "triangular" {
                Dist::Triangular { min, mode, max }
            } else {
                let a = 1.0 + 4.0 * (mode - min) / (max - min);
                let b = 1.0 + 4.0 * (max - mode) / (max - min);
                match rand_distr::Beta::new(a, b) {
                    Ok(beta) => Dist::Pert { min, mode, max, beta },
                    Err(e) => {
                        issues.push(path, format!("invalid PERT: {e}"));
                        Dist::Fixed(f64::NAN)
                    }
                }
            }
        }
        "beta" => {
            let (alpha, beta, min, max) =
                (num("alpha", issues), num("beta", issues), num("min", issues), num("max", issues));
            if alpha.is_nan() || beta.is_nan() || min.is_nan() || max.is_nan() {
                Dist::Fixed(f64::NAN)
            } else if !(alpha > 0.0 && beta > 0.0) {
                issues.push(path, format!("found alpha = {alpha}, beta = {beta}; expected both > 0"));
                Dist::Fixed(f64::NAN)
            } else if min >= max {
                issues.push(
                    &format!("{path}.max"),
                    format!("found min = {min}, max = {max}; expected min < max"),
                );
                Dist::Fixed(f64::NAN)
            } else {
                match rand_distr::Beta::new(alpha, beta) {
                    Ok(sampler) => Dist::Beta { alpha, beta, min, max, sampler },
                    Err(e) => {
                        issues.push(path, format!("invalid beta: {e}"));
                        Dist::Fixed(f64::NAN)
                    }
                }
            }
        }
        "poisson" => {
            let mean = num("mean", issues);
            match rand_distr::Poisson::new(mean) {
                Ok(sampler) if mean > 0.0 => Dist::Poisson { mean, sampler },
                _ => {
                    if !mean.is_nan() {
                        issues.push(
                            &format!("{path}.mean"),
                            format!("found {mean}; expected a mean > 0 (and below 1.8e19)"),
                        );
                    }
                    Dist::Fixed(f64::NAN)
                }
            }
        }
        "discrete" => parse_discrete(t, path, issues).map_or(Dist::Fixed(f64::NAN), |u| u.dist),
        _ => unreachable!("distribution names come from DISTS"),
    };
    let truncate = match t.get("truncate") {
        None => None,
        Some(v) => {
            let p = format!("{path}.truncate");
            let pair =
                v.as_array().filter(|a| a.len() == 2).and_then(|a| Some((number(&a[0])?, number(&a[1])?)));
            match pair {
                Some((lo, hi)) if lo.is_finite() && hi.is_finite() && lo <= hi => Some((lo, hi)),
                Some((lo, hi)) => {
                    issues.push(&p, format!("found [{lo}, {hi}]; expected [lo, hi] with finite lo ≤ hi"));
                    None
                }
                None => {
                    issues.push(&p, "expected an array of two numbers [lo, hi]");
                    None
                }
            }
        }
    };
    if issues.len() > before {
        return None;
    }
    let u = Uncertain { dist, truncate };
    if let Some((lo, hi)) = truncate {
        let s = Uncertain { dist: u.dist.clone(), truncate: None }.support();
        if hi < s.lo || lo > s.hi {
            issues.push(
                &format!("{path}.truncate"),
                format!(
                    "[{lo}, {hi}] excludes every value of the distribution (it lies in [{}, {}])",
                    s.lo, s.hi
                ),
            );
            return None;
        }
    }
    Some(u)
}

fn parse_discrete(t: &toml::Table, path: &str, issues: &mut Issues<'_, '_>) -> Option<Uncertain> {
    let arr = |key: &str, issues: &mut Issues<'_, '_>| -> Option<Vec<f64>> {
        let p = format!("{path}.{key}");
        let Some(v) = t.get(key) else {
            issues.push(&p, format!("a discrete distribution needs `{key}`"));
            return None;
        };
        let Some(a) = v.as_array() else {
            issues.push(&p, format!("found a {}; expected an array of numbers", v.type_str()));
            return None;
        };
        let xs: Option<Vec<f64>> = a.iter().map(number).collect();
        match xs {
            Some(xs) if !xs.is_empty() && xs.iter().all(|x| x.is_finite()) => Some(xs),
            _ => {
                issues.push(&p, "expected a non-empty array of finite numbers");
                None
            }
        }
    };
    let values = arr("values", issues);
    let weights = arr("weights", issues);
    let (values, weights) = (values?, weights?);
    if values.len() != weights.len() {
        issues.push(
            &format!("{path}.weights"),
            format!(
                "found {} weights for {} values; expected one weight per value",
                weights.len(),
                values.len()
            ),
        );
        return None;
    }
    if values.windows(2).any(|w| w[0] >= w[1]) {
        issues.push(&format!("{path}.values"), "expected strictly increasing values");
        return None;
    }
    if weights.iter().any(|w| *w < 0.0) {
        issues.push(&format!("{path}.weights"), "expected weights ≥ 0");
        return None;
    }
    let sum: f64 = weights.iter().sum();
    if (sum - 1.0).abs() > 1e-9 {
        issues.push(&format!("{path}.weights"), format!("weights sum to {sum}; expected 1 (within 1e-9)"));
        return None;
    }
    Some(Uncertain::discrete(values, weights))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locate::Source;
    use crate::rng;

    fn parse(src: &str) -> Result<Uncertain, String> {
        let v: toml::Table = toml::from_str(&format!("x = {src}")).unwrap();
        let s = Source::new("t.toml", "");
        let mut issues = Issues::new(&s);
        let u = Uncertain::parse(&v["x"], "x", &mut issues);
        issues.finish(u).map(|u| u.unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn central_values_follow_the_spec() {
        assert_eq!(parse("{ dist = \"normal\", mean = 2.0, sd = 1 }").unwrap().central(), 2.0);
        assert_eq!(parse("{ dist = \"lognormal\", median = 30, sigma = 0.5 }").unwrap().central(), 30.0);
        assert_eq!(parse("{ dist = \"uniform\", min = 3, max = 10 }").unwrap().central(), 6.5);
        assert_eq!(
            parse("{ dist = \"triangular\", min = 0.8, mode = 1.1, max = 1.5 }").unwrap().central(),
            1.1
        );
        assert_eq!(parse("{ dist = \"pert\", min = 0, mode = 0.2, max = 1 }").unwrap().central(), 0.2);
        assert_eq!(
            parse("{ dist = \"beta\", alpha = 1, beta = 3, min = 0, max = 8 }").unwrap().central(),
            2.0
        );
        assert_eq!(parse("{ dist = \"poisson\", mean = 2.5 }").unwrap().central(), 3.0);
        // ties go to the smallest value with the largest weight
        let d = parse("{ dist = \"discrete\", values = [0, 2, 4], weights = [0.2, 0.4, 0.4] }").unwrap();
        assert_eq!(d.central(), 2.0);
        // clamped into truncate
        let t = parse("{ dist = \"normal\", mean = 5.0, sd = 1, truncate = [0, 3] }").unwrap();
        assert_eq!(t.central(), 3.0);
    }

    #[test]
    fn rejects_invalid_parameters() {
        for (src, frag) in [
            ("{ dist = \"normal\", mean = 1 }", "needs `sd`"),
            ("{ dist = \"normal\", mean = 1, sd = -1 }", "sd ≥ 0"),
            ("{ dist = \"uniform\", min = 2, max = 1 }", "min ≤ max"),
            ("{ dist = \"triangular\", min = 0, mode = 2, max = 1 }", "min ≤ mode ≤ max"),
            ("{ dist = \"lognormal\", median = 0, sigma = 1 }", "median > 0"),
            ("{ dist = \"beta\", alpha = 0, beta = 1, min = 0, max = 1 }", "both > 0"),
            ("{ dist = \"poisson\", mean = -1 }", "mean > 0"),
            ("{ dist = \"discrete\", values = [1, 0], weights = [0.5, 0.5] }", "strictly increasing"),
            ("{ dist = \"discrete\", values = [0, 1], weights = [0.5, 0.6] }", "sum to"),
            ("{ dist = \"discrete\", values = [0, 1], weights = [1.0] }", "one weight per value"),
            ("{ dist = \"normall\", mean = 1, sd = 1 }", "did you mean `normal`"),
            ("{ dist = \"normal\", mean = 1, sdd = 1 }", "unknown key"),
            ("{ dist = \"normal\", mean = 1, sd = 1, truncate = [2, 1] }", "lo ≤ hi"),
            ("{ dist = \"uniform\", min = 0, max = 1, truncate = [2, 3] }", "excludes every value"),
            ("{ mean = 1 }", "needs `dist`"),
            ("\"high\"", "expected a number"),
            ("nan", "finite"),
        ] {
            let e = parse(src).expect_err(src);
            assert!(e.contains(frag), "{src}: {e}");
        }
    }

    #[test]
    fn samples_match_their_distribution() {
        // Sample means within 5 standard errors; quantile of the triangular CDF.
        let n = 20_000;
        for (src, mean, sd) in [
            ("{ dist = \"normal\", mean = 2.0, sd = 0.5 }", 2.0, 0.5),
            ("{ dist = \"uniform\", min = 3, max = 10 }", 6.5, 7.0 / 12f64.sqrt()),
            ("{ dist = \"triangular\", min = 0, mode = 1, max = 4 }", 5.0 / 3.0, (14.0f64 / 18.0).sqrt()),
            ("{ dist = \"discrete\", values = [0, 1, 2], weights = [0.25, 0.5, 0.25] }", 1.0, 0.5f64.sqrt()),
        ] {
            let u = parse(src).unwrap();
            let mut r = rng::stream(7, rng::purpose("test"), 0);
            let xs: Vec<f64> = (0..n).map(|_| u.sample(&mut r).unwrap()).collect();
            let m = xs.iter().sum::<f64>() / n as f64;
            assert!((m - mean).abs() < 5.0 * sd / (n as f64).sqrt(), "{src}: mean {m}");
        }
        let u = parse("{ dist = \"normal\", mean = 0, sd = 1, truncate = [0, 1] }").unwrap();
        let mut r = rng::stream(7, rng::purpose("t"), 0);
        assert!((0..1000).all(|_| (0.0..=1.0).contains(&u.sample(&mut r).unwrap())));
    }

    #[test]
    fn log_densities_differ_by_the_density_ratio() {
        // Ratios of exp(log_density) against the closed-form densities.
        let tri = Uncertain::triangular(0.0, 1.0, 4.0);
        let r = (tri.log_density(0.5).unwrap() - tri.log_density(2.5).unwrap()).exp();
        assert!((r - (0.5 / 1.0) / (1.5 / 3.0)).abs() < 1e-12);
        assert_eq!(tri.log_density(4.5), Some(f64::NEG_INFINITY));
        let u = Uncertain::uniform(3.0, 10.0);
        assert_eq!(u.log_density(5.0), Some(0.0));
        assert_eq!(u.log_density(11.0), Some(f64::NEG_INFINITY));
        assert_eq!(Uncertain::fixed(1.0).log_density(1.0), None);
    }
}
