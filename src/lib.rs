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
//! * [`pipeline`] — inputs, stream and bulk runs, the output folder, reports and ACKs.
pub mod cli;
pub mod commands;
pub mod config;
pub mod convert;
pub mod hl7;
pub mod pipeline;
pub mod reason;
pub mod terminology;
