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

/// Unique temporary names within one process: `.dmpfeed-tmp-PID-N`.
#[derive(Debug)]
pub struct TempNames {
    /// Read once: `std::process::id` is a system call, and this runs for every file.
    pid: u32,
    next: AtomicU64,
}

impl Default for TempNames {
    fn default() -> TempNames {
        TempNames {
            pid: std::process::id(),
            next: AtomicU64::new(0),
        }
    }
}

impl TempNames {
    /// A fresh temporary path in `dir`.
    pub fn next_in(&self, dir: &Path) -> PathBuf {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        dir.join(format!("{TEMP_PREFIX}{}-{n}", self.pid))
    }
}

/// Creates `path` (which must not exist), writes `bytes` and fsyncs the file.
pub fn write_new_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new().write(true).create_new(true).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// [`write_new`] of `path`, a file of the folder open as `dir`: created relative to it, so that
/// the kernel does not walk the whole path again for each of thousands of files.
pub fn write_new_in(dir: &File, path: &Path, bytes: &[u8]) -> io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    let Some(name) = path.file_name() else {
        return write_new(path, bytes);
    };
    // As `OpenOptions::create_new`: O_EXCL (a planted link is never followed), mode 0666
    // less the umask, close-on-exec.
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o666),
    )?;
    let mut f = File::from(fd);
    f.write_all(bytes)?;
    Ok(f)
}

/// Creates `path` (which must not exist) and writes `bytes`, without waiting for the disk:
/// the open file is returned for a [`super::sync::Syncer`] to make durable (fsyncing the
/// handle written through, not the path opened again: one `open` and one `close` less per file).
pub fn write_new(path: &Path, bytes: &[u8]) -> io::Result<File> {
    let mut f = OpenOptions::new().write(true).create_new(true).open(path)?;
    f.write_all(bytes)?;
    Ok(f)
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
    fn write_new_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        write_new_synced(&p, b"1").unwrap();
        assert!(write_new_synced(&p, b"2").is_err());
        let folder = File::open(dir.path()).unwrap();
        assert!(write_new_in(&folder, &p, b"3").is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"1");
    }

    #[test]
    fn write_new_in_creates_in_the_folder_and_never_follows_a_planted_link() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("documents");
        std::fs::create_dir(&sub).unwrap();
        let folder = File::open(&sub).unwrap();
        write_new_in(&folder, &sub.join("a.xml"), b"cda").unwrap();
        assert_eq!(std::fs::read(sub.join("a.xml")).unwrap(), b"cda");
        let outside = dir.path().join("outside");
        std::os::unix::fs::symlink(&outside, sub.join("b.xml")).unwrap();
        assert!(write_new_in(&folder, &sub.join("b.xml"), b"x").is_err());
        assert!(!outside.exists());
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
