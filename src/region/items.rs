//! Projects and parks as files give them, and their resolution into validated [`Project`]s and
//! [`Park`]s. The region's files and a scenario's overrides share these raw forms: a scenario entry
//! whose id names a region item overrides the fields it gives; a new id must give what a new item
//! needs.

use super::*;

/// A project entry as a file gives it (every field optional; resolution checks what is needed).
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct RawProject {
    /// Id.
    pub id: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Kind.
    pub kind: Option<String>,
    /// Stage.
    pub stage: Option<String>,
    /// Planned opening year.
    pub open_year: Option<i64>,
    /// Delay distribution.
    pub delay: Option<toml::Value>,
    /// On or off.
    pub enabled: Option<bool>,
    /// Travel-time pairs.
    pub pairs: Option<Vec<RawPair>>,
    /// Direct TFP effects.
    pub tfp: Option<Vec<RawTfp>>,
}

/// A travel-time pair.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawPair {
    /// Node id.
    pub from: String,
    /// Node id.
    pub to: String,
    /// Minutes.
    pub minutes: f64,
}

/// A direct TFP effect.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawTfp {
    /// City id.
    pub city: String,
    /// Sector name.
    pub sector: String,
    /// Log change at full ramp.
    pub size: toml::Value,
    /// Ramp years.
    pub ramp_years: i64,
}

/// A park entry as a file gives it (every field optional).
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct RawPark {
    /// Id.
    pub id: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// On or off (scenarios only).
    pub enabled: Option<bool>,
    /// Host city.
    pub host: Option<String>,
    /// Partner city.
    pub partner: Option<String>,
    /// Sector.
    pub sector: Option<String>,
    /// First year.
    pub start: Option<i64>,
    /// Ramp years.
    pub ramp_years: Option<i64>,
    /// Value added at full ramp.
    pub value_added: Option<toml::Value>,
    /// Capital per unit of value added.
    pub capital_per_value_added: Option<toml::Value>,
    /// Capital per worker (10k CNY).
    pub capital_per_worker: Option<toml::Value>,
    /// Partner-funded share of investment.
    pub partner_funded_share: Option<toml::Value>,
    /// Tax rate.
    pub tax_rate: Option<toml::Value>,
    /// Partner's share of the tax.
    pub tax_share_to_partner: Option<toml::Value>,
    /// Statistics rule.
    pub statistics: Option<String>,
}

/// The region's `[park_defaults]`, validated.
#[derive(Debug, Clone, Default)]
pub struct ParkDefaults {
    /// Sector index.
    pub sector: Option<usize>,
    /// First year.
    pub start: Option<i32>,
    /// Ramp years.
    pub ramp_years: Option<u32>,
    /// Value added.
    pub value_added: Option<Uncertain>,
    /// Capital per value added.
    pub capital_per_value_added: Option<Uncertain>,
    /// Capital per worker.
    pub capital_per_worker: Option<Uncertain>,
    /// Partner-funded share.
    pub partner_funded_share: Option<Uncertain>,
    /// Tax rate.
    pub tax_rate: Option<Uncertain>,
    /// Partner's tax share.
    pub tax_share_to_partner: Option<Uncertain>,
    /// Statistics rule.
    pub statistics: Option<Statistics>,
}

/// Ids: lower-case ASCII letters, digits, `-` and `_`, not `region`.
pub fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && s != "region"
}

/// What resolution needs to know of the region.
pub struct Ctx<'r> {
    /// City ids.
    pub cities: &'r [&'r str],
    /// Node ids (cities first).
    pub nodes: &'r [&'r str],
    /// Base year.
    pub base_year: i32,
    /// Last year a lever may start.
    pub last_year: i32,
}

/// A delay distribution: whole years (a whole number, or a discrete or poisson distribution).
pub fn parse_delay(v: &toml::Value, path: &str, issues: &mut Issues<'_, '_>) -> Option<Uncertain> {
    let u = Uncertain::parse(v, path, issues)?;
    if !u.is_integer_valued() {
        issues.push(path, "expected whole years: a whole number, or a discrete or poisson distribution");
        return None;
    }
    let s = u.support();
    if s.lo < -50.0 || s.hi > 100.0 {
        issues.push(path, "expected a delay within -50..=100 years");
        return None;
    }
    Some(u)
}

fn parse_stage(s: &str, path: &str, issues: &mut Issues<'_, '_>) -> Option<Stage> {
    let st = Stage::parse(s);
    if st.is_none() {
        issues.unknown(path, "stage", s, &Stage::NAMES);
    }
    st
}

/// Resolve a project entry at `path` over an optional base (the region's project of that id).
pub fn resolve_project(
    raw: &RawProject,
    path: &str,
    base: Option<&Project>,
    ctx: &Ctx<'_>,
    issues: &mut Issues<'_, '_>,
) -> Option<Project> {
    let before = issues.len();
    let id = raw.id.clone().unwrap_or_default();
    if !valid_id(&id) {
        issues.push(&format!("{path}.id"), format!("found `{id}`; expected a lower-case id"));
    }
    if base.is_none() {
        for (key, given) in [
            ("name", raw.name.is_some()),
            ("kind", raw.kind.is_some()),
            ("stage", raw.stage.is_some()),
            ("open_year", raw.open_year.is_some()),
        ] {
            if !given {
                issues.push(path, format!("a new project (`{id}`) needs `{key}`"));
            }
        }
    }
    if let Some(k) = &raw.kind
        && !PROJECT_KINDS.contains(&k.as_str())
    {
        issues.unknown(&format!("{path}.kind"), "project kind", k, &PROJECT_KINDS);
    }
    let stage = match &raw.stage {
        Some(s) => parse_stage(s, &format!("{path}.stage"), issues),
        None => base.map(|b| b.stage),
    };
    if let Some(y) = raw.open_year
        && !(ctx.base_year as i64 - 50..=2100).contains(&y)
    {
        issues.push(&format!("{path}.open_year"), format!("found {y}; expected a year"));
    }
    let delay = match &raw.delay {
        Some(v) => parse_delay(v, &format!("{path}.delay"), issues),
        None => base.and_then(|b| b.delay.clone()),
    };
    let pairs = match &raw.pairs {
        None => base.map(|b| b.pairs.clone()).unwrap_or_default(),
        Some(list) => {
            let mut pairs = Vec::new();
            for (j, pr) in list.iter().enumerate() {
                let pp = format!("{path}.pairs[{j}]");
                let a = ctx.nodes.iter().position(|n| *n == pr.from);
                let b = ctx.nodes.iter().position(|n| *n == pr.to);
                if a.is_none() {
                    issues.unknown(&format!("{pp}.from"), "node", &pr.from, ctx.nodes);
                }
                if b.is_none() {
                    issues.unknown(&format!("{pp}.to"), "node", &pr.to, ctx.nodes);
                }
                if !(pr.minutes > 0.0 && pr.minutes.is_finite()) {
                    issues.push(
                        &format!("{pp}.minutes"),
                        format!("found {}; expected minutes > 0", pr.minutes),
                    );
                }
                if let (Some(a), Some(b)) = (a, b) {
                    if a == b {
                        issues.push(&format!("{pp}.to"), "a pair needs two different nodes");
                    }
                    pairs.push((a, b, pr.minutes));
                }
            }
            pairs
        }
    };
    let tfp = match &raw.tfp {
        None => base.map(|b| b.tfp.clone()).unwrap_or_default(),
        Some(list) => {
            let mut tfp = Vec::new();
            for (j, t) in list.iter().enumerate() {
                let tp = format!("{path}.tfp[{j}]");
                let city = ctx.cities.iter().position(|c| *c == t.city);
                if city.is_none() {
                    issues.unknown(&format!("{tp}.city"), "city", &t.city, ctx.cities);
                }
                let sector = SECTORS.iter().position(|s| *s == t.sector);
                if sector.is_none() {
                    issues.unknown(&format!("{tp}.sector"), "sector", &t.sector, &SECTORS);
                }
                if !(1..=50).contains(&t.ramp_years) {
                    issues.push(
                        &format!("{tp}.ramp_years"),
                        format!("found {}; expected 1..=50", t.ramp_years),
                    );
                }
                let size = Uncertain::parse(&t.size, &format!("{tp}.size"), issues);
                if let Some(s) = &size {
                    let sup = s.support();
                    if !(sup.lo >= -1.0 && sup.hi <= 1.0) {
                        issues.push(
                            &format!("{tp}.size"),
                            "expected a log change of TFP within [-1, 1] (truncate an unbounded distribution)",
                        );
                    }
                }
                if let (Some(city), Some(sector), Some(size)) = (city, sector, size) {
                    tfp.push(ProjectTfp { city, sector, size, ramp_years: t.ramp_years.clamp(1, 50) as u32 });
                }
            }
            tfp
        }
    };
    if pairs.is_empty() && tfp.is_empty() {
        issues.push(path, format!("project `{id}` needs `pairs` or `tfp`"));
    }
    if issues.len() > before {
        return None;
    }
    Some(Project {
        id,
        name: raw.name.clone().or_else(|| base.map(|b| b.name.clone()))?,
        kind: raw.kind.clone().or_else(|| base.map(|b| b.kind.clone()))?,
        stage: stage?,
        open_year: raw.open_year.map(|y| y as i32).or(base.map(|b| b.open_year))?,
        delay,
        enabled: raw.enabled.or(base.map(|b| b.enabled)).unwrap_or(true),
        pairs,
        tfp,
    })
}

fn parse_statistics(s: &str, path: &str, issues: &mut Issues<'_, '_>) -> Option<Statistics> {
    match s {
        "dual" => Some(Statistics::Dual),
        "split" => Some(Statistics::Split),
        "host" => Some(Statistics::Host),
        other => {
            issues.unknown(path, "statistics rule", other, &["dual", "split", "host"]);
            None
        }
    }
}

fn parse_sector(s: &str, path: &str, issues: &mut Issues<'_, '_>) -> Option<usize> {
    let i = SECTORS.iter().position(|x| *x == s);
    if i.is_none() {
        issues.unknown(path, "sector", s, &SECTORS);
    }
    i
}

/// Numeric park fields: (name, check of the support's ends, what is expected).
type NumField = (&'static str, fn(f64) -> bool, &'static str);
const PARK_NUMS: [NumField; 6] = [
    ("value_added", |x| x >= 0.0, "value added ≥ 0 (100M CNY)"),
    ("capital_per_value_added", |x| x > 0.0, "a ratio > 0"),
    ("capital_per_worker", |x| x > 0.0, "> 0 (10k CNY per worker)"),
    ("partner_funded_share", |x| (0.0..=1.0).contains(&x), "a share in [0, 1]"),
    ("tax_rate", |x| (0.0..=1.0).contains(&x), "a rate in [0, 1]"),
    ("tax_share_to_partner", |x| (0.0..=1.0).contains(&x), "a share in [0, 1]"),
];

fn raw_num<'p>(raw: &'p RawPark, key: &str) -> Option<&'p toml::Value> {
    match key {
        "value_added" => raw.value_added.as_ref(),
        "capital_per_value_added" => raw.capital_per_value_added.as_ref(),
        "capital_per_worker" => raw.capital_per_worker.as_ref(),
        "partner_funded_share" => raw.partner_funded_share.as_ref(),
        "tax_rate" => raw.tax_rate.as_ref(),
        _ => raw.tax_share_to_partner.as_ref(),
    }
}

fn parse_park_num(raw: &RawPark, k: usize, path: &str, issues: &mut Issues<'_, '_>) -> Option<Uncertain> {
    let (key, ok, expected) = PARK_NUMS[k];
    let v = raw_num(raw, key)?;
    let kp = format!("{path}.{key}");
    let u = Uncertain::parse(v, &kp, issues)?;
    let s = u.support();
    if !(ok(s.lo) && ok(s.hi)) {
        issues.push(&kp, format!("found {u}; expected {expected}"));
        return None;
    }
    Some(u)
}

/// Validate `[park_defaults]`.
pub fn resolve_defaults(raw: &RawPark, issues: &mut Issues<'_, '_>) -> ParkDefaults {
    let path = "park_defaults";
    for (key, given) in [
        ("id", raw.id.is_some()),
        ("name", raw.name.is_some()),
        ("host", raw.host.is_some()),
        ("partner", raw.partner.is_some()),
        ("enabled", raw.enabled.is_some()),
    ] {
        if given {
            issues.push(&format!("{path}.{key}"), format!("`{key}` belongs to a park, not to the defaults"));
        }
    }
    let mut nums: [Option<Uncertain>; 6] = Default::default();
    for (k, n) in nums.iter_mut().enumerate() {
        *n = parse_park_num(raw, k, path, issues);
    }
    let [
        value_added,
        capital_per_value_added,
        capital_per_worker,
        partner_funded_share,
        tax_rate,
        tax_share_to_partner,
    ] = nums;
    ParkDefaults {
        sector: raw.sector.as_deref().and_then(|s| parse_sector(s, &format!("{path}.sector"), issues)),
        start: raw.start.map(|y| y.clamp(-10_000, 10_000) as i32),
        ramp_years: raw.ramp_years.map(|r| r.clamp(0, 1000) as u32),
        value_added,
        capital_per_value_added,
        capital_per_worker,
        partner_funded_share,
        tax_rate,
        tax_share_to_partner,
        statistics: raw
            .statistics
            .as_deref()
            .and_then(|s| parse_statistics(s, &format!("{path}.statistics"), issues)),
    }
}

/// Resolve a park entry at `path` over an optional base (the region's park of that id) and the
/// region's defaults.
pub fn resolve_park(
    raw: &RawPark,
    path: &str,
    base: Option<&Park>,
    d: &ParkDefaults,
    ctx: &Ctx<'_>,
    issues: &mut Issues<'_, '_>,
) -> Option<Park> {
    let before = issues.len();
    let id = raw.id.clone().unwrap_or_default();
    if !valid_id(&id) {
        issues.push(&format!("{path}.id"), format!("found `{id}`; expected a lower-case id"));
    }
    let city = |key: &str, v: &Option<String>, b: Option<usize>, issues: &mut Issues<'_, '_>| match v {
        Some(v) => {
            let i = ctx.cities.iter().position(|c| c == v);
            if i.is_none() {
                issues.unknown(&format!("{path}.{key}"), "city", v, ctx.cities);
            }
            i
        }
        None => {
            if b.is_none() {
                issues.push(path, format!("a new park (`{id}`) needs `{key}`"));
            }
            b
        }
    };
    let host = city("host", &raw.host, base.map(|b| b.host), issues);
    let partner = city("partner", &raw.partner, base.map(|b| b.partner), issues);
    if host.is_some() && host == partner {
        issues.push(&format!("{path}.partner"), "the partner must differ from the host");
    }
    let sector = match &raw.sector {
        Some(s) => parse_sector(s, &format!("{path}.sector"), issues),
        None => base.map(|b| b.sector).or(d.sector).or(Some(1)),
    };
    let start = raw.start.map(|y| y.clamp(-10_000, 10_000) as i32).or(base.map(|b| b.start)).or(d.start);
    let start = match start {
        Some(y) if y > ctx.base_year && y <= ctx.last_year => Some(y),
        Some(y) => {
            issues.push(
                &format!("{path}.start"),
                format!("found {y}; expected a year in {}..={}", ctx.base_year + 1, ctx.last_year),
            );
            None
        }
        None => {
            issues.push(path, format!("park `{id}` needs `start` (and the region gives no default)"));
            None
        }
    };
    let ramp =
        raw.ramp_years.or(base.map(|b| b.ramp_years as i64)).or(d.ramp_years.map(i64::from)).unwrap_or(1);
    if !(1..=50).contains(&ramp) {
        issues.push(&format!("{path}.ramp_years"), format!("found {ramp}; expected 1..=50"));
    }
    let statistics = match &raw.statistics {
        Some(s) => parse_statistics(s, &format!("{path}.statistics"), issues),
        None => base.map(|b| b.statistics).or(d.statistics).or(Some(Statistics::Dual)),
    };
    let defaults = [
        &d.value_added,
        &d.capital_per_value_added,
        &d.capital_per_worker,
        &d.partner_funded_share,
        &d.tax_rate,
        &d.tax_share_to_partner,
    ];
    let mut nums: [Option<Uncertain>; 6] = Default::default();
    for (k, n) in nums.iter_mut().enumerate() {
        *n = parse_park_num(raw, k, path, issues)
            .or_else(|| base.map(|b| b.numbers()[k].clone()))
            .or_else(|| defaults[k].clone());
        if n.is_none() && raw_num(raw, PARK_NUMS[k].0).is_none() {
            issues.push(
                path,
                format!("park `{id}` needs `{}` (and the region gives no default)", PARK_NUMS[k].0),
            );
        }
    }
    if issues.len() > before {
        return None;
    }
    let [
        value_added,
        capital_per_value_added,
        capital_per_worker,
        partner_funded_share,
        tax_rate,
        tax_share_to_partner,
    ] = nums;
    Some(Park {
        name: raw.name.clone().or_else(|| base.map(|b| b.name.clone())).unwrap_or_else(|| id.clone()),
        id,
        host: host?,
        partner: partner?,
        sector: sector?,
        start: start?,
        ramp_years: ramp as u32,
        value_added: value_added?,
        capital_per_value_added: capital_per_value_added?,
        capital_per_worker: capital_per_worker?,
        partner_funded_share: partner_funded_share?,
        tax_rate: tax_rate?,
        tax_share_to_partner: tax_share_to_partner?,
        statistics: statistics?,
    })
}

impl Park {
    /// The numeric fields in `PARK_NUMS` order.
    pub fn numbers(&self) -> [&Uncertain; 6] {
        [
            &self.value_added,
            &self.capital_per_value_added,
            &self.capital_per_worker,
            &self.partner_funded_share,
            &self.tax_rate,
            &self.tax_share_to_partner,
        ]
    }

    /// The numeric fields' names, in [`Park::numbers`] order.
    pub const NUMBER_FIELDS: [&'static str; 6] = [
        "value_added",
        "capital_per_value_added",
        "capital_per_worker",
        "partner_funded_share",
        "tax_rate",
        "tax_share_to_partner",
    ];
}
