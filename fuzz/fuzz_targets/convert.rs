//! See [`dmpfeed_fuzz::checks::convert`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dmpfeed_fuzz::checks::convert(data));
