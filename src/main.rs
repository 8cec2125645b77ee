//! The `dmpfeed` binary: arguments → command → exit status (CONTRACT.md "Exit status").

use clap::Parser;
use dmpfeed::cli::{Cli, Command};
use dmpfeed::commands::{self, Status};
use std::io::Write;

fn main() {
    tune_allocator();
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = match &cli.command {
        Command::Inspect(args) => commands::inspect::run(args, &mut out),
        Command::Config(args) => commands::config::run(args, &mut out),
        Command::Convert(args) => commands::convert::run(args, &mut out),
        Command::Check(args) => commands::check::run(args, &mut out),
        Command::Documents(args) => commands::documents::run(args, &mut out),
        Command::Held(args) => commands::held::run(args, &mut out),
    };
    // A closed pipe at the final flush does not change the status the command decided.
    let flushed = |s| match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(s),
    };
    let status = match result.and_then(flushed) {
        Ok(status) => status,
        // A closed pipe (`dmpfeed inspect f | head`) is a normal end, as in ripgrep.
        Err(e) if e.0.contains("Broken pipe") => Status::Ok,
        Err(e) => {
            eprintln!("dmpfeed: {e}");
            Status::Failure
        }
    };
    std::process::exit(status as i32);
}

/// glibc's malloc gives the memory at the top of a thread's heap back to the kernel once more
/// than twice the largest block it recently freed lies free there (128 KiB at first, ~400 KiB
/// with PDF messages), and takes it again page by page, one page fault each, for the next messages. A
/// message's bytes are allocated by the reader and freed by a worker, its CDA allocated and
/// freed by a worker: every heap goes up and down all run long. Keeping up to 8 MiB free per heap
/// (and serving up to 32 MiB, glibc's own ceiling, from the heaps rather than `mmap`) took the
/// page faults of the 800 PDF messages of the bench corpus from 6,300–9,300 to 4,400–6,300 with
/// one job, and the CPU time of PDF messages down 5 %, of text 3 % (docs/performance.md, "heaps
/// that stay"). Peak memory is unchanged: the heaps hold what the messages in flight needed, no
/// more. `GLIBC_TUNABLES` with malloc settings, if given, wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    if std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc.")) {
        return;
    }
    // SAFETY: mallopt(3) sets two numbers in glibc's allocator, before any other thread exists;
    // a value it refuses leaves the default (its return value says so, nothing to undo).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 8 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

/// Logs go to standard error. Default level `info`, which never carries identity traits, INS or
/// document content (those are logged at `trace` only). Colours only on a terminal, and not when
/// `NO_COLOR` is set (no-color.org): a file, journald or an engine's log gets plain text.
fn init_logging(verbose: u8) {
    use std::io::IsTerminal;
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let default = match verbose {
        0 => "dmpfeed=info",
        1 => "dmpfeed=debug",
        _ => "dmpfeed=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(colour)
        .init();
}
