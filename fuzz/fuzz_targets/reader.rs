//! Any byte string through the whole reader: framing, charset decoding, parsing, every leaf
//! decoded, path lookups, and the `inspect --json` serialisation. Nothing may panic.
//! See [`dmpfeed_fuzz::checks::reader`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dmpfeed_fuzz::checks::reader(data));
