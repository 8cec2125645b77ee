//! What can go wrong with the registry. Every error names the registry file, so that a clerk or
//! an operator knows which output folder is concerned.

use std::path::PathBuf;

/// An error of the registry. The pipeline ends a run with status 2 on [`RegistryError::Sqlite`],
/// [`RegistryError::Missing`] and the schema errors (the output folder is unusable); the data
/// errors ([`RegistryError::ChainConflict`], [`RegistryError::MergeCycle`]) concern one message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// SQLite refused an operation (disk full, file locked past the busy timeout, corruption, …).
    #[error("{}: registry: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// A reading command was pointed at a folder without a registry.
    #[error(
        "{}: no registry here (it is created by `dmpfeed convert … --out DIR` in DIR)",
        path.display()
    )]
    Missing { path: PathBuf },
    /// The file is a SQLite database, but not a dmpfeed registry.
    #[error("{}: not a dmpfeed registry (unknown tables, no schema version)", path.display())]
    Foreign { path: PathBuf },
    /// Written by a newer dmpfeed: this one does not know its schema and will not touch it.
    #[error(
        "{}: registry schema v{found} is newer than this dmpfeed (knows up to v{supported}); use a newer dmpfeed",
        path.display()
    )]
    SchemaTooNew {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    /// A read-only connection found an older schema that only a writer may migrate.
    #[error(
        "{}: registry schema v{found} needs upgrading to v{supported}; any `dmpfeed convert --out` into this folder does it",
        path.display()
    )]
    SchemaOutdated {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    /// Two different documents claim the same place in a chain (same setId and version): two
    /// replacements of one parent converted at the same time from stale look-ups. Nothing was
    /// written for the second one; look its chain up again and convert it again.
    #[error(
        "{}: document {source_id:?} would be version {version} of set {set_id:?}, already taken by document {taken_by:?}",
        path.display()
    )]
    ChainConflict {
        path: PathBuf,
        source_id: String,
        set_id: String,
        version: u32,
        taken_by: String,
    },
    /// Merging a patient into one that was itself merged into the first.
    #[error(
        "{}: merging patient {old_ipp:?} into {surviving_ipp:?} would make a cycle of merges",
        path.display()
    )]
    MergeCycle {
        path: PathBuf,
        old_ipp: String,
        surviving_ipp: String,
    },
    /// A stored value does not read back as what dmpfeed writes (the file was edited by hand).
    #[error("{}: registry table {table}: {what}", path.display())]
    Corrupt {
        path: PathBuf,
        table: &'static str,
        what: String,
    },
}
