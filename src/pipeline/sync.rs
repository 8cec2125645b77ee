//! Making the staged files durable before their group commits (`[output] sync`,
//! docs/pipeline.md "Durability"). Two ways, the same guarantee — every file of a group is on
//! disk before it is renamed, and every rename before the registry commits:
//!
//! * **`file`**: each file is fsynced on its own as soon as it is written, by a pool of threads
//!   (several at once, so that the file system commits them together), and each folder where a
//!   group renamed files is fsynced after the renames.
//! * **`filesystem`**: nothing per file. The commit of a group calls `syncfs(2)` once before its
//!   renames — one write-back of every file written so far, this group's and the ones the workers
//!   staged meanwhile — and once after them. On ext4 a durable text document costs a quarter less
//!   CPU this way than with an fsync per file (docs/performance.md). Since Linux
//!   5.8, `syncfs` reports a write-back error of the file system that happened since the
//!   descriptor was opened (syncfs(2), ERRORS; kernel commit 735e4ae5ba28 "vfs: track per-sb
//!   writeback errors and report them to syncfs"), so no error is lost; before 5.8 it reported
//!   none, and this way is refused. Its cost: it also writes back whatever other programs left
//!   dirty on the same file system.
//! * **`auto`** (the default): `filesystem` when the output folder and its subfolders are on one
//!   file system of a type known to write back and report errors this way (ext2/3/4, XFS, Btrfs,
//!   F2FS, tmpfs) on Linux 5.8 or later; `file` otherwise (NFS, FUSE, other kernels and systems).

use serde::Deserialize;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// `[output] sync` in the configuration.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SyncSetting {
    #[default]
    Auto,
    File,
    FileSystem,
}

/// How a [`Syncer`] makes files durable, once `auto` is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// One fsync per file (in the background) and per folder touched.
    File,
    /// One `syncfs` per group before the renames, one after.
    FileSystem,
}

/// What the choice depends on, gathered by [`Facts::of`] (kept apart, so that the choice itself
/// is a plain function, tested for every case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The running kernel's version (major, minor); `None` off Linux.
    pub kernel: Option<(u32, u32)>,
    /// The file system's type (`statfs` `f_type`); `None` when it cannot be read.
    pub fs_type: Option<u32>,
    /// True when every folder is on the output folder's device (a mount point inside the
    /// output folder would escape its `syncfs`).
    pub one_device: bool,
}

/// File systems whose `syncfs` writes back every dirty file and reports the errors
/// (linux/magic.h): ext2/3/4 (one magic), XFS, Btrfs, F2FS, tmpfs (nothing to write back).
const KNOWN_FILE_SYSTEMS: [(u32, &str); 5] = [
    (0xEF53, "ext4"),
    (0x5846_5342, "xfs"),
    (0x9123_683E, "btrfs"),
    (0xF2F5_2010, "f2fs"),
    (0x0102_1994, "tmpfs"),
];

/// The first kernel whose `syncfs` reports write-back errors.
const SYNCFS_REPORTS_ERRORS: (u32, u32) = (5, 8);

/// The way to use for `setting`, and why (for the log); an error when `filesystem` was asked
/// for where it would not be safe.
pub fn choose(setting: SyncSetting, facts: &Facts) -> Result<(Way, String), String> {
    let known = facts.fs_type.and_then(|t| {
        KNOWN_FILE_SYSTEMS
            .iter()
            .find(|(magic, _)| *magic == t)
            .map(|(_, name)| *name)
    });
    let reports_errors = facts.kernel.is_some_and(|k| k >= SYNCFS_REPORTS_ERRORS);
    let kernel = match facts.kernel {
        Some((major, minor)) => format!("Linux {major}.{minor}"),
        None => "not Linux".to_owned(),
    };
    match setting {
        SyncSetting::File => Ok((Way::File, "output.sync = \"file\"".to_owned())),
        SyncSetting::FileSystem if !reports_errors => Err(format!(
            "output.sync = \"filesystem\" needs Linux 5.8 or later, whose syncfs reports write \
             errors ({kernel} here); use \"file\" or \"auto\""
        )),
        SyncSetting::FileSystem if !facts.one_device => Err(
            "output.sync = \"filesystem\": a folder of the output folder is on another file \
             system, which one syncfs would not write back; use \"file\" or \"auto\""
                .to_owned(),
        ),
        SyncSetting::FileSystem => Ok((Way::FileSystem, "output.sync = \"filesystem\"".to_owned())),
        SyncSetting::Auto => Ok(match known {
            Some(name) if reports_errors && facts.one_device => (
                Way::FileSystem,
                format!("output.sync = \"auto\": {name} on {kernel}"),
            ),
            Some(name) if reports_errors => (
                Way::File,
                format!("output.sync = \"auto\": {name}, but a folder is on another file system"),
            ),
            Some(name) => (
                Way::File,
                format!("output.sync = \"auto\": {name} on {kernel}, before 5.8"),
            ),
            None => (
                Way::File,
                "output.sync = \"auto\": a file system not known to report syncfs errors"
                    .to_owned(),
            ),
        }),
    }
}

impl Facts {
    /// The facts for the output folder `root` and its `folders`.
    pub fn of(root: &File, folders: &[File]) -> io::Result<Facts> {
        use std::os::unix::fs::MetadataExt;
        let device = root.metadata()?.dev();
        let mut one_device = true;
        for folder in folders {
            one_device &= folder.metadata()?.dev() == device;
        }
        Ok(Facts {
            kernel: kernel_version(),
            fs_type: fs_type(root),
            one_device,
        })
    }
}

#[cfg(target_os = "linux")]
fn kernel_version() -> Option<(u32, u32)> {
    let uname = rustix::system::uname();
    let release = uname.release().to_str().ok()?;
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(not(target_os = "linux"))]
fn kernel_version() -> Option<(u32, u32)> {
    None
}

#[cfg(target_os = "linux")]
fn fs_type(dir: &File) -> Option<u32> {
    // `f_type` is a signed word of the platform; the magic numbers are 32-bit.
    #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
    rustix::fs::fstatfs(dir).ok().map(|s| s.f_type as u32)
}

#[cfg(not(target_os = "linux"))]
fn fs_type(_dir: &File) -> Option<u32> {
    None
}

#[cfg(target_os = "linux")]
fn syncfs(dir: &File) -> io::Result<()> {
    rustix::fs::syncfs(dir).map_err(io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn syncfs(_dir: &File) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "syncfs is Linux only",
    ))
}

/// Makes staged files durable, one [`Way`] or the other.
#[derive(Debug)]
pub struct Syncer {
    way: Inner,
}

#[derive(Debug)]
enum Inner {
    File(FilePool),
    FileSystem(Arc<FileSystem>),
}

/// The durability of one staged file, waited for at its commit (clones wait for the same).
#[derive(Debug, Clone)]
pub struct Pending(Wait);

#[derive(Debug, Clone)]
enum Wait {
    Ticket(Arc<Ticket>),
    /// Durable once the file system is synced past this count of files written.
    FileSystem(Arc<FileSystem>, u64),
}

impl Syncer {
    /// A syncer for the output folder opened as `root`: `FileSystem` syncs its file system,
    /// `File` starts [`SYNC_THREADS`] threads.
    pub fn new(way: Way, root: &File, root_path: &Path) -> io::Result<Syncer> {
        Ok(Syncer {
            way: match way {
                Way::File => Inner::File(FilePool::new(SYNC_THREADS)?),
                Way::FileSystem => Inner::FileSystem(Arc::new(FileSystem {
                    dir: root.try_clone()?,
                    path: root_path.to_owned(),
                    written: AtomicU64::new(0),
                    synced: Mutex::new(Synced::default()),
                    calls: AtomicU64::new(0),
                })),
            },
        })
    }

    #[cfg(test)]
    fn way(&self) -> Way {
        match self.way {
            Inner::File(_) => Way::File,
            Inner::FileSystem(_) => Way::FileSystem,
        }
    }

    /// Takes `file`, written at `path` (as [`super::durable::write_new`] returns it) and
    /// completely written: `File` starts its fsync; `FileSystem` closes it and counts it.
    pub fn submit(&self, file: File, path: &Path) -> Pending {
        match &self.way {
            Inner::File(pool) => pool.submit(file, path),
            Inner::FileSystem(fs) => {
                drop(file);
                let n = fs.written.fetch_add(1, Ordering::SeqCst) + 1;
                Pending(Wait::FileSystem(Arc::clone(fs), n))
            }
        }
    }

    /// Makes the names just created or renamed in `folders` durable: an fsync of each, or one
    /// `syncfs`. The error names the folder (the output folder for a `syncfs`).
    pub fn sync_folders(&self, folders: &[PathBuf]) -> Result<(), (PathBuf, io::Error)> {
        match &self.way {
            Inner::File(_) => {
                for dir in folders {
                    super::durable::sync_dir(dir).map_err(|e| (dir.clone(), e))?;
                }
                Ok(())
            }
            Inner::FileSystem(fs) if !folders.is_empty() => {
                fs.sync(None).map_err(|e| (fs.path.clone(), e))
            }
            Inner::FileSystem(_) => Ok(()),
        }
    }

    /// `syncfs` calls made so far (0 for `File`).
    #[cfg(test)]
    fn syncfs_calls(&self) -> u64 {
        match &self.way {
            Inner::File(_) => 0,
            Inner::FileSystem(fs) => fs.calls.load(Ordering::Relaxed),
        }
    }
}

impl Pending {
    /// Waits until the file is durable; the error of its fsync, or of the `syncfs`, if any.
    pub fn wait(&self) -> io::Result<()> {
        match &self.0 {
            Wait::Ticket(ticket) => ticket.wait(),
            Wait::FileSystem(fs, n) => fs.sync(Some(*n)),
        }
    }
}

/// The `FileSystem` way's state: files written (counted when submitted), files known synced.
#[derive(Debug)]
struct FileSystem {
    /// The output folder, opened when the run began: its `syncfs` reports the write-back errors
    /// of the file system since then.
    dir: File,
    path: PathBuf,
    written: AtomicU64,
    /// Locked for the call: one at a time.
    synced: Mutex<Synced>,
    calls: AtomicU64,
}

#[derive(Debug, Default)]
struct Synced {
    /// The count of files written when the last successful `syncfs` began (every file counted
    /// by then was complete, so written back by it).
    upto: u64,
    /// The first failed call, with the count of files written when it returned: the write-back
    /// error it reported may be any of theirs, and is reported once only (a later call
    /// succeeds), so none of them is ever taken for durable.
    failed: Option<(u64, io::ErrorKind, String)>,
}

impl FileSystem {
    /// One `syncfs`; with `Some(n)`, only if file number `n` was written after the last
    /// successful one began (else it is durable already: one call per group, not per file).
    fn sync(&self, past: Option<u64>) -> io::Result<()> {
        self.sync_by(past, syncfs)
    }

    /// [`FileSystem::sync`] with the call given (a test makes it fail).
    fn sync_by(&self, past: Option<u64>, call: fn(&File) -> io::Result<()>) -> io::Result<()> {
        let mut synced = self.synced.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((upto, kind, text)) = &synced.failed
            && past.is_none_or(|n| n <= *upto)
        {
            return Err(io::Error::new(*kind, text.clone()));
        }
        if past.is_some_and(|n| synced.upto >= n) {
            return Ok(());
        }
        let upto = self.written.load(Ordering::SeqCst);
        self.calls.fetch_add(1, Ordering::Relaxed);
        match call(&self.dir) {
            Ok(()) => {
                synced.upto = upto;
                Ok(())
            }
            Err(e) => {
                let written = self.written.load(Ordering::SeqCst);
                synced.failed = Some((written, e.kind(), e.to_string()));
                Err(e)
            }
        }
    }
}

/// Threads of the `File` way: they wait on the disk, not the CPU. File systems commit concurrent
/// fsyncs together, and the device queue takes several writes at once.
pub const SYNC_THREADS: usize = 16;

/// Most files queued with their open handle; beyond, a file is closed and queued by its path
/// (opened again to be fsynced), so that a slow disk never runs the process out of file
/// descriptors (1,024 by default on Linux).
const MAX_OPEN: usize = 128;

/// The `File` way: fsyncs files in the background, several at once, from the moment they are
/// written: a file is usually on disk by the time its message's turn to be committed comes, and
/// the committer only collects the results. The threads live as long as the pool and are
/// reused (no thread started per file or per group).
#[derive(Debug)]
struct FilePool {
    jobs: Option<crossbeam_channel::Sender<(Job, Arc<Ticket>)>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    /// Files queued with their open handle.
    open: Arc<AtomicUsize>,
}

/// A file to fsync: the handle it was written through, or its path.
#[derive(Debug)]
enum Job {
    Open(File),
    Path(PathBuf),
}

#[derive(Debug, Default)]
struct Ticket {
    /// `io::Error` is not `Clone`: its kind and text are kept.
    result: Mutex<Option<Result<(), (io::ErrorKind, String)>>>,
    ready: Condvar,
}

impl FilePool {
    fn new(threads: usize) -> io::Result<FilePool> {
        let (tx, rx) = crossbeam_channel::unbounded::<(Job, Arc<Ticket>)>();
        let mut pool = FilePool {
            jobs: Some(tx),
            threads: Vec::new(),
            open: Arc::new(AtomicUsize::new(0)),
        };
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let open = Arc::clone(&pool.open);
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
            pool.threads.push(handle);
        }
        Ok(pool)
    }

    fn submit(&self, file: File, path: &Path) -> Pending {
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
        Pending(Wait::Ticket(ticket))
    }
}

impl Drop for FilePool {
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

    fn wait(&self) -> io::Result<()> {
        let mut slot = self.result.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match &*slot {
                Some(Ok(())) => return Ok(()),
                Some(Err((kind, text))) => return Err(io::Error::new(*kind, text.clone())),
                None => slot = self.ready.wait(slot).unwrap_or_else(|p| p.into_inner()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::durable::{TempNames, write_new};

    const EXT4: u32 = 0xEF53;
    const NFS: u32 = 0x6969;

    fn facts(kernel: Option<(u32, u32)>, fs_type: Option<u32>, one_device: bool) -> Facts {
        Facts {
            kernel,
            fs_type,
            one_device,
        }
    }

    #[test]
    fn auto_takes_syncfs_only_where_it_reports_errors_and_covers_every_folder() {
        let way = |f: &Facts| choose(SyncSetting::Auto, f).unwrap().0;
        assert_eq!(way(&facts(Some((6, 1)), Some(EXT4), true)), Way::FileSystem);
        assert_eq!(
            way(&facts(Some((5, 8)), Some(0x5846_5342), true)),
            Way::FileSystem
        );
        // Before 5.8 syncfs did not report write-back errors.
        assert_eq!(way(&facts(Some((5, 4)), Some(EXT4), true)), Way::File);
        assert_eq!(way(&facts(Some((4, 19)), Some(EXT4), true)), Way::File);
        // A network or unknown file system, or none read, or not Linux.
        assert_eq!(way(&facts(Some((6, 1)), Some(NFS), true)), Way::File);
        assert_eq!(way(&facts(Some((6, 1)), None, true)), Way::File);
        assert_eq!(way(&facts(None, Some(EXT4), true)), Way::File);
        // A subfolder mounted from elsewhere.
        assert_eq!(way(&facts(Some((6, 1)), Some(EXT4), false)), Way::File);
        let (_, why) = choose(SyncSetting::Auto, &facts(Some((6, 1)), Some(EXT4), true)).unwrap();
        assert_eq!(why, "output.sync = \"auto\": ext4 on Linux 6.1");
    }

    #[test]
    fn file_is_always_allowed_filesystem_only_where_safe() {
        for f in [
            facts(None, None, false),
            facts(Some((6, 1)), Some(EXT4), true),
        ] {
            assert_eq!(choose(SyncSetting::File, &f).unwrap().0, Way::File);
        }
        // Asked for explicitly, syncfs is trusted on any file system, but not before 5.8 nor
        // across file systems: refused, with the reason.
        let ok = choose(
            SyncSetting::FileSystem,
            &facts(Some((6, 1)), Some(NFS), true),
        );
        assert_eq!(ok.unwrap().0, Way::FileSystem);
        let old = choose(
            SyncSetting::FileSystem,
            &facts(Some((5, 4)), Some(EXT4), true),
        );
        assert!(old.unwrap_err().contains("Linux 5.4 here"));
        let split = choose(
            SyncSetting::FileSystem,
            &facts(Some((6, 1)), Some(EXT4), false),
        );
        assert!(split.unwrap_err().contains("another file system"));
    }

    #[test]
    fn the_setting_is_read_from_lower_case_names() {
        #[derive(Deserialize)]
        struct T {
            sync: SyncSetting,
        }
        for (text, setting) in [
            ("auto", SyncSetting::Auto),
            ("file", SyncSetting::File),
            ("filesystem", SyncSetting::FileSystem),
        ] {
            let t: T = toml::from_str(&format!("sync = \"{text}\"")).unwrap();
            assert_eq!(t.sync, setting);
        }
        assert!(toml::from_str::<T>("sync = \"fsync\"").is_err());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn facts_of_a_local_folder() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("documents");
        std::fs::create_dir(&sub).unwrap();
        let root = File::open(dir.path()).unwrap();
        let f = Facts::of(&root, &[File::open(&sub).unwrap()]).unwrap();
        assert!(f.one_device);
        assert!(f.kernel.is_some_and(|(major, _)| major >= 3));
        assert!(f.fs_type.is_some());
    }

    /// A temporary folder, its temporary names, and a syncer of `way` over it.
    fn syncer_in(way: Way) -> (tempfile::TempDir, TempNames, Syncer) {
        let dir = tempfile::tempdir().unwrap();
        let root = File::open(dir.path()).unwrap();
        let syncer = Syncer::new(way, &root, dir.path()).unwrap();
        (dir, TempNames::default(), syncer)
    }

    /// The `FileSystem` way: one `syncfs` covers every file written before it began, so a
    /// group's waits make one call, and a later file makes another.
    #[cfg(target_os = "linux")]
    #[test]
    fn filesystem_way_makes_one_syncfs_per_group_not_per_file() {
        let (dir, temps, syncer) = syncer_in(Way::FileSystem);
        assert_eq!(syncer.way(), Way::FileSystem);
        let write = |i: usize| {
            let p = temps.next_in(dir.path());
            syncer.submit(write_new(&p, format!("{i}").as_bytes()).unwrap(), &p)
        };
        let group: Vec<Pending> = (0..10).map(write).collect();
        for p in &group {
            p.wait().unwrap();
        }
        assert_eq!(syncer.syncfs_calls(), 1);
        let late = write(10);
        group[0].wait().unwrap();
        assert_eq!(syncer.syncfs_calls(), 1, "already durable: no call");
        late.wait().unwrap();
        assert_eq!(syncer.syncfs_calls(), 2);
        // The renames of a group: one call whatever the folders; none without any.
        syncer.sync_folders(&[]).unwrap();
        assert_eq!(syncer.syncfs_calls(), 2);
        let folders = [dir.path().join("a"), dir.path().join("b")];
        syncer.sync_folders(&folders).unwrap();
        assert_eq!(syncer.syncfs_calls(), 3);
    }

    /// A failed `syncfs` reported a write-back error that may be any file's written so far,
    /// once: those files fail for every waiter, even after a later call succeeds; a file
    /// written after it is durable once a later call succeeds.
    #[test]
    fn a_failed_syncfs_fails_every_file_written_before_it_returned() {
        let (dir, temps, syncer) = syncer_in(Way::FileSystem);
        let Inner::FileSystem(fs) = &syncer.way else {
            unreachable!()
        };
        let write = || {
            let p = temps.next_in(dir.path());
            syncer.submit(write_new(&p, b"x").unwrap(), &p)
        };
        let (a, b) = (write(), write());
        let fail: fn(&File) -> io::Result<()> = |_| Err(io::Error::other("EIO"));
        let succeed: fn(&File) -> io::Result<()> = |_| Ok(());
        assert!(fs.sync_by(Some(1), fail).is_err());
        let c = write();
        fs.sync_by(Some(3), succeed).unwrap();
        for early in [&a, &b] {
            assert_eq!(early.wait().unwrap_err().to_string(), "EIO");
        }
        c.wait().unwrap();
        // A folder sync after the failure reports it too.
        assert!(syncer.sync_folders(&[dir.path().to_owned()]).is_err());
    }

    #[test]
    fn file_way_syncs_files_in_the_background() {
        let (dir, temps, syncer) = syncer_in(Way::File);
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
        // Folders are fsynced one by one; a missing one is named in the error.
        let missing = dir.path().join("missing");
        let (path, _) = syncer
            .sync_folders(&[dir.path().to_owned(), missing.clone()])
            .unwrap_err();
        assert_eq!(path, missing);
        assert_eq!(syncer.syncfs_calls(), 0);
        drop(syncer); // joins its threads
    }

    #[test]
    fn beyond_max_open_files_are_queued_by_path_and_closed() {
        let dir = tempfile::tempdir().unwrap();
        let temps = TempNames::default();
        let pool = FilePool::new(2).unwrap();
        // Under the cap: the handle goes to the queue, and is counted until fsynced.
        let p = temps.next_in(dir.path());
        pool.submit(write_new(&p, b"1").unwrap(), &p)
            .wait()
            .unwrap();
        assert_eq!(pool.open.load(Ordering::Relaxed), 0);
        // At the cap (a slow disk): the file is queued by its path, opened again to be
        // fsynced. Removed meanwhile, its error reaches the waiter.
        pool.open.store(MAX_OPEN, Ordering::Relaxed);
        let q = temps.next_in(dir.path());
        pool.submit(write_new(&q, b"2").unwrap(), &q)
            .wait()
            .unwrap();
        let gone = temps.next_in(dir.path());
        let f = write_new(&gone, b"3").unwrap();
        std::fs::remove_file(&gone).unwrap();
        let e = pool.submit(f, &gone).wait().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert_eq!(pool.open.load(Ordering::Relaxed), MAX_OPEN);
    }
}
