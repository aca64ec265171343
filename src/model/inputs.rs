//! What a draw samples once, before its years (MODEL.md §8): every parameter, each city's
//! migration offset, each project's opening year and TFP sizes, and the levers' uncertain
//! quantities, each from the random stream of its purpose ([`crate::rng::Streams`] says which
//! stream number). A deterministic draw takes every central value and no stream.

use super::levers::LeverValues;
use super::levers::parks::ParkValues;
use super::levers::transfer::TransferValues;
use super::{Drawn, Mode, Model, purposes};
use crate::diagnostics::{Diag, Diagnostics};
use crate::error::ModelError;
use crate::params::{N_PARAMS, PARAMS, Params};
use crate::rng::Streams;
use crate::scenario::ProjectHistory;

/// Where a draw's inputs come from: the generator of each purpose, asked for in the order of
/// [`sample`]. The reference path opens each stream on its own ([`Streams::stream`]); the engine
/// hands out streams whose first blocks it computed together.
pub trait Source {
    /// The generator type.
    type Rng: rand::Rng;
    /// The generator of `purpose`.
    fn stream(&mut self, purpose: u64) -> Self::Rng;
    /// The draw's index (for errors).
    fn draw(&self) -> u64;
}

impl Source for Streams<'_> {
    type Rng = crate::rng::Stream;
    fn stream(&mut self, purpose: u64) -> Self::Rng {
        Streams::stream(self, purpose)
    }
    fn draw(&self) -> u64 {
        self.draw
    }
}

/// A draw's sampled inputs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DrawInputs {
    /// The parameters.
    pub params: Params,
    /// Each city's migration offset o_i ~ N(0, σ_m0²) (§5).
    pub offsets: Vec<f64>,
    /// Each project's opening year, `i32::MAX` when it does not open within the run (§4).
    pub open: Vec<i32>,
    /// The size of each project effect, in the order of the projects and their effects.
    pub tfp_sizes: Vec<f64>,
    /// The levers' quantities.
    pub levers: LeverValues,
}

impl DrawInputs {
    /// Room for a model's inputs.
    pub fn new(model: &Model) -> DrawInputs {
        DrawInputs {
            params: Params::default(),
            offsets: vec![0.0; model.n],
            open: vec![i32::MAX; model.projects.len()],
            tfp_sizes: vec![0.0; model.projects.iter().map(|p| p.tfp.len()).sum()],
            levers: LeverValues {
                transfer: TransferValues::default(),
                parks: vec![ParkValues::default(); model.parks.len()],
                shift_deltas: vec![0.0; model.shifts.len()],
            },
        }
    }
}

/// The value of one uncertain quantity: its central value in a deterministic draw or when it is
/// fixed (no stream is read), else a draw from its stream (`name` for the error of a truncated
/// distribution that finds no value).
fn value<S: Source>(d: &Drawn, source: &mut S, name: &str, mode: Mode) -> Result<f64, ModelError> {
    if mode == Mode::Deterministic || d.value.is_fixed() {
        return Ok(d.value.central());
    }
    let mut r = source.stream(d.purpose);
    d.value.sample(&mut r).ok_or_else(|| {
        let (lo, hi) = d.value.truncate().unwrap_or((f64::NAN, f64::NAN));
        ModelError::Truncation { draw: source.draw(), purpose: name.to_string(), lo, hi }
    })
}

/// Sample a draw's inputs into `out`, in this order (the order the engine's streams are
/// prepared in): the parameters, the migration offsets, the transfer, the parks, the shifts, the
/// projects (delay, then sizes). A project's opening year is its planned year (with the
/// scenario's delay shift) plus its delay rounded half away from zero, unless the history says
/// when it opened (or that it had not opened by `until`); on or before the base year it opens
/// in b+1 (counted), after the horizon not within the run.
pub fn sample<S: Source>(
    model: &Model,
    source: &mut S,
    mode: Mode,
    out: &mut DrawInputs,
    diag: &mut Diagnostics,
) -> Result<(), ModelError> {
    let mut values = [0.0; N_PARAMS];
    for ((v, d), spec) in values.iter_mut().zip(&model.params).zip(PARAMS) {
        *v = value(d, source, spec.name, mode)?;
    }
    out.params = Params::from_values(&values);
    match mode {
        Mode::Deterministic => out.offsets.fill(0.0),
        Mode::Stochastic => {
            let sd = out.params.migration_offset_sd;
            let mut r = source.stream(purposes::MIGRATION_OFFSET);
            for o in out.offsets.iter_mut() {
                *o = sd * super::shocks::normal(&mut r);
            }
        }
    }
    sample_levers(model, source, mode, out)?;
    let (b, h) = (model.base_year, model.horizon);
    let mut sizes = out.tfp_sizes.iter_mut();
    for (project, open) in model.projects.iter().zip(&mut out.open) {
        let delay = value(&project.delay, source, "project delay", mode)?.round() as i32;
        let mut o = project.open_year.saturating_add(delay);
        // What happened overrides the draw (its delay is still drawn: the streams stay the same).
        match project.history {
            ProjectHistory::Drawn => {}
            ProjectHistory::Opened(year) => o = year,
            ProjectHistory::NotBefore(year) => o = o.max(year),
        }
        if o <= b {
            o = b + 1;
            diag.bump(Diag::OpeningMovedToFirstYear);
        }
        *open = if o > h { i32::MAX } else { o };
        for (effect, size) in project.tfp.iter().zip(&mut sizes) {
            *size = value(&effect.size, source, "project tfp size", mode)?;
        }
    }
    Ok(())
}

/// The levers' uncertain quantities of a draw into `out.levers`, each from its own stream (the
/// part of [`sample`] after the offsets; alone, it gives the same values).
pub fn sample_levers<S: Source>(
    model: &Model,
    source: &mut S,
    mode: Mode,
    out: &mut DrawInputs,
) -> Result<(), ModelError> {
    if let Some(tr) = &model.transfer {
        out.levers.transfer = TransferValues {
            rate: value(&tr.rate, source, "transfer", mode)?,
            efficiency: value(&tr.efficiency, source, "transfer", mode)?,
            composition_gain: value(&tr.composition_gain, source, "transfer", mode)?,
        };
    }
    for (park, v) in model.parks.iter().zip(&mut out.levers.parks) {
        *v = ParkValues {
            value_added: value(&park.value_added, source, "park", mode)?,
            capital_per_value_added: value(&park.capital_per_value_added, source, "park", mode)?,
            capital_per_worker: value(&park.capital_per_worker, source, "park", mode)?,
            partner_funded_share: value(&park.partner_funded_share, source, "park", mode)?,
            tax_rate: value(&park.tax_rate, source, "park", mode)?,
            tax_share_to_partner: value(&park.tax_share_to_partner, source, "park", mode)?,
        };
    }
    for (shift, v) in model.shifts.iter().zip(&mut out.levers.shift_deltas) {
        *v = value(&shift.delta, source, "shift delta", mode)?;
    }
    Ok(())
}

/// Draw `k`'s inputs in a run with `seed` (the central values when `deterministic`): what
/// [`sample`] gives from [`Streams::of`]`(seed, k)`.
pub fn sampled(model: &Model, seed: u64, k: u64, deterministic: bool) -> Result<DrawInputs, ModelError> {
    let mut out = DrawInputs::new(model);
    let mode = if deterministic { Mode::Deterministic } else { Mode::Stochastic };
    sample(model, &mut Streams::of(seed, k), mode, &mut out, &mut Diagnostics::default())?;
    Ok(out)
}

/// The purposes of the streams [`sample`] reads in a stochastic draw, in its order (every
/// uncertain quantity that is not fixed, and the migration offsets).
pub fn stream_purposes(model: &Model) -> Vec<u64> {
    let params = model.params.iter();
    let transfer = model.transfer.iter().flat_map(|t| [&t.rate, &t.efficiency, &t.composition_gain]);
    let parks = model.parks.iter().flat_map(|p| {
        [
            &p.value_added,
            &p.capital_per_value_added,
            &p.capital_per_worker,
            &p.partner_funded_share,
            &p.tax_rate,
            &p.tax_share_to_partner,
        ]
    });
    let shifts = model.shifts.iter().map(|s| &s.delta);
    let projects =
        model.projects.iter().flat_map(|p| std::iter::once(&p.delay).chain(p.tfp.iter().map(|e| &e.size)));
    let sampled = |d: &Drawn| (!d.value.is_fixed()).then_some(d.purpose);
    params
        .filter_map(sampled)
        .chain(std::iter::once(purposes::MIGRATION_OFFSET))
        .chain(transfer.chain(parks).chain(shifts).chain(projects).filter_map(sampled))
        .collect()
}

/// One input of a sensitivity study (issue 24): a name and the random-stream purposes it owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputGroup {
    /// The input's name: a parameter's, `shocks.tfp` …, `projects.opening`, `projects.tfp_size`,
    /// `transfer`, `park.<id>`, `shift.<k>`.
    pub name: String,
    /// The purposes of the streams it owns.
    pub purposes: Vec<u64>,
}

/// The inputs of a model's draws for a variance-based sensitivity study, by default grouping:
/// every uncertain parameter on its own (a fixed one is no input), each yearly shock purpose one
/// group (TFP shocks — their persistent part's innovations included —, disasters, migration
/// shocks — the migration rate's persistent part's innovations included —, migration offsets,
/// urbanization shocks, inflation shocks, the births' shocks), the projects' opening delays one group and their TFP
/// sizes another, and each lever's uncertain quantities one group. Every purpose a stochastic
/// draw reads belongs to exactly one input (tested), so that the inputs' indices add up.
pub fn sensitivity_inputs(model: &Model) -> Vec<InputGroup> {
    let uncertain = |d: &Drawn| (!d.value.is_fixed()).then_some(d.purpose);
    let group = |name: &str, purposes: Vec<u64>| {
        (!purposes.is_empty()).then(|| InputGroup { name: name.to_string(), purposes })
    };
    let mut out: Vec<InputGroup> = model
        .params
        .iter()
        .zip(PARAMS)
        .filter_map(|(d, spec)| {
            uncertain(d).map(|p| InputGroup { name: spec.name.to_string(), purposes: vec![p] })
        })
        .collect();
    for (name, p) in [
        ("shocks.tfp", purposes::TFP),
        ("shocks.disaster", purposes::DISASTER),
        ("shocks.migration", purposes::MIGRATION),
        ("shocks.migration_offset", purposes::MIGRATION_OFFSET),
        ("shocks.urbanization", purposes::URBANIZATION),
        ("shocks.inflation", purposes::INFLATION),
        ("shocks.fertility", purposes::FERTILITY),
    ] {
        out.extend(group(name, vec![p]));
    }
    out.extend(group(
        "projects.opening",
        model.projects.iter().filter_map(|p| uncertain(&p.delay)).collect(),
    ));
    out.extend(group(
        "projects.tfp_size",
        model.projects.iter().flat_map(|p| p.tfp.iter().filter_map(|e| uncertain(&e.size))).collect(),
    ));
    if let Some(t) = &model.transfer {
        out.extend(group(
            "transfer",
            [&t.rate, &t.efficiency, &t.composition_gain].into_iter().filter_map(uncertain).collect(),
        ));
    }
    for park in &model.parks {
        let fields = [
            &park.value_added,
            &park.capital_per_value_added,
            &park.capital_per_worker,
            &park.partner_funded_share,
            &park.tax_rate,
            &park.tax_share_to_partner,
        ];
        out.extend(group(&format!("park.{}", park.id), fields.into_iter().filter_map(uncertain).collect()));
    }
    for (k, shift) in model.shifts.iter().enumerate() {
        out.extend(group(&format!("shift.{k}"), uncertain(&shift.delta).into_iter().collect()));
    }
    // A purpose two inputs would share (two fixed-name streams of one lever) is kept once.
    let mut seen = std::collections::HashSet::new();
    for g in &mut out {
        g.purposes.retain(|p| seen.insert(*p));
    }
    out.retain(|g| !g.purposes.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::Region;
    use crate::scenario::Scenario;

    #[test]
    fn every_stream_a_draw_reads_belongs_to_exactly_one_input() {
        let region = Region::embedded();
        let read = |p: &std::path::Path| std::fs::read_to_string(p).map_err(|e| e.to_string());
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        for path in std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()) {
            let model = Model::new(&region, &Scenario::load(&path, &read, &region).unwrap()).unwrap();
            let groups = sensitivity_inputs(&model);
            // Each purpose in one input only (by construction: a purpose two levers would share
            // is kept by the first), and together they are what a draw reads.
            let mut owned: Vec<u64> = groups.iter().flat_map(|g| g.purposes.iter().copied()).collect();
            owned.sort_unstable();
            // What a stochastic draw reads: its sampled inputs and the yearly shock streams.
            let mut read_by_draw: Vec<u64> =
                stream_purposes(&model).into_iter().chain(purposes::ALL).collect();
            read_by_draw.sort_unstable();
            read_by_draw.dedup();
            assert_eq!(owned, read_by_draw, "{}", path.display());
            // A fixed parameter is no input.
            for (d, spec) in model.params.iter().zip(PARAMS) {
                assert_eq!(groups.iter().any(|g| g.name == spec.name), !d.value.is_fixed(), "{}", spec.name);
            }
        }
    }
}
