//! Observation files → validated [`Observations`]: official statistics by entity, year and
//! measure, each with its unit, vintage, confidence and source (docs/INTERFACE.md "Observation
//! files"), and which observation of an (entity, year, measure) a run uses.
//!
//! The reader knows nothing of the model: it checks names, units, domains and keys against the
//! entities it is given (the region's cities, `region` and the region's parent) and the years
//! `base..=last`, and reports every problem at once with file, line, column and key.

use crate::error::{InputError, InputErrors};
use crate::locate::suggest;
use sha2::{Digest, Sha256};
use std::fmt;

/// The columns of an observation file, in order.
pub const COLUMNS: [&str; 8] =
    ["entity", "year", "indicator", "value", "unit", "vintage", "confidence", "source"];

/// Which publication a figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Vintage {
    /// The series back-revised after a census (the census-consistent one).
    Revised,
    /// A final figure (a yearbook's index tables).
    Final,
    /// A statistical yearbook.
    Yearbook,
    /// A census.
    Census,
    /// The annual 1‰ sample survey.
    SampleSurvey,
    /// The year's communiqué or first GDP release.
    FirstRelease,
    /// A January government work report's estimate.
    Preliminary,
}

impl Vintage {
    /// Every vintage, best first: when several vintages of one (entity, year, measure) pass the
    /// confidence floor, a run uses the first of this order (docs/MODEL.md §11).
    pub const ALL: [Vintage; 7] = [
        Vintage::Revised,
        Vintage::Final,
        Vintage::Yearbook,
        Vintage::Census,
        Vintage::SampleSurvey,
        Vintage::FirstRelease,
        Vintage::Preliminary,
    ];

    /// The name in files.
    pub fn name(self) -> &'static str {
        match self {
            Vintage::Revised => "revised",
            Vintage::Final => "final",
            Vintage::Yearbook => "yearbook",
            Vintage::Census => "census",
            Vintage::SampleSurvey => "sample_survey",
            Vintage::FirstRelease => "first_release",
            Vintage::Preliminary => "preliminary",
        }
    }

    /// The vintage of a name.
    pub fn parse(s: &str) -> Option<Vintage> {
        Vintage::ALL.into_iter().find(|v| v.name() == s)
    }

    /// Whether a level of this vintage was published on the latest basis whatever its year (a
    /// revised series, a census, a final or yearbook figure); a first release, preliminary or
    /// survey figure is on the basis of its own year ([`Basis`]).
    pub fn is_restated(self) -> bool {
        matches!(self, Vintage::Revised | Vintage::Final | Vintage::Yearbook | Vintage::Census)
    }
}

/// How sure a figure is: A an official site, B a verbatim copy of an official release, C a
/// secondary table of official figures, D a low-quality page (a lead, not a fact).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Confidence {
    /// An official site.
    A,
    /// A verbatim copy of an official release.
    B,
    /// A secondary table of official figures.
    C,
    /// A low-quality page.
    D,
}

impl Confidence {
    /// The grade of a letter.
    pub fn parse(s: &str) -> Option<Confidence> {
        match s {
            "A" => Some(Confidence::A),
            "B" => Some(Confidence::B),
            "C" => Some(Confidence::C),
            "D" => Some(Confidence::D),
            _ => None,
        }
    }

    /// The letter.
    pub fn name(self) -> &'static str {
        ["A", "B", "C", "D"][self as usize]
    }
}

/// What an observation measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Measure {
    /// Year-end resident population, 10k persons.
    Population,
    /// Urban share of the resident population, %.
    UrbanizationRate,
    /// GDP at current prices, 100M CNY.
    GdpNominal,
    /// Real GDP growth at comparable prices, % per year.
    GdpRealGrowth,
    /// A sector's share of GDP, % (0 primary, 1 secondary, 2 tertiary).
    GdpShare(u8),
    /// The census count, persons.
    CensusPopulation,
    /// The share of ages `from..=to` (`to` = `None`: `from` and over), %.
    AgeShare {
        /// First age.
        from: u8,
        /// Last age, or none for an open group.
        to: Option<u8>,
    },
    /// Births per 1000 of the mean population.
    CrudeBirthRate,
    /// Deaths per 1000 of the mean population.
    CrudeDeathRate,
}

/// The measures with a fixed name (age shares are `age_share_<from>_<to>` or
/// `age_share_<from>_plus`).
const FIXED: [(&str, Measure); 10] = [
    ("population", Measure::Population),
    ("urbanization_rate", Measure::UrbanizationRate),
    ("gdp_nominal", Measure::GdpNominal),
    ("gdp_real_growth", Measure::GdpRealGrowth),
    ("gdp_share_primary", Measure::GdpShare(0)),
    ("gdp_share_secondary", Measure::GdpShare(1)),
    ("gdp_share_tertiary", Measure::GdpShare(2)),
    ("census_population", Measure::CensusPopulation),
    ("crude_birth_rate", Measure::CrudeBirthRate),
    ("crude_death_rate", Measure::CrudeDeathRate),
];

/// Every measure name as a message lists it.
fn names() -> Vec<&'static str> {
    FIXED.iter().map(|(n, _)| *n).chain(["age_share_<from>_<to>"]).collect()
}

impl Measure {
    /// The measure of a name in files.
    pub fn parse(s: &str) -> Option<Measure> {
        if let Some((_, m)) = FIXED.iter().find(|(n, _)| *n == s) {
            return Some(*m);
        }
        let rest = s.strip_prefix("age_share_")?;
        let (a, b) = rest.split_once('_')?;
        let age = |x: &str| x.parse::<u8>().ok().filter(|v| *v <= 100 && !x.starts_with('+'));
        let from = age(a)?;
        let to = if b == "plus" { None } else { Some(age(b)?) };
        if to.is_some_and(|t| t < from) {
            return None;
        }
        Some(Measure::AgeShare { from, to })
    }

    /// The name in files.
    pub fn name(self) -> String {
        match self {
            Measure::AgeShare { from, to: Some(to) } => format!("age_share_{from}_{to}"),
            Measure::AgeShare { from, to: None } => format!("age_share_{from}_plus"),
            m => FIXED.iter().find(|(_, f)| *f == m).map_or_else(String::new, |(n, _)| n.to_string()),
        }
    }

    /// The unit, exactly as files spell it.
    pub fn unit(self) -> &'static str {
        match self {
            Measure::Population => "10k persons",
            Measure::UrbanizationRate | Measure::GdpShare(_) | Measure::AgeShare { .. } => "%",
            Measure::GdpNominal => "100M CNY (current prices)",
            Measure::GdpRealGrowth => "% per year",
            Measure::CensusPopulation => "persons",
            Measure::CrudeBirthRate | Measure::CrudeDeathRate => "per mille",
        }
    }

    /// Whether a value lies in the measure's domain, and the domain in words.
    fn domain(self) -> (fn(f64) -> bool, &'static str) {
        match self {
            Measure::Population | Measure::GdpNominal | Measure::CensusPopulation => {
                (|x| x > 0.0, "a value > 0")
            }
            Measure::UrbanizationRate | Measure::GdpShare(_) | Measure::AgeShare { .. } => {
                (|x| (0.0..=100.0).contains(&x), "a percentage in 0..=100")
            }
            Measure::GdpRealGrowth => (|x| x > -50.0 && x < 100.0, "a growth rate in % between -50 and 100"),
            Measure::CrudeBirthRate | Measure::CrudeDeathRate => {
                (|x| (0.0..=100.0).contains(&x), "a rate per mille in 0..=100")
            }
        }
    }

    /// Whether the measure is a level (its value depends on the statistical basis), not a rate
    /// of change, a share or a crude rate (comparable across bases).
    pub fn is_level(self) -> bool {
        matches!(self, Measure::Population | Measure::GdpNominal | Measure::UrbanizationRate)
    }
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// The statistical basis of a level: the plan's figures were first releases; later the 2020
/// census revised population back, and an economic census revised GDP levels (docs/MODEL.md §11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Basis {
    /// As first published.
    FirstRelease,
    /// As restated by the later censuses.
    Revised,
}

impl Basis {
    /// The name in files.
    pub fn name(self) -> &'static str {
        match self {
            Basis::FirstRelease => "first_release",
            Basis::Revised => "revised",
        }
    }

    /// The basis of a name.
    pub fn parse(s: &str) -> Option<Basis> {
        [Basis::FirstRelease, Basis::Revised].into_iter().find(|b| b.name() == s)
    }
}

/// The basis of an observation's value: none for a measure comparable across bases (a growth
/// rate, a share, a crude rate); a level of a restated vintage is on the revised basis, a first
/// release (or preliminary or survey figure) before its measure's `revised_from` year on the
/// first-release basis, any other on the revised basis.
pub fn basis_of(o: &Observation, revised_from: &[(Measure, i32)]) -> Option<Basis> {
    if !o.measure.is_level() {
        return None;
    }
    if o.vintage.is_restated() {
        return Some(Basis::Revised);
    }
    match revised_from.iter().find(|(m, _)| *m == o.measure) {
        Some((_, from)) if o.year < *from => Some(Basis::FirstRelease),
        _ => Some(Basis::Revised),
    }
}

/// Who an observation is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Entity {
    /// A city of the region, by index.
    City(usize),
    /// The region as a whole.
    Region,
    /// The region's parent (a province), shown for context and used where a city has no figure.
    Parent,
}

/// One row of an observation file.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Who.
    pub entity: Entity,
    /// Year.
    pub year: i32,
    /// What.
    pub measure: Measure,
    /// The value, in the measure's unit.
    pub value: f64,
    /// Its printed resolution (1 for "512", 0.1 for "530.8"; 0 when written with an exponent):
    /// the rounding part of its error (docs/MODEL.md §12.1).
    pub step: f64,
    /// The publication.
    pub vintage: Vintage,
    /// How sure.
    pub confidence: Confidence,
    /// Where it comes from.
    pub source: String,
    /// Its line in the file.
    pub line: usize,
}

/// The rows of an observation file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observations {
    /// The file, as the user named it.
    pub file: String,
    /// The rows, in file order.
    pub rows: Vec<Observation>,
    /// The SHA-256 of the file's text.
    pub sha256: String,
}

/// The entities an observation file may name, and the years it may cover.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The region's city ids, in order.
    pub cities: &'a [&'a str],
    /// The parent's id, when the region names one.
    pub parent: Option<&'a str>,
    /// The first year (the region's base year).
    pub first_year: i32,
    /// The last year (the engine's latest horizon).
    pub last_year: i32,
}

impl Scope<'_> {
    fn entity(&self, id: &str) -> Option<Entity> {
        if id == "region" {
            Some(Entity::Region)
        } else if Some(id) == self.parent {
            Some(Entity::Parent)
        } else {
            self.cities.iter().position(|c| *c == id).map(Entity::City)
        }
    }

    /// The id of an entity.
    pub fn id(&self, e: Entity) -> &str {
        match e {
            Entity::City(i) => self.cities[i],
            Entity::Region => "region",
            Entity::Parent => self.parent.unwrap_or("parent"),
        }
    }
}

impl Observations {
    /// Parse and validate an observation file's text (`file` names it in messages). Every
    /// problem is reported: a missing or unknown column, an unknown entity, measure, vintage
    /// or confidence, a unit that is not the measure's, a value outside its domain, a year
    /// outside `first_year..=last_year`, an empty source, and a key (entity, year, measure,
    /// vintage) given twice.
    pub fn parse(file: &str, text: &str, scope: &Scope<'_>) -> Result<Observations, InputErrors> {
        let sha256 = Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let err = |line: usize, column: Option<usize>, key: String, message: String| InputError {
            file: file.to_string(),
            line: Some(line),
            column,
            key,
            message,
            suggestion: None,
        };
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let header: Vec<String> = match rdr.headers() {
            Ok(h) => h.iter().map(str::to_string).collect(),
            Err(e) => return Err(err(1, None, String::new(), format!("cannot read the header: {e}")).into()),
        };
        let mut errors = Vec::new();
        // Columns are found by name; their order is free.
        for c in COLUMNS {
            if !header.iter().any(|h| h == c) {
                errors.push(err(
                    1,
                    None,
                    format!("column {c}"),
                    format!("missing column; expected the columns {}", COLUMNS.join(",")),
                ));
            }
        }
        for (k, h) in header.iter().enumerate() {
            if !COLUMNS.contains(&h.as_str()) {
                let mut e = err(1, Some(k + 1), format!("column {h}"), "unknown column".into());
                e.suggestion = suggest(h, &COLUMNS);
                errors.push(e);
            }
        }
        if !errors.is_empty() {
            return Err(InputErrors(errors));
        }
        let col = |name: &str| header.iter().position(|h| h == name).expect("checked above");
        let at: [usize; 8] = std::array::from_fn(|k| col(COLUMNS[k]));
        let mut rows: Vec<Observation> = Vec::new();
        for rec in rdr.records() {
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line() as usize);
                    errors.push(err(line, None, String::new(), format!("malformed CSV: {e}")));
                    break;
                }
            };
            let line = rec.position().map_or(0, |p| p.line() as usize);
            if rec.len() != header.len() {
                errors.push(err(
                    line,
                    None,
                    String::new(),
                    format!("found {} fields; expected {} (as in the header)", rec.len(), header.len()),
                ));
                continue;
            }
            let cell = |k: usize| rec.get(at[k]).unwrap_or("");
            let here = |k: usize| Some(at[k] + 1);
            let (entity_s, year_s, measure_s, value_s) = (cell(0), cell(1), cell(2), cell(3));
            let key = format!("{entity_s} {year_s} {measure_s} ({})", cell(5));
            let before = errors.len();
            let entity = scope.entity(entity_s);
            if entity.is_none() {
                let mut known: Vec<&str> = scope.cities.to_vec();
                known.push("region");
                known.extend(scope.parent);
                let mut e = err(
                    line,
                    here(0),
                    key.clone(),
                    format!("unknown entity `{entity_s}`; expected one of {}", known.join(", ")),
                );
                e.suggestion = suggest(entity_s, &known);
                errors.push(e);
            }
            let year = year_s.parse::<i32>().ok();
            match year {
                None => errors.push(err(
                    line,
                    here(1),
                    key.clone(),
                    format!("found `{year_s}`; expected a year (a whole number)"),
                )),
                Some(y) if !(scope.first_year..=scope.last_year).contains(&y) => errors.push(err(
                    line,
                    here(1),
                    key.clone(),
                    format!(
                        "found {y}; expected a year in {}..={} (the region's base year to the last horizon)",
                        scope.first_year, scope.last_year
                    ),
                )),
                Some(_) => {}
            }
            let measure = Measure::parse(measure_s);
            if measure.is_none() {
                let mut e = err(
                    line,
                    here(2),
                    key.clone(),
                    format!(
                        "unknown indicator `{measure_s}`; expected one of {} (age shares as age_share_0_14 or age_share_65_plus)",
                        names().join(", ")
                    ),
                );
                e.suggestion = suggest(measure_s, &names());
                errors.push(e);
            }
            let value = match value_s.parse::<f64>() {
                Ok(v) if v.is_finite() => Some(v),
                _ => {
                    errors.push(err(
                        line,
                        here(3),
                        key.clone(),
                        format!("found `{value_s}`; expected a finite number"),
                    ));
                    None
                }
            };
            if let (Some(m), Some(v)) = (measure, value) {
                let (ok, expected) = m.domain();
                if !ok(v) {
                    errors.push(err(line, here(3), key.clone(), format!("found {v}; expected {expected}")));
                }
                if cell(4) != m.unit() {
                    errors.push(err(
                        line,
                        here(4),
                        key.clone(),
                        format!("found the unit `{}`; expected `{}` for {m}", cell(4), m.unit()),
                    ));
                }
            }
            let vintage = Vintage::parse(cell(5));
            if vintage.is_none() {
                let names: Vec<&str> = Vintage::ALL.iter().map(|v| v.name()).collect();
                let mut e = err(
                    line,
                    here(5),
                    key.clone(),
                    format!("unknown vintage `{}`; expected one of {}", cell(5), names.join(", ")),
                );
                e.suggestion = suggest(cell(5), &names);
                errors.push(e);
            }
            let confidence = Confidence::parse(cell(6));
            if confidence.is_none() {
                errors.push(err(
                    line,
                    here(6),
                    key.clone(),
                    format!("found `{}`; expected a confidence grade A, B, C or D", cell(6)),
                ));
            }
            if cell(7).is_empty() {
                errors.push(err(
                    line,
                    here(7),
                    key.clone(),
                    "empty source; expected the publication the figure comes from".into(),
                ));
            }
            if errors.len() > before {
                continue;
            }
            let (Some(entity), Some(year), Some(measure), Some(value), Some(vintage), Some(confidence)) =
                (entity, year, measure, value, vintage, confidence)
            else {
                continue;
            };
            if let Some(first) = rows.iter().find(|o| {
                o.entity == entity && o.year == year && o.measure == measure && o.vintage == vintage
            }) {
                errors.push(err(
                    line,
                    here(2),
                    key.clone(),
                    format!(
                        "the key (entity, year, indicator, vintage) is given twice: first on line {}",
                        first.line
                    ),
                ));
                continue;
            }
            rows.push(Observation {
                entity,
                year,
                measure,
                value,
                step: printed_step(cell(3)),
                vintage,
                confidence,
                source: cell(7).to_string(),
                line,
            });
        }
        if errors.is_empty() {
            Ok(Observations { file: file.to_string(), rows, sha256 })
        } else {
            Err(InputErrors(errors))
        }
    }

    /// The observation a run uses for (entity, year, measure): the best vintage
    /// ([`Vintage::ALL`]'s order) among the rows of at least `min` confidence.
    pub fn best(&self, entity: Entity, year: i32, measure: Measure, min: Confidence) -> Option<&Observation> {
        self.rows
            .iter()
            .filter(|o| o.entity == entity && o.year == year && o.measure == measure && o.confidence <= min)
            .min_by_key(|o| (o.vintage, o.confidence))
    }

    /// Whether row `k` is the one [`Observations::best`] picks for its key.
    pub fn is_best(&self, k: usize, min: Confidence) -> bool {
        let o = &self.rows[k];
        self.best(o.entity, o.year, o.measure, min).is_some_and(|b| std::ptr::eq(b, o))
    }
}

/// The printed resolution of a number as written: 1 for "512", 0.1 for "530.8", 0.01 for
/// "90.19" (written with an exponent, or without digits: 0).
pub fn printed_step(text: &str) -> f64 {
    let t = text.trim();
    if t.contains(['e', 'E']) || !t.chars().any(|c| c.is_ascii_digit()) {
        return 0.0;
    }
    match t.split_once('.') {
        Some((_, frac)) => 10f64.powi(-(frac.len() as i32)),
        None => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCOPE: Scope<'static> =
        Scope { cities: &["xiamen", "sanming"], parent: Some("fujian"), first_year: 2018, last_year: 2050 };
    const HEADER: &str = "entity,year,indicator,value,unit,vintage,confidence,source\n";

    fn parse(body: &str) -> Result<Observations, InputErrors> {
        Observations::parse("obs.csv", &format!("{HEADER}{body}"), &SCOPE)
    }

    #[test]
    fn a_good_file_is_read_with_its_lines() {
        let o = parse(
            "xiamen,2018,population,496,10k persons,revised,C,a\n\
             fujian,2020,age_share_65_plus,11.1,%,census,B,\"b, with a comma\"\n\
             sanming,2021,gdp_real_growth,5.8,% per year,first_release,C,c\n",
        )
        .unwrap();
        assert_eq!(o.rows.len(), 3);
        assert_eq!((o.rows[0].entity, o.rows[0].line), (Entity::City(0), 2));
        assert_eq!(o.rows[1].measure, Measure::AgeShare { from: 65, to: None });
        assert_eq!((o.rows[1].entity, o.rows[1].source.as_str()), (Entity::Parent, "b, with a comma"));
        assert_eq!((o.rows[2].line, o.rows[2].value), (4, 5.8));
        assert_eq!(o.sha256.len(), 64);
    }

    #[test]
    fn measure_names_round_trip() {
        let fixed = FIXED.iter().map(|(n, _)| *n);
        for name in fixed.chain(["age_share_0_14", "age_share_16_59", "age_share_60_plus"]) {
            assert_eq!(Measure::parse(name).unwrap().name(), name);
        }
        for bad in ["age_share_14_0", "age_share_0_101", "age_share_x_plus", "age_share_5", "gdp"] {
            assert_eq!(Measure::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_best_vintage_above_the_floor_is_used() {
        let o = parse(
            "fujian,2019,population,3973,10k persons,first_release,A,a\n\
             fujian,2019,population,4137,10k persons,revised,C,b\n\
             fujian,2020,population,4161,10k persons,revised,D,c\n",
        )
        .unwrap();
        let best = |y, min| o.best(Entity::Parent, y, Measure::Population, min).map(|r| r.value);
        assert_eq!(best(2019, Confidence::C), Some(4137.0));
        assert_eq!(best(2019, Confidence::B), Some(3973.0), "C is below a B floor");
        assert_eq!(best(2020, Confidence::C), None, "D is shown, not used");
        assert!(o.is_best(1, Confidence::C) && !o.is_best(0, Confidence::C));
    }

    /// Each bad row with the fragments its message must hold.
    #[test]
    fn every_bad_row_names_its_line_column_and_key() {
        let cases: &[(&str, &[&str])] = &[
            (
                "xiamn,2019,population,512,10k persons,revised,C,s",
                &["obs.csv:2:1", "unknown entity `xiamn`", "did you mean `xiamen`?"],
            ),
            (
                "xiamen,2019,populaton,512,10k persons,revised,C,s",
                &["obs.csv:2:3", "unknown indicator `populaton`", "did you mean `population`?"],
            ),
            (
                "xiamen,2019,urbanization_rate,891,%,revised,C,s",
                &[
                    "obs.csv:2:4",
                    "`xiamen 2019 urbanization_rate (revised)`",
                    "found 891; expected a percentage in 0..=100",
                ],
            ),
            ("xiamen,2019,population,-5,10k persons,revised,C,s", &["found -5; expected a value > 0"]),
            (
                "xiamen,2019,population,NaN,10k persons,revised,C,s",
                &["found `NaN`; expected a finite number"],
            ),
            (
                "xiamen,2019,population,512,persons,revised,C,s",
                &["obs.csv:2:5", "found the unit `persons`; expected `10k persons` for population"],
            ),
            (
                "xiamen,2017,population,512,10k persons,revised,C,s",
                &["obs.csv:2:2", "found 2017; expected a year in 2018..=2050"],
            ),
            ("xiamen,20x9,population,512,10k persons,revised,C,s", &["found `20x9`; expected a year"]),
            (
                "xiamen,2019,population,512,10k persons,revisd,C,s",
                &["unknown vintage `revisd`", "did you mean `revised`?"],
            ),
            (
                "xiamen,2019,population,512,10k persons,revised,E,s",
                &["expected a confidence grade A, B, C or D"],
            ),
            ("xiamen,2019,population,512,10k persons,revised,C,", &["obs.csv:2:8", "empty source"]),
            ("xiamen,2019,population,512,10k persons,revised,C", &["found 7 fields; expected 8"]),
            (
                "xiamen,2019,population,512,10k persons,revised,C,s\nxiamen,2019,population,513,10k persons,revised,B,t",
                &["obs.csv:3:3", "`xiamen 2019 population (revised)`", "given twice: first on line 2"],
            ),
        ];
        for (body, fragments) in cases {
            let e = parse(&format!("{body}\n")).unwrap_err().to_string();
            for f in *fragments {
                assert!(e.contains(f), "{body}: expected `{f}` in {e}");
            }
        }
    }

    #[test]
    fn missing_and_unknown_columns_are_named() {
        let e = Observations::parse("o.csv", "entity,year,indicator,value,unit,vintage,source\n", &SCOPE)
            .unwrap_err()
            .to_string();
        assert!(e.contains("o.csv:1: `column confidence`: missing column"), "{e}");
        let e = Observations::parse(
            "o.csv",
            "entity,year,indicator,value,unit,vintage,confidence,source,sorce\n",
            &SCOPE,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("o.csv:1:9: `column sorce`: unknown column"), "{e}");
    }

    #[test]
    fn every_problem_of_a_file_is_reported_at_once() {
        let e = parse(
            "xiamn,2019,population,512,10k persons,revised,C,s\n\
             xiamen,2019,population,512,10k persons,revised,Q,s\n",
        )
        .unwrap_err();
        assert_eq!(e.0.len(), 2);
        assert_eq!((e.0[0].line, e.0[1].line), (Some(2), Some(3)));
    }
}
