//! `dmpfeed config`: print the embedded default, or check a site's file.

use super::{Fatal, Status};
use crate::cli::ConfigArgs;
use crate::config::{Config, DEFAULT_TOML};
use std::io::Write;

pub fn run(args: &ConfigArgs, out: &mut dyn Write) -> Result<Status, Fatal> {
    if let Some(path) = &args.check {
        let config = Config::load(path)?;
        writeln!(out, "{}: valid", path.display())?;
        writeln!(out, "{config:#?}")?;
        return Ok(Status::Ok);
    }
    if args.print_default {
        out.write_all(DEFAULT_TOML.as_bytes())?;
        return Ok(Status::Ok);
    }
    Err(Fatal("config: say --print-default or --check FILE".into()))
}
