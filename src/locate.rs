//! Where a key path stands in a TOML source, and collection of validation errors.
//!
//! Validation works on typed values and names problems by key path (`parameters.tfr_long_run`,
//! `targets[1].year`); [`Source`] turns a key path into a line and column by walking the spanned
//! document that `toml` parses, and turns the byte offset of a parse error back into a key path.

use crate::error::{InputError, InputErrors};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A TOML input: its name for messages, its text and its spanned document.
pub struct Source<'a> {
    name: String,
    text: &'a str,
    doc: Option<Spanned<DeTable<'a>>>,
}

impl<'a> Source<'a> {
    /// Parse `text` for locating keys (a text that does not parse locates nothing).
    pub fn new(name: impl Into<String>, text: &'a str) -> Self {
        let doc = DeTable::parse(text).ok();
        Source { name: name.into(), text, doc }
    }

    /// The name used in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }

    /// The byte span of the deepest existing part of a key path.
    pub fn span_of(&self, path: &str) -> Option<std::ops::Range<usize>> {
        self.lookup(path).map(|(span, _)| span)
    }

    /// The byte span of a key path, only when every part of it exists in this source.
    pub fn span_exact(&self, path: &str) -> Option<std::ops::Range<usize>> {
        self.lookup(path).filter(|(_, exact)| *exact).map(|(span, _)| span)
    }

    /// The byte span of the value at a key path, when every part of it exists in this source.
    pub fn value_span(&self, path: &str) -> Option<std::ops::Range<usize>> {
        self.walk(path).filter(|f| f.exact).and_then(|f| f.value)
    }

    /// Walk a key path: segments `name`, `name[3]` (array index) or `name[id=x]` (the array item
    /// whose `id` is `x`). Returns the span of the deepest part found and whether all was found.
    fn lookup(&self, path: &str) -> Option<(std::ops::Range<usize>, bool)> {
        self.walk(path).map(|f| (f.key, f.exact))
    }

    /// [`Source::lookup`], with the span of the value found last.
    fn walk(&self, path: &str) -> Option<Found> {
        let doc = self.doc.as_ref()?;
        let mut table: &DeTable<'_> = doc.get_ref();
        let mut best = None;
        let segments = split_path(path);
        let last = segments.len().saturating_sub(1);
        let found =
            |key: Option<std::ops::Range<usize>>, value, exact| key.map(|key| Found { key, value, exact });
        for (k, (name, sel)) in segments.into_iter().enumerate() {
            let Some((key, value)) = table.get_key_value(name) else {
                return found(best, None, false);
            };
            best = Some(key.span());
            let mut value: &Spanned<DeValue<'_>> = value;
            if let Some(sel) = sel {
                let items = value.get_ref().as_array();
                let item = items.and_then(|a| match &sel {
                    Sel::Index(i) => a.get(*i),
                    Sel::Key(kname, kval) => a.iter().find(|it| {
                        it.get_ref()
                            .as_table()
                            .and_then(|t| t.get(kname.as_str()))
                            .and_then(|v| v.get_ref().as_str())
                            .is_some_and(|v| v == kval)
                    }),
                });
                let Some(item) = item else {
                    return found(best, None, false);
                };
                best = Some(item.span());
                value = item;
            }
            if k == last {
                return found(best, Some(value.span()), true);
            }
            match value.get_ref() {
                DeValue::Table(t) => table = t,
                _ => return found(Some(value.span()), None, false),
            }
        }
        found(best, None, true)
    }

    /// The key path of the innermost key whose key or value contains a byte offset.
    pub fn path_at(&self, offset: usize) -> String {
        let Some(doc) = self.doc.as_ref() else {
            return String::new();
        };
        let mut path = String::new();
        let mut table: &DeTable<'_> = doc.get_ref();
        'outer: loop {
            for (key, value) in table.iter() {
                let inside = |s: std::ops::Range<usize>| s.start <= offset && offset < s.end.max(s.start + 1);
                if !(inside(key.span()) || inside(value.span()) || contains_deep(value, offset)) {
                    continue;
                }
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key.get_ref());
                match value.get_ref() {
                    DeValue::Table(t) => {
                        table = t;
                        continue 'outer;
                    }
                    DeValue::Array(a) => {
                        for (i, item) in a.iter().enumerate() {
                            if inside(item.span()) || contains_deep(item, offset) {
                                path.push_str(&format!("[{i}]"));
                                if let DeValue::Table(t) = item.get_ref() {
                                    table = t;
                                    continue 'outer;
                                }
                            }
                        }
                        break 'outer;
                    }
                    _ => break 'outer,
                }
            }
            break;
        }
        path
    }

    /// An error at a key path, located in this source.
    pub fn error(&self, path: &str, message: impl Into<String>, suggestion: Option<String>) -> InputError {
        let (line, column) = match self.span_of(path) {
            Some(s) => {
                let (l, c) = self.line_col(s.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        InputError {
            file: self.name.clone(),
            line,
            column,
            key: path.to_string(),
            message: message.into(),
            suggestion,
        }
    }

    /// Turn a `toml` deserialization error into an input error with line, column, key path and,
    /// for an unknown key, the closest known one.
    pub fn from_toml_error(&self, err: &toml::de::Error) -> InputError {
        let message = err.message().trim().to_string();
        let (line, column, key) = match err.span() {
            Some(s) => {
                let (l, c) = self.line_col(s.start);
                (Some(l), Some(c), self.path_at(s.start))
            }
            None => (None, None, String::new()),
        };
        let suggestion = unknown_field_suggestion(&message);
        InputError { file: self.name.clone(), line, column, key, message, suggestion }
    }
}

/// Deserialize a TOML table parsed from `src` as `T`, reporting every type error and unknown key
/// at once: each offending key is reported (in plain words, located in `src`) and removed, and the
/// rest deserialized again (at most 64 times). Returns the value, when the rest deserializes, the
/// table without the offending keys, and the errors.
pub fn deserialize_all<T: serde::de::DeserializeOwned>(
    src: &Source<'_>,
    mut table: toml::Table,
) -> (Option<T>, toml::Table, Vec<InputError>) {
    let mut errors = Vec::new();
    for round in 0..64 {
        let text =
            if round == 0 { src.text.to_string() } else { toml::to_string(&table).unwrap_or_default() };
        let err = match toml::from_str::<T>(&text) {
            Ok(v) => return (Some(v), table, errors),
            Err(e) => e,
        };
        let here = Source::new(String::new(), &text);
        let path = err.span().map(|s| here.path_at(s.start)).unwrap_or_default();
        let mut e = src.error(&path, plain_words(err.message().trim()), None);
        e.suggestion = unknown_field_suggestion(err.message().trim());
        // A wrong type is pointed at the value, an unknown key at the key.
        if e.suggestion.is_none()
            && !err.message().starts_with("unknown field")
            && let Some(s) = src.value_span(&path)
        {
            let (l, c) = src.line_col(s.start);
            (e.line, e.column) = (Some(l), Some(c));
        }
        errors.push(e);
        if path.is_empty() || !remove_path(&mut table, &path) {
            break;
        }
    }
    (None, table, errors)
}

/// Remove the value at a key path (`a.b[2].c`) from a table; whether it was there.
fn remove_path(table: &mut toml::Table, path: &str) -> bool {
    let segments = split_path(path);
    let Some(((last, last_sel), init)) = segments.split_last() else { return false };
    let mut t = table;
    for (name, sel) in init {
        let Some(v) = t.get_mut(*name) else { return false };
        let v = match (sel, v) {
            (Some(Sel::Index(i)), toml::Value::Array(a)) => match a.get_mut(*i) {
                Some(item) => item,
                None => return false,
            },
            (None, v) => v,
            _ => return false,
        };
        let toml::Value::Table(inner) = v else { return false };
        t = inner;
    }
    match last_sel {
        None => t.remove(*last).is_some(),
        Some(Sel::Index(i)) => match t.get_mut(*last) {
            Some(toml::Value::Array(a)) if *i < a.len() => {
                a.remove(*i);
                true
            }
            _ => false,
        },
        Some(Sel::Key(..)) => false,
    }
}

/// A serde type error in plain words: "invalid type: string \"2030\", expected i64" becomes
/// "expected a whole number, found the text \"2030\"". Other messages are kept.
pub fn plain_words(message: &str) -> String {
    let Some(rest) =
        message.strip_prefix("invalid type: ").or_else(|| message.strip_prefix("invalid value: "))
    else {
        return message.to_string();
    };
    let Some((found, expected)) = rest.rsplit_once(", expected ") else { return message.to_string() };
    let value = |s: &str| s.trim_matches('`').to_string();
    let found = if let Some(v) = found.strip_prefix("string ") {
        format!("the text {v}")
    } else if let Some(v) = found.strip_prefix("floating point ") {
        format!("the number {}", value(v))
    } else if let Some(v) = found.strip_prefix("integer ") {
        format!("the whole number {}", value(v))
    } else if let Some(v) = found.strip_prefix("boolean ") {
        value(v)
    } else {
        match found {
            "sequence" => "a list [...]".into(),
            "map" => "a table { ... }".into(),
            other => other.to_string(),
        }
    };
    let expected = match expected {
        "i64" | "i32" | "u32" | "u64" | "usize" => "a whole number".to_string(),
        "f64" | "f32" => "a number".to_string(),
        "a string" => "text in quotes".to_string(),
        "a boolean" => "true or false".to_string(),
        "a sequence" => "a list [...]".to_string(),
        other if other.starts_with("struct ") || other == "a map" => "a table { ... }".to_string(),
        other => other.to_string(),
    };
    format!("expected {expected}, found {found}")
}

fn contains_deep(value: &Spanned<DeValue<'_>>, offset: usize) -> bool {
    match value.get_ref() {
        DeValue::Table(t) => t.iter().any(|(k, v)| {
            let s = k.span();
            (s.start <= offset && offset < s.end)
                || {
                    let s = v.span();
                    s.start <= offset && offset < s.end
                }
                || contains_deep(v, offset)
        }),
        DeValue::Array(a) => a.iter().any(|v| {
            let s = v.span();
            (s.start <= offset && offset < s.end) || contains_deep(v, offset)
        }),
        _ => false,
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// What [`Source::walk`] found of a key path: the span of its deepest part, the value's span (when
/// the whole path exists) and whether it all exists.
struct Found {
    key: std::ops::Range<usize>,
    value: Option<std::ops::Range<usize>>,
    exact: bool,
}

/// An array selector in a key path.
enum Sel {
    /// `[3]`
    Index(usize),
    /// `[id=x]`
    Key(String, String),
}

/// Split `a.b[2].c[id=x]` into segments with their selectors.
fn split_path(path: &str) -> Vec<(&str, Option<Sel>)> {
    let mut out = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        // A selector may contain dots (`[id=a.b]`): cut at the first '.' outside brackets.
        let mut depth = 0;
        let mut cut = rest.len();
        for (i, c) in rest.char_indices() {
            match c {
                '[' => depth += 1,
                ']' => depth -= 1,
                '.' if depth == 0 => {
                    cut = i;
                    break;
                }
                _ => {}
            }
        }
        let seg = &rest[..cut];
        rest = rest.get(cut + 1..).unwrap_or("");
        if seg.is_empty() {
            continue;
        }
        match seg.find('[') {
            Some(open) => {
                let inner = seg[open + 1..].trim_end_matches(']');
                let sel = match inner.split_once('=') {
                    Some((k, v)) => Some(Sel::Key(k.to_string(), v.to_string())),
                    None => inner.parse().ok().map(Sel::Index),
                };
                out.push((&seg[..open], sel));
            }
            None => out.push((seg, None)),
        }
    }
    out
}

/// `toml`/serde say "unknown field `x`, expected one of `a`, `b`": suggest the closest.
fn unknown_field_suggestion(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (found, rest) = rest.split_once('`')?;
    let candidates: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    suggest(found, &candidates)
}

/// The closest candidate to a misspelt name, phrased as a suggestion.
pub fn suggest(found: &str, candidates: &[&str]) -> Option<String> {
    // Edit distance catches typos; Jaro–Winkler catches a wrong ending (`studies` for `study`).
    let score = |c: &str| {
        let dl = strsim::normalized_damerau_levenshtein(found, c);
        let jw = strsim::jaro_winkler(found, c);
        if dl >= 0.6 || jw >= 0.85 { dl.max(jw) } else { 0.0 }
    };
    let best = candidates
        .iter()
        .map(|c| (score(c), *c))
        .filter(|(s, _)| *s > 0.0)
        .max_by(|a, b| a.0.total_cmp(&b.0))?;
    Some(format!("did you mean `{}`?", best.1))
}

/// Validation errors, collected so that all are reported at once. A scenario that extends
/// others is validated once, merged; each problem is located in the first file of the chain
/// (child first) that holds its key path.
pub struct Issues<'s, 'a> {
    chain: &'s [Source<'a>],
    list: Vec<InputError>,
}

impl<'s, 'a> Issues<'s, 'a> {
    /// An empty collection for one source.
    pub fn new(src: &'s Source<'a>) -> Self {
        Issues { chain: std::slice::from_ref(src), list: Vec::new() }
    }

    /// An empty collection for a chain of sources, child first.
    pub fn for_chain(chain: &'s [Source<'a>]) -> Self {
        Issues { chain, list: Vec::new() }
    }

    fn locate(&self, path: &str, message: String, suggestion: Option<String>) -> InputError {
        let src = self.chain.iter().find(|s| s.span_exact(path).is_some()).unwrap_or(&self.chain[0]);
        src.error(path, message, suggestion)
    }

    /// Record a problem at a key path.
    pub fn push(&mut self, path: &str, message: impl Into<String>) {
        let e = self.locate(path, message.into(), None);
        self.list.push(e);
    }

    /// Record a problem at a key path with a suggestion (the closest known name, say).
    pub fn push_suggesting(&mut self, path: &str, message: impl Into<String>, suggestion: Option<String>) {
        let e = self.locate(path, message.into(), suggestion);
        self.list.push(e);
    }

    /// Record a problem at a key path of a given file of the chain.
    pub fn push_in(&mut self, file: usize, path: &str, message: impl Into<String>) {
        let src = self.chain.get(file).unwrap_or(&self.chain[0]);
        let e = src.error(path, message, None);
        self.list.push(e);
    }

    /// Record an unknown name, suggesting the closest of the known ones.
    pub fn unknown(&mut self, path: &str, what: &str, found: &str, known: &[&str]) {
        let suggestion = suggest(found, known).or_else(|| {
            let mut shown: Vec<&str> = known.iter().copied().take(12).collect();
            if known.len() > 12 {
                shown.push("…");
            }
            Some(format!("known: {}", shown.join(", ")))
        });
        let e = self.locate(path, format!("unknown {what} `{found}`"), suggestion);
        self.list.push(e);
    }

    /// How many problems were recorded.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Finish: `Ok(value)` when nothing was recorded, else every error sorted by file and position.
    pub fn finish<T>(self, value: T) -> Result<T, InputErrors> {
        if self.list.is_empty() {
            Ok(value)
        } else {
            let mut list = self.list;
            list.sort_by(|a, b| {
                (a.file.as_str(), a.line.unwrap_or(usize::MAX), a.column.unwrap_or(0)).cmp(&(
                    b.file.as_str(),
                    b.line.unwrap_or(usize::MAX),
                    b.column.unwrap_or(0),
                ))
            });
            Err(InputErrors(list))
        }
    }

    /// The first (child) source.
    pub fn source(&self) -> &Source<'a> {
        &self.chain[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "[scenario]\nname = \"x\"\n\n[parameters]\ntfr_long_run = { dist = \"normal\", mean = 1.0, sd = -1 }\n\n[[targets]]\nname = \"a\"\n\n[[targets]]\nname = \"b\"\nyear = 1900\n";

    #[test]
    fn locates_nested_keys_and_array_items() {
        let s = Source::new("s.toml", DOC);
        let at = |p: &str| s.line_col(s.span_of(p).unwrap().start);
        assert_eq!(at("scenario.name"), (2, 1));
        assert_eq!(at("parameters.tfr_long_run.sd").0, 5);
        assert_eq!(at("targets[1].year"), (12, 1));
        // a missing key falls back to its deepest existing parent
        assert_eq!(at("targets[1].indicator").0, 10);
        // items can be selected by a key's value
        assert_eq!(at("targets[name=b].year"), (12, 1));
        assert!(s.span_exact("targets[name=b].year").is_some());
        assert!(s.span_exact("targets[name=c].year").is_none());
    }

    #[test]
    fn maps_offsets_back_to_paths() {
        let s = Source::new("s.toml", DOC);
        let off = DOC.find("1900").unwrap();
        assert_eq!(s.path_at(off), "targets[1].year");
        let off = DOC.find("sd = -1").unwrap();
        assert_eq!(s.path_at(off), "parameters.tfr_long_run.sd");
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            suggest("tfr_long_rn", &["tfr_long_run", "depreciation"]).as_deref(),
            Some("did you mean `tfr_long_run`?")
        );
        assert_eq!(suggest("zzzz", &["tfr_long_run"]), None);
    }
}
