//! The subcommands: each reads its arguments, runs the library and returns an exit status.
//! Exit statuses (CONTRACT.md): 0 all accounted for and none rejected, 1 some rejected,
//! 2 usage error, unreadable input or unwritable output.

pub mod check;
pub mod config;
pub mod convert;
pub mod documents;
pub mod held;
pub mod inspect;

/// Exit status of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok = 0,
    SomeRejected = 1,
    Failure = 2,
}

/// An error that ends the command with status 2, printed on standard error.
#[derive(Debug)]
pub struct Fatal(pub String);

impl std::fmt::Display for Fatal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Fatal {}

impl From<std::io::Error> for Fatal {
    fn from(e: std::io::Error) -> Self {
        Fatal(e.to_string())
    }
}

impl From<crate::config::ConfigError> for Fatal {
    fn from(e: crate::config::ConfigError) -> Self {
        Fatal(e.to_string())
    }
}

/// Loads `--config FILE`, or the embedded default.
pub fn load_config(path: Option<&std::path::Path>) -> Result<crate::config::Config, Fatal> {
    Ok(match path {
        Some(p) => crate::config::Config::load(p)?,
        None => crate::config::Config::default(),
    })
}
