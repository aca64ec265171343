//! `--groups FILE`: the user's grouping of a sensitivity study's inputs (docs/SENSITIVITY.md).
//!
//! ```toml
//! per_project = true          # each project's opening and TFP sizes as inputs of their own
//!
//! [[group]]
//! name = "TFP"
//! inputs = ["tfp_trend", "tfp_shock_sd", "shocks.tfp"]
//! ```
//!
//! A group joins inputs (by their default names, [`crate::model::inputs::sensitivity_inputs`],
//! or a single project's `project.<id>.opening`, `project.<id>.tfp_size`, `project.<id>`) into
//! one input, listed first in the file's order; every input no group names stays on its own.
//! An input in two groups, a name no input has, a fixed parameter and an empty group are errors
//! located at their line.

use crate::error::InputErrors;
use crate::locate::{Source, deserialize_all, suggest};
use crate::model::Model;
use crate::model::inputs::{InputGroup, sensitivity_inputs};
use crate::params::PARAMS;
use serde::Deserialize;

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    per_project: bool,
    #[serde(default)]
    group: Vec<Group>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    name: String,
    inputs: Vec<String>,
}

/// The inputs a groups file can name: the defaults, then each project's own (their purposes
/// are parts of `projects.opening` and `projects.tfp_size`).
fn atoms(model: &Model) -> Vec<InputGroup> {
    let mut out = sensitivity_inputs(model);
    for p in &model.projects {
        let opening: Vec<u64> = (!p.delay.value.is_fixed()).then_some(p.delay.purpose).into_iter().collect();
        let sizes: Vec<u64> =
            p.tfp.iter().filter(|e| !e.size.value.is_fixed()).map(|e| e.size.purpose).collect();
        let both: Vec<u64> = opening.iter().chain(&sizes).copied().collect();
        for (name, purposes) in [
            (format!("project.{}.opening", p.id), opening),
            (format!("project.{}.tfp_size", p.id), sizes),
            (format!("project.{}", p.id), both),
        ] {
            if !purposes.is_empty() {
                out.push(InputGroup { name, purposes });
            }
        }
    }
    out
}

/// The inputs of a study of `model` grouped as the file `name` (text `text`) says.
pub fn regroup(model: &Model, name: &str, text: &str) -> Result<Vec<InputGroup>, InputErrors> {
    let src = Source::new(name, text);
    let table: toml::Table = toml::from_str(text).map_err(|e| InputErrors(vec![src.from_toml_error(&e)]))?;
    let (file, _, mut errors) = deserialize_all::<File>(&src, table);
    let Some(file) = file else { return Err(InputErrors(errors)) };
    let atoms = atoms(model);
    let defaults = sensitivity_inputs(model);
    let fixed: Vec<&str> = model
        .params
        .iter()
        .zip(PARAMS)
        .filter(|(d, _)| d.value.is_fixed())
        .map(|(_, spec)| spec.name)
        .collect();
    let names: Vec<&str> = atoms.iter().map(|a| a.name.as_str()).collect();
    // Each purpose, once taken, by which group.
    let mut taken: Vec<(u64, String)> = Vec::new();
    let mut groups: Vec<InputGroup> = Vec::new();
    for (g, group) in file.group.iter().enumerate() {
        let mut err = |key: String, msg: String, suggestion: Option<String>| {
            errors.push(src.error(&key, msg, suggestion));
        };
        if group.name.trim().is_empty() {
            err(format!("group[{g}].name"), "a group needs a name".into(), None);
            continue;
        }
        if groups.iter().any(|x| x.name == group.name) {
            err(format!("group[{g}].name"), format!("a second group named `{}`", group.name), None);
            continue;
        }
        if group.inputs.is_empty() {
            err(format!("group[{g}].inputs"), format!("group `{}` names no input", group.name), None);
            continue;
        }
        let mut purposes = Vec::new();
        for (i, input) in group.inputs.iter().enumerate() {
            let key = format!("group[{g}].inputs[{i}]");
            let Some(atom) = atoms.iter().find(|a| &a.name == input) else {
                if fixed.contains(&input.as_str()) {
                    err(
                        key,
                        format!("`{input}` is fixed in the scenario: it is not an input and has no index"),
                        None,
                    );
                } else {
                    err(key, format!("no input is named `{input}`"), suggest(input, &names));
                }
                continue;
            };
            for &p in &atom.purposes {
                if let Some((_, other)) = taken.iter().find(|(q, _)| *q == p) {
                    let msg = if other == &group.name {
                        format!("`{input}` overlaps another input of group `{other}`")
                    } else {
                        format!("`{input}` is already in group `{other}` (an input belongs to one group)")
                    };
                    err(key, msg, None);
                    break;
                }
                taken.push((p, group.name.clone()));
                purposes.push(p);
            }
        }
        groups.push(InputGroup { name: group.name.clone(), purposes });
    }
    // What no group took: the defaults, or each project on its own with `per_project`.
    let rest: Vec<InputGroup> = if file.per_project {
        let per_project: Vec<InputGroup> = atoms
            .iter()
            .filter(|a| {
                a.name.starts_with("project.")
                    && (a.name.ends_with(".opening") || a.name.ends_with(".tfp_size"))
            })
            .cloned()
            .collect();
        let split = |name: &str| name == "projects.opening" || name == "projects.tfp_size";
        defaults.into_iter().filter(|d| !split(&d.name)).chain(per_project).collect()
    } else {
        defaults
    };
    for mut d in rest {
        d.purposes.retain(|p| !taken.iter().any(|(q, _)| q == p));
        if d.purposes.is_empty() {
            continue;
        }
        if let Some(g) = groups.iter().position(|x| x.name == d.name) {
            let key = format!("group[{g}].name");
            errors.push(src.error(
                &key,
                format!("group name `{}` is the name of an input left on its own; choose another", d.name),
                None,
            ));
        }
        groups.push(d);
    }
    if errors.is_empty() { Ok(groups) } else { Err(InputErrors(errors)) }
}
