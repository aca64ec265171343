//! Market access and infrastructure timing (MODEL.md §4): Harris market potential over travel
//! times with fixed base-year masses, the projects' shorter links from their opening years, and
//! the yearly changes Δ_T ln MA_i(t) that enter TFP.

use super::{Model, OWN_TIME_MINUTES};
use crate::arith;
use crate::params::Params;

/// One node's term in a market-access sum: (T/60)^(−θ) with T in minutes, 0 for no link.
#[inline]
pub fn access_term(minutes: f64, theta: f64) -> f64 {
    if !minutes.is_finite() {
        return 0.0;
    }
    // θ = 1 (the default) is a division; pow only for other exponents.
    let hours = minutes / 60.0;
    if theta == 1.0 { 1.0 / hours } else { hours.powf(-theta) }
}

/// MA_i(T) = Y_i(b)·(τ_own/60)^(−θ) + Σ_{k≠i} M_k·(T_ik/60)^(−θ) for every city, from the travel
/// times `travel` (row-major over the nodes, cities first).
pub fn levels(model: &Model, travel: &[f64], theta: f64, out: &mut [f64]) {
    let nn = model.n_nodes;
    let own = access_term(OWN_TIME_MINUTES, theta);
    for (i, o) in out.iter_mut().enumerate() {
        let mut ma = model.masses[i] * own;
        for k in 0..nn {
            if k != i {
                ma += model.masses[k] * access_term(travel[i * nn + k], theta);
            }
        }
        *o = ma;
    }
}

/// Shorten the link a–c to `minutes` if that is shorter, and change the market access of the
/// cities at its ends by the difference of that one term (`ma`; `changed` marks them).
#[inline]
pub fn open_link(
    model: &Model,
    (a, c, minutes): (usize, usize, f64),
    theta: f64,
    travel: &mut [f64],
    ma: &mut [f64],
    changed: &mut [bool],
) {
    let nn = model.n_nodes;
    let old = travel[a * nn + c];
    if minutes < old {
        travel[a * nn + c] = minutes;
        travel[c * nn + a] = minutes;
        if a != c {
            let gain = access_term(minutes, theta) - access_term(old, theta);
            for (i, other) in [(a, c), (c, a)] {
                if i < model.n {
                    ma[i] += model.masses[other] * gain;
                    changed[i] = true;
                }
            }
        }
    }
}

/// Δ_T ln MA_i(t) of every year t = b+1..=H (row t − b − 1, a value per city), from the
/// projects' opening years `open` (`i32::MAX`: not within the run): T(t) = min over the base
/// times and the links of the projects open by t. The sums are updated link by link as the
/// projects open, in year order and within a year in project order, and a city's logarithm is
/// taken again only in a year its access changed.
pub fn changes(model: &Model, p: &Params, open: &[i32]) -> Vec<f64> {
    let (n, theta) = (model.n, p.market_access_decay);
    let mut travel = model.travel_times.clone();
    let mut ma = vec![0.0; n];
    levels(model, &travel, theta, &mut ma);
    let mut ln_ma: Vec<f64> = ma.iter().map(|&m| arith::ln(m)).collect();
    let mut changed = vec![false; n];
    let mut out = vec![0.0; model.years() * n];
    for (row, t) in out.chunks_exact_mut(n).zip(model.base_year + 1..) {
        for (project, &o) in model.projects.iter().zip(open) {
            if o == t {
                for &link in &project.pairs {
                    open_link(model, link, theta, &mut travel, &mut ma, &mut changed);
                }
            }
        }
        for i in 0..n {
            if std::mem::take(&mut changed[i]) {
                let now = arith::ln(ma[i]);
                row[i] = now - ln_ma[i];
                ln_ma[i] = now;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::Region;
    use crate::scenario::Scenario;

    #[test]
    fn the_changes_updated_link_by_link_equal_a_full_recomputation() {
        let region = Region::embedded();
        let text = "[scenario]\nname = \"t\"\n[infrastructure]\ndelay_shift = 1\n";
        let model = Model::new(&region, &Scenario::parse("t.toml", text, &region).unwrap()).unwrap();
        let (n, nn) = (model.n, model.n_nodes);
        let (b, h) = (model.base_year, model.horizon);
        for theta in [1.0, 0.7] {
            let p = Params { market_access_decay: theta, ..Params::default() };
            // Openings spread over the run (two in one year, one never), in project order.
            let open: Vec<i32> = (0..model.projects.len())
                .map(|k| if k % 7 == 6 { i32::MAX } else { b + 1 + (k as i32 % (h - b)) })
                .collect();
            let changes = changes(&model, &p, &open);
            let mut travel = model.travel_times.clone();
            let mut before = vec![0.0; n];
            levels(&model, &travel, theta, &mut before);
            let mut largest = 0.0f64;
            for t in b + 1..=h {
                for (k, project) in model.projects.iter().enumerate() {
                    if open[k] == t {
                        for &(a, c, minutes) in &project.pairs {
                            if minutes < travel[a * nn + c] {
                                travel[a * nn + c] = minutes;
                                travel[c * nn + a] = minutes;
                            }
                        }
                    }
                }
                let mut after = vec![0.0; n];
                levels(&model, &travel, theta, &mut after);
                let row = (t - b - 1) as usize * n;
                for i in 0..n {
                    let full = after[i].ln() - before[i].ln();
                    largest = largest.max(full.abs());
                    assert!((changes[row + i] - full).abs() < 1e-13, "θ {theta} year {t} city {i}");
                }
                before = after;
            }
            assert!(largest > 1e-3, "the test needs projects that change market access");
        }
    }
}
