//! The raw mirror of a scenario file (every field optional, unknown keys refused) and the
//! merging of an `extends` chain (INTERFACE.md): tables merge key by key (the child's key replaces
//! the parent's; maps such as `origins` and distribution tables are replaced whole); `parks` and
//! `infrastructure.projects` merge by `id` (field by field), `targets` by `name` (whole entries);
//! `shifts` are appended.

use crate::region::{RawPark, RawProject};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::{Table, Value};

/// A scenario file as written.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub scenario: Option<RawHeader>,
    pub parameters: Option<BTreeMap<String, Value>>,
    pub transfer: Option<RawTransfer>,
    pub parks: Option<Vec<RawPark>>,
    pub infrastructure: Option<RawInfrastructure>,
    pub shifts: Option<Vec<RawShift>>,
    pub targets: Option<Vec<RawTarget>>,
    pub history: Option<RawHistory>,
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawHistory {
    pub observed: Option<String>,
    pub until: Option<i64>,
    pub min_confidence: Option<String>,
    pub condition: Option<bool>,
    pub vital_rates: Option<String>,
    pub score_crude_rates: Option<bool>,
    pub pool: Option<i64>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct RawHeader {
    pub name: Option<String>,
    pub description: Option<String>,
    pub extends: Option<String>,
    pub horizon: Option<i64>,
    pub draws: Option<i64>,
    pub seed: Option<i64>,
    pub market_access: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct RawTransfer {
    pub enabled: Option<bool>,
    pub origins: Option<BTreeMap<String, Value>>,
    pub destinations: Option<BTreeMap<String, Value>>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub rate: Option<Value>,
    pub efficiency: Option<Value>,
    pub composition_gain: Option<Value>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct RawInfrastructure {
    pub delay_shift: Option<i64>,
    pub projects: Option<Vec<RawProject>>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct RawShift {
    pub city: Option<String>,
    pub lever: Option<String>,
    pub sector: Option<String>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub delta: Option<Value>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub name: Option<String>,
    pub entity: Option<String>,
    pub year: Option<i64>,
    pub indicator: Option<String>,
    pub at_least: Option<f64>,
    pub at_most: Option<f64>,
    pub basis: Option<String>,
    pub label_zh: Option<String>,
    pub label_en: Option<String>,
}

/// Merge `child` (file `file` of the chain) into `base`. `shifts` records, for each merged shift,
/// (file, index within that file).
pub fn merge(base: &mut Table, child: &Table, file: usize, shifts: &mut Vec<(usize, usize)>) {
    for (k, v) in child {
        match (k.as_str(), v) {
            ("scenario" | "parameters" | "transfer" | "history", Value::Table(t)) => {
                let slot = table_slot(base, k);
                for (k2, v2) in t {
                    if k == "scenario" && k2 == "extends" {
                        continue;
                    }
                    slot.insert(k2.clone(), v2.clone());
                }
            }
            ("infrastructure", Value::Table(t)) => {
                let slot = table_slot(base, k);
                for (k2, v2) in t {
                    if k2 == "projects" {
                        merge_by(slot, k2, v2, "id", true);
                    } else {
                        slot.insert(k2.clone(), v2.clone());
                    }
                }
            }
            ("parks", _) => merge_by(base, k, v, "id", true),
            ("targets", _) => merge_by(base, k, v, "name", false),
            ("shifts", Value::Array(items)) => {
                let slot = base.entry(k.clone()).or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(list) = slot {
                    list.extend(items.iter().cloned());
                }
                shifts.extend((0..items.len()).map(|j| (file, j)));
            }
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

fn table_slot<'t>(base: &'t mut Table, key: &str) -> &'t mut Table {
    let slot = base.entry(key.to_string()).or_insert_with(|| Value::Table(Table::new()));
    if !slot.is_table() {
        *slot = Value::Table(Table::new());
    }
    match slot {
        Value::Table(t) => t,
        _ => unreachable!("just made a table"),
    }
}

/// Merge an array of tables by a key: an item whose key matches an existing one replaces its
/// fields (`by_field`) or the whole item; others are appended.
fn merge_by(base: &mut Table, key: &str, v: &Value, id: &str, by_field: bool) {
    let Value::Array(items) = v else {
        base.insert(key.to_string(), v.clone());
        return;
    };
    let slot = base.entry(key.to_string()).or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(list) = slot else { return };
    for item in items {
        let item_id = item.get(id).and_then(Value::as_str);
        let existing =
            item_id.and_then(|x| list.iter_mut().find(|e| e.get(id).and_then(Value::as_str) == Some(x)));
        match (existing, item) {
            (Some(Value::Table(e)), Value::Table(t)) if by_field => {
                for (k2, v2) in t {
                    e.insert(k2.clone(), v2.clone());
                }
            }
            (Some(e), _) => *e = item.clone(),
            (None, _) => list.push(item.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Table {
        toml::from_str(s).unwrap()
    }

    #[test]
    fn a_child_s_history_keeps_the_parent_s_other_keys() {
        let mut base = Table::new();
        let mut prov = Vec::new();
        merge(&mut base, &t("[history]\nobserved = \"embedded\"\ncondition = true\n"), 1, &mut prov);
        merge(&mut base, &t("[history]\nuntil = 2020\n"), 0, &mut prov);
        assert_eq!(base["history"]["condition"].as_bool(), Some(true));
        assert_eq!(base["history"]["until"].as_integer(), Some(2020));
        assert_eq!(base["history"]["observed"].as_str(), Some("embedded"));
    }

    #[test]
    fn merges_tables_by_key_arrays_by_id_and_appends_shifts() {
        let mut base = Table::new();
        let mut prov = Vec::new();
        merge(
            &mut base,
            &t(
                "[scenario]\nname = \"a\"\nhorizon = 2030\n[transfer]\norigins = { xiamen = 0.3, quanzhou = 0.3 }\nrate = 0.02\n[[parks]]\nid = \"p\"\nvalue_added = 10\nstart = 2021\n[[shifts]]\ncity = \"x\"\n[[targets]]\nname = \"t\"\nat_least = 1\n",
            ),
            1,
            &mut prov,
        );
        merge(
            &mut base,
            &t(
                "[scenario]\nname = \"b\"\nextends = \"a.toml\"\n[transfer]\norigins = { zhangzhou = 0.2 }\n[[parks]]\nid = \"p\"\nvalue_added = 20\n[[parks]]\nid = \"q\"\n[[shifts]]\ncity = \"y\"\n[[targets]]\nname = \"t\"\nat_most = 2\n",
            ),
            0,
            &mut prov,
        );
        assert_eq!(base["scenario"]["name"].as_str(), Some("b"));
        assert_eq!(base["scenario"]["horizon"].as_integer(), Some(2030));
        assert!(base["scenario"].get("extends").is_none());
        // a map is replaced whole
        assert_eq!(base["transfer"]["origins"].as_table().unwrap().len(), 1);
        assert_eq!(base["transfer"]["rate"].as_float(), Some(0.02));
        // parks merge field by field, new ids are appended
        let parks = base["parks"].as_array().unwrap();
        assert_eq!(parks.len(), 2);
        assert_eq!(parks[0]["value_added"].as_integer(), Some(20));
        assert_eq!(parks[0]["start"].as_integer(), Some(2021));
        // targets are replaced whole
        let tg = &base["targets"].as_array().unwrap()[0];
        assert!(tg.get("at_least").is_none() && tg.get("at_most").is_some());
        // shifts are appended, with their provenance
        assert_eq!(base["shifts"].as_array().unwrap().len(), 2);
        assert_eq!(prov, [(1, 0), (0, 0)]);
    }
}
