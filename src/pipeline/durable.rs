//! Durable files (CONTRACT.md "Output folder"): a file is written under a temporary name, fsynced,
//! renamed, and its directory fsynced, so that a crash never leaves half a file under its final
//! name and an ACK never precedes durable files.
//!
//! Temporary files are hidden (`.dmpfeed-tmp-…`), so that nothing picking up outputs mistakes one
//! for an output, and are removed when the output folder is next opened.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

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
/// the open file is returned for a [`Syncer`] to make durable in the background (fsyncing the
/// handle written through, not the path opened again: one `open` and one `close` less per file).
pub fn write_new(path: &Path, bytes: &[u8]) -> io::Result<File> {
    let mut f = OpenOptions::new().write(true).create_new(true).open(path)?;
    f.write_all(bytes)?;
    Ok(f)
}

/// Threads of a [`Syncer`]: they wait on the disk, not the CPU. File systems commit concurrent
/// fsyncs together, and the device queue takes several writes at once.
pub const SYNC_THREADS: usize = 16;

/// Fsyncs files in the background, several at once, from the moment they are written: a file
/// is usually on disk by the time its message's turn to be committed comes, and the committer
/// only collects the results ([`Pending::wait`]). The threads live as long as the `Syncer` and
/// are reused (no thread started per file or per group).
#[derive(Debug)]
pub struct Syncer {
    jobs: Option<crossbeam_channel::Sender<(Job, Arc<Ticket>)>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    /// Files queued with their open handle.
    open: Arc<AtomicUsize>,
}

/// Most files queued with their open handle; beyond, a file is closed and queued by its path
/// (opened again to be fsynced), so that a slow disk never runs the process out of file
/// descriptors (1,024 by default on Linux).
const MAX_OPEN: usize = 128;

/// A file to fsync: the handle it was written through, or its path.
#[derive(Debug)]
enum Job {
    Open(File),
    Path(PathBuf),
}

/// The fsync of one file, submitted to a [`Syncer`] (clones wait for the same fsync).
#[derive(Debug, Clone)]
pub struct Pending(Arc<Ticket>);

#[derive(Debug, Default)]
struct Ticket {
    /// `io::Error` is not `Clone`: its kind and text are kept.
    result: Mutex<Option<Result<(), (io::ErrorKind, String)>>>,
    ready: Condvar,
}

impl Syncer {
    pub fn new(threads: usize) -> io::Result<Syncer> {
        let (tx, rx) = crossbeam_channel::unbounded::<(Job, Arc<Ticket>)>();
        let mut syncer = Syncer {
            jobs: Some(tx),
            threads: Vec::new(),
            open: Arc::new(AtomicUsize::new(0)),
        };
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let open = Arc::clone(&syncer.open);
            let handle = std::thread::Builder::new()
                .name(format!("dmpfeed-fsync-{i}"))
                .stack_size(64 * 1024)
                .spawn(move || {
                    for (job, ticket) in rx {
                        let r = match job {
                            Job::Open(file) => {
                                let r = file.sync_all();
                                // Closed once durable.
                                drop(file);
                                open.fetch_sub(1, Ordering::Relaxed);
                                r
                            }
                            Job::Path(path) => File::open(&path).and_then(|f| f.sync_all()),
                        };
                        ticket.set(r.map_err(|e| (e.kind(), e.to_string())));
                    }
                })?;
            syncer.threads.push(handle);
        }
        Ok(syncer)
    }

    /// Starts the fsync of `file`, written at `path` (as [`write_new`] returns it), and
    /// closes it.
    pub fn submit(&self, file: File, path: &Path) -> Pending {
        let ticket = Arc::new(Ticket::default());
        let job = if self.open.fetch_add(1, Ordering::Relaxed) < MAX_OPEN {
            Job::Open(file)
        } else {
            self.open.fetch_sub(1, Ordering::Relaxed);
            drop(file);
            Job::Path(path.to_owned())
        };
        let sent = self
            .jobs
            .as_ref()
            .is_some_and(|jobs| jobs.send((job, Arc::clone(&ticket))).is_ok());
        if !sent {
            ticket.set(Err((
                io::ErrorKind::Other,
                "the fsync threads are gone".into(),
            )));
        }
        Pending(ticket)
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        // Closing the queue ends the threads once the fsyncs submitted are done.
        self.jobs = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Ticket {
    fn set(&self, r: Result<(), (io::ErrorKind, String)>) {
        let mut slot = self.result.lock().unwrap_or_else(|p| p.into_inner());
        *slot = Some(r);
        self.ready.notify_all();
    }
}

impl Pending {
    /// Waits until the file is durable; the fsync's error if it failed.
    pub fn wait(&self) -> io::Result<()> {
        let mut slot = self.0.result.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match &*slot {
                Some(Ok(())) => return Ok(()),
                Some(Err((kind, text))) => return Err(io::Error::new(*kind, text.clone())),
                None => slot = self.0.ready.wait(slot).unwrap_or_else(|p| p.into_inner()),
            }
        }
    }
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
    fn files_written_then_synced_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let temps = TempNames::default();
        let syncer = Syncer::new(4).unwrap();
        let paths: Vec<PathBuf> = (0..40).map(|_| temps.next_in(dir.path())).collect();
        let pending: Vec<Pending> = paths
            .iter()
            .enumerate()
            .map(|(i, p)| syncer.submit(write_new(p, format!("{i}").as_bytes()).unwrap(), p))
            .collect();
        for p in &pending {
            p.wait().unwrap();
            p.wait().unwrap(); // the result stays
        }
        assert_eq!(std::fs::read(&paths[39]).unwrap(), b"39");
        // A handle that cannot be fsynced (a pipe: EINVAL) gives its error to the waiter.
        let (reader, _writer) = std::io::pipe().unwrap();
        let pipe = File::from(std::os::fd::OwnedFd::from(reader));
        assert!(syncer.submit(pipe, &paths[0]).wait().is_err());
        drop(syncer); // joins its threads
    }

    #[test]
    fn beyond_max_open_files_are_queued_by_path_and_closed() {
        let dir = tempfile::tempdir().unwrap();
        let temps = TempNames::default();
        let syncer = Syncer::new(2).unwrap();
        // Under the cap: the handle goes to the queue, and is counted until fsynced.
        let p = temps.next_in(dir.path());
        syncer
            .submit(write_new(&p, b"1").unwrap(), &p)
            .wait()
            .unwrap();
        assert_eq!(syncer.open.load(Ordering::Relaxed), 0);
        // At the cap (a slow disk): the file is queued by its path, opened again to be
        // fsynced. Removed meanwhile, its error reaches the waiter.
        syncer.open.store(MAX_OPEN, Ordering::Relaxed);
        let q = temps.next_in(dir.path());
        syncer
            .submit(write_new(&q, b"2").unwrap(), &q)
            .wait()
            .unwrap();
        let gone = temps.next_in(dir.path());
        let f = write_new(&gone, b"3").unwrap();
        std::fs::remove_file(&gone).unwrap();
        let e = syncer.submit(f, &gone).wait().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert_eq!(syncer.open.load(Ordering::Relaxed), MAX_OPEN);
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
