//! A draw's market-access changes Δ_T ln MA_i(t) of every year: [`market_access::changes`] with
//! the draw's buffers, the opening projects sorted by year without a comparison sort, and the
//! logarithms of every changed level taken together at the end, in one batch of lanes.

use super::kernels;
use crate::isa::Isa;
use crate::model::{Model, market_access};

/// A draw's buffers for its market access.
#[derive(Debug, Clone)]
pub struct Access {
    /// The travel times as the projects open.
    travel: Vec<f64>,
    /// MA_i as the projects open, and whether it changed in the year being applied.
    ma: Vec<f64>,
    changed: Vec<bool>,
    /// The levels whose logs are needed (every city's at the start, then each changed one), their
    /// logs, and where each difference goes in `changes`.
    args: Vec<f64>,
    logs: Vec<f64>,
    at: Vec<usize>,
    /// (opening year, project) of the projects that open within the run, by year then project.
    opening: Vec<(i32, usize)>,
    /// Where each year's openings start in `opening` (a counting sort by year).
    starts: Vec<usize>,
    /// ln MA_i of the year last applied.
    ln_ma: Vec<f64>,
    /// Δ_T ln MA_i(t), row t − b − 1.
    pub changes: Vec<f64>,
}

impl Access {
    /// Buffers for a model.
    pub fn new(model: &Model) -> Access {
        let (n, years) = (model.n, model.years());
        Access {
            travel: model.travel_times.clone(),
            ma: vec![0.0; n],
            changed: vec![false; n],
            args: vec![0.0; (years + 1) * n],
            logs: vec![0.0; (years + 1) * n],
            at: vec![0; (years + 1) * n],
            opening: vec![(0, 0); model.projects.len()],
            starts: vec![0; years + 1],
            ln_ma: vec![0.0; n],
            changes: vec![0.0; years.max(1) * n],
        }
    }

    /// Year t's row of changes.
    #[inline(always)]
    pub fn row(&self, model: &Model, t: i32) -> &[f64] {
        let n = model.n;
        let at = (t - model.base_year - 1) as usize * n;
        &self.changes[at..at + n]
    }

    /// The changes of every year, from the projects' opening years `open` and θ.
    pub fn compute(&mut self, isa: Isa, model: &Model, open: &[i32], theta: f64) {
        let n = model.n;
        self.travel.copy_from_slice(&model.travel_times);
        market_access::levels(model, &self.travel, theta, &mut self.ma);
        self.args[..n].copy_from_slice(&self.ma);
        let mut count = n;
        // The projects that open within the run, by opening year, then by index (the order in
        // which their links are applied): a counting sort by year, the order that sorting the
        // pairs (year, index) gives, without a comparison sort's unpredictable branches.
        let (b, h) = (model.base_year, model.horizon);
        self.starts.fill(0);
        for &o in open {
            if o > b && o <= h {
                self.starts[(o - b) as usize] += 1;
            }
        }
        let mut len = 0;
        for at in self.starts.iter_mut() {
            (*at, len) = (len, len + *at);
        }
        for (k, &o) in open.iter().enumerate() {
            if o > b && o <= h {
                let y = (o - b) as usize;
                self.opening[self.starts[y]] = (o, k);
                self.starts[y] += 1;
            }
        }
        let mut next = 0;
        while next < len {
            let t = self.opening[next].0;
            while next < len && self.opening[next].0 == t {
                for &link in &model.projects[self.opening[next].1].pairs {
                    market_access::open_link(
                        model,
                        link,
                        theta,
                        &mut self.travel,
                        &mut self.ma,
                        &mut self.changed,
                    );
                }
                next += 1;
            }
            let row = (t - b - 1) as usize * n;
            for i in 0..n {
                if std::mem::take(&mut self.changed[i]) {
                    self.args[count] = self.ma[i];
                    self.at[count] = row + i;
                    count += 1;
                }
            }
        }
        kernels::ln_into_on(isa, &self.args[..count], &mut self.logs[..count]);
        self.ln_ma.copy_from_slice(&self.logs[..n]);
        self.changes.fill(0.0);
        for (&at, &now) in self.at[n..count].iter().zip(&self.logs[n..count]) {
            let i = at % n;
            self.changes[at] = now - self.ln_ma[i];
            self.ln_ma[i] = now;
        }
    }
}
