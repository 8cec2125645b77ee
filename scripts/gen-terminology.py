#!/usr/bin/env python3
"""Generate src/terminology/generated.rs from the ANS terminology files under schemas/.

Usage (from anywhere):
    python3 scripts/gen-terminology.py               # writes src/terminology/generated.rs
    python3 scripts/gen-terminology.py --output F    # writes F instead ("-" = stdout)

Standard library only. The output is deterministic (every table is sorted by code) and already in
rustfmt style, so `cargo fmt --check` passes on it and the unit test
`terminology::tests::generated_tables_are_up_to_date` can compare it byte for byte.

Sources read (paths relative to the repository root):
  * schemas/ans-terminologies/conceptmaps/ASS-X04-...fsh   typeCode -> classCode
  * schemas/ans-terminologies/conceptmaps/ASS-A11-...fsh   CDA templateId -> formatCode
  * schemas/ans-terminologies/conceptmaps/ASS-A12-...fsh   nonXMLBody mediaType -> formatCode
  * schemas/ans-terminologies/valuesets/*                  DMP value sets J57 J58 J59 J60 J61 J66
  * schemas/ans-testcontenucda/jeuxDeValeurs/*.xml         CI-SIS value sets (IHE SVS) J01 J02 J04
                                                           J07 J08 J142 J143, HL7 Confidentiality

Anything unexpected in a source (an FSH construct this script does not understand, a duplicate
code, a member of a DMP value set missing from its CI-SIS parent, an OID that disagrees between
two files, ...) stops the generation with an error rather than being skipped silently.
"""

import argparse
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
DEFAULT_OUTPUT = "src/terminology/generated.rs"

TERMINO = "schemas/ans-terminologies"
JDV = "schemas/ans-testcontenucda/jeuxDeValeurs"

X04 = f"{TERMINO}/conceptmaps/ASS-X04-CorrespondanceType-Classe-CISIS.fsh"
A11 = f"{TERMINO}/conceptmaps/ASS-A11-CorresModeleCDA-XdsFormatCode-CISIS.fsh"
A12 = f"{TERMINO}/conceptmaps/ASS-A12-CorresMediaTypeCDANonStructure-XdsFormatCode-CISIS.fsh"
J57 = f"{TERMINO}/valuesets/ValueSet-JDV-J57-ClassCode-DMP.json"
J58 = f"{TERMINO}/valuesets/ValueSet-JDV-J58-ConfidentialityCode-DMP.json"
J59 = f"{TERMINO}/valuesets/JDV_J59_ContentTypeCode_DMP.fsh"
J60 = f"{TERMINO}/valuesets/ValueSet-JDV-J60-FormatCode-DMP.json"
J61 = f"{TERMINO}/valuesets/JDV_J61_HealthcareFacilityTypeCode_DMP.fsh"
J66 = f"{TERMINO}/valuesets/ValueSet-JDV-J66-TypeCode-DMP.json"
J01 = f"{JDV}/JDV_J01_XdsAuthorSpecialty_CISIS.xml"
J02 = f"{JDV}/JDV_J02_XdsHealthcareFacilityTypeCode_CISIS.xml"
J04 = f"{JDV}/JDV_J04_XdsPracticeSettingCode_CISIS.xml"
J07 = f"{JDV}/JDV_J07_XdsTypeCode_CISIS.xml"
J08 = f"{JDV}/JDV_J08_XdsConfidentialityCode_CISIS.xml"
J142 = f"{JDV}/JDV_J142_TypeRencontre_CISIS.xml"
J143 = f"{JDV}/JDV_J143_AdministrativeGender_CISIS.xml"
HL7_CONF = f"{JDV}/JDV_HL7_Confidentiality_CISIS.xml"

# --------------------------------------------------------------------------------------------
# Code systems: the FHIR files (FSH / JSON) name code systems by URL (or by an FSH alias whose
# definition was not copied); XDS metadata and CDA need the OID. Key = "TRE_Xnn" or "LOINC".
#
# OIDs with a non-empty third column also appear as codeSystem in those SVS files of this
# repository; generate() fails if they do not, or if a FHIR value set member found in an SVS file
# (J58/J08, J61/J02, J59/J02, J66/J07) carries another OID there. The other OIDs are NOT in any
# file under schemas/; they come from ANS publications (cited below) and are the weakest link of
# this table. Copying those CodeSystem headers under schemas/ would let the script check them too.
#   PDSm    ansforge/IG-fhir-partage-de-documents-de-sante,
#           input/fsh/profiles/PDSm_ComprehensiveDocumentReference.fsh @ 03efa891804676ab03298833bc5343649501cb1d
#           invariants constr-bind-type / constr-bind-category / constr-bind-format /
#           constr-bind-ProducteurDoc ("..., OID : ...").
#   PDSm-SS same IG, SubmissionSet designationType invariant constr-bind-designationtype
#           ("TRE_R209-TypeActivite, OID : 1.2.250.1.213.2.2").
#   NOS     the ANS CodeSystem resources (ansforge "Terminologies de Santé" IG, FSH CodeSystem
#           TRE_A03/A06/A11/R209/R276, "^identifier.value = urn:oid:...").
# "URN" and "ASTM" are not OIDs but are literally what ANS gives as the "OID" (codingScheme) of
# TRE_A10-NomenclatureURN and TRE_A12-NomenclatureASTM (PDSm; J07 also writes codeSystem="ASTM").
# --------------------------------------------------------------------------------------------
SYSTEMS = {
    # key: (OID, NOS name, SVS files of this repository where the OID must appear as a codeSystem,
    #       provenance when it appears in none)
    "LOINC": ("2.16.840.1.113883.6.1", "LOINC", ("J07",), ""),
    "TRE_A00": ("1.2.250.1.213.1.1.4.6", "TRE_A00-ProducteurDocNonPS", ("J02", "J04"), ""),
    "TRE_A01": ("1.2.250.1.213.1.1.4.9", "TRE_A01-CadreExercice", ("J04",), ""),
    "TRE_A03": ("1.2.250.1.213.1.1.4.1", "TRE_A03-ClasseDocument", (), "PDSm constr-bind-category; NOS CodeSystem"),
    "TRE_A05": ("1.2.250.1.213.1.1.4.12", "TRE_A05-TypeDocComplementaire", ("J07",), ""),
    "TRE_A06": ("1.2.250.1.213.1.1.4.2.282", "TRE_A06-FormatCodeComplementaire", (), "PDSm constr-bind-format; NOS CodeSystem"),
    "TRE_A07": ("1.2.250.1.213.1.1.4.13", "TRE_A07-StatutVisibiliteDocument", ("J08",), ""),
    "TRE_A08": ("2.16.840.1.113883.5.25", "TRE_A08-HL7Confidentiality", ("J08",), ""),
    "TRE_A09": ("1.2.840.10008.2.6.1", "TRE_A09-DICOMuidRegistry", (), "PDSm constr-bind-format"),
    "TRE_A10": ("URN", "TRE_A10-NomenclatureURN", (), "PDSm constr-bind-category, constr-bind-format"),
    "TRE_A11": ("1.3.6.1.4.1.19376.1.2.3", "TRE_A11-IheFormatCode", (), "PDSm constr-bind-format; NOS CodeSystem"),
    "TRE_A12": ("ASTM", "TRE_A12-NomenclatureASTM", ("J07",), ""),
    "TRE_R02": ("1.2.250.1.71.4.2.4", "TRE_R02-SecteurActivite", ("J02",), ""),
    "TRE_R209": ("1.2.250.1.213.2.2", "TRE_R209-TypeActivite", (), "PDSm-SS constr-bind-designationtype; NOS CodeSystem"),
    "TRE_R276": ("1.2.250.1.213.1.6.1.128", "TRE_R276-FormeActivite", (), "NOS CodeSystem"),
}


class SourceError(Exception):
    pass


def fail(msg):
    raise SourceError(msg)


def read_text(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


def system_key(url_or_alias):
    """'https://mos.esante.gouv.fr/NOS/TRE_A05-.../FHIR/TRE-A05-...' or '$TRE-A05-...' -> 'TRE_A05'."""
    if url_or_alias == "http://loinc.org":
        return "LOINC"
    m = re.search(r"TRE[_-]([AR]\d+)\b", url_or_alias)
    if not m:
        fail(f"unknown code system {url_or_alias!r}")
    key = "TRE_" + m.group(1)
    if key not in SYSTEMS:
        fail(f"code system {url_or_alias!r} ({key}) has no OID in SYSTEMS")
    return key


def oid(key):
    return SYSTEMS[key][0]


# --------------------------------------------------------------------------------------------
# FSH (the small subset used by the ANS ConceptMap and ValueSet files)
# --------------------------------------------------------------------------------------------
FSH_CODE = r'#(?:"((?:[^"\\]|\\.)*)"|(\S+))'
FSH_STRING = r'"((?:[^"\\]|\\.)*)"'


def fsh_unescape(s):
    return re.sub(r"\\(.)", r"\1", s)


def fsh_code(text, where):
    m = re.fullmatch(FSH_CODE, text.strip())
    if not m:
        fail(f"{where}: expected an FSH code, got {text!r}")
    return fsh_unescape(m.group(1)) if m.group(1) is not None else m.group(2)


def fsh_string(text, where):
    m = re.fullmatch(FSH_STRING, text.strip())
    if not m:
        fail(f"{where}: expected an FSH string, got {text!r}")
    return fsh_unescape(m.group(1))


def indexed(lst, idx, new, where):
    """FSH soft index: [0] and [+] append... [=] = current, no index = element 0."""
    if idx in ("0", "+"):
        if idx == "0" and lst:
            fail(f"{where}: [0] after elements already exist")
        lst.append(new())
    elif idx == "=":
        if not lst:
            fail(f"{where}: [=] with no current element")
    elif idx is None:
        if not lst:
            lst.append(new())
        elif len(lst) != 1:
            fail(f"{where}: unindexed path with several elements")
    else:
        fail(f"{where}: unsupported index [{idx}]")
    return lst[-1]


def parse_conceptmap_fsh(rel):
    meta = {}
    groups = []
    for n, raw in enumerate(read_text(rel).splitlines(), 1):
        line = raw.strip()
        where = f"{rel}:{n}"
        if not line or line.startswith("//"):
            continue
        if re.match(r"(Alias|Instance|InstanceOf|Usage|Title|Description):", line):
            continue
        if not line.startswith("* "):
            fail(f"{where}: unexpected line {raw!r}")
        m = re.fullmatch(r"\* group(?:\[(\d+|\+|=)\])?\.(.+?) = (.+)", line)
        if not m:
            m = re.fullmatch(r"\* ([A-Za-z][\w.\[\]=+]*) = (.+)", line)
            if not m or m.group(1).startswith("group"):
                fail(f"{where}: unexpected line {raw!r}")
            meta.setdefault(m.group(1), m.group(2))
            continue
        gidx, path, value = m.groups()
        group = indexed(groups, gidx, lambda: {"source": None, "target": None, "elements": []}, where)
        if path in ("source", "target"):
            group[path] = fsh_string(value, where)
            continue
        m = re.fullmatch(r"element(?:\[(\d+|\+|=)\])?\.(code|target\.code|target\.equivalence|target\.comment)", path)
        if not m:
            fail(f"{where}: unsupported ConceptMap path {path!r}")
        eidx, field = m.groups()
        el = indexed(group["elements"], eidx, dict, where)
        if field == "target.comment":
            el[field] = fsh_string(value, where)
        else:
            el[field] = fsh_code(value, where)
    for g in groups:
        if not g["source"] or not g["target"]:
            fail(f"{rel}: group without source or target")
        for el in g["elements"]:
            if "code" not in el or "target.code" not in el or "target.equivalence" not in el:
                fail(f"{rel}: incomplete element {el}")
    return meta, groups


def parse_valueset_fsh(rel):
    meta = {}
    members = []
    for n, raw in enumerate(read_text(rel).splitlines(), 1):
        line = raw.strip()
        where = f"{rel}:{n}"
        if not line or line.startswith("//"):
            continue
        if re.match(r"(Alias|ValueSet|Id|Title|Description):", line):
            continue
        m = re.fullmatch(r"\* \^([\w.\[\]=+]+) = (.+)", line)
        if m:
            meta.setdefault(m.group(1), m.group(2))
            continue
        m = re.fullmatch(r"\* (\$[\w-]+)" + FSH_CODE + r"(?:\s+" + FSH_STRING + r")?", line)
        if not m:
            fail(f"{where}: unsupported ValueSet rule {raw!r}")
        alias, qcode, code, display = m.groups()
        code = fsh_unescape(qcode) if qcode is not None else code
        if display is None:
            fail(f"{where}: member {code} without display")
        members.append((system_key(alias), code, fsh_unescape(display)))
    return meta, members


def meta_str(meta, key, rel):
    if key not in meta:
        fail(f"{rel}: no {key}")
    return fsh_string(meta[key], rel)


# --------------------------------------------------------------------------------------------
# FHIR JSON value sets, IHE SVS XML value sets
# --------------------------------------------------------------------------------------------
def parse_valueset_json(rel):
    d = json.loads(read_text(rel))
    compose = d["compose"]
    if set(compose) - {"include"}:
        fail(f"{rel}: compose has {sorted(set(compose) - {'include'})}")
    members = []
    for inc in compose["include"]:
        if set(inc) != {"system", "concept"}:
            fail(f"{rel}: include with {sorted(inc)} (only system+concept supported)")
        key = system_key(inc["system"])
        for c in inc["concept"]:
            members.append((key, c["code"], c["display"]))
    ident = [i["value"] for i in d.get("identifier", []) if i.get("value", "").startswith("urn:oid:")]
    meta = {
        "oid": ident[0][len("urn:oid:"):] if ident else None,
        "version": d.get("version"),
        "date": d.get("date"),
    }
    return meta, members


SVS = "{urn:ihe:iti:svs:2008}"


def parse_svs(rel):
    root = ET.fromstring(read_text(rel).encode("utf-8"))
    vs = root.find(f"{SVS}ValueSet")
    if vs is None:
        fail(f"{rel}: no ValueSet")
    members = []
    for c in vs.iter(f"{SVS}Concept"):
        if c.get("dateFin"):
            fail(f"{rel}: concept {c.get('code')} has a dateFin (retired codes not handled)")
        members.append((c.get("codeSystem"), c.get("code"), c.get("displayName")))
    return dict(vs.attrib), members


def unique_by(members, key, rel):
    seen = {}
    for m in members:
        k = key(m)
        if k in seen:
            fail(f"{rel}: duplicate {k!r}")
        seen[k] = m
    return seen


# --------------------------------------------------------------------------------------------
# Rust emission
# --------------------------------------------------------------------------------------------
# rustfmt's default max_width: the output is laid out the way rustfmt would lay it out.
RUSTFMT_MAX_WIDTH = 100


def rs(s):
    if s is None:
        fail("None where a string was expected")
    for ch in s:
        if ord(ch) < 0x20 or ch == "\x7f":
            fail(f"control character in {s!r}")
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def coded_lit(code, system, display, indent):
    pad = " " * indent
    return (
        f"{pad}Coded {{\n"
        f"{pad}    code: {rs(code)},\n"
        f"{pad}    code_system: {rs(system)},\n"
        f"{pad}    display: {rs(display)},\n"
        f"{pad}}},\n"
    )


def static_coded(out, name, doc, rows):
    out.append(f"{doc}\npub static {name}: [Coded; {len(rows)}] = [\n")
    for code, system, display in rows:
        out.append(coded_lit(code, system, display, 4))
    out.append("];\n\n")


def const(out, doc, name, value):
    out.append(f"/// {doc}\npub const {name}: &str = {rs(value)};\n")


def generate():
    # ---- sources ------------------------------------------------------------------------------
    x04_meta, x04_groups = parse_conceptmap_fsh(X04)
    a11_meta, a11_groups = parse_conceptmap_fsh(A11)
    a12_meta, a12_groups = parse_conceptmap_fsh(A12)
    j57_meta, j57 = parse_valueset_json(J57)
    j58_meta, j58 = parse_valueset_json(J58)
    j60_meta, j60 = parse_valueset_json(J60)
    j66_meta, j66 = parse_valueset_json(J66)
    j59_meta, j59 = parse_valueset_fsh(J59)
    j61_meta, j61 = parse_valueset_fsh(J61)
    svs = {rel: parse_svs(rel) for rel in (J01, J02, J04, J07, J08, J142, J143, HL7_CONF)}

    # ---- OIDs of the code systems named by URL, cross-checked with the SVS files ----------------
    def check_against_svs(fhir_members, svs_rel, what):
        by_code = unique_by(svs[svs_rel][1], lambda m: m[1], svs_rel)
        for key, code, _ in fhir_members:
            if code in by_code and by_code[code][0] != oid(key):
                fail(f"{what} {code}: {key} -> {oid(key)} but {svs_rel} says {by_code[code][0]}")

    svs_by_name = {"J02": J02, "J04": J04, "J07": J07, "J08": J08}
    for key, (value, name, checked_in, _) in SYSTEMS.items():
        for vs in checked_in:
            if value not in {m[0] for m in svs[svs_by_name[vs]][1]}:
                fail(f"{name}: OID {value} does not appear in {svs_by_name[vs]}")
    check_against_svs(j58, J08, "J58")
    check_against_svs(j61, J02, "J61")
    check_against_svs([m for m in j59 if m[0] in ("TRE_A00", "TRE_R02")], J02, "J59")
    check_against_svs(j66, J07, "J66")

    # ---- J07 + J66 + X04 + J57 : document types -------------------------------------------------
    j07 = unique_by(svs[J07][1], lambda m: m[1], J07)
    j66_codes = unique_by(j66, lambda m: m[1], J66)
    not_in_j07 = sorted(set(j66_codes) - set(j07))
    if not_in_j07:
        fail(f"J66 codes not in J07: {not_in_j07} (the model assumes J66 is a subset of J07)")
    j57_by = unique_by(j57, lambda m: (m[0], m[1]), J57)
    j57_sorted = sorted(j57, key=lambda m: m[1])
    j57_index = {(m[0], m[1]): i for i, m in enumerate(j57_sorted)}

    x04 = {}  # (source OID, code) -> (target key, target code)
    for g in x04_groups:
        src, tgt = oid(system_key(g["source"])), system_key(g["target"])
        for el in g["elements"]:
            if el["target.equivalence"] != "equivalent":
                fail(f"{X04}: {el['code']} equivalence {el['target.equivalence']}")
            if (src, el["code"]) in x04:
                fail(f"{X04}: duplicate {el['code']}")
            x04[(src, el["code"])] = (tgt, el["target.code"])

    doc_types = []
    no_class = []
    for code in sorted(j07):
        system, _, display = j07[code]
        target = x04.get((system, code))
        if target is None:
            cls = "None"
            no_class.append(f"{code}: no ASS_X04 row")
        elif target not in j57_by:
            cls = "None"
            no_class.append(f"{code}: ASS_X04 gives class {target[1]} ({target[0]}), which is not in J57 (no label)")
        else:
            cls = f"Some(&DOCUMENT_CLASSES[{j57_index[target]}])"
        doc_types.append((code, system, display, code in j66_codes, cls))

    # ---- formatCodes: J60 + A11 + A12 ---------------------------------------------------------------
    j60_by = unique_by(j60, lambda m: m[1], J60)
    formats = {code: (key, code, display, True) for key, code, display in j60}

    def add_format(key, code, where):
        if code in formats:
            if formats[code][0] != key:
                fail(f"{where}: formatCode {code} in {key} but J60 has it in {formats[code][0]}")
        else:
            formats[code] = (key, code, None, False)

    templates = {}
    n1_template = None
    n1_formats = set()
    for g in a11_groups:
        tgt = system_key(g["target"])
        src = g["source"]
        for el in g["elements"]:
            add_format(tgt, el["target.code"], A11)
            if "TRE_R221" in src:  # CDA N1 (non structured body): formatCode depends on mediaType
                if n1_template not in (None, el["code"]):
                    fail(f"{A11}: several non-structured templates")
                n1_template = el["code"]
                n1_formats.add(el["target.code"])
                continue
            if "TRE_R220" not in src:
                fail(f"{A11}: unknown source {src}")
            if el["target.equivalence"] != "equivalent":
                fail(f"{A11}: {el['code']} equivalence {el['target.equivalence']}")
            if el["code"] in templates:
                fail(f"{A11}: template {el['code']} mapped twice")
            templates[el["code"]] = el["target.code"]
    if n1_template is None:
        fail(f"{A11}: no TRE_R221 (non-structured CDA) group")

    media_types = {}
    for g in a12_groups:
        tgt = system_key(g["target"])
        for el in g["elements"]:
            if el["target.equivalence"] != "equivalent":
                fail(f"{A12}: {el['code']} equivalence {el['target.equivalence']}")
            if el["code"] in media_types:
                fail(f"{A12}: media type {el['code']} mapped twice")
            add_format(tgt, el["target.code"], A12)
            media_types[el["code"]] = el["target.code"]
    if set(media_types.values()) != n1_formats:
        fail(f"ASS_A12 formatCodes {sorted(media_types.values())} != ASS_A11 N1 formatCodes {sorted(n1_formats)}")

    format_codes = sorted(formats)
    format_index = {c: i for i, c in enumerate(format_codes)}

    # ---- other value sets ---------------------------------------------------------------------------
    def svs_rows(rel):
        rows = svs[rel][1]
        unique_by(rows, lambda m: m[1], rel)
        return sorted(((c, s, d) for s, c, d in rows), key=lambda r: r[0])

    # Healthcare facility types: J02 (CI-SIS) and J61 (DMP) are not nested (J61 20240927 has SA11,
    # which J02 20241213 no longer lists; J02 has codes J61 lacks). The table is their union: label
    # from J02 when J02 has the code (it is the more recent file), else from J61.
    j61_codes = unique_by(j61, lambda m: m[1], J61)
    j02_rows = svs_rows(J02)
    j02_codes = {r[0] for r in j02_rows}
    j61_only = sorted(set(j61_codes) - j02_codes)
    j02_rows = sorted(
        j02_rows + [(c, oid(j61_codes[c][0]), j61_codes[c][2]) for c in j61_only], key=lambda r: r[0]
    )
    j58_rows = sorted(((c, oid(k), d) for k, c, d in j58), key=lambda r: r[0])
    unique_by(j58_rows, lambda r: r[0], J58)
    j59_rows = sorted(((c, oid(k), d) for k, c, d in j59), key=lambda r: (r[0], r[1]))
    unique_by(j59_rows, lambda r: (r[0], r[1]), J59)

    # ---- emit ---------------------------------------------------------------------------------------
    o = []
    o.append(
        "// @generated by scripts/gen-terminology.py from the ANS files below.\n"
        "// Do not edit; run scripts/gen-terminology.py (python3, standard library only).\n"
        "//\n"
        "// Sources (paths from the repository root):\n"
    )

    def src_line(rel, desc):
        o.append(f"// * {rel}\n//   {desc}\n")

    src_line(X04, f"version {meta_str(x04_meta, 'version', X04)}, date {meta_str(x04_meta, 'date', X04)}")
    src_line(A11, f"version {meta_str(a11_meta, 'version', A11)}")
    src_line(A12, f"version {meta_str(a12_meta, 'version', A12)}")
    for rel, m in ((J57, j57_meta), (J58, j58_meta), (J60, j60_meta), (J66, j66_meta)):
        src_line(rel, f"version {m['version']}, date {m['date']}")
    for rel, m in ((J59, j59_meta), (J61, j61_meta)):
        src_line(rel, f"version {meta_str(m, 'version', rel)}, date {meta_str(m, 'date', rel)}")
    for rel in (J01, J02, J04, J07, J08, J142, J143, HL7_CONF):
        a = svs[rel][0]
        parts = [f"id {a['id']}"]
        for k in ("dateMaj", "revisionDate", "version"):
            if a.get(k):
                parts.append(f"{k} {a[k]}")
        src_line(rel, ", ".join(parts))
    o.append(
        "//\n"
        "// Code system OIDs: the FHIR files name code systems by URL; the OIDs come from the SVS files\n"
        "// above where they appear there (checked at generation), otherwise from ANS publications cited\n"
        "// in scripts/gen-terminology.py (SYSTEMS).\n"
        "//\n"
        "// J07 codes without a document class:\n"
    )
    for line in no_class:
        o.append(f"// * {line}\n")
    o.append("//\n// JDV_J61 (DMP) codes absent from JDV_J02 (CI-SIS), kept in HEALTHCARE_FACILITY_TYPES with their J61 label:\n")
    for c in j61_only:
        o.append(f"// * {c} {j61_codes[c][2]}\n")
    o.append("\nuse super::{Coded, DocumentType, FacilityType, FormatCode};\n\n")

    # constants
    const(o, "OID of ASS_X04-CorrespondanceType-Classe-CISIS (typeCode -> classCode).", "ASS_X04_OID",
          fsh_string(x04_meta["identifier.value"], X04).removeprefix("urn:oid:"))
    vs_oids = [
        ("J01_OID", "JDV_J01-XdsAuthorSpecialty-CISIS", svs[J01][0]["id"]),
        ("J02_OID", "JDV_J02-XdsHealthcareFacilityTypeCode-CISIS", svs[J02][0]["id"]),
        ("J04_OID", "JDV_J04-XdsPracticeSettingCode-CISIS", svs[J04][0]["id"]),
        ("J07_OID", "JDV_J07-XdsTypeCode-CISIS", svs[J07][0]["id"]),
        ("J08_OID", "JDV_J08-XdsConfidentialityCode-CISIS", svs[J08][0]["id"]),
        ("J142_OID", "JDV_J142-TypeRencontre-CISIS", svs[J142][0]["id"]),
        ("J143_OID", "JDV_J143-AdministrativeGender-CISIS", svs[J143][0]["id"]),
        ("HL7_CONFIDENTIALITY_OID", "JDV_HL7_Confidentiality_CISIS", svs[HL7_CONF][0]["id"]),
        ("J57_OID", "JDV_J57-ClassCode-DMP", j57_meta["oid"]),
        ("J58_OID", "JDV_J58-ConfidentialityCode-DMP", j58_meta["oid"]),
        ("J59_OID", "JDV_J59-ContentTypeCode-DMP",
         meta_str(j59_meta, "identifier.value", J59).removeprefix("urn:oid:")),
        ("J60_OID", "JDV_J60-FormatCode-DMP", j60_meta["oid"]),
        ("J61_OID", "JDV_J61-HealthcareFacilityTypeCode-DMP",
         meta_str(j61_meta, "identifier.value", J61).removeprefix("urn:oid:")),
        ("J66_OID", "JDV_J66-TypeCode-DMP", j66_meta["oid"]),
    ]
    for name, label, value in vs_oids:
        if not value or not re.fullmatch(r"\d+(\.\d+)+", value):
            fail(f"bad OID for {label}: {value!r}")
        const(o, f"OID of the value set {label}.", name, value)
    o.append("\n")
    for key in sorted(SYSTEMS, key=lambda k: (k != "LOINC", k)):
        value, name, checked_in, provenance = SYSTEMS[key]
        if checked_in:
            origin = "codeSystem in " + ", ".join(checked_in)
        else:
            origin = f"not in schemas/; {provenance}, see scripts/gen-terminology.py"
        const(o, f"Code system {name} (OID: {origin}).", f"{key}_OID", value)
    o.append("\n")
    const(o, "CDA templateId of a non-structured (level 1) CDA document: its formatCode depends on the\n"
             "/// mediaType of `nonXMLBody/text` (ASS_A11 group TRE_R221, ASS_A12).", "CDA_N1_TEMPLATE_ID",
          n1_template)
    o.append("\n")

    # J57 classes
    static_coded(
        o, "DOCUMENT_CLASSES",
        "/// JDV_J57-ClassCode-DMP, sorted by code.",
        [(c, oid(k), d) for k, c, d in j57_sorted],
    )

    # document types
    o.append(
        "/// JDV_J07-XdsTypeCode-CISIS, sorted by code; `in_dmp` = member of JDV_J66-TypeCode-DMP; `class`\n"
        "/// = ASS_X04 class with its J57 label.\n"
        f"pub static DOCUMENT_TYPES: [DocumentType; {len(doc_types)}] = [\n"
    )
    for code, system, display, in_dmp, cls in doc_types:
        o.append(
            "    DocumentType {\n"
            f"        code: {rs(code)},\n"
            f"        code_system: {rs(system)},\n"
            f"        display: {rs(display)},\n"
            f"        in_dmp: {'true' if in_dmp else 'false'},\n"
            f"        class: {cls},\n"
            "    },\n"
        )
    o.append("];\n\n")

    # format codes
    o.append(
        "/// JDV_J60-FormatCode-DMP plus every formatCode that ASS_A11 / ASS_A12 map to, sorted by code;\n"
        "/// `display` comes from J60 (the only source with labels), so it is `None` exactly when\n"
        "/// `in_dmp` is false.\n"
        f"pub static FORMAT_CODES: [FormatCode; {len(format_codes)}] = [\n"
    )
    for code in format_codes:
        key, _, display, in_dmp = formats[code]
        disp = f"        display: Some({rs(display)}),\n" if display is not None else "        display: None,\n"
        if len(disp) - 1 > RUSTFMT_MAX_WIDTH:  # what rustfmt does with an overlong call
            disp = f"        display: Some(\n            {rs(display)},\n        ),\n"
        o.append(
            "    FormatCode {\n"
            f"        code: {rs(code)},\n"
            f"        code_system: {rs(oid(key))},\n"
            f"{disp}"
            f"        in_dmp: {'true' if in_dmp else 'false'},\n"
            "    },\n"
        )
    o.append("];\n\n")

    o.append(
        "/// ASS_A11 (structured CDA models, group TRE_R220): templateId -> formatCode, sorted by templateId.\n"
        f"pub static TEMPLATE_FORMAT_CODES: [(&str, &FormatCode); {len(templates)}] = [\n"
    )
    for t in sorted(templates):
        o.append(f"    ({rs(t)}, &FORMAT_CODES[{format_index[templates[t]]}]),\n")
    o.append("];\n\n")

    o.append(
        "/// ASS_A12: `nonXMLBody/text@mediaType` -> formatCode, in source order.\n"
        f"pub static MEDIA_TYPE_FORMAT_CODES: [(&str, &FormatCode); {len(media_types)}] = [\n"
    )
    for mt, fc in media_types.items():
        o.append(f"    ({rs(mt)}, &FORMAT_CODES[{format_index[fc]}]),\n")
    o.append("];\n\n")

    static_coded(o, "PRACTICE_SETTINGS", "/// JDV_J04-XdsPracticeSettingCode-CISIS, sorted by code.", svs_rows(J04))

    o.append(
        "/// JDV_J02-XdsHealthcareFacilityTypeCode-CISIS plus the JDV_J61-HealthcareFacilityTypeCode-DMP codes\n"
        "/// J02 lacks, sorted by code; `in_dmp` = member of J61.\n"
        f"pub static HEALTHCARE_FACILITY_TYPES: [FacilityType; {len(j02_rows)}] = [\n"
    )
    for code, system, display in j02_rows:
        o.append(
            "    FacilityType {\n"
            f"        code: {rs(code)},\n"
            f"        code_system: {rs(system)},\n"
            f"        display: {rs(display)},\n"
            f"        in_dmp: {'true' if code in j61_codes else 'false'},\n"
            "    },\n"
        )
    o.append("];\n\n")

    static_coded(o, "AUTHOR_SPECIALTIES", "/// JDV_J01-XdsAuthorSpecialty-CISIS, sorted by code.", svs_rows(J01))
    static_coded(o, "CONFIDENTIALITY_CODES", "/// JDV_J58-ConfidentialityCode-DMP, sorted by code.", j58_rows)
    static_coded(
        o, "CONTENT_TYPES",
        "/// JDV_J59-ContentTypeCode-DMP, sorted by (code, code system): the same code can occur in two\n"
        "/// code systems (e.g. `11` in TRE_R276 and TRE_R209).",
        j59_rows,
    )
    static_coded(o, "ENCOUNTER_TYPES", "/// JDV_J142-TypeRencontre-CISIS, sorted by code.", svs_rows(J142))
    static_coded(o, "ADMINISTRATIVE_GENDERS", "/// JDV_J143-AdministrativeGender-CISIS, sorted by code.",
                 svs_rows(J143))
    static_coded(o, "CDA_CONFIDENTIALITY_CODES", "/// JDV_HL7_Confidentiality_CISIS, sorted by code.",
                 svs_rows(HL7_CONF))

    text = "".join(o)
    return text.rstrip("\n") + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--output", default=DEFAULT_OUTPUT,
                    help=f"file to write, relative to the repository root ('-' = stdout; default {DEFAULT_OUTPUT})")
    args = ap.parse_args()
    try:
        text = generate()
    except SourceError as e:
        print(f"gen-terminology: error: {e}", file=sys.stderr)
        return 1
    if args.output == "-":
        sys.stdout.write(text)
    else:
        path = args.output if os.path.isabs(args.output) else os.path.join(ROOT, args.output)
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
