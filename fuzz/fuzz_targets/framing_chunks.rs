//! Arbitrary bytes pushed through the streaming `Framer` in arbitrary chunk sizes give exactly
//! the frames `framing::frames` finds in the whole buffer (CONTRACT.md: the framing is detected,
//! and chunking never changes it). See [`dmpfeed_fuzz::checks::framing_chunks`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dmpfeed_fuzz::checks::framing_chunks(data));
