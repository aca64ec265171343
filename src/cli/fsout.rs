//! Crash-safe output: every file of a run is written into a staging folder next to the output
//! folder, which then replaces the old output folder by renames, so that no reader ever sees a
//! half-written file or a folder that mixes two runs.

use anyhow::{Context, Result};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A staging folder that becomes the output folder on [`Staging::commit`] and is removed if
/// dropped before.
pub struct Staging {
    dir: PathBuf,
    target: PathBuf,
    /// The files [`Staging::write`] wrote, to be flushed to the disk before the commit.
    written: std::cell::RefCell<Vec<PathBuf>>,
    done: bool,
}

impl Staging {
    /// Create a staging folder for `target`.
    pub fn new(target: &Path) -> Result<Staging> {
        let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        let name = target.file_name().map_or("out".into(), |n| n.to_string_lossy().into_owned());
        let dir = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Staging { dir, target: target.to_path_buf(), written: Default::default(), done: false })
    }

    /// The path of a file inside the staging folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Write a file with optional byte-order mark (made durable by [`Staging::commit`]).
    pub fn write(&self, name: &str, text: &str, bom: bool) -> Result<()> {
        let path = self.path(name);
        let mut f = fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        if bom {
            f.write_all(minxinan::output::BOM.as_bytes())?;
        }
        f.write_all(text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
        self.written.borrow_mut().push(path);
        Ok(())
    }

    /// Flush the files [`Staging::write`] wrote to the disk, a few at a time on threads of their
    /// own: the filesystem then commits them together, where one after the other each would wait
    /// for its own commit. Best effort, as a filesystem may not support it.
    fn sync_files(&self) {
        let files = self.written.take();
        const THREADS: usize = 8;
        std::thread::scope(|s| {
            for share in files.chunks(files.len().div_ceil(THREADS).max(1)) {
                s.spawn(move || {
                    for path in share {
                        if let Ok(f) = fs::File::open(path) {
                            f.sync_all().ok();
                        }
                    }
                });
            }
        });
    }

    /// Replace the output folder with the staging folder, its files on the disk first.
    pub fn commit(mut self) -> Result<()> {
        self.sync_files();
        let old = self.dir.with_extension("old");
        if self.target.exists() {
            fs::rename(&self.target, &old)
                .with_context(|| format!("cannot move the old {} aside", self.target.display()))?;
        }
        if let Err(e) = fs::rename(&self.dir, &self.target) {
            if old.exists() {
                let _ = fs::rename(&old, &self.target);
            }
            return Err(e).with_context(|| format!("cannot move the results into {}", self.target.display()));
        }
        let _ = fs::remove_dir_all(&old);
        self.done = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Write one file atomically (temporary name, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}
