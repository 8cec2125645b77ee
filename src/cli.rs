//! The command line (clap derive). Flags as CONTRACT.md lists them; `main.rs` dispatches.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// dmpfeed — feeds the French DMP ("Mon espace santé") from a hospital's HL7v2 messages.
///
/// Reads HL7v2 document messages (MDM^T02/T10/T04, ORU^R01) from files, folders, archives or
/// standard input, checks the patient's national health identity (INS), and writes CI-SIS CDA R2
/// documents ready for the DMP. Every message ends in one outcome in DIR/report.jsonl:
/// converted, held (identity not usable), excluded (not for the DMP), deleted, recorded or
/// rejected.
#[derive(Debug, Parser)]
#[command(name = "dmpfeed", version, about, long_about, propagate_version = true)]
pub struct Cli {
    /// More logs on standard error (-v: debug, -vv: trace). RUST_LOG overrides.
    /// Identity traits and document content appear only at trace level.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Convert messages into DMP-ready documents in an output folder (or one message to stdout).
    ///
    /// Examples:
    ///   dmpfeed convert samples/ --out out/
    ///   dmpfeed convert archive-2023.tar.gz --out out/ --jobs 2 --emit mdm,xdm
    ///   mllp-source | dmpfeed convert --out out/ --ack | mllp-sink
    ///   dmpfeed convert --stdout < message.hl7 > document.xml
    #[command(verbatim_doc_comment)]
    Convert(ConvertArgs),
    /// Dry run: the verdict for each message with every reason; writes nothing.
    ///
    /// This is the identity-vigilance clerk's tool: each held message lists all its reasons at
    /// once, with the HL7 path to fix (e.g. PID-32, PID-3(2).1).
    Check(CheckArgs),
    /// Show the parsed message tree (segments, fields, components), for humans or tools.
    Inspect(InspectArgs),
    /// What was sent for a patient: each document, its versions and its history, from the
    /// registry of an output folder.
    ///
    /// Examples:
    ///   dmpfeed documents out/ --patient 123456
    ///   dmpfeed documents out/ --patient 184127645108946 --json
    ///   dmpfeed documents out/ --document DOC-A
    #[command(verbatim_doc_comment)]
    Documents(DocumentsArgs),
    /// The identity worklist: documents held because their patient's identity cannot be used
    /// for the DMP, by patient (IPP), with the reasons and how long they have waited.
    ///
    /// Held documents are released automatically when the patient administration system sends
    /// a qualified identity (ADT); `held release` retries one patient by hand.
    ///
    /// Examples:
    ///   dmpfeed held out/
    ///   dmpfeed held out/ --json
    ///   dmpfeed held release --ipp 100009 out/
    ///   dmpfeed held release --ins 299123523830147 out/
    #[command(verbatim_doc_comment)]
    Held(HeldArgs),
    /// Show the configuration.
    Config(ConfigArgs),
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Files, folders (walked recursively), .zip/.tar/.tar.gz archives; none or `-` = standard input.
    pub inputs: Vec<PathBuf>,
    /// Output folder (created if needed).
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "stdout",
        conflicts_with = "stdout"
    )]
    pub out: Option<PathBuf>,
    /// Convert the single message on standard input and write its CDA to standard output.
    #[arg(long)]
    pub stdout: bool,
    /// Configuration file (TOML), laid over the embedded default.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Parallel jobs for files, folders and archives (default: all cores).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Artefacts besides the CDA: mdm, oru, xdm (comma-separated).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub emit: Vec<String>,
    /// Write an HL7 ACK per message to standard output (stream mode), after its files are on disk.
    #[arg(long)]
    pub ack: bool,
    /// No progress bar and no summary on standard error.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Files, folders, archives; none or `-` = standard input.
    pub inputs: Vec<PathBuf>,
    /// Configuration file (TOML), laid over the embedded default.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// One JSON object per message (JSON Lines) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Files, folders, archives, read as `check` reads them; none or `-` = standard input.
    pub inputs: Vec<PathBuf>,
    /// Configuration file (TOML), laid over the embedded default (`limits`, `input.ignore`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// One JSON object per message (JSON Lines): {"source", "charset", "segments"}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DocumentsArgs {
    /// The output folder (the DIR of `convert --out DIR`), where registry.sqlite lives.
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Only this patient's documents: an IPP (merged records followed) or an INS.
    #[arg(long, value_name = "IPP_OR_INS")]
    pub patient: Option<String>,
    /// Only this document: its id as the DPI sent it (TXA-12 / OBR-3, whole or its first
    /// component: `DOC-A`) or its CDA id (the OID).
    #[arg(long, value_name = "ID", conflicts_with = "patient")]
    pub document: Option<String>,
    /// One JSON object per document (JSON Lines) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct HeldArgs {
    #[command(subcommand)]
    pub command: Option<HeldCommand>,
    /// The output folder (the DIR of `convert --out DIR`), where registry.sqlite lives.
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// One JSON object per patient (JSON Lines) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Configuration file (TOML): the identity policy the recorded identities are judged by.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum HeldCommand {
    /// Convert again the documents held for one patient, with the identity the registry holds
    /// (from the latest ADT) and the configuration; say why those still held are.
    Release(ReleaseArgs),
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The patient's IPP (merged records are followed).
    #[arg(
        long,
        value_name = "IPP",
        required_unless_present = "ins",
        conflicts_with = "ins"
    )]
    pub ipp: Option<String>,
    /// Or the patient's INS: the messages held that carry it (those naming no IPP, or another).
    #[arg(long, value_name = "INS")]
    pub ins: Option<String>,
    /// The output folder (the DIR of `convert --out DIR`).
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Configuration file (TOML), laid over the embedded default.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Artefacts besides the CDA for the released documents, as with `convert --emit`.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub emit: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Print the embedded default configuration (a starting point for a site's file).
    #[arg(long)]
    pub print_default: bool,
    /// Check a configuration file and print the result of laying it over the default.
    #[arg(long, value_name = "FILE", conflicts_with = "print_default")]
    pub check: Option<PathBuf>,
}
