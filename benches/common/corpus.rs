//! A deterministic French DPI corpus for the speed measurements of issue 7, shared by
//! `examples/gen_corpus.rs` (files on disk) and `benches/stages.rs` (in memory) through
//! `#[path]`: it is not part of the library.
//!
//! The mix: MDM^T02 document messages; 40 % carry one PDF of 20–200 KB as base64 in an OBX ED,
//! 60 % carry 20–80 narrative OBX TX lines full of accents and escapes (`\F\ \S\ \T\ \R\ \E\`,
//! `\.br\`, `\X0D0A\`); half of the messages declare MSH-18 `8859/1` and are really written in
//! ISO 8859-1, the other half `UNICODE UTF-8`. Every patient has a valid NIR key
//! (97 − body mod 97, `2A` read as 19, `2B` as 18, Corsicans born before 1976 with department
//! `20`), a production INS OID (1.2.250.1.213.1.4.8), PID-32 `QUAL` and traits consistent with
//! the NIR, so that every message converts. Five document types (J07 codes with a class).
//!
//! Message `i` depends only on `(seed, i)`: the 100-message corpus is the start of the
//! 100,000-message one, and a kind filter (text-only, PDF-only) keeps the same messages.

#![allow(dead_code)]

use std::fmt::Write as _;

/// Which messages a corpus holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    /// 40 % PDF, 60 % narrative text (issue 7).
    Mixed,
    /// Only the narrative-text messages.
    Text,
    /// Only the PDF messages.
    Pdf,
}

impl Mix {
    pub fn parse(s: &str) -> Option<Mix> {
        match s {
            "mixed" => Some(Mix::Mixed),
            "text" => Some(Mix::Text),
            "pdf" => Some(Mix::Pdf),
            _ => None,
        }
    }
}

/// What a generated message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pdf,
    Text,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Pdf => "pdf",
            Kind::Text => "text",
        }
    }
}

/// One generated message.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Position in the mixed sequence (the same message keeps its index in every mix).
    pub index: u64,
    pub kind: Kind,
    pub latin1: bool,
    /// The message, segments ended by `\r`, in its declared charset.
    pub bytes: Vec<u8>,
}

/// The kind of the `i`-th message of the mixed sequence: exactly 2 in 5 are PDFs.
pub fn kind_of(i: u64) -> Kind {
    if i % 5 == 1 || i % 5 == 3 {
        Kind::Pdf
    } else {
        Kind::Text
    }
}

/// Whether the `i`-th message is written in ISO 8859-1 (every other one, so that half of the
/// PDFs and half of the texts are).
pub fn latin1_of(i: u64) -> bool {
    i % 2 == 1
}

/// The messages of a corpus, in order: `count` messages of `mix` (for Text and Pdf, the
/// messages of the mixed sequence of that kind).
pub fn messages(seed: u64, mix: Mix, count: usize) -> impl Iterator<Item = Generated> {
    (0u64..)
        .filter(move |&i| match mix {
            Mix::Mixed => true,
            Mix::Text => kind_of(i) == Kind::Text,
            Mix::Pdf => kind_of(i) == Kind::Pdf,
        })
        .take(count)
        .map(move |i| message(seed, i))
}

/// The `i`-th message of the mixed sequence of `seed`.
pub fn message(seed: u64, i: u64) -> Generated {
    let mut rng = Rng::new(seed, i);
    let kind = kind_of(i);
    let latin1 = latin1_of(i);
    let text = Builder {
        rng: &mut rng,
        seed,
        i,
        kind,
        latin1,
    }
    .build();
    let bytes = if latin1 {
        latin1_bytes(&text)
    } else {
        text.into_bytes()
    };
    Generated {
        index: i,
        kind,
        latin1,
        bytes,
    }
}

/// ISO 8859-1 bytes of a text made only of Latin-1 characters (the pools used for Latin-1
/// messages hold no other: a character outside would be a bug of this generator).
fn latin1_bytes(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| {
            u8::try_from(u32::from(c)).expect("the Latin-1 pools hold only Latin-1 characters")
        })
        .collect()
}

/// Wraps a message in an MLLP block (`0x0B` … `0x1C 0x0D`).
pub fn mllp(message: &[u8], out: &mut Vec<u8>) {
    out.push(0x0B);
    out.extend_from_slice(message);
    out.extend_from_slice(&[0x1C, 0x0D]);
}

// ------------------------------------------------------------------------------------------------
// Check digits (written here again, not taken from the library: the corpus checks the library).
// ------------------------------------------------------------------------------------------------

/// The NIR key of a 13-character body: 97 − (body mod 97), with `2A` → 19 and `2B` → 18.
pub fn nir_key(body: &str) -> u64 {
    let digits = match &body[5..7] {
        "2A" => format!("{}19{}", &body[..5], &body[7..]),
        "2B" => format!("{}18{}", &body[..5], &body[7..]),
        _ => body.to_owned(),
    };
    let n: u64 = digits.parse().expect("a NIR body of digits");
    97 - n % 97
}

/// Luhn check digit of a string of digits (RPPS numbers).
fn luhn_digit(payload: &str) -> u32 {
    let total: u32 = payload
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let d = d * 2;
                if d > 9 { d - 9 } else { d }
            } else {
                d
            }
        })
        .sum();
    (10 - total % 10) % 10
}

// ------------------------------------------------------------------------------------------------
// Randomness: splitmix64 seeded from (seed, index), so that message i never depends on the others.
// ------------------------------------------------------------------------------------------------

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64, index: u64) -> Rng {
        let mut r = Rng(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.next();
        r
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next() % items.len() as u64) as usize]
    }

    /// True with probability `percent` %.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub fn fill(&mut self, out: &mut Vec<u8>, n: usize) {
        out.reserve(n);
        let mut left = n;
        while left > 0 {
            let word = self.next().to_le_bytes();
            let take = left.min(8);
            out.extend_from_slice(&word[..take]);
            left -= take;
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Pools. Every string is in Latin-1 except those of the `*_UTF8` pools, used only for UTF-8
// messages (Œ œ Ÿ € and typographic quotes are not in ISO 8859-1).
// ------------------------------------------------------------------------------------------------

const FAMILY: &[&str] = &[
    "LEFÈVRE",
    "GARNIER",
    "MÉNARD",
    "D'ALMEIDA",
    "LE GOFF",
    "FAURÉ",
    "BÉRANGER",
    "N'DIAYE",
    "CHÂTEAUNEUF",
    "GRÉGOIRE",
    "MÜLLER",
    "NOËL",
    "DUPRÉ",
    "PÉREZ",
    "GUÉRIN",
    "BOUCHÉ",
    "LEBRETON",
    "MARTIN",
    "BERNARD",
    "ROUSSEAU",
    "FONTAINE",
    "CASANOVA",
    "PAOLI",
    "MOREL",
];
const FAMILY_UTF8: &[&str] = &["ŒUVRAY", "DESCŒUR", "SŒURIN", "LŒWENBRÜCK"];
const GIVEN_F: &[&str] = &[
    "HÉLÈNE",
    "FRANÇOISE",
    "ANAÏS",
    "CÉLINE",
    "ZOÉ",
    "GAËLLE",
    "MAËLYS",
    "ÉLODIE",
    "OCÉANE",
    "LÆTITIA",
    "AMINATA",
    "CHLOÉ",
    "MÉLANIE",
    "RENÉE",
];
const GIVEN_M: &[&str] = &[
    "JÉRÔME",
    "LOÏC",
    "RÉMI",
    "THÉO",
    "FRANÇOIS",
    "GÉRARD",
    "NOËL",
    "ANDRÉ",
    "JEAN-BAPTISTE",
    "YANNICK",
    "MATHÉO",
    "HERVÉ",
    "SÉBASTIEN",
    "BENOÎT",
];

/// (COG code of the birthplace, city, ISO country).
const BIRTHPLACES: &[(&str, &str, &str)] = &[
    ("69381", "LYON 1ER ARRONDISSEMENT", "FRA"),
    ("29019", "BREST", "FRA"),
    ("2A004", "AJACCIO", "FRA"),
    ("2B033", "BASTIA", "FRA"),
    ("99341", "DAKAR", "SEN"),
    ("99350", "RABAT", "MAR"),
    ("33063", "BORDEAUX", "FRA"),
    ("44109", "NANTES", "FRA"),
    ("59350", "LILLE", "FRA"),
    ("35238", "RENNES", "FRA"),
    ("13205", "MARSEILLE 5E ARRONDISSEMENT", "FRA"),
    ("31555", "TOULOUSE", "FRA"),
    ("75115", "PARIS 15E ARRONDISSEMENT", "FRA"),
    ("67482", "STRASBOURG", "FRA"),
    ("97411", "SAINT-DENIS", "FRA"),
];
const BIRTHPLACES_UTF8: &[(&str, &str, &str)] = &[("94038", "L'HAŸ-LES-ROSES", "FRA")];

/// (street, city, postal code).
const ADDRESSES: &[(&str, &str, &str)] = &[
    ("12 rue de la Barre", "LYON", "69002"),
    ("3 place de la Liberté", "BREST", "29200"),
    ("5 cours Napoléon", "AJACCIO", "20000"),
    ("40 avenue Jean Jaurès", "VILLEURBANNE", "69100"),
    ("21 cours de l'Intendance", "BORDEAUX", "33000"),
    ("6 quai de la Fosse", "NANTES", "44000"),
    ("9 allée Émile Zola", "TOULOUSE", "31000"),
    ("1 rue de la Liberté", "DIJON", "21000"),
    ("14 rue de Vesle", "REIMS", "51100"),
    ("30 boulevard Baille", "MARSEILLE", "13005"),
    ("2 impasse des Sœurs", "L'HAŸ-LES-ROSES", "94240"),
];

/// (LOINC code, label) of five J07 document types with an ASS_X04 class.
const DOC_TYPES: &[(&str, &str)] = &[
    ("11488-4", "CR ou fiche de consultation ou de visite"),
    ("34112-3", "CR d'hospitalisation"),
    (
        "11490-0",
        "Lettre de liaison à la sortie d'un établissement de soins",
    ),
    ("34874-8", "CR opératoire"),
    ("18748-4", "CR d'imagerie médicale"),
];

/// (IDNPS payload of 10 digits, family, given) of the authors; the IDNPS gets its Luhn key.
const AUTHORS: &[(&str, &str, &str)] = &[
    ("1000010002", "MARTIN", "Claire"),
    ("1000010003", "GUÉRIN", "Benoît"),
    ("1000010004", "FAURE", "Étienne"),
    ("1000010005", "LÉGER", "Anaïs"),
    ("1000010006", "CHÉRON", "Frédéric"),
    ("1000010007", "MOREAU", "Gaëlle"),
];

const SERVICES: &[&str] = &["CARDIO", "CHIRDIG", "GYNECO", "PNEUMO", "RADIO", "NEURO"];

/// Narrative sentences (Latin-1).
const SENTENCES: &[&str] = &[
    "Patient(e) reçu(e) en consultation pour un bilan de dyspnée d'effort évoluant depuis trois mois.",
    "Antécédents : hypertension artérielle traitée, appendicectomie en 1998, tabagisme sevré.",
    "Traitement habituel : ramipril 5 mg/j, bisoprolol 2,5 mg/j, atorvastatine 20 mg le soir.",
    "Examen clinique : TA 138/86 mmHg, FC 72/min, auscultation cardio-pulmonaire sans particularité.",
    "Pas d'oedème des membres inférieurs ; mollets souples et indolores.",
    "L'échographie retrouve une FEVG estimée à 60 %, sans valvulopathie significative.",
    "Intervention réalisée sous anesthésie générale ; suites opératoires simples, apyrexie.",
    "Ablation des fils prévue à J10 par l'infirmière à domicile ; douche autorisée dès J2.",
    "Biologie : hémoglobine 13,2 g/dl, créatinine 78 µmol/l, CRP < 5 mg/l, kaliémie à 4,1 mmol/l.",
    "Scanner thoraco-abdomino-pelvien : absence de lésion suspecte, pas d'épanchement.",
    "Conclusion : dyspnée probablement liée à un déconditionnement ; réévaluation à trois mois.",
    "Rendez-vous de contrôle fixé le 02/04/2024 à 14 h 30 au secrétariat du 2ème étage.",
    "Le patient a été informé des résultats et des bénéfices/risques de la prise en charge proposée.",
    "Mère âgée de 84 ans, ménopausée, sous lévothyroxine ; père décédé d'un infarctus à 61 ans.",
    "Allergie déclarée à la pénicilline (érythème généralisé en 2005) : à reporter sur l'ordonnance.",
    "Kinésithérapie respiratoire : 10 séances, rééducation à l'effort et drainage bronchique.",
    "Sortie à domicile le 13/03 ; lettre adressée au Dr Gaëlle MOREAU, médecin traitant.",
    "Imagerie : IRM cérébrale sans anomalie de signal ; séquences de diffusion normales.",
];
/// Sentences only in UTF-8 messages.
const SENTENCES_UTF8: &[&str] = &[
    "Cœur régulier, pas de souffle ; œsophagite de grade A à l’endoscopie.",
    "Dépassement d’honoraires : 25 € ; « consentement éclairé » recueilli.",
    "Sœur jumelle suivie pour une dystrophie myotonique — bilan génétique en cours.",
];
/// HL7 escapes put in the narrative (HL7 v2.5 §2.7): field, component, subcomponent,
/// repetition, escape separators, a line break and a hexadecimal CR LF.
const ESCAPES: &[&str] = &[
    " \\F\\ ",
    " \\S\\ ",
    " \\T\\ ",
    " \\R\\ ",
    " C:\\E\\ECHO\\E\\",
    "\\.br\\",
    "\\X0D0A\\",
];

/// The MetaDMPMSS flags sent with every document (CI-SIS MDM), as OBX CWE.
const FLAGS: &[(&str, &str, &str)] = &[
    ("MASQUE_PS", "Masqué aux professionnels de Santé", "N"),
    (
        "INVISIBLE_PATIENT",
        "Document Non Visible par le patient",
        "N",
    ),
    (
        "INVISIBLE_REP_LEGAUX",
        "Non visible par les représentants Légaux du patient",
        "N",
    ),
    ("CONNEXION_SECRETE", "Connexion Secrete", "N"),
    ("MODIF_CONF_CODE", "Modification Confidentiality Code", "N"),
    ("DESTDMP", "Destinataire DMP", "Y"),
    (
        "DESTMSSANTEPS",
        "Destinataire (Professionnel de Santé, organisation ou BAL applicative)",
        "N",
    ),
    ("DESTMSSANTEPAT", "Destinataire Patient", "N"),
    ("ACK_RECEPTION", "Accusé de réception", "N"),
    ("ACK_LECTURE_MSS", "Accusé de lecture", "N"),
];

const FACILITY: &str = "CHU-DEMO";
const OID_IPP: &str = "1.2.250.1.999.1.1";
const OID_DOC: &str = "1.2.250.1.999.1.2";
const OID_VISIT: &str = "1.2.250.1.999.1.3";
const OID_AN: &str = "1.2.250.1.999.1.4";
/// Production INS-NIR (not a test OID: the corpus looks like real traffic).
const OID_INS_NIR: &str = "1.2.250.1.213.1.4.8";

// ------------------------------------------------------------------------------------------------
// The message.
// ------------------------------------------------------------------------------------------------

struct Builder<'r> {
    rng: &'r mut Rng,
    seed: u64,
    i: u64,
    kind: Kind,
    latin1: bool,
}

/// A segment from its numbered fields (the others empty).
fn seg(out: &mut String, id: &str, fields: &[(usize, &str)]) {
    out.push_str(id);
    let last = fields.iter().map(|f| f.0).max().unwrap_or(0);
    for n in 1..=last {
        out.push('|');
        if let Some((_, v)) = fields.iter().find(|f| f.0 == n) {
            out.push_str(v);
        }
    }
    out.push('\r');
}

impl Builder<'_> {
    /// Picks from the Latin-1 pool, or now and then from the UTF-8 one in a UTF-8 message.
    fn pick_str(
        &mut self,
        latin1: &'static [&'static str],
        utf8: &'static [&'static str],
    ) -> &'static str {
        if !self.latin1 && self.rng.chance(15) {
            self.rng.pick(utf8)
        } else {
            self.rng.pick(latin1)
        }
    }

    fn build(mut self) -> String {
        let i = self.i;
        // A day of 2024 and a time, from the index.
        let day = 1 + (i / 1440) % 28;
        let month = 1 + (i / (1440 * 28)) % 12;
        let minute = i % 1440;
        let ts = format!(
            "2024{month:02}{day:02}{:02}{:02}00",
            minute / 60,
            minute % 60
        );
        let obs = format!(
            "2024{month:02}{day:02}{:02}0000",
            (minute / 60).saturating_sub(1)
        );
        let control_id = format!("GEN{:x}-{i}", self.seed);
        let doc_id = format!("{OID_DOC}.{}.{}", self.seed, i + 1);
        let (loinc, label) = self.rng.pick(DOC_TYPES);
        let doc_code = format!("{loinc}^{label}^LN");
        let (idnps_payload, a_family, a_given) = self.rng.pick(AUTHORS);
        let author = format!(
            "8{idnps_payload}{}^{a_family}^{a_given}^^^DR^^^ASIP-SANTE-PS&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS",
            luhn_digit(idnps_payload)
        );
        let charset = if self.latin1 {
            "8859/1"
        } else {
            "UNICODE UTF-8"
        };

        let mut m = String::with_capacity(16 * 1024);
        seg(
            &mut m,
            "MSH",
            &[
                (1, "^~\\&"),
                (2, "DPI-GEN"),
                (3, FACILITY),
                (4, "PFI-DEMO"),
                (5, FACILITY),
                (6, &ts),
                (8, "MDM^T02^MDM_T02"),
                (9, &control_id),
                (10, "P"),
                (11, "2.6"),
                (16, "FRA"),
                (17, charset),
                (20, "2.1^CISIS_CDA_HL7_V2"),
            ],
        );
        // `seg` numbers fields after the segment id; MSH-1 is the field separator itself, so
        // MSH's fields are shifted by one: (1, "^~\\&") is MSH-2, (9, …) is MSH-10.
        seg(&mut m, "EVN", &[(2, &ts), (6, &ts)]);
        let pid = self.pid();
        m.push_str(&pid);
        let visit = format!(
            "V{:x}{i:07}^^^{FACILITY}&{OID_VISIT}&ISO^VN",
            self.seed & 0xff
        );
        let service = format!("{}^^^{FACILITY}", self.rng.pick(SERVICES));
        let admit = format!("2024{month:02}{day:02}0700");
        seg(
            &mut m,
            "PV1",
            &[
                (1, "1"),
                (2, "I"),
                (3, &service),
                (7, &author),
                (19, &visit),
                (44, &admit),
            ],
        );
        seg(&mut m, "ORC", &[(1, "NW")]);
        seg(&mut m, "OBR", &[(1, "1"), (4, &doc_code), (7, &obs)]);
        let signed = format!("{author}^^{ts}");
        seg(
            &mut m,
            "TXA",
            &[
                (1, "1"),
                (2, &doc_code),
                (3, "TEXT"),
                (4, &obs),
                (5, &author),
                (6, &ts),
                (9, &author),
                (12, &doc_id),
                (17, "AU"),
                (22, &signed),
            ],
        );
        let mut n = 1;
        match self.kind {
            Kind::Pdf => {
                let size = self.rng.range(20 * 1024, 200 * 1024) as usize;
                let pdf = pdf(self.rng, size, &control_id);
                let b64 = base64_simd::STANDARD.encode_to_string(&pdf);
                let value = format!("^application^pdf^Base64^{b64}");
                seg(
                    &mut m,
                    "OBX",
                    &[(1, "1"), (2, "ED"), (3, &doc_code), (5, &value), (11, "F")],
                );
                n += 1;
            }
            Kind::Text => {
                let lines = self.rng.range(20, 80);
                for _ in 0..lines {
                    let line = self.narrative_line();
                    let set_id = n.to_string();
                    seg(
                        &mut m,
                        "OBX",
                        &[
                            (1, &set_id),
                            (2, "TX"),
                            (3, &doc_code),
                            (5, &line),
                            (11, "F"),
                        ],
                    );
                    n += 1;
                }
            }
        }
        let prt_org = "CHU de Démo^^^^^ASIP-SANTE-ST&1.2.250.1.71.4.2.2&ISO^FINEG^^^990000010";
        seg(
            &mut m,
            "PRT",
            &[
                (2, "UC"),
                (4, "SB^Send by^participation"),
                (5, &author),
                (8, prt_org),
            ],
        );
        for (code, label, value) in FLAGS {
            let set_id = n.to_string();
            let obs_id = format!("{code}^{label}^MetaDMPMSS");
            let v = format!("{value}^^expandedYes-NoIndicator");
            seg(
                &mut m,
                "OBX",
                &[(1, &set_id), (2, "CWE"), (3, &obs_id), (5, &v), (11, "F")],
            );
            n += 1;
        }
        m
    }

    /// PID with the IPP and a qualified INS whose NIR agrees with the traits. Patients come
    /// back: one of [`PATIENTS`], the same traits each time; those whose names need UTF-8 only in
    /// UTF-8 messages.
    fn pid(&mut self) -> String {
        let mut p = self.rng.range(0, PATIENTS - 1);
        if self.latin1 && needs_utf8(p) {
            p = (p + 1) % PATIENTS;
        }
        patient(self.seed, p).pid()
    }

    /// One OBX TX line: one to three sentences, now and then an escape.
    fn narrative_line(&mut self) -> String {
        let mut line = String::new();
        for k in 0..self.rng.range(1, 3) {
            if k > 0 {
                line.push(' ');
            }
            line.push_str(self.pick_str(SENTENCES, SENTENCES_UTF8));
            if self.rng.chance(40) {
                line.push_str(self.rng.pick(ESCAPES));
            }
        }
        line
    }
}

/// How many different patients a corpus has.
pub const PATIENTS: u64 = 10_000;

/// Patients whose names are written with characters outside ISO 8859-1 (Œ, Ÿ).
fn needs_utf8(p: u64) -> bool {
    p.is_multiple_of(10)
}

/// A patient's traits, from `(seed, p)` alone.
pub struct Patient {
    pub ipp: String,
    pub nir: String,
    pub family: &'static str,
    pub first: &'static str,
    pub second: &'static str,
    pub used: Option<&'static str>,
    pub dob: String,
    pub male: bool,
    pub birthplace: (&'static str, &'static str, &'static str),
    pub address: (&'static str, &'static str, &'static str),
}

pub fn patient(seed: u64, p: u64) -> Patient {
    let mut rng = Rng::new(seed ^ 0x5041_5449_454E_5453, p);
    let utf8 = needs_utf8(p);
    let male = rng.chance(50);
    let family = if utf8 {
        rng.pick(FAMILY_UTF8)
    } else {
        rng.pick(FAMILY)
    };
    let given_pool = if male { GIVEN_M } else { GIVEN_F };
    let first = rng.pick(given_pool);
    let second = rng.pick(given_pool);
    let year = rng.range(1930, 2023);
    let month = rng.range(1, 12);
    let dom = rng.range(1, 28);
    let birthplace = if utf8 && rng.chance(30) {
        rng.pick(BIRTHPLACES_UTF8)
    } else {
        rng.pick(BIRTHPLACES)
    };
    let cog = birthplace.0;
    // Corsica was one department (20) until 1976: older NIRs keep 20.
    let corsica = cog.starts_with('2') && !cog.as_bytes()[1].is_ascii_digit();
    let nir_place = if corsica && year < 1976 {
        format!("20{}", &cog[2..])
    } else {
        cog.to_owned()
    };
    let order = rng.range(1, 999);
    let body = format!(
        "{}{:02}{month:02}{nir_place}{order:03}",
        if male { 1 } else { 2 },
        year % 100
    );
    let nir = format!("{body}{:02}", nir_key(&body));
    let address = loop {
        let a = rng.pick(ADDRESSES);
        if utf8 || a.0.chars().chain(a.1.chars()).all(|c| u32::from(c) <= 0xFF) {
            break a;
        }
    };
    let used = rng.chance(20).then(|| rng.pick(FAMILY));
    Patient {
        ipp: format!("{}", 100_000 + p),
        nir,
        family,
        first,
        second,
        used,
        dob: format!("{year}{month:02}{dom:02}"),
        male,
        birthplace,
        address,
    }
}

impl Patient {
    fn pid(&self) -> String {
        let ipp = &self.ipp;
        let ids = format!(
            "{ipp}^^^{FACILITY}&{OID_IPP}&ISO^PI~{}^^^ASIP-SANTE-INS-NIR&{OID_INS_NIR}&ISO^INS",
            self.nir
        );
        let mut names = format!(
            "{}^{}^{} {}^^^^L",
            self.family, self.first, self.first, self.second
        );
        if let Some(used) = self.used {
            let _ = write!(names, "~{used}^{}^^^^^D", self.first);
        }
        let sex = if self.male { "M" } else { "F" };
        let (street, city, zip) = self.address;
        let (cog, birth_city, country) = self.birthplace;
        let addr = format!("{street}^^{city}^^{zip}^FRA^H~^^{birth_city}^^^{country}^BDL^^{cog}");
        let account = format!("A{ipp}^^^{FACILITY}&{OID_AN}&ISO^AN");
        let mut out = String::new();
        seg(
            &mut out,
            "PID",
            &[
                (1, "1"),
                (3, &ids),
                (5, &names),
                (7, &self.dob),
                (8, sex),
                (11, &addr),
                (18, &account),
                (31, "N"),
                (32, "QUAL"),
            ],
        );
        out
    }
}

/// A minimal PDF of `size` bytes: catalog, one page with a line of text, an unreferenced binary
/// stream of random bytes as padding (what compressed content looks like), a correct xref.
fn pdf(rng: &mut Rng, size: usize, title: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(size);
    let mut offsets = Vec::new();
    out.extend_from_slice(b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n");
    let content = format!("BT /F1 12 Tf 56 780 Td (Document de synthese {title}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>".to_owned(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
    ];
    for (k, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", k + 1).as_bytes());
    }
    // The tail (padding object header and end, xref, trailer) is about 400 bytes.
    let tail_room = 64 + 20 * 8 + 128;
    let padding = size.saturating_sub(out.len() + tail_room).max(16);
    offsets.push(out.len());
    out.extend_from_slice(format!("6 0 obj\n<< /Length {padding} >>\nstream\n").as_bytes());
    rng.fill(&mut out, padding);
    out.extend_from_slice(b"\nendstream\nendobj\n");
    let xref = out.len();
    let mut x = format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1);
    for o in &offsets {
        let _ = writeln!(x, "{o:010} 00000 n ");
    }
    let _ = write!(
        x,
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        offsets.len() + 1
    );
    out.extend_from_slice(x.as_bytes());
    out
}
