//! Partial runs and their exact merge (docs/CLUSTER.md, INTERFACE.md "Partial runs").
//!
//! A part (`run --draw-range A..B --partial DIR`) keeps every outcome of its draws: `rows.bin`
//! holds draw A's row of outcomes (the engine's layout, `row_len` values, little-endian f64),
//! then draw A + 1's, … up to B − 1; `partial.json` ([`Header`]) says which run it belongs to
//! (scenario and region SHA-256, seed, N, engine version), its range, the rows' size and
//! SHA-256, and the diagnostics its draws counted. A merge ([`Parts`]) checks that the parts
//! belong together and cover 0..N exactly, verifies every checksum, and replays the rows, in
//! draw order, through the same summaries a single run uses ([`super::replay`]): every
//! statistic is computed from the same values in the same order, so the merged outputs are the
//! single run's, byte for byte, however the draws were split.

use super::{Pass, Rows, RunConfig, Sink};
use crate::diagnostics::Diagnostics;
use crate::error::{Error, InputError, InputErrors, ModelError};
use crate::model::Model;
use crate::model::engine::BATCH;
use crate::stats::CHUNK;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The format's name in `partial.json`.
pub const FORMAT: &str = "minxinan-partial";
/// The format's version (a merge refuses any other).
pub const VERSION: u32 = 1;
/// The header's file name.
pub const HEADER: &str = "partial.json";
/// The rows' file name.
pub const ROWS: &str = "rows.bin";

/// The scenario a part ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioRef {
    /// Its name.
    pub name: String,
    /// Its file, as an absolute path (a merge reads it again).
    pub path: String,
    /// [`crate::Scenario::sha256`]: the resolved scenario with the region.
    pub sha256: String,
}

/// The region a part ran on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionRef {
    /// Its manifest, as an absolute path; absent for the embedded region.
    pub manifest: Option<String>,
    /// Its SHA-256.
    pub sha256: String,
}

/// `partial.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// The engine's version (`CARGO_PKG_VERSION`) and git commit, which must match.
    pub engine: String,
    /// The scenario.
    pub scenario: ScenarioRef,
    /// The region.
    pub region: RegionRef,
    /// The seed.
    pub seed: u64,
    /// N, the draws of the whole run.
    pub draws: u64,
    /// This part's draws, [A, B).
    pub range: [u64; 2],
    /// Values per row.
    pub row_len: usize,
    /// Bytes of `rows.bin`: (B − A) · row_len · 8.
    pub rows_bytes: u64,
    /// SHA-256 of `rows.bin`, hex.
    pub rows_sha256: String,
    /// The diagnostics its draws counted (in [`crate::diagnostics::Diag`] order).
    pub diagnostics: Vec<u64>,
}

impl Header {
    /// The part's draws.
    pub fn range(&self) -> Range<u64> {
        self.range[0]..self.range[1]
    }
}

/// The engine's identity in a header: version and git commit.
pub fn engine_id(git_commit: &str) -> String {
    format!("{} {}", env!("CARGO_PKG_VERSION"), if git_commit.is_empty() { "unknown" } else { git_commit })
}

/// What takes a run's rows in draw order, a pass at a time ([`InOrder`]).
pub trait TakeRows: Send + Sync {
    /// What it gives at the end.
    type Output;
    /// Before the first pass: `draws` rows of `width` values will come (refuse what does not fit
    /// `cfg`'s memory budget).
    fn plan(&mut self, _draws: u64, _width: usize, _cfg: &RunConfig) -> Result<(), Error> {
        Ok(())
    }
    /// The next rows, in draw order.
    fn take(&mut self, rows: &[f64]) -> std::io::Result<()>;
    /// The end, with the draws' diagnostics.
    fn finish(self, diagnostics: Diagnostics) -> std::io::Result<Self::Output>;
}

/// The sink that hands a run's rows to a [`TakeRows`] in draw order, a pass of [`PASS_CHUNKS`]
/// chunks at a time: [`Hashed`] writes a part's `rows.bin`, [`super::distributed::KeysOf`] keeps
/// some series' keys.
pub struct InOrder<T> {
    take: T,
    width: usize,
    next: u64,
    end: u64,
    error: Option<std::io::Error>,
}

/// Chunks per pass of [`InOrder`] (1,024 draws: 20 MB of baseline rows).
pub const PASS_CHUNKS: u64 = 4;

impl<T: TakeRows> InOrder<T> {
    /// Hand the rows to `take`.
    pub fn new(take: T) -> Self {
        InOrder { take, width: 0, next: 0, end: 0, error: None }
    }

    fn pass(&mut self) -> Option<Pass> {
        let start = self.next;
        self.next = (start + PASS_CHUNKS * CHUNK).min(self.end);
        (start < self.end).then_some(Pass { rows: start..self.next, counted: true })
    }
}

impl<T: TakeRows> Sink for InOrder<T> {
    type Worker = ();
    type Chunk = Vec<f64>;
    type Output = std::io::Result<T::Output>;

    fn plan(&mut self, models: &[&Model], draws: Range<u64>, cfg: &RunConfig) -> Result<Pass, Error> {
        self.width = models[0].layout.len();
        self.end = draws.end - draws.start;
        self.take.plan(self.end, self.width, cfg)?;
        Ok(self.pass().unwrap_or(Pass { rows: 0..0, counted: true }))
    }

    fn worker(&self) {}

    fn start(&self, _w: &mut (), _c: u64, len: usize) -> Vec<f64> {
        vec![0.0; len * self.width]
    }

    fn buffer<'b>(
        &self,
        _w: &'b mut (),
        chunk: &'b mut Vec<f64>,
        _m: usize,
        at: usize,
        k: usize,
    ) -> &'b mut [f64] {
        debug_assert!(k <= BATCH);
        &mut chunk[at * self.width..(at + k) * self.width]
    }

    fn filled(&self, _w: &mut (), _chunk: &mut Vec<f64>, _at: usize, _k: usize) {}

    fn end(&self, _w: &mut (), _chunk: &mut Vec<f64>) {}

    fn pass_done(&mut self, chunks: Vec<Vec<f64>>, _workers: Vec<&mut ()>) -> Option<Pass> {
        for c in chunks {
            if let Err(e) = self.take.take(&c) {
                self.error = Some(e);
                return None;
            }
        }
        self.pass()
    }

    fn finish(self, diagnostics: Vec<Diagnostics>) -> std::io::Result<T::Output> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.take.finish(diagnostics.into_iter().next().unwrap_or_default())
    }
}

/// Rows written to `out` as little-endian f64 and hashed (a part's `rows.bin`).
pub struct Hashed<W> {
    out: W,
    hash: Sha256,
    bytes: u64,
    buf: Vec<u8>,
}

impl<W: Write + Send + Sync> Hashed<W> {
    /// Write to `out`.
    pub fn new(out: W) -> Self {
        Hashed { out, hash: Sha256::new(), bytes: 0, buf: Vec::new() }
    }
}

/// What [`Hashed`] wrote.
#[derive(Debug)]
pub struct Written {
    /// Bytes.
    pub bytes: u64,
    /// SHA-256, hex.
    pub sha256: String,
    /// The draws' diagnostics.
    pub diagnostics: Diagnostics,
}

impl<W: Write + Send + Sync> TakeRows for Hashed<W> {
    type Output = (Written, W);

    fn take(&mut self, rows: &[f64]) -> std::io::Result<()> {
        self.buf.clear();
        self.buf.extend(rows.iter().flat_map(|x| x.to_le_bytes()));
        self.hash.update(&self.buf);
        self.bytes += self.buf.len() as u64;
        self.out.write_all(&self.buf)
    }

    fn finish(mut self, diagnostics: Diagnostics) -> std::io::Result<(Written, W)> {
        self.out.flush()?;
        let written = Written { bytes: self.bytes, sha256: hex(&self.hash.finalize()), diagnostics };
        Ok((written, self.out))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The parts of one run, checked and ready to replay ([`Rows`]).
#[derive(Debug)]
pub struct Parts {
    /// The header every part shares (the first part's, range aside).
    pub header: Header,
    /// Each part, in draw order: its range, folder and open rows file.
    parts: Vec<(Range<u64>, PathBuf, std::fs::File)>,
    /// The parts' diagnostics, summed.
    pub diagnostics: Diagnostics,
}

/// An error about a part's file (exit 2).
fn bad(file: &Path, key: &str, message: impl Into<String>) -> InputError {
    InputError {
        file: file.display().to_string(),
        line: None,
        column: None,
        key: key.to_string(),
        message: message.into(),
        suggestion: None,
    }
}

/// Parse `partial.json` of a part (its name for messages: `file`).
pub fn parse_header(file: &Path, text: &str) -> Result<Header, InputErrors> {
    check_header(file, text).map_err(|e| InputErrors(vec![e]))
}

#[allow(clippy::result_large_err)]
fn check_header(file: &Path, text: &str) -> Result<Header, InputError> {
    let h: Header = serde_json::from_str(text).map_err(|e| {
        let mut err = bad(file, "", format!("not a partial run's header: {e}"));
        if e.line() > 0 {
            (err.line, err.column) = (Some(e.line()), Some(e.column()));
        }
        err
    })?;
    if h.format != FORMAT {
        return Err(bad(file, "format", format!("found `{}`; expected `{FORMAT}`", h.format)));
    }
    if h.version != VERSION {
        return Err(bad(
            file,
            "version",
            format!(
                "format version {} (this engine reads version {VERSION}); merge with the engine that wrote the parts",
                h.version
            ),
        ));
    }
    let [a, b] = h.range;
    if a >= b || b > h.draws {
        return Err(bad(file, "range", format!("[{a}, {b}) is not a range of draws inside 0..{}", h.draws)));
    }
    let expected = (h.row_len as u64).checked_mul(8).and_then(|x| x.checked_mul(b - a));
    if expected != Some(h.rows_bytes) || h.row_len == 0 {
        return Err(bad(
            file,
            "rows_bytes",
            format!("{} bytes for {} draws of {} values", h.rows_bytes, b - a, h.row_len),
        ));
    }
    if h.rows_sha256.len() != 64 || !h.rows_sha256.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad(file, "rows_sha256", "expected 64 hexadecimal digits"));
    }
    if h.diagnostics.len() != crate::diagnostics::DIAGS.len() {
        return Err(bad(
            file,
            "diagnostics",
            format!("{} counts; expected {}", h.diagnostics.len(), crate::diagnostics::DIAGS.len()),
        ));
    }
    Ok(h)
}

impl Parts {
    /// Open the part folders `dirs` (any order): each header parsed and checked against the
    /// first's (the same run), the ranges disjoint and covering 0..N, each rows file's size and
    /// SHA-256 checked. Every problem is an input error naming the file.
    pub fn open(dirs: &[PathBuf]) -> Result<Parts, InputErrors> {
        let mut read = Vec::new();
        let mut errors = Vec::new();
        for dir in dirs {
            let file = dir.join(HEADER);
            match std::fs::read_to_string(&file) {
                Err(e) => {
                    errors.push(bad(&file, "", format!("cannot read it ({e}): not a partial run's folder?")))
                }
                Ok(text) => match parse_header(&file, &text) {
                    Ok(h) => read.push((h, dir.clone())),
                    Err(e) => errors.extend(e.0),
                },
            }
        }
        if !errors.is_empty() {
            return Err(InputErrors(errors));
        }
        let Some((first, first_dir)) = read.first().cloned() else {
            return Err(InputErrors(vec![bad(Path::new("merge"), "", "no part given")]));
        };
        // The same run: everything but the range and what the draws gave.
        for (h, dir) in &read[1..] {
            let file = dir.join(HEADER);
            let fields: [(&str, String, String); 7] = [
                ("engine", h.engine.clone(), first.engine.clone()),
                ("scenario.sha256", h.scenario.sha256.clone(), first.scenario.sha256.clone()),
                ("region.sha256", h.region.sha256.clone(), first.region.sha256.clone()),
                ("seed", h.seed.to_string(), first.seed.to_string()),
                ("draws", h.draws.to_string(), first.draws.to_string()),
                ("row_len", h.row_len.to_string(), first.row_len.to_string()),
                ("scenario.path", h.scenario.path.clone(), first.scenario.path.clone()),
            ];
            for (key, here, there) in fields {
                if here != there {
                    errors.push(bad(
                        &file,
                        key,
                        format!(
                            "`{here}`, but {} has `{there}`: the parts are not of one run",
                            first_dir.join(HEADER).display()
                        ),
                    ));
                }
            }
        }
        if !errors.is_empty() {
            return Err(InputErrors(errors));
        }
        read.sort_by_key(|(h, _)| h.range);
        // Disjoint and covering 0..N: name every gap and every overlap.
        let mut at = 0u64;
        let mut last: Option<&PathBuf> = None;
        for (h, dir) in &read {
            let r = h.range();
            if r.start > at {
                errors.push(bad(
                    &dir.join(HEADER),
                    "range",
                    format!(
                        "draws {at}..{} are in no part (a gap before this part's {}..{})",
                        r.start, r.start, r.end
                    ),
                ));
            } else if r.start < at {
                errors.push(bad(
                    &dir.join(HEADER),
                    "range",
                    format!(
                        "draws {}..{} are in two parts: this one ({}..{}) and {}",
                        r.start,
                        at.min(r.end),
                        r.start,
                        r.end,
                        last.map_or(String::new(), |d| d.display().to_string())
                    ),
                ));
            }
            at = at.max(r.end);
            last = Some(dir);
        }
        if at < first.draws {
            let dir = &read.last().expect("a part").1;
            errors.push(bad(
                &dir.join(HEADER),
                "range",
                format!("draws {at}..{} are in no part (the run has {} draws)", first.draws, first.draws),
            ));
        }
        if !errors.is_empty() {
            return Err(InputErrors(errors));
        }
        // Each rows file: its size, then its checksum.
        let mut parts = Vec::new();
        let mut diagnostics = Diagnostics::default();
        for (h, dir) in &read {
            let path = dir.join(ROWS);
            match check_rows(&path, h) {
                Ok(f) => parts.push((h.range(), dir.clone(), f)),
                Err(e) => errors.push(e),
            }
            for (d, x) in diagnostics.0.iter_mut().zip(&h.diagnostics) {
                *d += x;
            }
        }
        if !errors.is_empty() {
            return Err(InputErrors(errors));
        }
        let mut header = first;
        header.range = [0, header.draws];
        Ok(Parts { header, parts, diagnostics })
    }

    /// How many parts.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    /// Whether there is no part (never, once opened).
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Each part's folder and range, in draw order.
    pub fn ranges(&self) -> Vec<(PathBuf, Range<u64>)> {
        self.parts.iter().map(|(r, d, _)| (d.clone(), r.clone())).collect()
    }
}

/// Open a part's rows file, checking its size and SHA-256 against its header.
#[allow(clippy::result_large_err)]
fn check_rows(path: &Path, h: &Header) -> Result<std::fs::File, InputError> {
    use std::io::Read;
    let rerun = format!(
        "rerun draws {}..{} (run --draw-range {}..{} --partial)",
        h.range[0], h.range[1], h.range[0], h.range[1]
    );
    let mut f =
        std::fs::File::open(path).map_err(|e| bad(path, "", format!("cannot open it ({e}); {rerun}")))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len != h.rows_bytes {
        return Err(bad(
            path,
            "rows_bytes",
            format!(
                "{len} bytes where the header says {} (truncated or not this part's); {rerun}",
                h.rows_bytes
            ),
        ));
    }
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| bad(path, "", format!("cannot read it ({e}); {rerun}")))?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    if hex(&hash.finalize()) != h.rows_sha256 {
        return Err(bad(
            path,
            "rows_sha256",
            format!("the checksum does not match (the file is corrupted or changed); {rerun}"),
        ));
    }
    Ok(f)
}

impl Rows for Parts {
    fn row(&self, _m: usize, draw: u64, out: &mut [f64]) -> Result<(), ModelError> {
        use std::os::unix::fs::FileExt;
        let at = self.parts.partition_point(|(r, _, _)| r.end <= draw);
        let Some((r, _, f)) = self.parts.get(at).filter(|(r, _, _)| r.contains(&draw)) else {
            return Err(ModelError::Replay { draw, message: "in no part".into() });
        };
        let width = self.header.row_len;
        if out.len() != width {
            return Err(ModelError::Replay {
                draw,
                message: format!("{width} values a row, not {}", out.len()),
            });
        }
        let mut bytes = vec![0u8; width * 8];
        f.read_exact_at(&mut bytes, (draw - r.start) * width as u64 * 8)
            .map_err(|e| ModelError::Replay { draw, message: format!("cannot read its row: {e}") })?;
        for (x, b) in out.iter_mut().zip(bytes.chunks_exact(8)) {
            *x = f64::from_le_bytes(b.try_into().expect("8 bytes"));
        }
        Ok(())
    }
}
