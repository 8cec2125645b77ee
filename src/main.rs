//! The `dmpfeed` binary: arguments → command → exit status (CONTRACT.md "Exit status").

use clap::Parser;
use dmpfeed::cli::{Cli, Command};
use dmpfeed::commands::{self, Status};
use std::io::Write;

fn main() {
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
