#!/usr/bin/env python3
"""Write the synthetic sample messages of dmpfeed into samples/.

    python3 scripts/make-samples.py            # (re)writes samples/ and samples/README.md

Standard library only and deterministic: no clock, no randomness; running it twice gives the same bytes.
Every patient, doctor, establishment and document here is invented. NIR keys are computed, never typed.

The structure follows the official ANS examples in tests/fixtures/ans-hl7v2-exemples/ (CI-SIS volet
"Transmission de documents CDA en HL7v2" 2.1: MDM 2.6 / ORU 2.5; PAM-FR 2.11 ADT with ZFA).

To add a sample: build its message(s) with the helpers below and call `add(name, data, description)` in
`build_samples()`; the README line is generated from `description`.
"""

from __future__ import annotations

import base64
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
ANS_CDA = (ROOT / "tests" / "fixtures" / "ans-hl7v2-exemples" / "Vague 2" / "Trans_Doc-CDA-HL7V2"
           / "TRANSMISSION_DOCS_CDA_EN_HL7V2_V2.1" / "MDM" / "Transmission initiale MDM" / "CR_Radio_CDAN1_v1.XML")

# --------------------------------------------------------------------------------------------------
# Identifier domains (all invented under a fictitious 1.2.250.1.999 arc, except the national OIDs)
# --------------------------------------------------------------------------------------------------
OID_INS_NIR = "1.2.250.1.213.1.4.8"       # INS-NIR, production
OID_PS = "1.2.250.1.71.4.2.1"             # national health-professional ids (IDNPS)
OID_ST = "1.2.250.1.71.4.2.2"             # national structure ids (FINESS…)
OID_IPP = "1.2.250.1.999.1.1"             # CHU-DEMO patient ids (IPP)
OID_DOC = "1.2.250.1.999.1.2"             # CHU-DEMO document ids (TXA-12 = OID_DOC.<n>)
OID_VN = "1.2.250.1.999.1.3"              # CHU-DEMO visit numbers
OID_AN = "1.2.250.1.999.1.4"              # CHU-DEMO account numbers
FACILITY = "CHU-DEMO"
FACILITY_NAME = "CHU de Démo"


def doc_oid(n: int) -> str:
    return f"{OID_DOC}.{n}"


# --------------------------------------------------------------------------------------------------
# Check digits
# --------------------------------------------------------------------------------------------------
def nir_key(body13: str) -> str:
    """INS/NIR key: 97 - (body mod 97); Corsica 2A -> 19, 2B -> 18 for the computation."""
    assert len(body13) == 13, body13
    b = body13.upper()
    if b[5:7] == "2A":
        b = b[:5] + "19" + b[7:]
    elif b[5:7] == "2B":
        b = b[:5] + "18" + b[7:]
    assert b.isdigit(), body13
    return "%02d" % (97 - int(b) % 97)


def nir_is_valid(nir15: str) -> bool:
    return len(nir15) == 15 and nir_key(nir15[:13]) == nir15[13:]


# Known vectors (ANS test patient PAT-TROIS, python-stdnum doctests incl. both Corsicas and a birth abroad).
for _v in ("279035121518989", "253072A07300443", "253072B07300470", "295109912611193"):
    assert nir_is_valid(_v), _v
assert not nir_is_valid("170017510112313")   # a published example with a wrong key


def luhn_digit(payload: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_ok(number: str) -> bool:
    return luhn_digit(number[:-1]) == number[-1]


assert luhn_ok("79927398713")  # textbook Luhn vector


def idnps(rpps_payload10: str) -> str:
    """IDNPS of a doctor = '8' + RPPS (11 digits: 10 + Luhn key)."""
    assert len(rpps_payload10) == 10 and rpps_payload10.isdigit()
    return "8" + rpps_payload10 + luhn_digit(rpps_payload10)


def finess(payload8: str) -> str:
    """FINESS = 8 digits + Luhn key. Department '99' does not exist, so these never collide with real ones."""
    assert len(payload8) == 8 and payload8.isdigit()
    return payload8 + luhn_digit(payload8)


FINESS_GEO = finess("99000001")   # FINESS géographique of the invented CHU de Démo
assert len(FINESS_GEO) == 9 and luhn_ok(FINESS_GEO)


# --------------------------------------------------------------------------------------------------
# People
# --------------------------------------------------------------------------------------------------
@dataclass
class Doctor:
    rpps_payload: str
    family: str
    given: str
    mssante: str = ""

    @property
    def id(self) -> str:
        return idnps(self.rpps_payload)

    def xcn(self) -> str:
        return (f"{self.id}^{self.family}^{self.given}^^^DR^^^ASIP-SANTE-PS&{OID_PS}&ISO^D^^^IDNPS")

    def ppn(self, when: str) -> str:
        # PPN = XCN components 1-14, then PPN-15 date/time action performed
        return self.xcn() + f"^^{when}"

    def cnn(self) -> str:  # OBR-32 (NDL.1 is a CNN: components become subcomponents)
        return f"{self.id}&{self.family}&{self.given}&&&DR&&&ASIP-SANTE-PS&{OID_PS}&ISO"


DR_MARTIN = Doctor("1000010001", "MARTIN", "Claire")                 # chirurgie digestive
DR_GUERIN = Doctor("1000010002", "GUÉRIN", "Benoît")                 # cardiologie
DR_FAURE = Doctor("1000010003", "FAURE", "Étienne")                  # médecine interne
DR_LAMBERT = Doctor("1000010004", "LAMBERT", "Zoë")                  # infectiologie (prescriptions)
DR_ROUX = Doctor("1000010005", "ROUX", "Hélène")                     # radiologie
DR_MOREAU = Doctor("1000010006", "MOREAU", "Gaëlle", "gaelle.moreau@demo-ci-sis.mssante.fr")  # GP (outside)
for _d in (DR_MARTIN, DR_GUERIN, DR_FAURE, DR_LAMBERT, DR_ROUX, DR_MOREAU):
    assert len(_d.id) == 12 and _d.id[0] == "8" and luhn_ok(_d.id[1:])


@dataclass
class Patient:
    ipp: str
    family: str                 # birth name (nom de naissance)
    first: str                  # first birth given name
    givens: str                 # list of birth given names, space separated
    sex: str                    # M / F
    dob: str                    # YYYYMMDD
    birth_insee: str            # COG code of the birthplace (BDL)
    birth_city: str
    order: str                  # NIR order number (3 digits)
    street: str
    city: str
    zip: str
    birth_country: str = "FRA"
    used_family: str = ""       # used name (nom utilisé), PID-5 type D
    status: str = "QUAL"        # PID-32 (repetitions joined with ~)
    nir_place: str = ""         # NIR positions 6-10 when deliberately different from birth_insee
    has_ins: bool = True
    corrupt_key: bool = False   # write a wrong NIR key
    omit_dob: bool = False
    omit_birthplace: bool = False
    account: str = ""

    @property
    def nir(self) -> str:
        place = self.nir_place or self.birth_insee
        body = ("1" if self.sex == "M" else "2") + self.dob[2:4] + self.dob[4:6] + place + self.order
        assert len(body) == 13, body
        key = nir_key(body)
        if self.corrupt_key:
            key = "%02d" % (int(key) % 97 + 1)
            assert not nir_is_valid(body + key)
        else:
            assert nir_is_valid(body + key)
        return body + key

    def pid(self, style: str = "mdm") -> str:
        f: dict[int, str] = {1: "1"}
        ids = [f"{self.ipp}^^^{FACILITY}&{OID_IPP}&ISO^PI"]
        if self.has_ins:
            ids.append(f"{self.nir}^^^ASIP-SANTE-INS-NIR&{OID_INS_NIR}&ISO^INS")
        f[3] = "~".join(ids)
        names = [f"{self.family}^{self.first}^{self.givens}^^^^L"]
        if self.used_family:
            names.append(f"{self.used_family}^{self.first}^^^^^D")
        f[5] = "~".join(names)
        if not self.omit_dob:
            f[7] = self.dob
        f[8] = self.sex
        addr = [f"{self.street}^^{self.city}^^{self.zip}^FRA^H"]
        if not self.omit_birthplace:
            addr.append(f"^^{self.birth_city}^^^{self.birth_country}^BDL^^{self.birth_insee}")
        f[11] = "~".join(addr)
        f[18] = f"{self.account or 'A' + self.ipp}^^^{FACILITY}&{OID_AN}&ISO^AN"
        if style == "adt":
            f[30] = "N"      # PAM-FR consent examples: PID-30 death indicator
        else:
            f[31] = "N"      # CI-SIS MDM/ORU examples: PID-31 identity unknown indicator
        f[32] = self.status
        return seg("PID", f)

    def check_consistency(self) -> None:
        n = self.nir
        if not self.has_ins or self.omit_dob:
            return
        assert n[0] == ("1" if self.sex == "M" else "2")
        assert n[1:3] == self.dob[2:4] and n[3:5] == self.dob[4:6], (n, self.dob)


P_OEUVRAY = Patient("100001", "ŒUVRAY", "FRANÇOISE", "FRANÇOISE MARIE", "F", "19680412", "69381", "LYON 1ER ARRONDISSEMENT",
                    "045", "12 rue de la Barre", "LYON", "69002", used_family="DUPRÉ")
P_LEGOFF = Patient("100002", "LE GOFF", "LOÏC", "LOÏC HERVÉ", "M", "19751103", "29019", "BREST", "123",
                   "3 place de la Liberté", "BREST", "29200")
P_DESCOEUR = Patient("100003", "DESCŒUR", "HÉLÈNE", "HÉLÈNE ÉLÉONORE", "F", "19520921", "94038", "L'HAŸ-LES-ROSES", "217",
                     "8 rue des Œillets", "L'HAŸ-LES-ROSES", "94240", used_family="SŒURIN")
P_PAOLI = Patient("100004", "PAOLI", "JEAN-BAPTISTE", "JEAN-BAPTISTE ANGE", "M", "19810218", "2A004", "AJACCIO", "312",
                  "5 cours Napoléon", "AJACCIO", "20000")
P_NDIAYE = Patient("100005", "N'DIAYE", "AMINATA", "AMINATA FATOU", "F", "19951007", "99341", "DAKAR", "088",
                   "40 avenue Jean Jaurès", "VILLEURBANNE", "69100", birth_country="SEN")
P_BERTRAND = Patient("100006", "BERTRAND", "ÉLODIE", "ÉLODIE CAMILLE", "F", "19880730", "33063", "BORDEAUX", "154",
                     "21 cours de l'Intendance", "BORDEAUX", "33000")
P_ROUSSEAU = Patient("100007", "ROUSSEAU", "THÉO", "THÉO LUCAS", "M", "20010115", "44109", "NANTES", "027",
                     "6 quai de la Fosse", "NANTES", "44000")
P_FONTAINE = Patient("100008", "FONTAINE", "GÉRARD", "GÉRARD ANDRÉ", "M", "19600502", "59350", "LILLE", "076",
                     "17 rue Nationale", "LILLE", "59000", corrupt_key=True)
P_GARNIER = Patient("100009", "GARNIER", "OCÉANE", "OCÉANE LÉA", "F", "19991224", "35238", "RENNES", "301",
                    "2 rue de Brest", "RENNES", "35000", status="PROV")
P_MOREL = Patient("100010", "MOREL", "RÉMI", "RÉMI PAUL", "M", "19830309", "13205", "MARSEILLE 5E ARRONDISSEMENT", "442",
                  "30 boulevard Baille", "MARSEILLE", "13005", status="QUAL~DOUT")
P_LEFEVRE = Patient("100011", "LEFÈVRE", "ANAÏS", "ANAÏS CLAIRE", "F", "19900811", "31555", "TOULOUSE", "019",
                    "9 allée Jean Jaurès", "TOULOUSE", "31000", omit_dob=True, omit_birthplace=True)
P_PETIT = Patient("100012", "PETIT", "NOËL", "NOËL JEAN", "M", "19471225", "21231", "DIJON", "000",
                  "1 rue de la Liberté", "DIJON", "21000", has_ins=False, status="VALI")
P_ROCHE = Patient("100013", "ROCHE", "MATHILDE", "MATHILDE JEANNE", "F", "19790328", "51454", "REIMS", "189",
                  "14 rue de Vesle", "REIMS", "51100")
P_CASANOVA = Patient("100014", "CASANOVA", "LÆTITIA", "LÆTITIA MARIE", "F", "19790614", "2B033", "BASTIA", "205",
                     "3 boulevard Paoli", "BASTIA", "20200")
# NIR says Rennes (35238); the DPI recorded Brest (29019) as birthplace: a soft NIR_BIRTHPLACE_MISMATCH.
P_GUILLOU = Patient("100015", "GUILLOU", "YANN", "YANN PIERRE", "M", "19700917", "29019", "BREST", "511",
                    "11 rue de Siam", "BREST", "29200", nir_place="35238")

ALL_PATIENTS = [P_OEUVRAY, P_LEGOFF, P_DESCOEUR, P_PAOLI, P_NDIAYE, P_BERTRAND, P_ROUSSEAU, P_FONTAINE, P_GARNIER,
                P_MOREL, P_LEFEVRE, P_PETIT, P_ROCHE, P_CASANOVA, P_GUILLOU]
assert len({p.ipp for p in ALL_PATIENTS}) == len(ALL_PATIENTS)
for _p in ALL_PATIENTS:
    _p.check_consistency()
assert P_PAOLI.nir[5:7] == "2A" and P_CASANOVA.nir[5:7] == "2B"

# --------------------------------------------------------------------------------------------------
# Document types
# --------------------------------------------------------------------------------------------------
OPERATIVE = ("34874-8", "CR opératoire", "LN")
CONSULTATION = ("11488-4", "CR ou fiche de consultation ou de visite", "LN")
HOSPITALISATION = ("34112-3", "CR hospitalier (séjour)", "LN")
PRESCRIPTION = ("57833-6", "Prescription de produits de santé", "LN")
DISCHARGE = ("11490-0", "Lettre de liaison à la sortie d'un établissement de soins", "LN")
IMAGING = ("18748-4", "CR d'imagerie médicale", "LN")
LOCAL_UNKNOWN = ("XYZ-LOCAL", "Local doc", "L")


def ce(t: tuple[str, str, str]) -> str:
    return "^".join(t)


# --------------------------------------------------------------------------------------------------
# HL7 helpers
# --------------------------------------------------------------------------------------------------
def seg(name: str, fields: dict[int, str]) -> str:
    n = max(fields) if fields else 0
    return name + "".join("|" + fields.get(i, "") for i in range(1, n + 1))


def msh(ctrl: str, when: str, msg_type: str, version: str, charset: str, *, sending: str = "DPI-DEMO",
        receiving: str = "PFI-DEMO", processing: str = "P", profile: str = "2.1^CISIS_CDA_HL7_V2",
        country_lang: str = "") -> str:
    f = {3: sending, 4: FACILITY, 5: receiving, 6: FACILITY, 7: when, 9: msg_type, 10: ctrl, 11: processing,
         12: version, 17: "FRA", 18: charset, 21: profile}
    if country_lang:
        f[19] = country_lang
    return header_seg("MSH", f)


def header_seg(name: str, fields: dict[int, str]) -> str:
    """MSH/FHS/BHS: field 1 is the field separator itself and field 2 the encoding characters."""
    return name + "|^~\\&" + "".join("|" + fields.get(i, "") for i in range(3, max(fields) + 1))


def evn(when: str) -> str:
    return seg("EVN", {2: when, 6: when})


def pv1(visit: str, admit: str, doctor: Doctor, *, klass: str = "I", unit: str = "MED",
        discharge: str = "") -> str:
    f = {1: "1", 2: klass, 3: f"{unit}^^^{FACILITY}", 7: doctor.xcn(),
         19: f"{visit}^^^{FACILITY}&{OID_VN}&ISO^VN", 44: admit}
    if discharge:
        f[45] = discharge
    return seg("PV1", f)


def prt_sb(doctor: Doctor) -> str:
    org = f"{FACILITY_NAME}^^^^^ASIP-SANTE-ST&{OID_ST}&ISO^FINEG^^^{FINESS_GEO}"
    return seg("PRT", {2: "UC", 4: "SB^Send by^participation", 5: doctor.xcn(), 8: org})


def prt_rct(doctor: Doctor) -> str:
    return seg("PRT", {2: "UC", 4: "RCT^Result Copies To^participation", 5: doctor.xcn(),
                       15: f"^NET^X.400^{doctor.mssante}"})


FLAG_LABELS = [
    ("MASQUE_PS", "Masqué aux professionnels de Santé"),
    ("INVISIBLE_PATIENT", "Document Non Visible par le patient"),
    ("INVISIBLE_REP_LEGAUX", "Non visible par les représentants Légaux du patient"),
    ("CONNEXION_SECRETE", "Connexion Secrete"),
    ("MODIF_CONF_CODE", "Modification Confidentiality Code"),
    ("DESTDMP", "Destinataire DMP"),
    ("DESTMSSANTEPS", "Destinataire (Professionnel de Santé, organisation ou BAL applicative)"),
    ("DESTMSSANTEPAT", "Destinataire Patient"),
    ("ACK_RECEPTION", "Accusé de réception"),
    ("ACK_LECTURE_MSS", "Accusé de lecture"),
]
DEFAULT_FLAGS = {"DESTDMP": "Y"}


def flag_obx(first_set_id: int, dtype: str, flags: dict[str, str]) -> list[str]:
    unknown = set(flags) - {c for c, _ in FLAG_LABELS}
    assert not unknown, unknown
    out = []
    for i, (code, label) in enumerate(FLAG_LABELS):
        value = flags.get(code, DEFAULT_FLAGS.get(code, "N"))
        out.append(seg("OBX", {1: str(first_set_id + i), 2: dtype, 3: f"{code}^{label}^MetaDMPMSS",
                               5: f"{value}^^expandedYes-NoIndicator", 11: "F"}))
    return out


@dataclass
class Content:
    """The document: either one ED OBX-5 value, or TX lines (already HL7-escaped)."""
    ed: str = ""
    tx: list[str] = field(default_factory=list)


def ed_pdf(pdf: bytes, *, hl7_type: str = "application^pdf") -> Content:
    return Content(ed=f"^{hl7_type}^Base64^" + base64.b64encode(pdf).decode("ascii"))


def ed_cda(cda: bytes, *, xml_type: str = "text^XML") -> Content:
    return Content(ed=f"^{xml_type}^Base64^" + base64.b64encode(cda).decode("ascii"))


def doc_obx(doctype: tuple[str, str, str], content: Content, status: str, obx_date: str = "") -> list[str]:
    out = []
    if content.ed:
        f = {1: "1", 2: "ED", 3: ce(doctype), 5: content.ed, 11: status}
        if obx_date:
            f[14] = obx_date
        out.append(seg("OBX", f))
    else:
        for i, line in enumerate(content.tx, 1):
            out.append(seg("OBX", {1: str(i), 2: "TX", 3: ce(doctype), 5: line, 11: status}))
    return out


EVENTS = {"T02": ("NW", "F"), "T10": ("RO", "C"), "T04": ("CA", "D")}


@dataclass
class Doc:
    patient: Patient
    doctor: Doctor
    doctype: tuple[str, str, str]
    doc_id: str
    content: Content
    when: str                      # TXA-4 activity / OBR-7
    visit: str
    admit: str
    unit: str = "MED"
    klass: str = "I"
    discharge: str = ""
    parent_id: str = ""
    flags: dict[str, str] = field(default_factory=dict)
    recipients: list[Doctor] = field(default_factory=list)


def mdm(ctrl: str, msg_when: str, event: str, d: Doc, *, charset: str = "UNICODE UTF-8",
        processing: str = "P", orc1: str | None = None, obx11: str | None = None) -> str:
    default_orc, default_obx = EVENTS[event]
    orc1 = orc1 or default_orc
    obx11 = obx11 or default_obx
    txa = {1: "1", 2: ce(d.doctype), 3: "TEXT", 4: d.when, 5: d.doctor.xcn(), 6: msg_when,
           9: d.doctor.xcn(), 12: d.doc_id, 17: "AU", 22: d.doctor.ppn(msg_when)}
    if d.parent_id:
        txa[13] = d.parent_id
    segs = [
        msh(ctrl, msg_when, f"MDM^{event}^MDM_T02", "2.6", charset, processing=processing),
        evn(msg_when),
        d.patient.pid(),
        pv1(d.visit, d.admit, d.doctor, klass=d.klass, unit=d.unit, discharge=d.discharge),
        seg("ORC", {1: orc1}),
        seg("OBR", {1: "1", 4: ce(d.doctype), 7: d.when}),
        seg("TXA", txa),
    ]
    body = doc_obx(d.doctype, d.content, obx11)
    segs += body
    segs.append(prt_sb(d.doctor))
    segs += [prt_rct(r) for r in d.recipients]
    segs += flag_obx(len(body) + 1, "CWE", d.flags)
    return "\r".join(segs) + "\r"


def oru(ctrl: str, msg_when: str, d: Doc, *, orc1: str = "NW", obx11: str = "F", obr25: str = "F",
        charset: str = "UNICODE UTF-8") -> str:
    placer = f"RX{d.doc_id.rsplit('.', 1)[1]}^DPI-DEMO"
    filler = f"{d.doc_id}^DPI-DEMO"   # the document unique id (no TXA in ORU)
    segs = [
        msh(ctrl, msg_when, "ORU^R01^ORU_R01", "2.5", charset),
        d.patient.pid(),
        pv1(d.visit, d.admit, d.doctor, klass=d.klass, unit=d.unit, discharge=d.discharge),
        seg("ORC", {1: orc1, 2: placer, 3: filler, 9: msg_when, 12: d.doctor.xcn()}),
        seg("OBR", {1: "1", 2: placer, 3: filler, 4: ce(d.doctype), 7: d.when, 16: d.doctor.xcn(),
                    22: msg_when, 25: obr25, 32: d.doctor.cnn()}),
    ]
    body = doc_obx(d.doctype, d.content, obx11, obx_date=d.when)
    segs += body
    segs.append(prt_sb(d.doctor))
    segs += [prt_rct(r) for r in d.recipients]
    segs += flag_obx(len(body) + 1, "CE", d.flags)
    return "\r".join(segs) + "\r"


def adt(ctrl: str, msg_when: str, trigger: str, structure: str, patient: Patient, extra: list[str]) -> str:
    segs = [
        msh(ctrl, msg_when, f"ADT^{trigger}^{structure}", "2.5^FRA^2.11", "UNICODE UTF-8", sending="GAM-DEMO",
            receiving="DPI-DEMO", profile="2.11^IHE_FRANCE-2.11-PAM", country_lang="FR"),
        evn(msg_when),
        patient.pid(style="adt"),
    ] + extra
    return "\r".join(segs) + "\r"


# --------------------------------------------------------------------------------------------------
# A small but real PDF 1.4 (one page, Helvetica, WinAnsiEncoding), with exact xref offsets
# --------------------------------------------------------------------------------------------------
def _pdf_str(s: str) -> bytes:
    b = s.encode("cp1252")
    return b"(" + b.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def make_pdf(title: str, lines: list[str]) -> bytes:
    ops = [b"BT", b"/F1 14 Tf", b"56 780 Td", _pdf_str(title) + b" Tj", b"/F2 10 Tf", b"14 TL", b"0 -10 Td"]
    for line in lines:
        ops.append(b"T* " + _pdf_str(line) + b" Tj")
    ops.append(b"ET")
    stream = b"\n".join(ops)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 6 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Producer (dmpfeed make-samples.py) /CreationDate (D:20240301000000Z) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 7 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref_at)
    pdf = bytes(out)
    check_pdf(pdf)
    return pdf


def check_pdf(pdf: bytes) -> None:
    """Self-check: header, every xref offset points at 'N 0 obj', startxref points at 'xref', size <= 2 KB."""
    assert pdf.startswith(b"%PDF-1.4\n") and pdf.endswith(b"%%EOF\n")
    assert len(pdf) <= 2048, len(pdf)
    xref_at = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    assert pdf[xref_at:xref_at + 5] == b"xref\n"
    lines = pdf[xref_at:].split(b"\n")
    count = int(lines[1].split()[1])
    for n in range(1, count):
        entry = lines[2 + n] + b"\n"
        assert len(entry) == 20, entry
        off = int(entry[:10])
        assert pdf[off:].startswith(b"%d 0 obj\n" % n), n
    m = re.search(rb"/Length (\d+) >>\nstream\n", pdf)
    start = m.end()
    assert pdf[start + int(m.group(1)):].startswith(b"\nendstream")


# --------------------------------------------------------------------------------------------------
# CDA received already built (the ANS CR_Radio_CDAN1_v1 example, re-targeted to a sample patient)
# --------------------------------------------------------------------------------------------------
def _x(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def record_target(p: Patient) -> str:
    gender = {"F": "Féminin", "M": "Masculin"}[p.sex]
    used = f'\n          <family qualifier="CL">{_x(p.used_family)}</family>' if p.used_family else ""
    return f"""<recordTarget>
    <patientRole>
      <id extension="{p.nir}" root="{OID_INS_NIR}"/>
      <id extension="{p.ipp}" root="{OID_IPP}"/>
      <addr>
        <streetAddressLine>{_x(p.street)}</streetAddressLine>
        <postalCode>{p.zip}</postalCode>
        <city>{_x(p.city)}</city>
      </addr>
      <telecom nullFlavor="UNK"/>
      <patient>
        <name>
          <family qualifier="BR">{_x(p.family)}</family>{used}
          <given qualifier="BR">{_x(p.first)}</given>
          <given>{_x(p.givens)}</given>
        </name>
        <administrativeGenderCode code="{p.sex}" displayName="{gender}" codeSystem="2.16.840.1.113883.5.1"/>
        <birthTime value="{p.dob}"/>
        <birthplace>
          <place>
            <addr>
              <county>{p.birth_insee}</county>
              <city>{_x(p.birth_city)}</city>
            </addr>
          </place>
        </birthplace>
      </patient>
    </patientRole>
  </recordTarget>"""


def _replace(text: str, old: str, new: str, count: int) -> str:
    assert text.count(old) == count, (old, text.count(old))
    return text.replace(old, new)


def rebuilt_cda(doc_id: str, author: Doctor, pdf: bytes, patient: Patient | None) -> bytes:
    """The ANS example CDA with our document id, author, organisation and a small PDF body; its recordTarget
    is rewritten for `patient` (or left as the ANS test patient PAT-TROIS when patient is None)."""
    cda = ANS_CDA.read_bytes().decode("utf-8")
    cda = _replace(cda, '<id root="1.2.250.1.71.4.2.2.120456789.71024000081"></id>', f'<id root="{doc_id}"/>', 1)
    if patient is not None:
        cda, n = re.subn(r"<recordTarget>.*?</recordTarget>", lambda _m: record_target(patient), cda, flags=re.S)
        assert n == 1
    cda = _replace(cda, "801234564895", author.id, 2)
    cda = _replace(cda, '<family qualifier="SP">Eric</family>\n          <given>Thomas</given>',
                   f"<family>{_x(author.family)}</family>\n          <given>{_x(author.given)}</given>", 2)
    cda = _replace(cda, '"1120456789"', f'"1{FINESS_GEO}"', 2)
    cda = _replace(cda, "<name>Organisation-Y</name>", f"<name>{_x(FACILITY_NAME)}</name>", 2)
    cda, n = re.subn(r'(<text mediaType="application/pdf" representation="B64">)[^<]*(</text>)',
                     lambda m: m.group(1) + base64.b64encode(pdf).decode("ascii") + m.group(2), cda)
    assert n == 1
    return cda.encode("utf-8")


# --------------------------------------------------------------------------------------------------
# Narrative texts (TX lines, already HL7-escaped: \F\ | , \S\ ^ , \T\ & , \E\ \ , \R\ ~ , \.br\ , \X0D0A\ )
# --------------------------------------------------------------------------------------------------
CONSULTATION_TX = [  # Latin-1 only (no œ, €)
    r"COMPTE RENDU DE CONSULTATION DE CARDIOLOGIE",
    r"Patient : M. LE GOFF Loïc, né le 03/11/1975 à Brest (29).",
    r"Motif : bilan d'une dyspnée d'effort \T\ palpitations récentes.",
    r"Antécédents : HTA traitée\S\ appendicectomie (1998)\S\ tabagisme sevré en 2015.",
    r"Traitement habituel : ramipril 5 mg/j \F\ bisoprolol 2,5 mg/j.",
    r"Examen : TA 138/86 mmHg, FC 72/min, auscultation cardiaque normale.\.br\Pas de souffle ; mollets souples.",
    r"ECG : rythme sinusal régulier \R\ pas de trouble de la repolarisation.",
    r"Échographie : FEVG estimée à 60 %, cavités non dilatées. Boucles : C:\E\ECHO\E\2024\E\legoff.dcm",
    r"Conclusion :\.br\Dyspnée d'effort probablement liée au déconditionnement.\X0D0A\Épreuve d'effort "
    r"programmée le 02/04/2024.",
    r"Copie au Dr Gaëlle MOREAU, médecin traitant. Dr Benoît GUÉRIN, cardiologue.",
]

HOSPITALISATION_TX = [  # Latin-9: needs € œ Œ Ÿ
    r"COMPTE RENDU D'HOSPITALISATION - MÉDECINE INTERNE",
    r"Patiente : Mme DESCŒUR Hélène (nom d'usage SŒURIN), née le 21/09/1952 à L'HAŸ-LES-ROSES (94).",
    r"Séjour du 04/03/2024 au 11/03/2024, unité de médecine interne (Dr Étienne FAURE).",
    r"Motif : décompensation cardiaque globale avec œdèmes des membres inférieurs \T\ dyspnée de décubitus.",
    r"Biologie : NT-proBNP 2 350 ng/L\.br\Leucocytes 11,2 x 10\S\9/L, CRP 18 mg/L. ŒDÈME PULMONAIRE exclu au scanner.",
    r"Traitement de sortie : furosémide 40 mg/j \F\ bisoprolol 1,25 mg/j \F\ apixaban 5 mg x 2/j.",
    r"Évolution favorable : perte de 4 kg ; cœur : bruits réguliers, pas de souffle.",
    r"Retour à domicile chez sa sœur à L'HAŸ-LES-ROSES \R\ passage infirmier quotidien prévu.",
    r"Reste à charge signalé : forfait journalier 20 € x 7 jours = 140 €.",
    r"Pièces jointes : C:\E\CRH\E\2024\E\descoeur.pdf\X0D0A\Consultation de suivi le 15/04/2024.",
]

HOSPITALISATION_TX_UTF8 = [
    r"COMPTE RENDU D'HOSPITALISATION - CHIRURGIE DIGESTIVE",
    r"Patiente : Mme ŒUVRAY Françoise (nom d'usage DUPRÉ), née le 12/04/1968 à Lyon.",
    r"Séjour du 18/03/2024 au 21/03/2024 pour cholécystectomie cœlioscopique programmée.",
    r"Suites simples\S\ reprise alimentaire à J1 \T\ lever précoce.\.br\Cicatrices propres.",
    r"Traitement de sortie : paracétamol 1 g x 3/j si douleur \F\ pas d'AINS.",
    r"Arrêt de travail 15 jours \R\ consultation post-opératoire à 1 mois.\X0D0A\Dr Claire MARTIN.",
]

LIFECYCLE_TX = [
    r"CONSULTATION DE SUIVI CARDIOLOGIQUE",
    r"Épreuve d'effort du 02/04/2024 : maximale, négative cliniquement \T\ électriquement.",
    r"Conclusion :\.br\Pas d'ischémie. Réadaptation à l'effort conseillée \F\ revoir dans 1 an.",
]
LIFECYCLE_TX_V2 = LIFECYCLE_TX[:2] + [
    r"Conclusion (version corrigée) :\.br\Pas d'ischémie. Réadaptation conseillée \F\ revoir dans 6 mois.",
]

BATCH_HOSP_TX = [
    r"COMPTE RENDU D'HOSPITALISATION - PNEUMOLOGIE",
    r"M. GUILLOU Yann, hospitalisé du 05/03/2024 au 09/03/2024 pour pneumopathie franche lobaire aiguë.",
    r"Traitement : amoxicilline 1 g x 3/j pendant 7 jours \F\ kinésithérapie respiratoire.",
    r"Radiographie de contrôle à 6 semaines.\.br\Dr Étienne FAURE.",
]


# --------------------------------------------------------------------------------------------------
# PDFs
# --------------------------------------------------------------------------------------------------
FICTIF = "Document synthétique - données fictives."


def who(p: Patient) -> str:
    civ = "Mme" if p.sex == "F" else "M."
    born = f", né{'e' if p.sex == 'F' else ''} le {p.dob[6:8]}/{p.dob[4:6]}/{p.dob[0:4]}" if not p.omit_dob else ""
    return f"{civ} {p.family} {p.first.title()}{born}"


def pdf_operative(p: Patient, version: int = 1) -> bytes:
    title = "Compte rendu opératoire" + (f" (version {version})" if version > 1 else "")
    lines = ["CHU de Démo - Chirurgie digestive", who(p),
             "Intervention : cholécystectomie par cœlioscopie.", "Opérateur : Dr Claire MARTIN.",
             "Anesthésie générale. Quatre trocarts. Vésicule lithiasique, pas de cholédocholithiase."]
    if version == 2:
        lines.append("Correction : cholangiographie peropératoire normale (omise dans la version 1).")
    if version == 3:
        lines.append("Remplacement envoyé sans référence au document remplacé.")
    return make_pdf(title, lines + ["Suites opératoires prévisibles simples.", FICTIF])


def pdf_prescription(p: Patient) -> bytes:
    return make_pdf("Ordonnance de sortie", [
        "CHU de Démo - Maladies infectieuses", who(p),
        "Amoxicilline 1 g : 1 comprimé 3 fois par jour pendant 7 jours.",
        "Paracétamol 1 g : 1 comprimé si fièvre, 4 par jour au maximum.", "Dr Zoë LAMBERT", FICTIF])


def pdf_discharge(p: Patient) -> bytes:
    return make_pdf("Lettre de liaison à la sortie", [
        "CHU de Démo", who(p), "Sortie à domicile. Traitement de sortie : fer 80 mg/j pendant 3 mois.",
        "Destinataire : Dr Gaëlle MOREAU, médecin traitant", "Dr Étienne FAURE", FICTIF])


def pdf_consult(p: Patient, *extra: str) -> bytes:
    return make_pdf("Compte rendu de consultation", [
        "CHU de Démo - Consultations", who(p), *extra,
        "Consultation de suivi : examen clinique sans particularité.", FICTIF])


PDF_RADIO = make_pdf("Radiographie de hanche", [
    "CHU de Démo - Imagerie médicale", "Radiographie de la hanche droite de face et profil.",
    "Pas de lésion osseuse traumatique. Interligne articulaire conservé.", "Dr Hélène ROUX, radiologue", FICTIF])
PDF_LOCAL = make_pdf("Fiche locale", ["Type de document local non mappé.", FICTIF])


# --------------------------------------------------------------------------------------------------
# Framing of multi-message files
# --------------------------------------------------------------------------------------------------
def mllp(messages: list[bytes]) -> bytes:
    return b"".join(b"\x0b" + m + b"\x1c\x0d" for m in messages)


def hl7_batch(messages: list[bytes], when: str) -> bytes:
    head = [header_seg("FHS", {3: "DPI-DEMO", 4: FACILITY, 5: "PFI-DEMO", 6: FACILITY, 7: when,
                               9: "DPI-EXPORT-20240315", 11: "FILE0001"}),
            header_seg("BHS", {3: "DPI-DEMO", 4: FACILITY, 5: "PFI-DEMO", 6: FACILITY, 7: when,
                               11: "BATCH0001"})]
    tail = [seg("BTS", {1: str(len(messages))}), seg("FTS", {1: "1"})]
    return ("\r".join(head) + "\r").encode() + b"".join(messages) + ("\r".join(tail) + "\r").encode()


def crlf(message: str) -> bytes:
    return message.replace("\r", "\r\n").encode("utf-8")


# --------------------------------------------------------------------------------------------------
# The samples
# --------------------------------------------------------------------------------------------------
SAMPLES_OUT: list[tuple[str, bytes, str]] = []


def add(name: str, data: bytes, description: str) -> None:
    assert all(n != name for n, _, _ in SAMPLES_OUT), name
    SAMPLES_OUT.append((name, data, description))


def enc(message: str, charset: str) -> bytes:
    return message.encode({"UNICODE UTF-8": "utf-8", "8859/1": "latin-1", "8859/15": "iso8859_15"}[charset])


def single_mdm(name: str, ctrl: str, when: str, event: str, d: Doc, description: str, *,
               charset: str = "UNICODE UTF-8", **kw) -> None:
    add(name, enc(mdm(ctrl, when, event, d, charset=charset, **kw), charset), description)


def build_samples() -> None:
    # ---- documents that convert ------------------------------------------------------------------------
    operative = Doc(P_OEUVRAY, DR_MARTIN, OPERATIVE, doc_oid(1001), ed_pdf(pdf_operative(P_OEUVRAY)), "20240318103000",
                    "V240318001", "20240318070000", unit="CHIRDIG")
    single_mdm("mdm-t02-operative-pdf.hl7", "SMPL0001", "20240318143005", "T02", operative,
               "MDM^T02 (2.6, UTF-8) operative report 34874-8 as a PDF in OBX-5 `^application^pdf^Base64^`, "
               "patient ŒUVRAY (used name DUPRÉ). → `converted`.")

    consult = Doc(P_LEGOFF, DR_GUERIN, CONSULTATION, doc_oid(2001), Content(tx=CONSULTATION_TX), "20240312100000",
                  "V240312004", "20240312093000", unit="CARDIO", klass="O")
    single_mdm("mdm-t02-consultation-text-latin1.hl7", "SMPL0002", "20240312111500", "T02", consult,
               "MDM^T02, MSH-18 `8859/1`, bytes in ISO-8859-1: consultation 11488-4 as 10 OBX TX lines "
               "(accents, `\\F\\ \\S\\ \\T\\ \\E\\ \\R\\ \\.br\\ \\X0D0A\\` escapes) forming one document. "
               "→ `converted` (text body with the unescaped characters).", charset="8859/1")

    hosp = Doc(P_DESCOEUR, DR_FAURE, HOSPITALISATION, doc_oid(2101), Content(tx=HOSPITALISATION_TX),
               "20240311160000", "V240304011", "20240304141000", discharge="20240311150000")
    single_mdm("mdm-t02-hospitalisation-text-latin9.hl7", "SMPL0003", "20240311170000", "T02", hosp,
               "MDM^T02, MSH-18 `8859/15`, bytes in ISO-8859-15 (€ œ Œ Ÿ present, bytes A4 BD BC BE): hospital "
               "stay report 34112-3 as TX lines with escapes. → `converted`.", charset="8859/15")

    presc = Doc(P_PAOLI, DR_LAMBERT, PRESCRIPTION, doc_oid(3001), ed_pdf(pdf_prescription(P_PAOLI), hl7_type="AP^PDF"),
                "20240314120000", "V240310021", "20240310180000", unit="INFECTIO")
    add("oru-r01-prescription-pdf.hl7", oru("SMPL0004", "20240314121500", presc).encode("utf-8"),
        "ORU^R01^ORU_R01 (2.5): prescription 57833-6 as PDF in OBX-5 `^AP^PDF^Base64^`, ORC NW, OBX-11 F, "
        "document id in ORC-3/OBR-3, CE flag OBX; patient born in Corse-du-Sud (NIR with `2A`). → `converted`.")

    discharge = Doc(P_NDIAYE, DR_FAURE, DISCHARGE, doc_oid(2201), ed_pdf(pdf_discharge(P_NDIAYE)), "20240313110000",
                    "V240310007", "20240310083000", unit="GYNECO", discharge="20240313120000",
                    flags={"DESTMSSANTEPS": "Y"}, recipients=[DR_MOREAU])
    single_mdm("mdm-t02-discharge-letter-pdf.hl7", "SMPL0005", "20240313113000", "T02", discharge,
               "MDM^T02 discharge letter 11490-0 (PDF), with a PRT RCT MSSanté recipient and DESTMSSANTEPS=Y; "
               "patient born abroad (NIR/BDL 99341, Senegal). → `converted`.")

    replacement = Doc(P_OEUVRAY, DR_MARTIN, OPERATIVE, doc_oid(1002), ed_pdf(pdf_operative(P_OEUVRAY, 2)), "20240318103000",
                      "V240318001", "20240318070000", unit="CHIRDIG", parent_id=doc_oid(1001))
    single_mdm("mdm-t10-replacement.hl7", "SMPL0006", "20240319090000", "T10", replacement,
               f"MDM^T10 replacing the operative report: TXA-12 `{doc_oid(1002)}`, TXA-13 `{doc_oid(1001)}` "
               "(TXA-12 of mdm-t02-operative-pdf.hl7), ORC RO, OBX-11 C. → `converted` (relatedDocument RPLC; "
               "warning `REPLACED_DOCUMENT_UNKNOWN` if the parent was not seen first).")

    deletion = Doc(P_OEUVRAY, DR_MARTIN, OPERATIVE, doc_oid(1002), ed_pdf(pdf_operative(P_OEUVRAY, 2)), "20240318103000",
                   "V240318001", "20240318070000", unit="CHIRDIG", parent_id=doc_oid(1001))
    single_mdm("mdm-t04-deletion.hl7", "SMPL0007", "20240320080000", "T04", deletion,
               f"MDM^T04 deleting the operative report version `{doc_oid(1002)}` (TXA-13 its parent, as in the "
               "ANS example), ORC CA, document OBX-11 D, flag OBX stay F. → `deleted` (warning "
               "`DELETED_DOCUMENT_UNKNOWN` if never seen).")

    presc_del = Doc(P_PAOLI, DR_LAMBERT, PRESCRIPTION, doc_oid(3001), ed_pdf(pdf_prescription(P_PAOLI), hl7_type="AP^PDF"),
                    "20240314120000", "V240310021", "20240310180000", unit="INFECTIO")
    add("oru-r01-deletion.hl7",
        oru("SMPL0008", "20240315090000", presc_del, orc1="CA", obx11="D", obr25="X").encode("utf-8"),
        f"ORU^R01 deleting the prescription `{doc_oid(3001)}` of oru-r01-prescription-pdf.hl7: ORC CA, OBX-11 D "
        "(OBR-25 X). → `deleted`.")

    # ---- flags ---------------------------------------------------------------------------------------
    masked = Doc(P_BERTRAND, DR_GUERIN, CONSULTATION, doc_oid(2301), ed_pdf(pdf_consult(P_BERTRAND, "Consultation d'annonce : document masqué aux professionnels", "et non visible par la patiente avant la consultation d'annonce.")), "20240315150000",
                 "V240315002", "20240315143000", unit="CARDIO", klass="O",
                 flags={"MASQUE_PS": "Y", "INVISIBLE_PATIENT": "Y"})
    single_mdm("mdm-t02-masked.hl7", "SMPL0009", "20240315160000", "T02", masked,
               "MDM^T02 consultation (PDF) with MASQUE_PS=Y and INVISIBLE_PATIENT=Y. → `converted`, metadata "
               "`confidentiality` holds N + MASQUE_PS + INVISIBLE_PATIENT.")

    destdmp_n = Doc(P_ROUSSEAU, DR_GUERIN, CONSULTATION, doc_oid(2401), ed_pdf(pdf_consult(P_ROUSSEAU)),
                    "20240316100000", "V240316001", "20240316093000", unit="CARDIO", klass="O",
                    flags={"DESTDMP": "N"})
    single_mdm("mdm-t02-destdmp-n.hl7", "SMPL0010", "20240316103000", "T02", destdmp_n,
               "MDM^T02 consultation with DESTDMP=N (patient ROUSSEAU, who opposed DMP feeding: see "
               "adt-a28-opposition.hl7). → `excluded`, code `DMP_OPPOSITION`.")

    # ---- identity problems: held ---------------------------------------------------------------------
    def held_doc(p: Patient, n: int, visit: str) -> Doc:
        return Doc(p, DR_GUERIN, CONSULTATION, doc_oid(n), ed_pdf(pdf_consult(p)), "20240317100000",
                   visit, "20240317093000", unit="CARDIO", klass="O")

    single_mdm("held-ins-key-invalid.hl7", "SMPL0011", "20240317103000", "T02", held_doc(P_FONTAINE, 4001, "V240317001"),
               f"MDM^T02 whose INS `{P_FONTAINE.nir}` has a wrong key (valid would be "
               f"`{P_FONTAINE.nir[:13]}{nir_key(P_FONTAINE.nir[:13])}`). → `held`, `INS_KEY_INVALID`.")
    single_mdm("held-not-qualified-prov.hl7", "SMPL0012", "20240317104000", "T02", held_doc(P_GARNIER, 4002, "V240317002"),
               "MDM^T02, valid INS but PID-32 `PROV`. → `held`, `IDENTITY_NOT_QUALIFIED`; released (a second "
               "`converted` line with `released_from`) once adt-a31-qualify.hl7 is recorded.")
    single_mdm("held-doubtful.hl7", "SMPL0013", "20240317105000", "T02", held_doc(P_MOREL, 4003, "V240317003"),
               "MDM^T02, valid INS, PID-32 `QUAL~DOUT`. → `held`, `IDENTITY_DOUBTFUL`.")
    single_mdm("held-missing-traits.hl7", "SMPL0014", "20240317110000", "T02", held_doc(P_LEFEVRE, 4004, "V240317004"),
               "MDM^T02, valid INS and QUAL but no birth date (PID-7) and no BDL birthplace in PID-11. → `held`, "
               "`TRAIT_MISSING`.")
    single_mdm("held-no-ins.hl7", "SMPL0015", "20240317111000", "T02", held_doc(P_PETIT, 4005, "V240317005"),
               "MDM^T02 with only the IPP in PID-3 (PID-32 `VALI`). → `held`, `INS_MISSING` (with the default "
               "policy also `IDENTITY_NOT_QUALIFIED`).")

    # ---- documents received as an already-built CDA -------------------------------------------------------
    cda_ok = rebuilt_cda(doc_oid(8001), DR_ROUX, PDF_RADIO, P_ROCHE)
    radio = Doc(P_ROCHE, DR_ROUX, IMAGING, doc_oid(8001), ed_cda(cda_ok), "20240318091500", "V240318009",
                "20240318083000", unit="RADIO", klass="O")
    single_mdm("mdm-t02-radiology-cda.hl7", "SMPL0016", "20240318094500", "T02", radio,
               "MDM^T02 carrying an already-built CDA (`^text^XML^Base64^`): the ANS example CR_Radio_CDAN1_v1 "
               "(18748-4) with recordTarget, id, author and organisation rewritten for patient ROCHE and a small "
               "PDF body. → `converted` (the CDA kept as received).")
    cda_other = rebuilt_cda(doc_oid(8002), DR_ROUX, PDF_RADIO, None)
    radio_bad = Doc(P_ROCHE, DR_ROUX, IMAGING, doc_oid(8002), ed_cda(cda_other), "20240318091500", "V240318009",
                    "20240318083000", unit="RADIO", klass="O")
    single_mdm("held-cda-identity-mismatch.hl7", "SMPL0017", "20240318094600", "T02", radio_bad,
               "MDM^T02 for patient ROCHE whose embedded CDA still names the ANS test patient PAT-TROIS "
               "(279035121518989, OID …4.10). → `held`, `DOCUMENT_IDENTITY_MISMATCH`.")

    # ---- rejected -------------------------------------------------------------------------------------
    add("rejected-not-hl7.txt",
        ("Export du DPI - fichier CSV (pas un message HL7)\n"
         "IPP;NOM;PRENOM;DOCUMENT\n"
         "999999;EXEMPLE;Fictif;compte-rendu.pdf\n").encode("utf-8"),
        "Plain text (a CSV export), not HL7. → `rejected`, `HL7_SYNTAX`; copied byte for byte to rejected/.")
    no_parent = Doc(P_OEUVRAY, DR_MARTIN, OPERATIVE, doc_oid(1003), ed_pdf(pdf_operative(P_OEUVRAY, 3)), "20240318103000",
                    "V240318001", "20240318070000", unit="CHIRDIG")
    single_mdm("rejected-t10-without-txa13.hl7", "SMPL0018", "20240321090000", "T10", no_parent,
               "MDM^T10 (ORC RO, OBX-11 C) without TXA-13. → `rejected`, `REPLACED_DOCUMENT_MISSING`.")
    local = Doc(P_PAOLI, DR_LAMBERT, LOCAL_UNKNOWN, doc_oid(9001), ed_pdf(PDF_LOCAL), "20240321100000",
                "V240310021", "20240310180000", unit="INFECTIO")
    single_mdm("rejected-unknown-type.hl7", "SMPL0019", "20240321103000", "T02", local,
               "MDM^T02 whose type (TXA-2, OBR-4, OBX-3) is the local code `XYZ-LOCAL^Local doc^L`, not mapped by "
               "the default configuration. → `rejected`, `DOCUMENT_TYPE_UNKNOWN`.")

    # ---- multi-message files ----------------------------------------------------------------------------
    stream = [
        mdm("SMPL0101", "20240322080000", "T02", Doc(
            P_LEGOFF, DR_GUERIN, CONSULTATION, doc_oid(6001), Content(tx=LIFECYCLE_TX), "20240402110000",
            "V240402003", "20240402103000", unit="CARDIO", klass="O")),
        mdm("SMPL0102", "20240322080100", "T02", Doc(
            P_PAOLI, DR_MARTIN, OPERATIVE, doc_oid(6002), ed_pdf(pdf_operative(P_PAOLI)), "20240321150000",
            "V240321002", "20240321070000", unit="CHIRDIG")),
        oru("SMPL0103", "20240322080200", Doc(
            P_NDIAYE, DR_LAMBERT, PRESCRIPTION, doc_oid(6003), ed_pdf(pdf_prescription(P_NDIAYE), hl7_type="AP^PDF"),
            "20240313100000", "V240310007", "20240310083000", unit="GYNECO")),
        mdm("SMPL0104", "20240322080300", "T02", Doc(
            P_BERTRAND, DR_FAURE, DISCHARGE, doc_oid(6004), ed_pdf(pdf_discharge(P_BERTRAND)), "20240322070000",
            "V240319004", "20240319120000", discharge="20240322090000")),
        mdm("SMPL0105", "20240322080400", "T02", Doc(
            P_OEUVRAY, DR_MARTIN, HOSPITALISATION, doc_oid(6005), Content(tx=HOSPITALISATION_TX_UTF8),
            "20240321160000", "V240318001", "20240318070000", unit="CHIRDIG", discharge="20240321110000")),
    ]
    add("stream-mllp.hl7", mllp([m.encode("utf-8") for m in stream]),
        "5 UTF-8 messages MLLP-framed (0x0B … 0x1C 0x0D): MDM T02 TX consultation, MDM T02 operative PDF, "
        "ORU prescription `^AP^PDF`, MDM T02 discharge letter, MDM T02 TX hospital report. → 5 × `converted`, "
        "sources `#1`…`#5`.")

    batch = [
        mdm("SMPL0201", "20240315080000", "T02", Doc(
            P_CASANOVA, DR_GUERIN, CONSULTATION, doc_oid(7001), ed_pdf(pdf_consult(P_CASANOVA)), "20240314160000",
            "V240314008", "20240314153000", unit="CARDIO", klass="O")),
        mdm("SMPL0202", "20240315080001", "T02", Doc(
            P_GUILLOU, DR_FAURE, HOSPITALISATION, doc_oid(7002), Content(tx=BATCH_HOSP_TX), "20240309140000",
            "V240305006", "20240305101500", unit="PNEUMO", discharge="20240309120000")),
        oru("SMPL0203", "20240315080002", Doc(
            P_DESCOEUR, DR_LAMBERT, PRESCRIPTION, doc_oid(7003), ed_pdf(pdf_prescription(P_DESCOEUR), hl7_type="AP^PDF"),
            "20240311150000", "V240304011", "20240304141000")),
    ]
    add("batch.hl7", hl7_batch([m.encode("utf-8") for m in batch], "20240315080000"),
        "HL7 batch FHS/BHS … BTS|3/FTS|1 with 3 UTF-8 messages: MDM T02 for a patient born in Haute-Corse (NIR "
        "`2B`), MDM T02 TX whose NIR place (35238) differs from the BDL code (29019), ORU prescription. → 3 × "
        "`converted`, the 2nd with warning `NIR_BIRTHPLACE_MISMATCH`.")

    life_v1 = Doc(P_LEGOFF, DR_GUERIN, CONSULTATION, doc_oid(5001), Content(tx=LIFECYCLE_TX), "20240402110000",
                  "V240402003", "20240402103000", unit="CARDIO", klass="O")
    life_v2 = Doc(P_LEGOFF, DR_GUERIN, CONSULTATION, doc_oid(5002), Content(tx=LIFECYCLE_TX_V2), "20240402110000",
                  "V240402003", "20240402103000", unit="CARDIO", klass="O", parent_id=doc_oid(5001))
    life_del = Doc(P_LEGOFF, DR_GUERIN, CONSULTATION, doc_oid(5002), Content(tx=LIFECYCLE_TX_V2), "20240402110000",
                   "V240402003", "20240402103000", unit="CARDIO", klass="O", parent_id=doc_oid(5001))
    lifecycle = [mdm("SMPL0301", "20240402120000", "T02", life_v1),
                 mdm("SMPL0302", "20240403090000", "T10", life_v2),
                 mdm("SMPL0303", "20240404090000", "T04", life_del)]
    add("concatenated-crlf.hl7", b"\r\n".join(crlf(m) for m in lifecycle),
        "3 UTF-8 messages one after the other, `\\r\\n` segment terminators and a blank line between: the life "
        f"of one TX consultation — T02 `{doc_oid(5001)}`, T10 `{doc_oid(5002)}` replacing it, T04 deleting "
        f"`{doc_oid(5002)}`. → `converted`, `converted`, `deleted` (no UNKNOWN warnings: parent seen first).")

    # ---- PAM-FR ADT ----------------------------------------------------------------------------------
    qualified = Patient(**{**P_GARNIER.__dict__, "status": "QUAL"})
    add("adt-a31-qualify.hl7",
        adt("SMPL0401", "20240318091000", "A31", "ADT_A05", qualified,
            [seg("PV1", {1: "1", 2: "N"})]).encode("utf-8"),
        "PAM-FR 2.11 ADT^A31^ADT_A05 updating patient GARNIER (same IPP and INS as held-not-qualified-prov.hl7) "
        "to PID-32 `QUAL`. → `recorded`, and releases the held document when that was converted first into the "
        "same output folder (a `converted` line with `released_from`).")
    add("adt-a28-opposition.hl7",
        adt("SMPL0402", "20240316090000", "A28", "ADT_A05", P_ROUSSEAU,
            [seg("PV1", {1: "1", 2: "N"}),
             "ZFA|ACTIF|20240316090000|||||||IO|20240316090000|INC|20240316090000"]).encode("utf-8"),
        "PAM-FR ADT^A28^ADT_A05 for patient ROUSSEAU with ZFA-9 `IO` (opposition to DMP feeding, as the ANS "
        "consent example NonConsentementConsultation_OppositionAlimentation). → `recorded` (later documents of "
        "this patient `excluded`, `DMP_OPPOSITION`, until an ADT with ZFA-9 `INO`).")
    add("adt-a40-merge.hl7",
        adt("SMPL0403", "20240319100000", "A40", "ADT_A39", P_LEGOFF,
            [seg("MRG", {1: f"100099^^^{FACILITY}&{OID_IPP}&ISO^PI"})]).encode("utf-8"),
        "PAM-FR ADT^A40^ADT_A39 merging the duplicate IPP 100099 (MRG-1) into patient LE GOFF (PID, IPP 100002 "
        "+ INS). → `recorded`; documents held under IPP 100099 move to IPP 100002.")


# --------------------------------------------------------------------------------------------------
# Self-checks on the produced bytes
# --------------------------------------------------------------------------------------------------
def split_messages(data: bytes) -> list[bytes]:
    data = data.replace(b"\x0b", b"").replace(b"\x1c\x0d", b"\r")
    segs = [s for s in re.split(rb"\r\n|\r|\n", data) if s]
    msgs: list[list[bytes]] = []
    for s in segs:
        if s[:3] in (b"FHS", b"BHS", b"BTS", b"FTS"):
            continue
        if s.startswith(b"MSH"):
            msgs.append([])
        msgs[-1].append(s)
    return [b"\r".join(m) for m in msgs]


def self_check() -> None:
    for name, data, _ in SAMPLES_OUT:
        if not name.endswith(".hl7"):
            continue
        for raw in split_messages(data):
            fields = raw.split(b"\r", 1)[0].split(b"|")
            charset = fields[17].decode("ascii")
            text = raw.decode({"UNICODE UTF-8": "utf-8", "8859/1": "latin-1", "8859/15": "iso8859_15"}[charset])
            segs = {s.split("|", 1)[0]: s for s in text.split("\r")}
            pid = segs["PID"].split("|")
            for cx in pid[3].split("~"):
                comps = cx.split("^")
                if len(comps) > 4 and comps[4] == "INS":
                    assert nir_is_valid(comps[0]) or name == "held-ins-key-invalid.hl7", (name, comps[0])
            for s in text.split("\r"):
                if s.startswith("OBX") and "^Base64^" in s:
                    b64 = s.split("|")[5].split("^")[4]
                    payload = base64.b64decode(b64, validate=True)
                    ed = s.split("|")[5].split("^")
                    if ed[2].lower() == "pdf":
                        check_pdf(payload)
                    elif ed[2].upper() == "XML":
                        assert payload.startswith(b"<ClinicalDocument"), name
    latin9 = dict((n, d) for n, d, _ in SAMPLES_OUT)["mdm-t02-hospitalisation-text-latin9.hl7"]
    for byte, char in ((0xA4, "€"), (0xBD, "œ"), (0xBC, "Œ"), (0xBE, "Ÿ")):
        assert bytes([byte]) in latin9, char
    latin1 = dict((n, d) for n, d, _ in SAMPLES_OUT)["mdm-t02-consultation-text-latin1.hl7"]
    latin1.decode("latin-1")
    try:
        latin1.decode("utf-8")
        raise AssertionError("the Latin-1 sample must not be valid UTF-8")
    except UnicodeDecodeError:
        pass
    assert len(split_messages(dict((n, d) for n, d, _ in SAMPLES_OUT)["stream-mllp.hl7"])) == 5
    assert len(split_messages(dict((n, d) for n, d, _ in SAMPLES_OUT)["batch.hl7"])) == 3
    assert len(split_messages(dict((n, d) for n, d, _ in SAMPLES_OUT)["concatenated-crlf.hl7"])) == 3


def readme() -> str:
    lines = [
        "# dmpfeed samples",
        "",
        "Synthetic HL7v2 messages for trying and testing dmpfeed. **Everything here is invented**: patients, INS/NIR",
        "(with valid keys computed by the script, except where a sample is about a wrong key), doctors (IDNPS `8` +",
        f"RPPS-like 11 digits with a Luhn key), the establishment \"{FACILITY_NAME}\" (FINESS `{FINESS_GEO}`, department",
        "`99` which does not exist) and its identifier domains under `1.2.250.1.999`. Production INS OID `…4.8` and",
        "MSH-11 `P` are used on purpose, to look like real traffic.",
        "",
        "Regenerate (deterministic, standard library only): `python3 scripts/make-samples.py`.",
        "",
        "Segments end with `\\r` (a file may display as one line). The structure follows the ANS examples in",
        "`tests/fixtures/ans-hl7v2-exemples/` (CI-SIS \"Transmission de documents CDA en HL7v2\" 2.1 and PAM-FR 2.11).",
        "",
        "Expected outcome per file (codes from the contract):",
        "",
    ]
    for name, _, description in sorted(SAMPLES_OUT):
        lines.append(f"- `{name}` — {description}")
    lines += [
        "",
        "Patients (PID-3 INS, birth name / first given name, sex, birth date, BDL code):",
        "",
    ]
    for p in ALL_PATIENTS:
        notes = []
        if p.corrupt_key:
            notes.append("wrong NIR key on purpose")
        if p.nir_place:
            notes.append(f"NIR place {p.nir_place} ≠ BDL {p.birth_insee} on purpose")
        if p.omit_dob or p.omit_birthplace:
            notes.append("PID-7 and BDL omitted in the message")
        if p.status != "QUAL":
            notes.append(f"PID-32 `{p.status}`")
        ins = f"`{p.nir}`" if p.has_ins else "(no INS)"
        lines.append(f"- IPP {p.ipp}: {ins} {p.family} {p.first}, {p.sex}, {p.dob}, {p.birth_insee} {p.birth_city}"
                     + (f" ({'; '.join(notes)})" if notes else ""))
    lines += [
        "",
        "The CDA each converted sample becomes is committed beside it in `expected/` (`NAME.xml`, or `NAME.N.xml` for",
        "the N-th message of a file); `cargo test --test cda_golden` regenerates and diffs them",
        "(`UPDATE_GOLDEN=1` rewrites them after a deliberate change).",
        "",
        "Note: `dmpfeed convert samples/` skips this README and `expected/` (`input.ignore` is",
        "`[\"*.md\", \"*.xml\"]` by default). Files of a folder are read in name order, so the ADT samples",
        "(`adt-*`) come before the documents they concern: the held document of GARNIER is then converted at",
        "once with the identity recorded from `adt-a31-qualify.hl7`",
        "(warning `IDENTITY_FROM_REGISTRY`). Give the files in another order to see it held, then released.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    build_samples()
    self_check()
    SAMPLES.mkdir(exist_ok=True)
    for name, data, _ in SAMPLES_OUT:
        (SAMPLES / name).write_bytes(data)
    (SAMPLES / "README.md").write_text(readme(), encoding="utf-8")
    print(f"wrote {len(SAMPLES_OUT)} samples and README.md to {SAMPLES.relative_to(ROOT)}/", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
