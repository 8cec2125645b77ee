#!/usr/bin/env python3
"""Random differential testing of `dmpfeed inspect --json` against the chapter 2 reference reader.

Usage: python3 tests/reference/random_differential.py [SEED] [CASES]   (from the crate root, after
`cargo build`). Half the cases are fixtures mutated with HL7-significant bytes (delimiters, escapes,
terminators, MLLP bytes, Latin-1/UTF-8 bytes, envelope segments); half are generated messages with
random custom delimiters, escapes, charsets and segment shapes. Each case is written to a temporary
file and read by both readers; outputs are compared as in tests/reader_conformance.rs (an error is
compared as "an error"). Differing inputs are kept and printed. This is how most of the disagreements
fixed in the reader (and in the reference) were found; it is not run by `cargo test`.
"""

import glob
import json
import os
import random
import subprocess
import sys
import tempfile

DMPFEED = "target/debug/dmpfeed"
REFERENCE = "tests/reference/hl7_chapter2.py"

MUTATIONS = [b"|", b"^", b"~", b"\\", b"&", b"\r", b"\n", b"\r\n", b" ", b"\t", b"\x0b", b"\x1c", b"\x00",
             b"\\F\\", b"\\X41\\", b"\\XC3A9\\", b"\\.br\\", b"\\H\\", b"\\E\\", b"\\R\\", b"\\T\\", b"\\S\\",
             b"\\X\\", b"\\X0\\", b"\xe9", b"\xc3\xa9", b"\xa4", b"\xef\xbb\xbf", b"MSH|^~\\&|", b"BHS|\r",
             b"ZZZ", b'""', b"#", b"\r\rPID", b"\rZZZ  \r", b"\rPID\r", b"\rMSH\r", b"\rabc|\r", b"8859/1",
             b"8859/15", b"UNICODE UTF-8", b"MSH"]
PIECES = ["A", "é", "€", "œ", "\\F\\", "\\S\\", "\\T\\", "\\R\\", "\\E\\", "\\.br\\", "\\H\\", "\\N\\", "\\X41\\",
          "\\Xc3a9\\", "\\XE9\\", "\\X\\", "\\X4\\", "\\XZZ\\", "\\", "\\\\", "\\.sp\\", '""', "  ", "\t", "Z",
          "\\Zx\\"]
CODECS = {"8859/1": "latin-1", " 8859/15 ": "iso8859_15", "8859/15": "iso8859_15"}


def mutated(seeds):
    s = bytearray(random.choice(seeds))
    for _ in range(random.randint(1, 6)):
        op, p = random.random(), random.randint(0, len(s))
        if op < 0.5:
            s[p:p] = random.choice(MUTATIONS)
        elif op < 0.7:
            del s[p:p + random.randint(1, 5)]
        elif op < 0.85:
            s[p:p] = bytes([random.randint(0, 255)])
        else:
            t = random.choice(seeds)
            q = random.randint(0, len(t))
            s[p:p] = t[q:q + random.randint(1, 200)]
    return bytes(s)


def generated():
    pool = list("|^~\\&#$%!@*+=:;,.?/-_{}[]()<>'\"`")
    ds = random.sample(pool, random.choice([1, 2, 3, 4, 4, 4, 5, 5, 6]))
    fs, enc = ds[0], "".join(ds[1:])
    if random.random() < 0.3:
        fs, enc = "|", "^~\\&"
    cs = random.choice(["", "UNICODE UTF-8", "8859/1", "8859/15", "ASCII", "utf-8", " 8859/15 ", "UNICODE UTF-16",
                        None])
    msh = "MSH" + fs + enc + fs + fs.join(["APP", "FAC", "", "", "2024", "", "ORU^R01", "1", "P", "2.5"] + [""] * 6)
    if cs is not None:
        msh += fs + cs
    segs = [msh]
    for _ in range(random.randint(0, 4)):
        sid = random.choice(["PID", "OBX", "ZB1", "NTE", "ZZZ", "pid", "ZZZ  "])
        value = lambda: "".join(random.choice(PIECES + ds) for _ in range(random.randint(0, 8)))
        segs.append(sid + fs + fs.join(value() for _ in range(random.randint(0, 5))) if random.random() < 0.9 else sid)
    term = random.choice(["\r", "\n", "\r\n"])
    text = term.join(segs) + random.choice(["", term])
    try:
        return text.encode(CODECS.get(cs, "utf-8"))
    except UnicodeEncodeError:
        return text.encode("utf-8")


def read(cmd):
    out = subprocess.run(cmd, capture_output=True)
    if b"panicked" in out.stderr or out.returncode not in (0, 1):
        return None, out.stderr.decode(errors="replace")[-400:]
    lines = [json.loads(line) for line in out.stdout.decode().splitlines()]
    for line in lines:
        if "error" in line:
            line["error"] = "<error>"
    return lines, None


def main():
    random.seed(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    cases = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    seeds = [open(f, "rb").read() for f in sorted(glob.glob("tests/fixtures/third-party/**/*.hl7", recursive=True))
             + sorted(glob.glob("samples/*.hl7"))]
    seeds = [s for s in seeds if len(s) < 20000]
    keep = tempfile.mkdtemp(prefix="hl7-differential-")
    findings = 0
    for i in range(cases):
        data = mutated(seeds) if i % 2 == 0 else generated()
        path = os.path.join(keep, "case%d.hl7" % i)
        with open(path, "wb") as f:
            f.write(data)
        ours, crash = read([DMPFEED, "inspect", "--json", path])
        theirs, ref_crash = read(["python3", REFERENCE, path])
        if crash or ref_crash or ours != theirs:
            findings += 1
            print("DIFFERENT:", path, crash or ref_crash or "")
            continue
        os.remove(path)
    print("%d cases, %d differing (kept in %s)" % (cases, findings, keep))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
