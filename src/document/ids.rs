//! Document identifiers: the CDA `id` (and XDS uniqueId), `setId` and `versionNumber`.
//!
//! The DMP takes a pure OID as document id: « La version actuelle du DMP ne supporte pas le format
//! OID^Extension » (CI-SIS volet « Transmission de documents CDA en HL7v2 », TXA-12). TXA-12 is an
//! EI: « si id@extension : `ext^^root^ISO` ; sinon l'OID complet dans TXA-12.1 ». So:
//!
//! 1. EI-1 an OID and no EI-3 → that OID (the ANS examples: `1.2.250.1.71.4.2.2.120456789.71024000081^Organisation-Y`);
//! 2. EI-3 an OID and EI-1 a number without leading zero → `EI-3.EI-1`, the same document written
//!    as one OID (the volet's own example: `58132^^1.2.250.2345.3245.13^ISO` ≡ `1.2.250.2345.3245.13.58132`);
//! 3. otherwise an OID derived under `oids.document_root`: the root, a dot and a 64-bit number
//!    taken from the SHA-1 of the sending application and facility (MSH-3, MSH-4) and the
//!    identifier's components. The same source identifier always gives the same id; another
//!    sender's identical local number gives another id.
//!
//! For an ORU the identifier is OBR-3 (filler order number, EI); for an MDM TXA-12, else OBR-3;
//! without either, MSH-10 (so that a resent message keeps its id).

use sha1::{Digest, Sha1};
use std::fmt::Write as _;

/// Where a document identifier came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdSource {
    Ei,
    ControlId,
}

/// An entity identifier as read from the message (EI-1, EI-2, EI-3), decoded and trimmed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntityId {
    pub id: String,
    pub namespace: String,
    pub universal_id: String,
}

impl EntityId {
    pub fn is_empty(&self) -> bool {
        self.id.is_empty() && self.universal_id.is_empty()
    }

    /// The identifier as sent, for the registry (issue 9: "keep … source document id (TXA-12 /
    /// OBR-3)"): `EI-1^EI-2^EI-3` as read (decoded, trimmed), without its trailing empty
    /// components — `DOC-A`, `DOC-A^DPI`, `58132^^1.2.250.2345.3245.13`. EI-4 (the universal id
    /// type, `ISO`) is not kept.
    pub fn as_sent(&self) -> String {
        let parts = [
            self.id.as_str(),
            self.namespace.as_str(),
            self.universal_id.as_str(),
        ];
        let n = parts
            .iter()
            .rposition(|p| !p.is_empty())
            .map_or(0, |i| i + 1);
        parts[..n].join("^")
    }
}

/// The sender, part of every derived id (MSH-3 and MSH-4, decoded).
#[derive(Debug, Clone, Copy)]
pub struct Sender<'s> {
    pub application: &'s str,
    pub facility: &'s str,
}

/// The CDA id of a document identified by `ei` (see the module doc).
pub fn document_oid(ei: &EntityId, sender: Sender<'_>, root: &str) -> String {
    let is_oid = crate::config::is_oid;
    if is_oid(&ei.id) && ei.universal_id.is_empty() {
        return ei.id.clone();
    }
    let number = !ei.id.is_empty()
        && ei.id.bytes().all(|b| b.is_ascii_digit())
        && (ei.id == "0" || !ei.id.starts_with('0'));
    if is_oid(&ei.universal_id) && number && ei.universal_id.len() + 1 + ei.id.len() <= 64 {
        return format!("{}.{}", ei.universal_id, ei.id);
    }
    derived_oid(
        root,
        sender,
        IdSource::Ei,
        &[&ei.id, &ei.namespace, &ei.universal_id],
    )
}

/// The CDA id derived from the message control id (MSH-10), for a message whose document has
/// no identifier of its own.
pub fn control_id_oid(control_id: &str, sender: Sender<'_>, root: &str) -> String {
    derived_oid(root, sender, IdSource::ControlId, &[control_id])
}

fn derived_oid(root: &str, sender: Sender<'_>, source: IdSource, parts: &[&str]) -> String {
    let mut h = Sha1::new();
    // Unambiguous framing: every part is length-prefixed.
    let tag: &[u8] = match source {
        IdSource::Ei => b"dmpfeed document id v1: EI",
        IdSource::ControlId => b"dmpfeed document id v1: MSH-10",
    };
    h.update(tag);
    for part in [sender.application, sender.facility].iter().chain(parts) {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let n = u64::from_be_bytes(first);
    let mut out = String::with_capacity(root.len() + 21);
    out.push_str(root);
    let _ = write!(out, ".{n}");
    out
}

/// What is known of the document a replacement replaces (from dmpfeed's registry, once it
/// exists): its set id and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownParent {
    pub set_id: String,
    pub version: u32,
}

/// `setId` and `versionNumber` (CI-SIS structuration minimale; IHE XDS: a new version keeps the
/// set id and increments the version). A new document: its own id, version 1. A replacement:
/// the parent's set id and version + 1 when the parent is known; otherwise the parent's id as
/// set id and version 2 (the parent is then assumed to be the first version).
pub fn set_id_and_version(
    id: &str,
    parent: Option<&str>,
    known: Option<&KnownParent>,
) -> (String, u32) {
    match (parent, known) {
        (None, _) => (id.to_owned(), 1),
        (Some(_), Some(k)) => (k.set_id.clone(), k.version.saturating_add(1)),
        (Some(p), None) => (p.to_owned(), 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "1.2.250.1.999.1.2.99";
    const SENDER: Sender<'static> = Sender {
        application: "DPI-DEMO",
        facility: "CHU-DEMO",
    };

    fn ei(id: &str, ns: &str, uid: &str) -> EntityId {
        EntityId {
            id: id.into(),
            namespace: ns.into(),
            universal_id: uid.into(),
        }
    }

    #[test]
    fn oid_identifiers_are_kept() {
        let cases = [
            (
                ei("1.2.250.1.999.1.2.1001", "", ""),
                "1.2.250.1.999.1.2.1001",
            ),
            (
                ei(
                    "1.2.250.1.71.4.2.2.120456789.71024000081",
                    "Organisation-Y",
                    "",
                ),
                "1.2.250.1.71.4.2.2.120456789.71024000081",
            ),
            (
                ei("58132", "", "1.2.250.2345.3245.13"),
                "1.2.250.2345.3245.13.58132",
            ),
        ];
        for (ei, want) in cases {
            assert_eq!(document_oid(&ei, SENDER, ROOT), want, "{ei:?}");
        }
    }

    #[test]
    fn other_identifiers_are_derived_deterministically() {
        let local = ei("CR-2024-0042", "DPI", "");
        let a = document_oid(&local, SENDER, ROOT);
        assert!(a.starts_with("1.2.250.1.999.1.2.99."), "{a}");
        assert!(crate::config::is_oid(&a), "{a}");
        assert!(a.len() <= 64);
        assert_eq!(a, document_oid(&local, SENDER, ROOT), "stable");
        // leading zero: not an OID arc, derived
        let zero = document_oid(&ei("0042", "", "1.2.3.4"), SENDER, ROOT);
        assert!(zero.starts_with(ROOT), "{zero}");
        // another sender, another id
        let other = Sender {
            application: "DPI-AUTRE",
            facility: "CHU-DEMO",
        };
        assert_ne!(a, document_oid(&local, other, ROOT));
        // the parts cannot run into each other
        assert_ne!(
            document_oid(&ei("AB", "C", ""), SENDER, ROOT),
            document_oid(&ei("A", "BC", ""), SENDER, ROOT)
        );
        // MSH-10 and an EI with the same text differ
        assert_ne!(
            control_id_oid("CR-2024-0042", SENDER, ROOT),
            document_oid(&ei("CR-2024-0042", "", ""), SENDER, ROOT)
        );
    }

    #[test]
    fn the_id_as_sent_keeps_its_components_without_trailing_empties() {
        assert_eq!(ei("DOC-A", "", "").as_sent(), "DOC-A");
        assert_eq!(ei("DOC-A", "DPI", "").as_sent(), "DOC-A^DPI");
        assert_eq!(
            ei("58132", "", "1.2.250.2345.3245.13").as_sent(),
            "58132^^1.2.250.2345.3245.13"
        );
        assert_eq!(ei("", "", "1.2.3").as_sent(), "^^1.2.3");
        assert_eq!(EntityId::default().as_sent(), "");
    }

    #[test]
    fn versions() {
        let known = KnownParent {
            set_id: "1.2.3.1".into(),
            version: 3,
        };
        let cases = [
            (None, None, ("1.2.3.2", 1)),
            (None, Some(&known), ("1.2.3.2", 1)),
            (Some("1.2.3.1"), None, ("1.2.3.1", 2)),
            (Some("1.2.3.5"), Some(&known), ("1.2.3.1", 4)),
        ];
        for (parent, k, (set_id, version)) in cases {
            let got = set_id_and_version("1.2.3.2", parent, k);
            assert_eq!(got, (set_id.to_owned(), version), "{parent:?} {k:?}");
        }
    }
}
