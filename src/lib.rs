//! # dmpfeed
//!
//! Feeds the French shared medical record (DMP, "Mon espace santé") from a hospital's patient
//! record system: HL7v2 document messages in, CI-SIS CDA R2 documents out.
//!
//! The stages, each a module with one job and one-way dependencies:
//!
//! * [`hl7`] — the HL7v2 reader: framing (MLLP, batches, plain), charsets (MSH-18), a nom parser
//!   and zero-copy views (message → segment → field → repetition → component → subcomponent).
//! * [`reason`] — outcomes and the stable reason codes of the contract.
//! * [`terminology`] — the ANS value sets and correspondence tables (J07, ASS_X04, …).
//! * [`config`] — the validated configuration (embedded default + the site's file).
//! * [`registry`] — the crash-safe store in the output folder: documents and their chains,
//!   held messages, patients' identities, oppositions and merges.
pub mod cli;
pub mod commands;
pub mod config;
pub mod convert;
pub mod hl7;
pub mod reason;
pub mod registry;
pub mod terminology;
