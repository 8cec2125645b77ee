//! What makes two messages "the same message": a hash of their bytes (docs/pipeline.md,
//! "Same message"). It names a message in `report.jsonl`, in the registry and, for a message
//! with no key, in its file names.
//!
//! An output folder keeps one algorithm for its whole life, recorded in its registry when the
//! registry is created: **BLAKE3** (256 bits) for a new folder; **SHA-1** (160 bits) for a folder
//! an earlier dmpfeed began, whose report lines and registry rows already name messages by their
//! SHA-1 (a message sent again must still be found the same there, not given a second name).
//!
//! Why not SHA-1 any more: collisions can be made on purpose (SHAttered, 2017; chosen-prefix,
//! "SHA-1 is a Shambles", 2020), and every input byte is hostile (docs/security.md): two crafted
//! messages must never pass for one. BLAKE3 is also the faster of the two by far: ~8 GB/s on one
//! core of the benchmark machine for a 155 KB message, where SHA-1 with the SHA-NI instructions
//! runs at ~2.1 GB/s, a quarter of the CPU of converting PDF messages (docs/performance.md).
//!
//! This module does no I/O.

use serde::ser::{Serialize, SerializeMap, Serializer};
use sha1::{Digest, Sha1};

/// The hash function that names the messages of an output folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Folders begun by dmpfeed before the registry's schema v4.
    Sha1,
    /// Every folder created since.
    Blake3,
}

impl Algorithm {
    /// The algorithm of a new output folder.
    pub const NEW_FOLDERS: Algorithm = Algorithm::Blake3;

    /// Its name: the key of the hash in a report line, and the registry's `message_identity`.
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "sha1",
            Algorithm::Blake3 => "blake3",
        }
    }

    pub fn from_name(name: &str) -> Option<Algorithm> {
        [Algorithm::Sha1, Algorithm::Blake3]
            .into_iter()
            .find(|a| a.name() == name)
    }

    /// The hash of `bytes`.
    pub fn hash(self, bytes: &[u8]) -> MessageHash {
        self.hash_parts(&[bytes])
    }

    /// The hash of the concatenation of `parts`, without concatenating them.
    pub fn hash_parts(self, parts: &[&[u8]]) -> MessageHash {
        match self {
            Algorithm::Sha1 => {
                let mut h = Sha1::new();
                parts.iter().for_each(|p| h.update(p));
                MessageHash::Sha1(h.finalize().into())
            }
            Algorithm::Blake3 => {
                let mut h = blake3::Hasher::new();
                parts.iter().for_each(|p| {
                    h.update(p);
                });
                MessageHash::Blake3(*h.finalize().as_bytes())
            }
        }
    }
}

/// A message's hash, with the algorithm that made it: hashes of two algorithms never compare
/// equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageHash {
    Sha1([u8; 20]),
    Blake3([u8; 32]),
}

impl MessageHash {
    pub fn algorithm(&self) -> Algorithm {
        match self {
            MessageHash::Sha1(_) => Algorithm::Sha1,
            MessageHash::Blake3(_) => Algorithm::Blake3,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            MessageHash::Sha1(b) => b,
            MessageHash::Blake3(b) => b,
        }
    }

    /// Lower-case hexadecimal: 40 digits for SHA-1, 64 for BLAKE3 (what `sha1sum` and `b3sum`
    /// print for the message's bytes).
    pub fn hex(&self) -> String {
        hex(self.as_bytes())
    }

    /// Parses the hexadecimal form back; its length says the algorithm.
    pub fn parse_hex(s: &str) -> Option<MessageHash> {
        match s.len() {
            40 => parse_hex_array(s).map(MessageHash::Sha1),
            64 => parse_hex_array(s).map(MessageHash::Blake3),
            _ => None,
        }
    }

    /// The hash from its bytes (as the registry's NAME index keeps it); their number says the
    /// algorithm.
    pub fn from_bytes(bytes: &[u8]) -> Option<MessageHash> {
        match bytes.len() {
            20 => bytes.try_into().ok().map(MessageHash::Sha1),
            32 => bytes.try_into().ok().map(MessageHash::Blake3),
            _ => None,
        }
    }

    /// The hash a report line (or a `.json` beside a message) carries under its algorithm's
    /// name; `None` when it carries none, or one that does not parse.
    pub fn from_line(line: &serde_json::Value) -> Option<MessageHash> {
        [Algorithm::Blake3, Algorithm::Sha1]
            .into_iter()
            .find_map(|a| {
                line.get(a.name())
                    .and_then(serde_json::Value::as_str)
                    .and_then(MessageHash::parse_hex)
                    .filter(|h| h.algorithm() == a)
            })
    }
}

/// Serialises as a one-entry map, `{"blake3": "…"}` or `{"sha1": "…"}`: flattened into a report
/// line, the field's name says which hash it is.
impl Serialize for MessageHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.algorithm().name(), &self.hex())?;
        map.end()
    }
}

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xF)] as char);
    }
    s
}

fn parse_hex_array<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(s.as_bytes().chunks(2)) {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        *byte = (hi * 16 + lo) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_algorithm_gives_what_its_reference_tool_prints() {
        // `printf abc | sha1sum`, `printf abc | b3sum`.
        assert_eq!(
            Algorithm::Sha1.hash(b"abc").hex(),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            Algorithm::Blake3.hash(b"abc").hex(),
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
    }

    #[test]
    fn parts_hash_as_their_concatenation() {
        for a in [Algorithm::Sha1, Algorithm::Blake3] {
            assert_eq!(a.hash_parts(&[b"ab", b"", b"c"]), a.hash(b"abc"));
        }
    }

    #[test]
    fn hashes_of_two_algorithms_never_compare_equal() {
        assert_ne!(Algorithm::Sha1.hash(b"x"), Algorithm::Blake3.hash(b"x"));
    }

    #[test]
    fn hex_round_trips_and_its_length_says_the_algorithm() {
        for a in [Algorithm::Sha1, Algorithm::Blake3] {
            let h = a.hash(b"x");
            assert_eq!(MessageHash::parse_hex(&h.hex()), Some(h));
        }
        assert_eq!(MessageHash::parse_hex("zz"), None);
        assert_eq!(MessageHash::parse_hex(&"g".repeat(40)), None);
        assert_eq!(MessageHash::parse_hex(&"a".repeat(50)), None);
        assert_eq!(MessageHash::parse_hex(&"é".repeat(20)), None);
    }

    #[test]
    fn bytes_round_trip_and_their_number_says_the_algorithm() {
        for a in [Algorithm::Sha1, Algorithm::Blake3] {
            let h = a.hash(b"x");
            assert_eq!(MessageHash::from_bytes(h.as_bytes()), Some(h));
        }
        assert_eq!(MessageHash::from_bytes(&[0; 16]), None);
        assert_eq!(MessageHash::from_bytes(&[]), None);
    }

    #[test]
    fn a_report_line_names_its_hash_by_its_algorithm() {
        for a in [Algorithm::Sha1, Algorithm::Blake3] {
            let h = a.hash(b"m");
            let line = serde_json::to_value(h).unwrap();
            assert_eq!(line[a.name()], h.hex());
            assert_eq!(MessageHash::from_line(&line), Some(h));
            assert_eq!(Algorithm::from_name(a.name()), Some(a));
        }
        // A BLAKE3-long value under "sha1" is not taken for a SHA-1.
        let wrong = serde_json::json!({ "sha1": Algorithm::Blake3.hash(b"m").hex() });
        assert_eq!(MessageHash::from_line(&wrong), None);
        assert_eq!(MessageHash::from_line(&serde_json::json!({})), None);
    }
}
