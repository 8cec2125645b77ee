//! The registry as a conversion's memory: [`Recall`] answered by a read-only connection (the
//! workers) or by the writer's open transaction (the committer, which asks again in input order,
//! see [`crate::recall`]), and the pool of read-only connections the workers share.

use crate::recall::{Lookup, Place, Recall, RecordedIdentity, Unavailable};
use crate::registry::{PatientRow, RegistryError, RegistryRead, RegistryReader};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

fn unavailable(e: RegistryError) -> Unavailable {
    Unavailable(e.to_string())
}

impl<T: RegistryRead> Recall for T {
    fn place(&self, document_id: &str, parent_id: Option<&str>) -> Result<Place, Unavailable> {
        let p = self
            .chain_position(document_id, parent_id)
            .map_err(unavailable)?;
        Ok(Place {
            set_id: p.set_id,
            version: p.version,
            parent_known: p.parent.is_some(),
        })
    }

    fn known(&self, document_id: &str) -> Result<bool, Unavailable> {
        Ok(self
            .find_document(document_id)
            .map_err(unavailable)?
            .is_some())
    }

    fn opposed(&self, ipp: Option<&str>, ins: Option<&str>) -> Result<bool, Unavailable> {
        if let Some(ipp) = ipp
            && self.is_opposed(ipp).map_err(unavailable)?
        {
            return Ok(true);
        }
        match ins {
            Some(ins) => self.is_opposed_by_ins(ins).map_err(unavailable),
            None => Ok(false),
        }
    }

    fn identity(&self, ipp: &str) -> Result<Option<RecordedIdentity>, Unavailable> {
        Ok(self
            .patient(ipp)
            .map_err(unavailable)?
            .map(recorded_identity))
    }

    fn identity_by_ins(&self, ins: &str) -> Result<Option<RecordedIdentity>, Unavailable> {
        Ok(self
            .patient_by_ins(ins)
            .map_err(unavailable)?
            .map(recorded_identity))
    }
}

fn recorded_identity(p: PatientRow) -> RecordedIdentity {
    RecordedIdentity {
        message: p.adt_message,
        hash: p.message_hash,
    }
}

/// The registry as the memory of one message: the answers its last conversion got, when it was
/// committed before (a rerun, a resend: the same message gives the same result even though later
/// messages changed the registry — a parent that arrived after its replacement, an opposition
/// lifted after the document was excluded), else the registry's current state. The recorded
/// identity: none if there was none for its last conversion (a held message stays held, however
/// often it is sent again: releasing is the ADT's job), else the current one (a recorded
/// identity may be updated by later ADT messages).
pub struct MessageMemory<'a, R> {
    registry: &'a R,
    before: Vec<Lookup>,
}

impl<'a, R: RegistryRead> MessageMemory<'a, R> {
    /// The memory of the message with this hash (hexadecimal, as the report writes it).
    pub fn new(registry: &'a R, message_hash: &str) -> Self {
        let before = match registry.answers(message_hash) {
            Ok(Some(json)) => serde_json::from_str(&json).unwrap_or_else(|e| {
                tracing::warn!("registry: answers of a message unreadable ({e}); asked again");
                Vec::new()
            }),
            Ok(None) => Vec::new(),
            Err(e) => {
                tracing::debug!("registry: answers unavailable: {e}");
                Vec::new()
            }
        };
        MessageMemory { registry, before }
    }

    /// The registry's current state only (a release: the patient's identity changed).
    pub fn fresh(registry: &'a R) -> Self {
        MessageMemory {
            registry,
            before: Vec::new(),
        }
    }
}

impl<R: RegistryRead> Recall for MessageMemory<'_, R> {
    fn place(&self, document_id: &str, parent_id: Option<&str>) -> Result<Place, Unavailable> {
        match self
            .before
            .iter()
            .find_map(|l| l.place_answer(document_id, parent_id))
        {
            Some(p) => Ok(p.clone()),
            None => self.registry.place(document_id, parent_id),
        }
    }

    fn known(&self, document_id: &str) -> Result<bool, Unavailable> {
        match self.before.iter().find_map(|l| l.known_answer(document_id)) {
            Some(k) => Ok(k),
            None => self.registry.known(document_id),
        }
    }

    fn opposed(&self, ipp: Option<&str>, ins: Option<&str>) -> Result<bool, Unavailable> {
        match self.before.iter().find_map(|l| l.opposed_answer(ipp, ins)) {
            Some(o) => Ok(o),
            None => self.registry.opposed(ipp, ins),
        }
    }

    fn identity(&self, ipp: &str) -> Result<Option<RecordedIdentity>, Unavailable> {
        if self.before.iter().any(|l| l.found_no_identity(ipp)) {
            return Ok(None);
        }
        self.registry.identity(ipp)
    }

    fn identity_by_ins(&self, ins: &str) -> Result<Option<RecordedIdentity>, Unavailable> {
        if self.before.iter().any(|l| l.found_no_identity_by_ins(ins)) {
            return Ok(None);
        }
        self.registry.identity_by_ins(ins)
    }
}

/// A memory that cannot answer: every conversion made with it is made again at commit.
pub struct Unreachable(pub String);

impl Recall for Unreachable {
    fn place(&self, _: &str, _: Option<&str>) -> Result<Place, Unavailable> {
        Err(Unavailable(self.0.clone()))
    }
    fn known(&self, _: &str) -> Result<bool, Unavailable> {
        Err(Unavailable(self.0.clone()))
    }
    fn opposed(&self, _: Option<&str>, _: Option<&str>) -> Result<bool, Unavailable> {
        Err(Unavailable(self.0.clone()))
    }
    fn identity(&self, _: &str) -> Result<Option<RecordedIdentity>, Unavailable> {
        Err(Unavailable(self.0.clone()))
    }
    fn identity_by_ins(&self, _: &str) -> Result<Option<RecordedIdentity>, Unavailable> {
        Err(Unavailable(self.0.clone()))
    }
}

/// Read-only connections for the workers: one taken per conversion and given back, so that each
/// thread uses its own (a connection is not shared between threads) and none is opened twice.
#[derive(Debug)]
pub struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<RegistryReader>>,
}

impl Readers {
    pub fn new(path: &Path) -> Readers {
        Readers {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Opens one more connection for the idle pool (a worker about to start); a failure is left
    /// for the first conversion to meet and report.
    pub fn warm(&self) {
        if let Ok(reader) = RegistryReader::open(&self.path)
            && let Ok(mut idle) = self.idle.lock()
        {
            idle.push(reader);
        }
    }

    /// Runs `f` with the memory of the message with this hash, on a connection (or, when none
    /// can be opened, a memory that cannot answer: the committer then decides alone).
    pub fn with<R>(&self, message_hash: &str, f: impl FnOnce(&dyn Recall) -> R) -> R {
        let taken = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let reader = match taken {
            Some(r) => Ok(r),
            None => RegistryReader::open(&self.path),
        };
        match reader {
            Ok(reader) => {
                // One read transaction for all the message's look-ups: one state, and two
                // statements rather than two per look-up.
                let r = match reader.snapshot() {
                    Ok(_snapshot) => f(&MessageMemory::new(&reader, message_hash)),
                    Err(e) => {
                        tracing::debug!("registry look-up unavailable: {e}");
                        f(&Unreachable(e.to_string()))
                    }
                };
                if reader.is_idle()
                    && let Ok(mut idle) = self.idle.lock()
                {
                    idle.push(reader);
                }
                r
            }
            Err(e) => {
                tracing::debug!("registry look-up unavailable: {e}");
                f(&Unreachable(e.to_string()))
            }
        }
    }
}
