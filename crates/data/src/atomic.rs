//! Atomic writes, the one scheme every writer of the workspace uses: a file or folder is
//! written under a temporary sibling name and renamed over its target only when complete,
//! so a reader (or a resumed run) sees either the old content or the new, never half.
//!
//! - Files: [`TempFile`] names `.<name>.tmp-<pid>-<counter>` beside the target (unique per
//!   process and call, so concurrent writers never share one), removed when dropped
//!   unpersisted; [`write`] and [`write_with`] are the common "bytes in" / "writer in" cases.
//! - Folders: [`TempDir`] builds `.<name>.partial-<pid>` beside the target; [`TempDir::persist`]
//!   replaces an existing target through a `.<name>.old-<pid>` sibling, putting the old one
//!   back if the final rename fails.
//!
//! A rename within one folder is atomic on POSIX file systems (`rename(2)`); the folder is
//! synced afterwards where the platform allows (best effort).
//!
//! Errors are [`AtomicError`]s naming the path at fault; each crate maps them into its own
//! error type.
//!
//! ```
//! use twinscan_data::atomic;
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("plan.json");
//! atomic::write(&path, b"{}", true)?;
//! assert_eq!(std::fs::read(&path)?, b"{}");
//! assert_eq!(std::fs::read_dir(dir.path())?.count(), 1); // no temporary left
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// An I/O failure of an atomic write, naming the file or folder at fault.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct AtomicError {
    /// The file or folder (the temporary one when writing into it failed, the target when
    /// moving into place failed).
    pub path: PathBuf,
    /// The underlying I/O error.
    #[source]
    pub source: std::io::Error,
}

fn at(path: &Path) -> impl FnOnce(std::io::Error) -> AtomicError + '_ {
    move |source| AtomicError {
        path: path.to_path_buf(),
        source,
    }
}

/// The target's parent folder (`.` for a bare name) and file name.
fn split(target: &Path) -> Result<(PathBuf, String), AtomicError> {
    let name = target.file_name().ok_or_else(|| AtomicError {
        path: target.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path has no name"),
    })?;
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((parent, name.to_string_lossy().into_owned()))
}

/// Syncs a folder's entry table (after a rename). Best effort: not supported everywhere.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A temporary file beside a target, renamed over it by [`persist`](Self::persist) and
/// removed when dropped otherwise. Creating one creates no file: the writer does.
#[derive(Debug)]
pub struct TempFile {
    tmp: PathBuf,
    target: PathBuf,
    armed: bool,
}

impl TempFile {
    /// A temporary name `.<name>.tmp-<pid>-<counter>` beside `target`.
    ///
    /// # Errors
    /// `target` has no file name.
    pub fn new(target: &Path) -> Result<Self, AtomicError> {
        let (parent, name) = split(target)?;
        let tmp = parent.join(format!(".{name}.tmp-{}-{}", std::process::id(), counter()));
        Ok(Self::at(tmp, target))
    }

    /// As [`new`](Self::new), for writers that choose the format by the file's extension
    /// (plotters' bitmap backend, nifti-rs, which rewrites the name's last extension): the
    /// name is `.<name>-tmp-<pid>-<counter>.<ext>`, the target name's dots replaced by `_`,
    /// so that `ext` (e.g. `png`, `nii.gz`) holds its only dots.
    ///
    /// # Errors
    /// `target` has no file name.
    pub fn with_extension(target: &Path, ext: &str) -> Result<Self, AtomicError> {
        let (parent, name) = split(target)?;
        let name = name.replace('.', "_");
        let tmp = parent.join(format!(
            ".{name}-tmp-{}-{}.{ext}",
            std::process::id(),
            counter()
        ));
        Ok(Self::at(tmp, target))
    }

    fn at(tmp: PathBuf, target: &Path) -> Self {
        Self {
            tmp,
            target: target.to_path_buf(),
            armed: true,
        }
    }

    /// The temporary path to write.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Renames the temporary file over the target (removing it if that fails).
    ///
    /// # Errors
    /// The rename failed (the error names the target).
    pub fn persist(mut self) -> Result<(), AtomicError> {
        fs::rename(&self.tmp, &self.target).map_err(at(&self.target))?;
        self.armed = false;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

fn counter() -> u64 {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    CALLS.fetch_add(1, Ordering::Relaxed)
}

/// Writes `bytes` to `path` atomically, synced to disk first when `sync`.
///
/// # Errors
/// [`AtomicError`] naming the temporary file (writing) or `path` (renaming).
pub fn write(path: &Path, bytes: impl AsRef<[u8]>, sync: bool) -> Result<(), AtomicError> {
    write_with(
        path,
        sync,
        |w| w.write_all(bytes.as_ref()).map_err(at(path)),
        |e| e,
    )
}

/// Writes `path` atomically through a buffered writer: `fill` writes into a temporary
/// sibling, which is flushed (and synced when `sync`) and renamed over `path` only when
/// `fill` succeeded; otherwise it is removed. `err` maps this module's I/O errors into the
/// caller's error type.
///
/// # Errors
/// Whatever `fill` returns, or `err` of an [`AtomicError`] (creating, flushing, syncing or
/// renaming).
pub fn write_with<E>(
    path: &Path,
    sync: bool,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<(), E>,
    err: impl Fn(AtomicError) -> E,
) -> Result<(), E> {
    let tmp = TempFile::new(path).map_err(&err)?;
    let file = File::create(tmp.path())
        .map_err(at(tmp.path()))
        .map_err(&err)?;
    let mut w = BufWriter::new(file);
    fill(&mut w)?;
    let file = w
        .into_inner()
        .map_err(|e| e.into_error())
        .map_err(at(tmp.path()))
        .map_err(&err)?;
    if sync {
        file.sync_all().map_err(at(tmp.path())).map_err(&err)?;
    }
    drop(file);
    tmp.persist().map_err(err)
}

/// A temporary folder beside a target folder, moved over it by [`persist`](Self::persist)
/// and removed (with its content) when dropped otherwise.
#[derive(Debug)]
pub struct TempDir {
    tmp: PathBuf,
    target: PathBuf,
    armed: bool,
}

impl TempDir {
    /// Creates `.<name>.partial-<pid>` beside `target` (and the parent folder if missing),
    /// empty: a leftover of the same name (this process, an earlier attempt) is removed first.
    ///
    /// # Errors
    /// `target` has no name, or the folder cannot be created.
    pub fn create(target: &Path) -> Result<Self, AtomicError> {
        let tmp = Self::partial_name(target)?;
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(at(&tmp))?;
        }
        fs::create_dir_all(&tmp).map_err(at(&tmp))?;
        Ok(Self {
            tmp,
            target: target.to_path_buf(),
            armed: true,
        })
    }

    /// The folder [`create`](Self::create) makes for `target` in this process.
    ///
    /// # Errors
    /// `target` has no name.
    pub fn partial_name(target: &Path) -> Result<PathBuf, AtomicError> {
        let (parent, name) = split(target)?;
        Ok(parent.join(format!(".{name}.partial-{}", std::process::id())))
    }

    /// The temporary folder to write into.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Moves the folder over the target. An existing target is first renamed to
    /// `.<name>.old-<pid>` and removed once the new folder is in place; if the final rename
    /// fails it is put back rather than lost.
    ///
    /// # Errors
    /// A rename failed (the error names the target).
    pub fn persist(mut self) -> Result<(), AtomicError> {
        let (parent, name) = split(&self.target)?;
        let old = parent.join(format!(".{name}.old-{}", std::process::id()));
        let had_old = self.target.exists();
        if had_old {
            if old.exists() {
                fs::remove_dir_all(&old).map_err(at(&old))?;
            }
            fs::rename(&self.target, &old).map_err(at(&self.target))?;
        }
        if let Err(e) = fs::rename(&self.tmp, &self.target) {
            if had_old {
                let _ = fs::rename(&old, &self.target);
            }
            return Err(at(&self.target)(e));
        }
        self.armed = false;
        if had_old {
            let _ = fs::remove_dir_all(&old);
        }
        sync_dir(&parent);
        Ok(())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn failed_fill_keeps_the_old_file_and_removes_the_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        fs::write(&path, "old").unwrap();
        let res: Result<(), String> = write_with(
            &path,
            true,
            |w| {
                w.write_all(b"half").unwrap();
                Err("interrupted".into())
            },
            |e| e.to_string(),
        );
        assert_eq!(res.unwrap_err(), "interrupted");
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(names(dir.path()), ["a.csv"]);
        write(&path, "new", false).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(names(dir.path()), ["a.csv"]);
    }

    #[test]
    fn temporary_names_are_unique_and_keep_the_extension() {
        let a = TempFile::new(Path::new("x/a.json")).unwrap();
        let b = TempFile::new(Path::new("x/a.json")).unwrap();
        assert_ne!(a.path(), b.path());
        let pid = std::process::id();
        let name = a.path().file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with(&format!(".a.json.tmp-{pid}-")), "{name}");
        let n = TempFile::with_extension(Path::new("ct.1.nii.gz"), "nii.gz").unwrap();
        let name = n.path().to_string_lossy().into_owned();
        assert!(name.starts_with("./.ct_1_nii_gz-tmp-"), "{name}");
        assert!(
            name.ends_with(".nii.gz") && name.matches('.').count() == 4,
            "{name}"
        );
        assert!(TempFile::new(Path::new("/")).is_err());
    }

    #[test]
    fn folder_replaces_the_old_one_or_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        fs::create_dir(&out).unwrap();
        fs::write(out.join("old.txt"), "old").unwrap();
        {
            let t = TempDir::create(&out).unwrap();
            fs::write(t.path().join("new.txt"), "new").unwrap();
            // Dropped without persisting: the old folder stays, the temporary goes.
        }
        assert_eq!(names(dir.path()), ["out"]);
        assert_eq!(names(&out), ["old.txt"]);
        let t = TempDir::create(&out).unwrap();
        fs::write(t.path().join("new.txt"), "new").unwrap();
        t.persist().unwrap();
        assert_eq!(names(dir.path()), ["out"]);
        assert_eq!(names(&out), ["new.txt"]);
    }
}
