//! Durable files (CONTRACT.md "Output folder"): a file is written under a temporary name, fsynced,
//! renamed, and its directory fsynced, so that a crash never leaves half a file under its final
//! name and an ACK never precedes durable files.
//!
//! Temporary files are hidden (`.dmpfeed-tmp-…`), so that nothing picking up outputs mistakes one
//! for an output, and are removed when the output folder is next opened.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Prefix of every temporary file.
pub const TEMP_PREFIX: &str = ".dmpfeed-tmp-";

/// Unique temporary names within one process.
#[derive(Debug, Default)]
pub struct TempNames {
    next: AtomicU64,
}

impl TempNames {
    /// A fresh temporary path in `dir`.
    pub fn next_in(&self, dir: &Path) -> PathBuf {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        dir.join(format!("{TEMP_PREFIX}{}-{n}", std::process::id()))
    }
}

/// Creates `path` (which must not exist), writes `bytes` and fsyncs the file.
pub fn write_new_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new().write(true).create_new(true).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Creates `path` (which must not exist) and writes `bytes`, without waiting for the disk:
/// [`sync_files`] makes a group of such files durable at once.
pub fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new().write(true).create_new(true).open(path)?;
    f.write_all(bytes)
}

/// Most threads waiting on fsyncs together (they wait on the disk, not the CPU).
const SYNC_THREADS: usize = 16;

/// Fsyncs files written by [`write_new`], several at once: file systems with a journal commit
/// concurrent fsyncs together, so a group costs about one commit instead of one per file.
pub fn sync_files(paths: &[&Path]) -> io::Result<()> {
    let sync = |p: &Path| File::open(p).and_then(|f| f.sync_all());
    if paths.len() <= 1 {
        return paths.iter().try_for_each(|p| sync(p));
    }
    let per_thread = paths.len().div_ceil(SYNC_THREADS);
    std::thread::scope(|s| {
        let handles: Vec<_> = paths
            .chunks(per_thread)
            .map(|chunk| s.spawn(move || chunk.iter().try_for_each(|p| sync(p))))
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .unwrap_or_else(|_| Err(io::Error::other("a sync thread panicked")))
        })
    })
}

/// Fsyncs a directory, so that the names created or renamed in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `dir/name` durably in one go: temporary file, fsync, rename, fsync of `dir`.
pub fn replace_file(dir: &Path, name: &str, bytes: &[u8], temps: &TempNames) -> io::Result<()> {
    let tmp = temps.next_in(dir);
    if let Err(e) = write_new_synced(&tmp, bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Err(e) = std::fs::rename(&tmp, dir.join(name)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)
}

/// Removes the temporary files a crashed run left in `dir`; returns how many.
pub fn remove_stale_temps(dir: &Path) -> io::Result<usize> {
    let mut n = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            std::fs::remove_file(entry.path())?;
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_file_leaves_only_the_final_file() {
        let dir = tempfile::tempdir().unwrap();
        let temps = TempNames::default();
        replace_file(dir.path(), "a.json", b"one", &temps).unwrap();
        replace_file(dir.path(), "a.json", b"two", &temps).unwrap();
        assert_eq!(std::fs::read(dir.path().join("a.json")).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn files_written_then_synced_together() {
        let dir = tempfile::tempdir().unwrap();
        let temps = TempNames::default();
        let paths: Vec<PathBuf> = (0..40).map(|_| temps.next_in(dir.path())).collect();
        for (i, p) in paths.iter().enumerate() {
            write_new(p, format!("{i}").as_bytes()).unwrap();
        }
        let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
        sync_files(&refs).unwrap();
        assert_eq!(std::fs::read(&paths[39]).unwrap(), b"39");
        let missing = dir.path().join("missing");
        assert!(sync_files(&[&paths[0], &missing]).is_err());
    }

    #[test]
    fn write_new_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        write_new_synced(&p, b"1").unwrap();
        assert!(write_new_synced(&p, b"2").is_err());
    }

    #[test]
    fn stale_temps_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let temps = TempNames::default();
        write_new_synced(&temps.next_in(dir.path()), b"half").unwrap();
        std::fs::write(dir.path().join("keep.xml"), b"x").unwrap();
        assert_eq!(remove_stale_temps(dir.path()).unwrap(), 1);
        assert!(dir.path().join("keep.xml").exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
