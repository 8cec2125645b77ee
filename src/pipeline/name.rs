//! Output NAMEs (CONTRACT.md "Output folder"): derived from the document id or the control id,
//! reduced to `[A-Za-z0-9._-]`, never empty, never starting with `.`, bounded in length; the same
//! message always gets the same name, two different messages never share one.
//!
//! "The same message" is the same bytes: the hash of the framed message (MLLP bytes excluded;
//! [`crate::message_hash`]). The registry's NAME index remembers which message owns which name,
//! across runs into the same folder (`super::index`: built from `report.jsonl`, whose lines
//! carry `name` and the hash). A name already owned by other bytes is settled with a suffix
//! taken from the message's own hash, `-` + 12 hex digits (all of them if even that is taken),
//! so that the suffix says which message it is. Names are compared without case, so that two names never collide on a
//! case-insensitive file system.
//!
//! This module does no I/O.

use crate::message_hash::{MessageHash, hex};
use sha1::{Digest, Sha1};

/// Longest name derived from a key (before a collision suffix and the file extension).
pub const MAX_NAME_CHARS: usize = 96;
/// Characters of a long key kept before its hash, when the key is longer than [`MAX_NAME_CHARS`].
const LONG_KEY_PREFIX: usize = 80;
/// Hex digits of the message hash in a collision suffix.
const SUFFIX_HEX: usize = 12;

/// The base name for a key: every character outside `[A-Za-z0-9._-]` becomes `_`; a leading `.`
/// or `-` and a trailing `.` become `_` (hidden files, options, Windows); device names such as
/// `CON` get a `_` prefix; a key longer than [`MAX_NAME_CHARS`] keeps its first characters and a
/// hash of the whole key. `None` for an empty key (the caller then names by the message hash).
pub fn sanitize(key: &str) -> Option<String> {
    let key = key.trim();
    if key.is_empty() {
        return None;
    }
    let mut name: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    // Every character is ASCII now, so byte indices are char boundaries.
    if name.len() > MAX_NAME_CHARS {
        // SHA-1 here only shortens a key into a name, the same in every folder and version.
        let digest = hex(&Sha1::digest(key.as_bytes()));
        name.truncate(LONG_KEY_PREFIX);
        name.push('-');
        name.push_str(&digest[..SUFFIX_HEX]);
    }
    if name.starts_with(['.', '-']) {
        name.replace_range(..1, "_");
    }
    if name.ends_with('.') {
        let last = name.len() - 1;
        name.replace_range(last.., "_");
    }
    if is_device_name(&name) {
        name.insert(0, '_');
    }
    Some(name)
}

/// Windows device names, which no file may be called whatever its extension.
fn is_device_name(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).to_ascii_uppercase();
    matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit())
}

/// The name of a message with no usable key: from its hash, so it is stable too.
pub fn fallback(hash: &MessageHash) -> String {
    format!("msg-{}", &hash.hex()[..16])
}

/// Which message owns a name, across runs into the same folder: the registry's NAME index
/// (`super::index`); a map in the tests.
pub trait Owners {
    type Error;
    /// The message that owns `name`, compared without case; `None` for a free name.
    fn owner(&self, name: &str) -> Result<Option<MessageHash>, Self::Error>;
}

/// The name of a message that has none yet (a message keeps the name it has: the caller looks
/// that up first): the name of its key, else that name with a suffix from the message's hash
/// when another message owns it. Does not record it.
pub fn new_name<O: Owners>(
    owners: &O,
    key: Option<&str>,
    hash: &MessageHash,
) -> Result<String, O::Error> {
    let base = key.and_then(sanitize).unwrap_or_else(|| fallback(hash));
    let digest = hash.hex();
    let short = format!("{base}-{}", &digest[..SUFFIX_HEX]);
    let long = format!("{base}-{digest}");
    // The full hash is unique to the message, unless another message's key sanitised to
    // exactly that text (a hostile key): then count on, which always ends.
    for candidate in [base, short, long.clone()]
        .into_iter()
        .chain((2u64..).map(|n| format!("{long}-{n}")))
    {
        if owners.owner(&candidate)?.is_none_or(|owner| owner == *hash) {
            return Ok(candidate);
        }
    }
    unreachable!("the numbered candidates never end")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message_hash::Algorithm;
    use proptest::prelude::*;

    macro_rules! sanitizes_to {
        ($($name:ident: $key:expr => $expected:expr;)+) => {$(
            #[test]
            fn $name() {
                assert_eq!(sanitize($key).as_deref(), $expected);
            }
        )+};
    }

    sanitizes_to! {
        oid_is_kept: "1.2.250.1.999.1.2.1001" => Some("1.2.250.1.999.1.2.1001");
        control_id_is_kept: "SMPL0015" => Some("SMPL0015");
        slashes_and_dots_cannot_climb: "../../etc/passwd" => Some("_._.._etc_passwd");
        absolute_path_loses_its_root: "/etc/passwd" => Some("_etc_passwd");
        leading_dot_is_not_hidden: ".profile" => Some("_profile");
        leading_dash_is_not_an_option: "-rf" => Some("_rf");
        trailing_dot_is_replaced: "abc." => Some("abc_");
        only_dots: ".." => Some("__");
        spaces_and_accents: "Dupré 12" => Some("Dupr__12");
        nul_and_control_bytes: "a\0b\r\nc" => Some("a_b__c");
        windows_device_name: "CON" => Some("_CON");
        windows_device_name_with_extension: "com1.txt" => Some("_com1.txt");
        not_a_device_name: "CONSULT" => Some("CONSULT");
        empty_key: "" => None;
        blank_key: "   " => None;
    }

    #[test]
    fn long_key_is_bounded_and_keeps_distinct_keys_distinct() {
        let a = "A".repeat(500);
        let b = format!("{}B", "A".repeat(499));
        let (na, nb) = (sanitize(&a).unwrap(), sanitize(&b).unwrap());
        assert!(na.len() <= MAX_NAME_CHARS, "{na}");
        assert_ne!(na, nb);
        assert!(na.starts_with(&"A".repeat(LONG_KEY_PREFIX)));
    }

    /// The owners of names, lower-cased, as the registry's index compares them.
    #[derive(Default)]
    struct Map(std::collections::HashMap<String, MessageHash>);

    impl Owners for Map {
        type Error = std::convert::Infallible;
        fn owner(&self, name: &str) -> Result<Option<MessageHash>, Self::Error> {
            Ok(self.0.get(&name.to_ascii_lowercase()).copied())
        }
    }

    impl Map {
        fn name(&mut self, key: Option<&str>, hash: MessageHash) -> String {
            let Ok(name) = new_name(self, key, &hash);
            self.0.entry(name.to_ascii_lowercase()).or_insert(hash);
            name
        }
    }

    #[test]
    fn a_free_name_is_the_key_and_a_taken_one_gets_a_suffix() {
        let mut owners = Map::default();
        let (h1, h2) = (
            Algorithm::NEW_FOLDERS.hash(b"one"),
            Algorithm::NEW_FOLDERS.hash(b"two"),
        );
        assert_eq!(owners.name(Some("DOC1"), h1), "DOC1");
        // Its own name is free for the message that owns it.
        assert_eq!(new_name(&owners, Some("DOC1"), &h1), Ok("DOC1".to_owned()));
        let n2 = owners.name(Some("DOC1"), h2);
        assert_eq!(n2, format!("DOC1-{}", &h2.hex()[..12]));
        assert_eq!(
            new_name(&owners, Some("DOC1"), &h2),
            Ok(n2),
            "stable once recorded"
        );
    }

    #[test]
    fn names_differing_only_in_case_collide() {
        let mut owners = Map::default();
        let (h1, h2) = (
            Algorithm::NEW_FOLDERS.hash(b"one"),
            Algorithm::NEW_FOLDERS.hash(b"two"),
        );
        owners.name(Some("abc"), h1);
        assert_ne!(owners.name(Some("ABC"), h2).to_lowercase(), "abc");
    }

    #[test]
    fn a_hostile_key_that_spells_another_messages_suffixed_name_is_counted_on() {
        let mut owners = Map::default();
        let (h1, h2) = (
            Algorithm::NEW_FOLDERS.hash(b"one"),
            Algorithm::NEW_FOLDERS.hash(b"two"),
        );
        owners.name(Some("K"), h1);
        let long = format!("K-{}", h2.hex());
        // Another message took h2's short and long suffixed names by their keys.
        owners.name(
            Some(&format!("K-{}", &h2.hex()[..12])),
            Algorithm::NEW_FOLDERS.hash(b"3"),
        );
        owners.name(Some(&long), Algorithm::NEW_FOLDERS.hash(b"4"));
        assert_eq!(owners.name(Some("K"), h2), format!("{long}-2"));
    }

    #[test]
    fn no_key_names_by_hash() {
        let h = Algorithm::NEW_FOLDERS.hash(b"junk");
        let n = new_name(&Map::default(), None, &h);
        assert_eq!(n, Ok(format!("msg-{}", &h.hex()[..16])));
    }

    proptest! {
        #[test]
        fn any_key_gives_a_safe_name(key in any::<String>()) {
            if let Some(name) = sanitize(&key) {
                prop_assert!(!name.is_empty());
                prop_assert!(name.len() <= MAX_NAME_CHARS + 1);
                prop_assert!(!name.starts_with('.'));
                prop_assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)));
                prop_assert!(name != "." && name != "..");
            }
        }

        #[test]
        fn distinct_messages_never_share_a_name(keys in proptest::collection::vec("[a-cA-C.]{0,3}", 1..40)) {
            let mut owners = Map::default();
            let mut seen = std::collections::HashSet::new();
            for (i, key) in keys.iter().enumerate() {
                let h = Algorithm::NEW_FOLDERS.hash(&i.to_le_bytes());
                let name = owners.name(Some(key), h);
                prop_assert!(seen.insert(name.to_ascii_lowercase()), "{} reused", name);
            }
        }
    }
}
