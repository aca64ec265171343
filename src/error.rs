//! Errors of the library: invalid input (exit code 2 at the binary's edge) and model failures.
//!
//! Input errors carry the file, line and column, the key path, what was found and what was
//! expected, and a suggestion for a misspelt key or id. Validation collects every error of a file
//! at once ([`InputErrors`]).

use std::fmt;

/// One problem in one input file.
#[derive(Debug, Clone, PartialEq)]
pub struct InputError {
    /// The file, as the user named it (or `<embedded>/name` for the embedded region).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column (in characters), when known.
    pub column: Option<usize>,
    /// The key path (`parameters.tfr_long_run.sd`, `targets[1].year`, `column gdp_2018`).
    pub key: String,
    /// What is wrong: the value found and what was expected.
    pub message: String,
    /// A suggestion, such as the closest known key for a misspelt one.
    pub suggestion: Option<String>,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        if self.key.is_empty() {
            write!(f, ": {}", self.message)?;
        } else {
            write!(f, ": `{}`: {}", self.key, self.message)?;
        }
        if let Some(s) = &self.suggestion {
            write!(f, " ({s})")?;
        }
        Ok(())
    }
}

/// Every problem found in the input, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct InputErrors(pub Vec<InputError>);

impl fmt::Display for InputErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        if n > 1 {
            writeln!(f, "{n} errors in the input:")?;
        }
        for (k, e) in self.0.iter().enumerate() {
            if k > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InputErrors {}

impl From<InputError> for InputErrors {
    fn from(e: InputError) -> Self {
        InputErrors(vec![e])
    }
}

/// A failure inside one draw of the model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A truncated distribution found no value inside its bounds in 1000 tries.
    #[error("draw {draw}: `{purpose}`: no value inside truncate = [{lo}, {hi}] after 1000 tries")]
    Truncation {
        /// The draw index.
        draw: u64,
        /// The random stream's purpose (the parameter's name).
        purpose: String,
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
    },
    /// The run was interrupted (SIGINT or SIGTERM) before it finished.
    #[error("interrupted")]
    Cancelled,
    /// A replayed draw's outcomes could not be read back (`minxinan merge`).
    #[error("draw {draw}: {message}")]
    Replay {
        /// The draw index.
        draw: u64,
        /// What went wrong.
        message: String,
    },
    /// A state or output became NaN or infinite.
    #[error(
        "draw {draw}, year {year}, city {city}: `{quantity}` is not finite ({value}); the draw's parameters: {parameters}"
    )]
    NonFinite {
        /// The draw index.
        draw: u64,
        /// The year.
        year: i32,
        /// The city id (or `region`).
        city: String,
        /// The quantity that became non-finite.
        quantity: &'static str,
        /// The value.
        value: f64,
        /// The draw's parameter values (`name = value, …`).
        parameters: String,
    },
}

/// Keep in `slot` the failure of the lowest draw (or row) `at`: a run reports the failure that
/// running its draws one by one, in order, would meet first. At a tie the failure kept first
/// stays.
pub(crate) fn keep_lowest<K: Ord>(slot: &mut Option<(K, ModelError)>, at: K, e: ModelError) {
    if slot.as_ref().is_none_or(|(k, _)| at < *k) {
        *slot = Some((at, e));
    }
}

/// Any error of the library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Invalid input: scenario, region or arguments.
    #[error("{0}")]
    Input(#[from] InputErrors),
    /// A model failure during a draw.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A run whose outcomes would not fit in the memory available, refused before it starts.
    #[error(
        "this run needs about {:.1} GB for its outcomes but {:.1} GB is available; use fewer draws, or --draw-range to run the draws in parts",
        *needed as f64 / 1e9,
        *budget as f64 / 1e9
    )]
    TooLarge {
        /// Bytes it would need.
        needed: u64,
        /// Bytes available.
        budget: u64,
    },
}
