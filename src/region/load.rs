//! Parsing and validation of a region's files.

use super::csvtable::Row;
use super::*;
use crate::observed::{Basis, Measure, Observations, Scope};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    region: RawHeader,
    constants: RawConstants,
    files: RawFiles,
    history: Option<RawHistory>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHistory {
    parent: Option<String>,
    revised_from: Option<BTreeMap<String, i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    name: String,
    name_zh: Option<String>,
    name_en: Option<String>,
    base_year: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConstants {
    tfr_base: f64,
    sex_ratio_at_birth: f64,
    e0_male: f64,
    e0_female: f64,
    investment_rate_base: f64,
    participation: f64,
    migrant_male_share: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFiles {
    cities: String,
    age_profile: String,
    migrant_profile: String,
    external_nodes: String,
    travel_times: String,
    projects: String,
    parks: String,
    targets: String,
    shock_correlation: Option<String>,
    observed: Option<String>,
    as_built: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProjects {
    delay_by_stage: BTreeMap<String, toml::Value>,
    #[serde(default)]
    projects: Vec<RawProject>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParks {
    #[serde(default)]
    park_defaults: RawPark,
    #[serde(default)]
    parks: Vec<RawPark>,
}

fn parse_toml<T: for<'de> Deserialize<'de>>(src: &Source<'_>, text: &str) -> Result<T, InputErrors> {
    toml::from_str(text).map_err(|e| InputErrors(vec![src.from_toml_error(&e)]))
}

fn read(files: &dyn Files, rel: &str, from: &str) -> Result<String, InputErrors> {
    files.read(rel).map_err(|e| {
        InputErrors(vec![InputError {
            file: files.display(rel),
            line: None,
            column: None,
            key: String::new(),
            message: format!("cannot read the file (named in {from}): {e}"),
            suggestion: None,
        }])
    })
}

fn hash_file(h: &mut Sha256, name: &str, text: &str) {
    h.update((name.len() as u64).to_le_bytes());
    h.update(name.as_bytes());
    h.update((text.len() as u64).to_le_bytes());
    h.update(text.as_bytes());
}

/// A TOML or CSV boolean.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// Reads a region's files by their names in the manifest, hashing each as it is read (the
/// region's SHA-256 covers every file, in this order).
struct Reader<'a> {
    files: &'a dyn Files,
    /// The manifest's name, for messages.
    manifest: String,
    hasher: Sha256,
}

impl Reader<'_> {
    /// The text of a file the manifest names.
    fn text(&mut self, rel: &str) -> Result<String, InputErrors> {
        let text = read(self.files, rel, &self.manifest)?;
        hash_file(&mut self.hasher, rel, &text);
        Ok(text)
    }

    /// A CSV table the manifest names.
    fn csv(&mut self, rel: &str) -> Result<CsvTable, InputErrors> {
        let text = self.text(rel)?;
        CsvTable::parse(&self.files.display(rel), &text)
    }
}

pub(super) fn load(manifest: &str, files: &dyn Files) -> Result<Region, InputErrors> {
    let mtext = read(files, manifest, "the command line")?;
    let msrc = Source::new(files.display(manifest), &mtext);
    let raw: RawManifest = parse_toml(&msrc, &mtext)?;
    let mut r = Reader { files, manifest: files.display(manifest), hasher: Sha256::new() };
    hash_file(&mut r.hasher, "region.toml", &mtext);
    let mut errors = check_manifest(&raw, &msrc);
    let base_year = raw.region.base_year as i32;
    let f = &raw.files;
    let cities = cities(&r.csv(&f.cities)?, &raw.constants, &mut errors);
    let city_ids: Vec<&str> = cities.iter().map(|c| c.id.as_str()).collect();
    let age_profiles = age_profiles(&r.csv(&f.age_profile)?, &cities, &city_ids, &mut errors);
    let migrant_profiles = migrant_profiles(&r.csv(&f.migrant_profile)?, &cities, &mut errors);
    let nodes = nodes(&r.csv(&f.external_nodes)?, &city_ids, &mut errors);
    let node_ids: Vec<&str> = city_ids.iter().copied().chain(nodes.iter().map(|n| n.id.as_str())).collect();
    let travel_times = travel_times(&r.csv(&f.travel_times)?, &city_ids, &node_ids, &mut errors);
    let ctx = items::Ctx { cities: &city_ids, nodes: &node_ids, base_year, last_year: 2050 };
    let (delay_by_stage, projects) = projects(&mut r, &f.projects, &ctx, &mut errors)?;
    let (park_defaults, parks) = parks(&mut r, &f.parks, &ctx, &mut errors)?;
    let targets = targets(&r.csv(&f.targets)?, &city_ids, base_year, &mut errors);
    let shock_cholesky = match &f.shock_correlation {
        Some(rel) => shock_correlation(&r.csv(rel)?, &city_ids, &mut errors),
        None => None,
    };
    let history = match &f.observed {
        Some(rel) => history(&mut r, rel, raw.history.as_ref(), &city_ids, base_year, &msrc, &mut errors)?,
        None => {
            if raw.history.is_some() {
                let mut issues = Issues::new(&msrc);
                issues.push("history", "a `[history]` table needs `files.observed`, the observation file");
                errors.extend(issues.finish(()).err().map_or_else(Vec::new, |e| e.0));
            }
            None
        }
    };
    let as_built = match &f.as_built {
        Some(rel) => as_built(&r.csv(rel)?, &projects, base_year, &mut errors),
        None => Vec::new(),
    };
    if !errors.is_empty() {
        return Err(InputErrors(errors));
    }
    let digest = r.hasher.finalize();
    let sha256 = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(Region {
        name_zh: raw.region.name_zh.unwrap_or_else(|| raw.region.name.clone()),
        name_en: raw.region.name_en.unwrap_or_else(|| raw.region.name.clone()),
        name: raw.region.name,
        base_year,
        cities,
        age_profiles,
        migrant_profiles,
        nodes,
        travel_times,
        delay_by_stage,
        projects,
        parks,
        park_defaults,
        targets,
        shock_cholesky,
        history,
        as_built,
        sha256,
    })
}

/// The manifest's own checks: the base year and the region's constants in their domains.
fn check_manifest(raw: &RawManifest, msrc: &Source<'_>) -> Vec<InputError> {
    let mut issues = Issues::new(msrc);
    if !(1900..=2100).contains(&raw.region.base_year) {
        issues.push(
            "region.base_year",
            format!("found {}; expected a year in 1900..=2100", raw.region.base_year),
        );
    }
    let c = &raw.constants;
    let checks: [(&str, f64, bool, &str); 7] = [
        ("tfr_base", c.tfr_base, (0.0..=10.0).contains(&c.tfr_base), "0 ≤ TFR ≤ 10"),
        (
            "sex_ratio_at_birth",
            c.sex_ratio_at_birth,
            c.sex_ratio_at_birth > 0.5 && c.sex_ratio_at_birth < 2.0,
            "0.5 < SRB < 2",
        ),
        ("e0_male", c.e0_male, (30.0..=100.0).contains(&c.e0_male), "30 ≤ e0 ≤ 100"),
        ("e0_female", c.e0_female, (30.0..=100.0).contains(&c.e0_female), "30 ≤ e0 ≤ 100"),
        (
            "investment_rate_base",
            c.investment_rate_base,
            (0.0..1.0).contains(&c.investment_rate_base),
            "0 ≤ s < 1",
        ),
        ("participation", c.participation, c.participation > 0.0 && c.participation <= 1.0, "0 < π ≤ 1"),
        (
            "migrant_male_share",
            c.migrant_male_share,
            (0.0..=1.0).contains(&c.migrant_male_share),
            "0 ≤ share ≤ 1",
        ),
    ];
    for (k, v, ok, expected) in checks {
        if !ok {
            issues.push(&format!("constants.{k}"), format!("found {v}; expected {expected}"));
        }
    }
    issues.finish(()).err().map_or_else(Vec::new, |e| e.0)
}

/// The cities (`cities.csv`): base-year data, and constants where a city overrides the region's.
fn cities(ct: &CsvTable, constants: &RawConstants, errors: &mut Vec<InputError>) -> Vec<City> {
    const CITY_COLS: [&str; 13] = [
        "id",
        "name_zh",
        "name_en",
        "coastal",
        "population_2018",
        "urbanization_2018",
        "gdp_2018",
        "real_growth_2018",
        "share_primary_2018",
        "share_secondary_2018",
        "share_tertiary_2018",
        "pop_growth_2016_2018",
        "urbanization_change_2016_2018",
    ];
    const CITY_OPT: [&str; 11] = [
        "tfr_base",
        "sex_ratio_at_birth",
        "e0_male",
        "e0_female",
        "investment_rate_base",
        "participation",
        "migrant_male_share",
        "employment_share_primary",
        "employment_share_secondary",
        "employment_share_tertiary",
        "note",
    ];
    let mut cities: Vec<City> = Vec::new();
    if !ct.check_columns(&CITY_COLS, &CITY_OPT, errors) {
        return cities;
    }
    for row in ct.rows() {
        let city = city(&row, constants, ct.has("employment_share_primary"), &cities, errors);
        cities.push(city);
    }
    if cities.is_empty() {
        errors.push(InputError {
            file: ct.file().to_string(),
            line: None,
            column: None,
            key: String::new(),
            message: "no cities; expected at least one".into(),
            suggestion: None,
        });
    }
    cities
}

/// One row of `cities.csv` (after the cities `before` it), with the region's constants `cc`
/// where the row gives none.
fn city(
    row: &Row<'_>,
    cc: &RawConstants,
    has_employment: bool,
    before: &[City],
    e: &mut Vec<InputError>,
) -> City {
    let id = row.str("id").to_string();
    if !items::valid_id(&id) {
        e.push(row.error(
            "id",
            format!("found `{id}`; expected a lower-case id of letters, digits, - or _ (not `region`)"),
        ));
    }
    if before.iter().any(|c| c.id == id) {
        e.push(row.error("id", format!("duplicate city id `{id}`")));
    }
    let coastal = parse_bool(row.str("coastal")).unwrap_or_else(|| {
        e.push(row.error("coastal", format!("found `{}`; expected true or false", row.str("coastal"))));
        false
    });
    let population = row.num_in("population_2018", |x| x > 0.0, "a population > 0 (10k persons)", e);
    let urbanization =
        row.num_in("urbanization_2018", |x| (0.0..=100.0).contains(&x), "a percentage in 0..=100", e) / 100.0;
    let gdp = row.num_in("gdp_2018", |x| x > 0.0, "GDP > 0 (100M CNY)", e);
    let real_growth =
        row.num_in("real_growth_2018", |x| x > -50.0 && x < 100.0, "a growth rate in (-50, 100) %", e)
            / 100.0;
    let mut shares = [0.0; 3];
    for (s, name) in SECTORS.iter().enumerate() {
        shares[s] = row.num_in(
            &format!("share_{name}_2018"),
            |x| (0.0..=100.0).contains(&x),
            "a percentage in 0..=100",
            e,
        ) / 100.0;
    }
    let sum: f64 = shares.iter().sum();
    if sum.is_finite() && (sum - 1.0).abs() > 0.005 {
        e.push(row.error(
            "share_tertiary_2018",
            format!("GDP shares sum to {:.2} %; expected 100 (within 0.5)", sum * 100.0),
        ));
    } else if sum > 0.0 {
        shares.iter_mut().for_each(|x| *x /= sum);
    }
    let pop_growth =
        row.num_in("pop_growth_2016_2018", |x| x.abs() < 20.0, "a growth rate in (-20, 20) % per year", e)
            / 100.0;
    let urbanization_change = row.num_in(
        "urbanization_change_2016_2018",
        |x| x.abs() < 10.0,
        "a change in (-10, 10) percentage points per year",
        e,
    ) / 100.0;
    let mut opt = |col: &str, default: f64| row.opt_num(col, e).unwrap_or(default);
    let constants = CityConstants {
        tfr_base: opt("tfr_base", cc.tfr_base),
        sex_ratio_at_birth: opt("sex_ratio_at_birth", cc.sex_ratio_at_birth),
        e0: [opt("e0_female", cc.e0_female), opt("e0_male", cc.e0_male)],
        investment_rate_base: opt("investment_rate_base", cc.investment_rate_base),
        participation: opt("participation", cc.participation),
        migrant_male_share: opt("migrant_male_share", cc.migrant_male_share),
    };
    let employment_shares = if has_employment && !row.str("employment_share_primary").is_empty() {
        let mut es = [0.0; 3];
        for (s, name) in SECTORS.iter().enumerate() {
            es[s] = row.num_in(
                &format!("employment_share_{name}"),
                |x| (0.0..=100.0).contains(&x),
                "a percentage",
                e,
            ) / 100.0;
        }
        let t: f64 = es.iter().sum();
        if (t - 1.0).abs() > 0.005 {
            e.push(row.error(
                "employment_share_tertiary",
                format!("employment shares sum to {:.2} %; expected 100", t * 100.0),
            ));
        }
        Some(es.map(|x| x / t))
    } else {
        None
    };
    let c = &constants;
    for (col, ok, exp) in [
        ("tfr_base", (0.0..=10.0).contains(&c.tfr_base), "0 ≤ TFR ≤ 10"),
        ("e0_female", (30.0..=100.0).contains(&c.e0[0]), "30 ≤ e0 ≤ 100"),
        ("e0_male", (30.0..=100.0).contains(&c.e0[1]), "30 ≤ e0 ≤ 100"),
        ("participation", c.participation > 0.0 && c.participation <= 1.0, "0 < π ≤ 1"),
        ("investment_rate_base", (0.0..1.0).contains(&c.investment_rate_base), "0 ≤ s < 1"),
    ] {
        if !ok {
            e.push(row.error(col, format!("expected {exp}")));
        }
    }
    City {
        id,
        name_zh: row.str("name_zh").to_string(),
        name_en: row.str("name_en").to_string(),
        coastal,
        population,
        urbanization,
        gdp,
        real_growth,
        shares,
        pop_growth,
        urbanization_change,
        constants,
        employment_shares,
    }
}

/// The age profiles (`age_profile_2018.csv`): the regional rows, and a city's own where it has them.
fn age_profiles(
    at: &CsvTable,
    cities: &[City],
    city_ids: &[&str],
    errors: &mut Vec<InputError>,
) -> Vec<[[f64; AGES]; 2]> {
    let mut age_profiles = Vec::new();
    if at.check_columns(&["age_group", "share_percent", "male_share"], &["city"], errors) {
        let mut groups: BTreeMap<String, Vec<(usize, f64, f64)>> = BTreeMap::new();
        for row in at.rows() {
            let city = row.str("city").to_string();
            if !city.is_empty() && !city_ids.contains(&city.as_str()) {
                let mut e = row.error("city", format!("unknown city `{city}`"));
                e.suggestion = crate::locate::suggest(&city, city_ids);
                errors.push(e);
                continue;
            }
            let g = row.str("age_group");
            let list = groups.entry(city).or_default();
            if AGE_GROUPS.get(list.len()) != Some(&g) {
                errors.push(row.error(
                    "age_group",
                    format!(
                        "found `{g}`; expected `{}` (groups 0-4 … 85+ in order)",
                        AGE_GROUPS.get(list.len()).unwrap_or(&"no more rows")
                    ),
                ));
                continue;
            }
            let share = row.num_in("share_percent", |x| x >= 0.0, "a share ≥ 0 %", errors);
            let male =
                row.num_in("male_share", |x| (0.0..=1.0).contains(&x), "a male share in 0..=1", errors);
            list.push((row.line, share, male));
        }
        let mut built: BTreeMap<String, [[f64; AGES]; 2]> = BTreeMap::new();
        for (city, list) in &groups {
            match spread_profile(list.iter().map(|(_, s, m)| (*s, *m))) {
                Ok(p) if list.len() == AGE_GROUPS.len() => {
                    built.insert(city.clone(), p);
                }
                Ok(_) | Err(_) => errors.push(InputError {
                    file: at.file().to_string(),
                    line: list.last().map(|l| l.0),
                    column: None,
                    key: "column share_percent".into(),
                    message: format!(
                        "the profile{} needs all 18 groups 0-4 … 85+ with shares summing to 100 % (within 0.5)",
                        if city.is_empty() { String::new() } else { format!(" of {city}") }
                    ),
                    suggestion: None,
                }),
            }
        }
        for c in cities {
            match built.get(&c.id).or_else(|| built.get("")) {
                Some(p) => age_profiles.push(*p),
                None => errors.push(InputError {
                    file: at.file().to_string(),
                    line: None,
                    column: None,
                    key: String::new(),
                    message: format!(
                        "no age profile for `{}` and no regional profile (rows without a city)",
                        c.id
                    ),
                    suggestion: None,
                }),
            }
        }
    }
    age_profiles
}

/// The migrant profile (`migrant_profile.csv`), with each city's male share.
fn migrant_profiles(mt: &CsvTable, cities: &[City], errors: &mut Vec<InputError>) -> Vec<[[f64; AGES]; 2]> {
    let mut migrant_profiles = Vec::new();
    if mt.check_columns(&["age_group", "share_percent"], &[], errors) {
        let mut shares = Vec::new();
        for (k, row) in mt.rows().enumerate() {
            let g = row.str("age_group");
            if AGE_GROUPS.get(k) != Some(&g) {
                errors.push(row.error(
                    "age_group",
                    format!("found `{g}`; expected `{}`", AGE_GROUPS.get(k).unwrap_or(&"no more rows")),
                ));
            }
            shares.push(row.num_in("share_percent", |x| x >= 0.0, "a share ≥ 0 %", errors));
        }
        for c in cities {
            let m = c.constants.migrant_male_share;
            match spread_profile(shares.iter().map(|s| (*s, m))) {
                Ok(p) if shares.len() == AGE_GROUPS.len() => migrant_profiles.push(p),
                _ => {
                    errors.push(InputError {
                        file: mt.file().to_string(),
                        line: None,
                        column: None,
                        key: "column share_percent".into(),
                        message: "the migrant profile needs all 18 groups with shares summing to 100 % (within 0.5)".into(),
                        suggestion: None,
                    });
                    break;
                }
            }
        }
    }
    migrant_profiles
}

/// The external market-access nodes (`external_nodes.csv`).
fn nodes(nt: &CsvTable, city_ids: &[&str], errors: &mut Vec<InputError>) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    if nt.check_columns(&["id", "name_zh", "name_en", "gdp_mass_2018"], &["note"], errors) {
        for row in nt.rows() {
            let id = row.str("id").to_string();
            if !items::valid_id(&id) || city_ids.contains(&id.as_str()) || nodes.iter().any(|n| n.id == id) {
                errors.push(row.error(
                    "id",
                    format!("found `{id}`; expected a new lower-case id, distinct from every city and node"),
                ));
            }
            let mass = row.num_in("gdp_mass_2018", |x| x >= 0.0, "a mass ≥ 0 (100M CNY)", errors);
            nodes.push(Node {
                id,
                name_zh: row.str("name_zh").to_string(),
                name_en: row.str("name_en").to_string(),
                mass,
            });
        }
    }
    nodes
}

/// The base travel times (`travel_times_2018.csv`), row-major over the nodes, +∞ where no link is given.
fn travel_times(
    tt: &CsvTable,
    city_ids: &[&str],
    node_ids: &[&str],
    errors: &mut Vec<InputError>,
) -> Vec<f64> {
    let nn = node_ids.len();
    let mut travel_times = vec![f64::INFINITY; nn * nn];
    if tt.check_columns(&["from", "to", "minutes"], &["note"], errors) {
        for row in tt.rows() {
            let mut idx = |col: &str| {
                let v = row.str(col);
                let i = node_ids.iter().position(|n| *n == v);
                if i.is_none() {
                    let mut e = row.error(col, format!("unknown node `{v}`"));
                    e.suggestion = crate::locate::suggest(v, node_ids);
                    errors.push(e);
                }
                i
            };
            let (a, b) = (idx("from"), idx("to"));
            let m = row.num_in("minutes", |x| x > 0.0, "minutes > 0", errors);
            if let (Some(a), Some(b)) = (a, b) {
                if a == b {
                    errors.push(row.error("to", "a link needs two different nodes".into()));
                } else if travel_times[a * nn + b].is_finite() {
                    errors.push(row.error("to", format!("duplicate link {}–{}", node_ids[a], node_ids[b])));
                } else {
                    travel_times[a * nn + b] = m;
                    travel_times[b * nn + a] = m;
                }
            }
        }
        for (i, c) in city_ids.iter().enumerate() {
            if (0..nn).all(|k| !travel_times[i * nn + k].is_finite()) {
                errors.push(tt.error(
                    1,
                    "from",
                    format!("city `{c}` has no link; every city needs at least one finite travel time"),
                ));
            }
        }
    }
    travel_times
}

/// The delays by stage and the projects (`projects.toml`).
fn projects(
    r: &mut Reader<'_>,
    rel: &str,
    ctx: &items::Ctx<'_>,
    errors: &mut Vec<InputError>,
) -> Result<([Uncertain; 3], Vec<Project>), InputErrors> {
    let ptext = r.text(rel)?;
    let psrc = Source::new(r.files.display(rel), &ptext);
    let mut delay_by_stage = [Uncertain::fixed(0.0), Uncertain::fixed(0.0), Uncertain::fixed(0.0)];
    let mut projects = Vec::new();
    match parse_toml::<RawProjects>(&psrc, &ptext) {
        Err(e) => errors.extend(e.0),
        Ok(rp) => {
            let mut issues = Issues::new(&psrc);
            for key in rp.delay_by_stage.keys() {
                if Stage::parse(key).is_none() {
                    issues.unknown(&format!("delay_by_stage.{key}"), "stage", key, &Stage::NAMES);
                }
            }
            for (s, name) in Stage::NAMES.iter().enumerate() {
                let p = format!("delay_by_stage.{name}");
                match rp.delay_by_stage.get(*name) {
                    None => issues.push(
                        "delay_by_stage",
                        format!("missing `{name}`; expected a delay distribution for every stage"),
                    ),
                    Some(v) => {
                        if let Some(u) = items::parse_delay(v, &p, &mut issues) {
                            delay_by_stage[s] = u;
                        }
                    }
                }
            }
            for (k, p) in rp.projects.iter().enumerate() {
                let path = format!("projects[{k}]");
                let id = p.id.clone().unwrap_or_default();
                if rp.projects[..k].iter().any(|q| q.id.as_deref() == Some(id.as_str())) {
                    issues.push(&format!("{path}.id"), format!("duplicate project id `{id}`"));
                }
                if let Some(pr) = items::resolve_project(p, &path, None, ctx, &mut issues) {
                    projects.push(pr);
                }
            }
            if let Err(e) = issues.finish(()) {
                errors.extend(e.0);
            }
        }
    }
    Ok((delay_by_stage, projects))
}

/// The park defaults and the parks (`parks.toml`; off unless a scenario enables them).
fn parks(
    r: &mut Reader<'_>,
    rel: &str,
    ctx: &items::Ctx<'_>,
    errors: &mut Vec<InputError>,
) -> Result<(items::ParkDefaults, Vec<Park>), InputErrors> {
    let ktext = r.text(rel)?;
    let ksrc = Source::new(r.files.display(rel), &ktext);
    let mut parks = Vec::new();
    let mut park_defaults = items::ParkDefaults::default();
    match parse_toml::<RawParks>(&ksrc, &ktext) {
        Err(e) => errors.extend(e.0),
        Ok(rk) => {
            let mut issues = Issues::new(&ksrc);
            park_defaults = items::resolve_defaults(&rk.park_defaults, &mut issues);
            for (k, p) in rk.parks.iter().enumerate() {
                let path = format!("parks[{k}]");
                let id = p.id.clone().unwrap_or_default();
                if rk.parks[..k].iter().any(|q| q.id.as_deref() == Some(id.as_str())) {
                    issues.push(&format!("{path}.id"), format!("duplicate park id `{id}`"));
                }
                if p.enabled.is_some() {
                    issues.push(
                        &format!("{path}.enabled"),
                        "region parks are off unless a scenario enables them: set `enabled` in a scenario",
                    );
                }
                if let Some(park) = items::resolve_park(p, &path, None, &park_defaults, ctx, &mut issues) {
                    parks.push(park);
                }
            }
            if let Err(e) = issues.finish(()) {
                errors.extend(e.0);
            }
        }
    }
    Ok((park_defaults, parks))
}

/// The plan targets (`plan_targets.csv`).
fn targets(gt: &CsvTable, city_ids: &[&str], base_year: i32, errors: &mut Vec<InputError>) -> Vec<Target> {
    let mut targets = Vec::new();
    if gt.check_columns(
        &["name", "entity", "year", "indicator", "comparison", "threshold"],
        &["source", "basis", "label_zh", "label_en"],
        errors,
    ) {
        let entity_ids: Vec<&str> = city_ids.iter().copied().chain(["region"]).collect();
        for row in gt.rows() {
            let name = row.str("name").to_string();
            if targets.iter().any(|t: &Target| t.name == name) {
                errors.push(row.error("name", format!("duplicate target `{name}`")));
            }
            let ent = row.str("entity");
            let entity = entity_ids.iter().position(|c| *c == ent).unwrap_or_else(|| {
                let mut e = row.error("entity", format!("unknown entity `{ent}`"));
                e.suggestion = crate::locate::suggest(ent, &entity_ids);
                errors.push(e);
                0
            });
            let year = row.num_in(
                "year",
                |y| y.fract() == 0.0 && y >= base_year as f64 && y <= 2050.0,
                "a whole year from the base year to 2050",
                errors,
            );
            let ind = row.str("indicator");
            let indicator = Indicator::from_name(ind).unwrap_or_else(|| {
                let mut e = row.error("indicator", format!("unknown indicator `{ind}`"));
                e.suggestion = crate::locate::suggest(ind, &Indicator::names());
                errors.push(e);
                Indicator::Population
            });
            let comparison = match row.str("comparison") {
                "at_least" => Comparison::AtLeast,
                "at_most" => Comparison::AtMost,
                other => {
                    errors.push(
                        row.error("comparison", format!("found `{other}`; expected at_least or at_most")),
                    );
                    Comparison::AtLeast
                }
            };
            let threshold = row.num("threshold", errors);
            let basis = match row.str("basis") {
                "" => None,
                b => Basis::parse(b).or_else(|| {
                    errors
                        .push(row.error("basis", format!("found `{b}`; expected first_release or revised")));
                    None
                }),
            };
            targets.push(Target {
                basis,
                label: (row.str("label_zh").to_string(), row.str("label_en").to_string()),
                name,
                entity,
                year: if year.is_finite() { year as i32 } else { base_year },
                indicator,
                comparison,
                threshold,
            });
        }
    }
    targets
}

/// The lower Cholesky factor of the cities' shock correlation matrix (the optional `shock_correlation` file).
fn shock_correlation(
    st: &CsvTable,
    city_ids: &[&str],
    errors: &mut Vec<InputError>,
) -> Option<nalgebra::DMatrix<f64>> {
    let mut shock_cholesky = None;
    let n = city_ids.len();
    let mut cols = vec!["city"];
    cols.extend(city_ids.iter().copied());
    if st.check_columns(&cols, &[], errors) {
        let mut m = nalgebra::DMatrix::<f64>::zeros(n, n);
        let mut seen = vec![false; n];
        for row in st.rows() {
            let c = row.str("city");
            let Some(i) = city_ids.iter().position(|x| *x == c) else {
                errors.push(row.error("city", format!("unknown city `{c}`")));
                continue;
            };
            seen[i] = true;
            for (j, cj) in city_ids.iter().enumerate() {
                m[(i, j)] = row.num_in(cj, |x| (-1.0..=1.0).contains(&x), "a correlation in [-1, 1]", errors);
            }
        }
        let sym = (0..n).all(|i| (0..n).all(|j| (m[(i, j)] - m[(j, i)]).abs() <= 1e-12));
        let unit = (0..n).all(|i| m[(i, i)] == 1.0);
        if !seen.iter().all(|s| *s) || !sym || !unit {
            errors.push(st.error(
                1,
                "city",
                "expected one row per city, a symmetric matrix with unit diagonal".into(),
            ));
        } else {
            match nalgebra::Cholesky::new(m) {
                Some(ch) => shock_cholesky = Some(ch.l()),
                None => {
                    errors.push(st.error(1, "city", "the correlation matrix is not positive definite".into()))
                }
            }
        }
    }
    shock_cholesky
}

/// Spread 5-year group shares (percent) with male shares over single ages: evenly within a group,
/// the 85+ share over 85..=100 with weights 0.8^(x−85). Normalised to sum to 1.
fn spread_profile(groups: impl Iterator<Item = (f64, f64)>) -> Result<[[f64; AGES]; 2], ()> {
    let mut p = [[0.0; AGES]; 2];
    let mut total = 0.0;
    let w85: Vec<f64> = (85..=MAX_AGE).map(|x| 0.8f64.powi(x as i32 - 85)).collect();
    let w85_sum: f64 = w85.iter().sum();
    for (g, (share, male)) in groups.enumerate() {
        if g >= AGE_GROUPS.len() || !share.is_finite() || !male.is_finite() {
            return Err(());
        }
        total += share;
        let ages: Vec<(usize, f64)> = if g == 17 {
            (85..=MAX_AGE).zip(w85.iter().map(|w| w / w85_sum)).collect()
        } else {
            (5 * g..5 * g + 5).map(|x| (x, 0.2)).collect()
        };
        for (x, w) in ages {
            p[MALE][x] = share * w * male;
            p[FEMALE][x] = share * w * (1.0 - male);
        }
    }
    if (total - 100.0).abs() > 0.5 {
        return Err(());
    }
    for s in &mut p {
        for v in s.iter_mut() {
            *v /= total;
        }
    }
    Ok(p)
}

/// The observation file and the `[history]` table (history mode, docs/MODEL.md §11).
fn history(
    r: &mut Reader<'_>,
    rel: &str,
    raw: Option<&RawHistory>,
    city_ids: &[&str],
    base_year: i32,
    msrc: &Source<'_>,
    errors: &mut Vec<InputError>,
) -> Result<Option<RegionHistory>, InputErrors> {
    let mut issues = Issues::new(msrc);
    let parent = raw.and_then(|h| h.parent.clone());
    if let Some(p) = &parent
        && (!items::valid_id(p) || city_ids.contains(&p.as_str()))
    {
        issues.push(
            "history.parent",
            format!("found `{p}`; expected the id of the region's parent, not a city's"),
        );
    }
    let mut revised_from = Vec::new();
    for (name, year) in raw.and_then(|h| h.revised_from.as_ref()).into_iter().flatten() {
        let path = format!("history.revised_from.{name}");
        match Measure::parse(name).filter(|m| m.is_level()) {
            None => issues.unknown(
                &path,
                "level indicator",
                name,
                &["population", "urbanization_rate", "gdp_nominal"],
            ),
            Some(m) if (base_year as i64..=2050).contains(year) => revised_from.push((m, *year as i32)),
            Some(_) => issues.push(&path, format!("found {year}; expected a year in {base_year}..=2050")),
        }
    }
    errors.extend(issues.finish(()).err().map_or_else(Vec::new, |e| e.0));
    let text = r.text(rel)?;
    let scope = Scope { cities: city_ids, parent: parent.as_deref(), first_year: base_year, last_year: 2050 };
    match Observations::parse(&r.files.display(rel), &text, &scope) {
        Ok(observations) => Ok(Some(RegionHistory { observations, parent, revised_from })),
        Err(e) => {
            errors.extend(e.0);
            Ok(None)
        }
    }
}

/// What became of the projects (`as_built`): each row's project id and the first year it
/// operated (empty: not open).
fn as_built(
    at: &CsvTable,
    projects: &[Project],
    base_year: i32,
    errors: &mut Vec<InputError>,
) -> Vec<AsBuilt> {
    let mut rows: Vec<AsBuilt> = Vec::new();
    if !at.check_columns(&["id", "model_year"], &["event", "date", "status", "confidence", "source"], errors)
    {
        return rows;
    }
    let ids: Vec<&str> = projects.iter().map(|p| p.id.as_str()).collect();
    for row in at.rows() {
        let id = row.str("id");
        if !ids.contains(&id) {
            let mut e = row.error("id", format!("unknown project `{id}`"));
            e.suggestion = crate::locate::suggest(id, &ids);
            errors.push(e);
            continue;
        }
        if rows.iter().any(|a| a.project == id) {
            errors.push(row.error("id", format!("`{id}` appears twice; expected one row per project")));
            continue;
        }
        let year = row.str("model_year");
        let model_year = if year.is_empty() {
            None
        } else {
            match year.parse::<i32>() {
                Ok(y) if (base_year..=2050).contains(&y) => Some(y),
                _ => {
                    errors.push(row.error(
                        "model_year",
                        format!("found `{year}`; expected empty (not open) or a year in {base_year}..=2050"),
                    ));
                    continue;
                }
            }
        };
        rows.push(AsBuilt { project: id.to_string(), model_year, status: row.str("status").to_string() });
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_region_loads_with_the_plan_base() {
        let r = Region::embedded();
        assert_eq!(r.cities.len(), 5);
        let pop: f64 = r.cities.iter().map(|c| c.population).sum();
        assert_eq!(pop, 2317.0);
        let gdp: f64 = r.cities.iter().map(|c| c.gdp).sum();
        assert!((gdp - 21954.04).abs() < 1e-9);
        assert_eq!(r.projects.len(), 17);
        assert_eq!(r.parks.len(), 11);
        assert_eq!(r.targets.len(), 5);
        for p in &r.age_profiles {
            let s: f64 = p.iter().flatten().sum();
            assert!((s - 1.0).abs() < 1e-12);
            let wa: f64 = (15..=64).map(|x| p[0][x] + p[1][x]).sum();
            assert!((wa - 0.72).abs() < 1e-12, "working-age share {wa}");
        }
    }

    #[test]
    fn profile_85_plus_uses_geometric_weights() {
        let r = Region::embedded();
        let p = &r.age_profiles[0];
        let ratio = (p[0][86] + p[1][86]) / (p[0][85] + p[1][85]);
        assert!((ratio - 0.8).abs() < 1e-12);
        let s85: f64 = (85..=100).map(|x| p[0][x] + p[1][x]).sum();
        assert!((s85 - 0.007).abs() < 1e-12);
    }

    /// The embedded files with a shock correlation matrix added.
    struct WithCorrelation(&'static str);

    impl Files for WithCorrelation {
        fn read(&self, rel: &str) -> Result<String, String> {
            match rel {
                "correlation.csv" => Ok(self.0.to_string()),
                "region.toml" => embedded::Embedded.read(rel).map(|t| {
                    t.replace(
                        "targets = \"plan_targets.csv\"",
                        "targets = \"plan_targets.csv\"\nshock_correlation = \"correlation.csv\"",
                    )
                }),
                _ => embedded::Embedded.read(rel),
            }
        }
        fn display(&self, rel: &str) -> String {
            rel.to_string()
        }
    }

    const HEAD: &str = "city,xiamen,zhangzhou,quanzhou,sanming,longyan\n";

    #[test]
    fn a_correlation_matrix_is_checked_and_factored() {
        let good = format!(
            "{HEAD}xiamen,1,0.5,0.5,0.2,0.2\nzhangzhou,0.5,1,0.5,0.2,0.2\nquanzhou,0.5,0.5,1,0.2,0.2\nsanming,0.2,0.2,0.2,1,0.6\nlongyan,0.2,0.2,0.2,0.6,1\n"
        );
        let r = Region::load("region.toml", &WithCorrelation(Box::leak(good.into_boxed_str()))).unwrap();
        let l = r.shock_cholesky.unwrap();
        let rr = &l * l.transpose();
        assert!((rr[(3, 4)] - 0.6).abs() < 1e-12 && (rr[(0, 0)] - 1.0).abs() < 1e-12);
        // Not positive definite (a correlation of 1 with itself elsewhere breaks it).
        let bad = format!(
            "{HEAD}xiamen,1,0.99,-0.99,0,0\nzhangzhou,0.99,1,0.99,0,0\nquanzhou,-0.99,0.99,1,0,0\nsanming,0,0,0,1,0\nlongyan,0,0,0,0,1\n"
        );
        let e = Region::load("region.toml", &WithCorrelation(Box::leak(bad.into_boxed_str())))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not positive definite"), "{e}");
        let asym = format!(
            "{HEAD}xiamen,1,0.5,0,0,0\nzhangzhou,0.4,1,0,0,0\nquanzhou,0,0,1,0,0\nsanming,0,0,0,1,0\nlongyan,0,0,0,0,1\n"
        );
        let e = Region::load("region.toml", &WithCorrelation(Box::leak(asym.into_boxed_str())))
            .unwrap_err()
            .to_string();
        assert!(e.contains("symmetric"), "{e}");
    }
}
