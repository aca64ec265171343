//! A small CSV reader that keeps line numbers, so that every bad cell is named by file, line and
//! column.

use crate::error::{InputError, InputErrors};

/// A parsed CSV file: header and rows, each row with its 1-based line number.
pub struct CsvTable {
    file: String,
    header: Vec<String>,
    rows: Vec<(usize, Vec<String>)>,
}

impl CsvTable {
    /// Parse CSV text (a UTF-8 BOM is ignored).
    pub fn parse(file: &str, text: &str) -> Result<CsvTable, InputErrors> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut rdr =
            csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(text.as_bytes());
        let err = |line: Option<usize>, msg: String| InputError {
            file: file.to_string(),
            line,
            column: None,
            key: String::new(),
            message: msg,
            suggestion: None,
        };
        let header: Vec<String> = rdr
            .headers()
            .map_err(|e| InputErrors::from(err(Some(1), format!("cannot read the header: {e}"))))?
            .iter()
            .map(str::to_string)
            .collect();
        let mut rows = Vec::new();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| {
                let line = e.position().map(|p| p.line() as usize);
                InputErrors::from(err(line, format!("malformed CSV: {e}")))
            })?;
            let line = rec.position().map_or(0, |p| p.line() as usize);
            rows.push((line, rec.iter().map(str::to_string).collect()));
        }
        Ok(CsvTable { file: file.to_string(), header, rows })
    }

    /// The file name.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Whether a column exists.
    pub fn has(&self, col: &str) -> bool {
        self.header.iter().any(|h| h == col)
    }

    /// Check that the required columns exist and that no unknown column is present.
    pub fn check_columns(&self, required: &[&str], optional: &[&str], errors: &mut Vec<InputError>) -> bool {
        let mut ok = true;
        for c in required {
            if !self.has(c) {
                errors.push(self.error(
                    1,
                    c,
                    format!("missing column; expected columns {}", required.join(",")),
                ));
                ok = false;
            }
        }
        for h in &self.header {
            if !required.contains(&h.as_str()) && !optional.contains(&h.as_str()) {
                let known: Vec<&str> = required.iter().chain(optional).copied().collect();
                let mut e = self.error(1, h, "unknown column".to_string());
                e.suggestion = crate::locate::suggest(h, &known);
                errors.push(e);
                ok = false;
            }
        }
        ok
    }

    /// The rows: (line, row accessor).
    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(move |(line, cells)| Row { table: self, line: *line, cells })
    }

    /// An error at a line and column name.
    pub fn error(&self, line: usize, col: &str, message: String) -> InputError {
        InputError {
            file: self.file.clone(),
            line: Some(line),
            column: self.header.iter().position(|h| h == col).map(|c| c + 1),
            key: format!("column {col}"),
            message,
            suggestion: None,
        }
    }
}

/// One data row.
pub struct Row<'t> {
    table: &'t CsvTable,
    /// 1-based line number.
    pub line: usize,
    cells: &'t [String],
}

impl Row<'_> {
    /// A cell as text (empty when the column is absent).
    pub fn str(&self, col: &str) -> &str {
        self.table
            .header
            .iter()
            .position(|h| h == col)
            .and_then(|i| self.cells.get(i))
            .map_or("", String::as_str)
    }

    /// A cell as a finite number, recording an error otherwise.
    pub fn num(&self, col: &str, errors: &mut Vec<InputError>) -> f64 {
        let s = self.str(col);
        match s.parse::<f64>() {
            Ok(x) if x.is_finite() => x,
            _ => {
                errors.push(self.table.error(
                    self.line,
                    col,
                    format!("found `{s}`; expected a finite number"),
                ));
                f64::NAN
            }
        }
    }

    /// A cell as a number when present and non-empty.
    pub fn opt_num(&self, col: &str, errors: &mut Vec<InputError>) -> Option<f64> {
        if self.str(col).is_empty() { None } else { Some(self.num(col, errors)) }
    }

    /// A cell as a number that must satisfy `ok`, described by `expected`.
    pub fn num_in(
        &self,
        col: &str,
        ok: impl Fn(f64) -> bool,
        expected: &str,
        errors: &mut Vec<InputError>,
    ) -> f64 {
        let x = self.num(col, errors);
        if x.is_finite() && !ok(x) {
            errors.push(self.table.error(self.line, col, format!("found {x}; expected {expected}")));
        }
        x
    }

    /// An error at this row.
    pub fn error(&self, col: &str, message: String) -> InputError {
        self.table.error(self.line, col, message)
    }
}
