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
//! * [`identity`] — the identity gate: the INS in PID-3, its key and OID, PID-32, the strict
//!   traits and their consistency with the NIR; only a qualified INS may feed the DMP.
//! * [`document`] — a document message (MDM^T02/T10/T04, ORU^R01) read into a plain request:
//!   event, ids, type, times, authors, encounter, content, MetaDMPMSS flags.
//! * [`cda`] — the CI-SIS CDA R2 (non-structured body) written from that request and the
//!   patient; the header of a CDA received already built.
//! * [`pipeline`] — inputs, stream and bulk runs, the output folder, reports and ACKs.
//! * [`adt`] — patient-administration messages (PAM-FR ADT): identity, opposition to DMP
//!   feeding (ZFA), merges; and [`recall`], what a conversion asks the registry.
//! * [`message_hash`] — what makes two messages "the same": BLAKE3 of their bytes (SHA-1 in
//!   folders begun before it), the name of a message in reports, registry and file names.
//! * [`registry`] — the crash-safe store in the output folder: documents and their chains,
//!   held messages, patients' identities, oppositions and merges.
//! * [`dmp`] — DMP-ready output (`--emit`): the CI-SIS MDM / ORU message for the hospital's DMP
//!   platform and the IHE XDM package, their values read from the CDA they carry.
pub mod adt;
pub mod cda;
pub mod cli;
pub mod commands;
pub mod config;
pub mod convert;
pub mod dmp;
pub mod document;
pub mod hl7;
pub mod identity;
pub mod message_hash;
pub mod pipeline;
pub mod reason;
pub mod recall;
pub mod registry;
pub mod terminology;
