//! Name-based UUIDs (RFC 9562 §5.5, version 5: SHA-1 of a namespace UUID and a name), so that
//! the same document always gets the same XDS `entryUUID`, submission set id, and so on: an XDM
//! package written again is the same bytes.
//!
//! The document entry's UUID is named by the document's XDS uniqueId in the OID namespace (RFC
//! 9562 §6.6, `6ba7b812-9dad-11d1-80b4-00c04fd430c8`: the uniqueId is an OID); the other objects
//! of the package are named within it (`SubmissionSet`, `Association`, …). A UUID also makes an
//! OID under `2.25` (ITU-T X.667 / ISO/IEC 9834-8 §6.3): the submission set's uniqueId.

use sha1::{Digest, Sha1};
use std::fmt;

/// A UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Uuid(pub [u8; 16]);

/// RFC 9562 §6.6: the namespace of names that are ISO OIDs.
pub const NAMESPACE_OID: Uuid = Uuid([
    0x6b, 0xa7, 0xb8, 0x12, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8,
]);

impl Uuid {
    /// The version 5 UUID of `name` in `namespace`.
    pub fn v5(namespace: &Uuid, name: &str) -> Uuid {
        let digest = Sha1::new()
            .chain_update(namespace.0)
            .chain_update(name.as_bytes())
            .finalize();
        let mut b = [0u8; 16];
        b.copy_from_slice(&digest[..16]);
        b[6] = (b[6] & 0x0f) | 0x50; // version 5
        b[8] = (b[8] & 0x3f) | 0x80; // variant RFC 9562
        Uuid(b)
    }

    /// A UUID named within this one (`entry.child("SubmissionSet")`).
    pub fn child(&self, name: &str) -> Uuid {
        Uuid::v5(self, name)
    }

    /// `urn:uuid:…`, the form ebRIM ids take.
    pub fn urn(&self) -> String {
        format!("urn:uuid:{self}")
    }

    /// The OID `2.25.<the UUID as one decimal integer>` (at most 44 characters).
    pub fn oid(&self) -> String {
        format!("2.25.{}", u128::from_be_bytes(self.0))
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values from Python's `uuid.uuid5` (an independent implementation).
    #[test]
    fn version_5_matches_a_reference_implementation() {
        const DNS: Uuid = Uuid([
            0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4,
            0x30, 0xc8,
        ]);
        let cases = [
            (
                Uuid::v5(&DNS, "python.org"),
                "886313e1-3b8a-5372-9b90-0c9aee199e5d",
            ),
            (
                Uuid::v5(&NAMESPACE_OID, "1.2.250.1.999.1.2.1001"),
                "9c1533f5-b96c-5670-8cf5-0daa43c5eaa4",
            ),
            (
                Uuid::v5(&NAMESPACE_OID, "1.2.250.1.999.1.2.1001").child("SubmissionSet"),
                "a144c96a-8e81-5707-b3ba-1385102e2dd2",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got.to_string(), want);
        }
    }

    #[test]
    fn urn_and_oid_forms() {
        let u = Uuid::v5(&NAMESPACE_OID, "1.2.250.1.999.1.2.1001");
        assert_eq!(u.urn(), "urn:uuid:9c1533f5-b96c-5670-8cf5-0daa43c5eaa4");
        assert_eq!(u.oid(), "2.25.207469659447651408788324493824178383524");
        assert!(crate::config::is_oid(&u.oid()));
        assert!(Uuid([0xff; 16]).oid().len() <= 44);
    }
}
