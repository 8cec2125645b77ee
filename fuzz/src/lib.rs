//! The fuzz targets' checks ([`checks`]), a library so that every target and
//! `tests/fuzz_regressions.rs` run the same code.

pub mod checks;
