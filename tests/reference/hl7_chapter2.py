#!/usr/bin/env python3
"""A deliberately simple reference reader of HL7 v2 messages (HL7 v2.5, chapter 2), standard library only.

It prints, for each file given, the same JSON Lines as `dmpfeed inspect --json` (CONTRACT.md): one object per
message `{"source": "FILE#N", "charset": …, "segments": [["PID", F1, F2, …], …]}`, each field a list of
repetitions, each repetition a list of components, each component a list of subcomponents (decoded strings);
or `{"source": "FILE#N", "error": "…"}` for a frame that is not a readable message.

It shares no code with the Rust reader and is written the slow, obvious way (split strings, one rule per
function) so that `tests/reader_conformance.rs` can diff the two. Where they disagree, chapter 2 decides.

Rules, with the chapter 2 section they come from (HL7 v2.5):

* 2.5.4 / 2.16.9 Message delimiters: the byte after "MSH" is the field separator (MSH-1); MSH-2 runs to the next
  field separator and holds, in order, the component, repetition, escape and subcomponent separators (v2.7 adds
  the truncation character as a 5th). Delimiters are printable ASCII, neither letters nor digits, all distinct.
  MSH-1 and MSH-2 are never split nor unescaped; MSH-3 is the first piece after MSH-2.
* 2.5.1 / 2.5.4 Segments end with a carriage return; as CONTRACT.md says, "\r", "\n" and "\r\n" all end one.
  A segment starts with a 3-character id (upper-case letters and digits) then the field separator. Blank lines
  (spaces and tabs only) are not segments.
* 2.5.5 Repetitions, components, subcomponents: split in that order; an empty element has no parts (empty list).
  The HL7 null `""` is data like any other two characters.
* 2.7 Escape sequences, decoded inside each subcomponent after splitting: an escape sequence is the escape
  character, its content, and the next escape character. \\F\\ \\S\\ \\T\\ \\R\\ \\E\\ are the delimiters,
  \\Xhh…\\ hexadecimal bytes (read in the message's character set), \\.br\\ a line break. Everything else
  (\\H\\ \\N\\ highlighting, \\.sp\\ and other formatting commands, \\Z…\\ \\C…\\ \\M…\\, malformed or
  unterminated sequences) is kept verbatim, as a receiver that does not interpret them must.
* 2.16.9.18 MSH-18 character set (HL7 table 0211): "UNICODE UTF-8", "8859/1" (ISO Latin-1), "8859/15"
  (Latin-9), "ASCII"; the IANA spellings UTF-8, ISO-8859-1, ISO-8859-15, US-ASCII are accepted. Without MSH-18:
  UTF-8 when the bytes are valid UTF-8, else Latin-1. Bytes not valid in the declared charset are an error.
* Framing (CONTRACT.md "Commands", HL7 v2 Appendix C, 2.10.3 batches): MLLP blocks 0x0B … 0x1C, batch
  envelope segments FHS/BHS/BTS/FTS (not part of any message), plain messages each starting at "MSH". Lines
  that belong to no message form one "not a message" frame per run, so that nothing is dropped silently.
"""

import json
import sys

VT = 0x0B  # MLLP start block
FS = 0x1C  # MLLP end block

CHARSETS = {
    "UNICODE UTF-8": "UNICODE UTF-8", "UTF-8": "UNICODE UTF-8", "UTF8": "UNICODE UTF-8",
    "8859/1": "8859/1", "ISO-8859-1": "8859/1", "ISO8859-1": "8859/1", "ISO_8859-1": "8859/1",
    "LATIN1": "8859/1",
    "8859/15": "8859/15", "ISO-8859-15": "8859/15", "ISO8859-15": "8859/15", "ISO_8859-15": "8859/15",
    "LATIN9": "8859/15",
    "ASCII": "ASCII", "US-ASCII": "ASCII",
}
PYTHON_CODEC = {"UNICODE UTF-8": "utf-8", "8859/1": "latin-1", "8859/15": "iso8859_15", "ASCII": "ascii"}


class NotReadable(Exception):
    pass


# ---------------------------------------------------------------------------------------------------------
# Framing: bytes -> frames (a frame is the list of lines of one message, or of one run of non-HL7 lines)
# ---------------------------------------------------------------------------------------------------------

def is_delimiter(b):
    """Printable ASCII that is neither a letter, a digit nor a space."""
    return 0x21 <= b <= 0x7E and not chr(b).isalnum()


BOM = b"\xef\xbb\xbf"
BLANK_BYTES = b" \t\x00\x1c"  # spaces, tabs, NUL and 0x1C padding


def strip_blank(line):
    """The line without its leading blanks (blank bytes and byte order marks)."""
    while True:
        if line[:1] and line[:1] in BLANK_BYTES:
            line = line[1:]
        elif line.startswith(BOM):
            line = line[3:]
        else:
            return line


def starts_message(line):
    return line[:3] == b"MSH" and len(line) > 3 and is_delimiter(line[3])


def is_envelope(line):
    return line[:3] in (b"FHS", b"BHS", b"BTS", b"FTS") and (len(line) == 3 or not chr(line[3]).isalnum())


def tokens(data):
    """Lines and MLLP marks: ("line", bytes), ("open",), ("close",), ("lost",).

    \r\n, \r and \n end a line. 0x0B cannot be data: wherever it is, it ends the line and opens an MLLP
    block ("lost" when a block was already open: that block's end marker never came). Inside a block, 0x1C
    ends the line and the block; outside one it is a padding byte like any other blank."""
    line = bytearray()
    in_block = False
    i = 0
    while i < len(data):
        b = data[i]
        if b in (0x0D, 0x0A):
            yield ("line", bytes(line))
            line = bytearray()
            if b == 0x0D and i + 1 < len(data) and data[i + 1] == 0x0A:
                i += 1
        elif b == VT:
            yield ("line", bytes(line))
            line = bytearray()
            yield ("lost",) if in_block else ("open",)
            in_block = True
        elif b == FS and in_block:
            yield ("line", bytes(line))
            line = bytearray()
            yield ("close",)
            in_block = False
        else:
            line.append(b)
        i += 1
    yield ("line", bytes(line))
    if in_block:
        yield ("lost",)


def frames_of_lines(lines):
    """Frames of a run of lines: ("message", [lines]) or ("junk", reason). A message is its MSH line and
    every following line up to the next message or envelope line, less its trailing blank lines; lines that
    belong to no message form one junk frame per run."""
    out = []
    current = None  # [kind, lines]
    for line in lines:
        head = strip_blank(line)
        if starts_message(head):
            current = ["message", [head]]
            out.append(current)
        elif is_envelope(head):
            current = None
        elif head == b"":
            if current is not None:
                current[1].append(line)
        elif current is None:
            current = ["junk", [line]]
            out.append(current)
        else:
            current[1].append(line)
    result = []
    for kind, content in out:
        if kind == "junk":
            result.append(("junk", "not HL7"))
        else:
            while strip_blank(content[-1]) == b"":
                content.pop()
            result.append(("message", content))
    return result


def frames(data):
    """Yields ("message", [lines]) or ("junk", reason), in input order."""
    plain = []  # lines outside MLLP blocks, not yet framed
    block = None  # lines of the open MLLP block
    for tok in tokens(data):
        kind = tok[0]
        if kind == "line":
            (plain if block is None else block).append(tok[1])
        elif kind == "open":
            yield from frames_of_lines(plain)
            plain, block = [], []
        elif kind == "close":
            inner = frames_of_lines(block)
            yield from inner if inner else [("junk", "empty MLLP block")]
            block = None
        elif kind == "lost":
            yield ("junk", "unterminated MLLP block")
            block = []
    if block is None:
        yield from frames_of_lines(plain)


# ---------------------------------------------------------------------------------------------------------
# One message: delimiters, charset, segments, fields, escapes
# ---------------------------------------------------------------------------------------------------------

def delimiters(msh):
    """(field, [component, repetition, escape, subcomponent, truncation] padded with None)."""
    if not starts_message(msh):
        raise NotReadable("MSH: no field separator")
    field = msh[3]
    rest = msh[4:]
    end = rest.find(bytes([field]))
    encoding = rest if end < 0 else rest[:end]
    if not 1 <= len(encoding) <= 5:
        raise NotReadable("MSH-2: 1 to 5 encoding characters expected")
    seen = {field}
    for b in encoding:
        if not is_delimiter(b) or b in seen:
            raise NotReadable("MSH-2: bad encoding character")
        seen.add(b)
    chars = [chr(b) for b in encoding] + [None] * (5 - len(encoding))
    return chr(field), encoding.decode("ascii"), chars


def declared_charset(msh, field):
    """MSH-18, first repetition, first component, from the raw MSH bytes (ASCII in every accepted charset)."""
    _, _, chars = delimiters(msh)
    component, repetition = chars[0], chars[1]
    pieces = msh[3:].split(field.encode())  # ["", MSH-2, MSH-3, ...]
    if len(pieces) < 18:
        return None
    value = pieces[17]
    if repetition is not None:
        value = value.split(repetition.encode())[0]
    value = value.split(component.encode())[0]
    name = value.decode("latin-1").strip()
    if name == "":
        return None
    if name.upper() not in CHARSETS:
        raise NotReadable("MSH-18: unsupported character set " + name)
    return CHARSETS[name.upper()]


def decode_lines(lines):
    """Returns (charset name, [text lines])."""
    msh = lines[0]
    field = chr(msh[3])
    declared = declared_charset(msh, field)
    raw = b"\r".join(lines)
    if declared is None:
        try:
            raw.decode("utf-8")
            charset = "UNICODE UTF-8"
        except UnicodeDecodeError:
            charset = "8859/1"
    else:
        charset = declared
    try:
        text_lines = [line.decode(PYTHON_CODEC[charset]) for line in lines]
    except UnicodeDecodeError:
        raise NotReadable("bytes not valid in the declared character set " + charset)
    return charset, text_lines


def hex_bytes(body):
    """The bytes of an \\X…\\ body, or None when it is not an even, non-empty run of hex digits."""
    if len(body) == 0 or len(body) % 2 == 1:
        return None
    if any(c not in "0123456789abcdefABCDEF" for c in body):
        return None
    return bytes(int(body[i:i + 2], 16) for i in range(0, len(body), 2))


def bytes_to_text(data, charset):
    if charset in ("UNICODE UTF-8", "ASCII"):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("latin-1")
    return data.decode(PYTHON_CODEC[charset])


def unescape(value, chars, field, charset):
    component, repetition, escape, subcomponent = chars[0], chars[1], chars[2], chars[3]
    if escape is None:
        return value
    meaning = {"F": field, "S": component, "T": subcomponent, "R": repetition, "E": escape, ".br": "\n"}
    out = []
    i = 0
    while i < len(value):
        c = value[i]
        if c != escape:
            out.append(c)
            i += 1
            continue
        j = value.find(escape, i + 1)
        if j < 0:  # unterminated: the rest is data
            out.append(value[i:])
            break
        body = value[i + 1:j]
        decoded = meaning.get(body)
        if decoded is None and body.startswith("X"):
            raw = hex_bytes(body[1:])
            if raw is not None:
                decoded = bytes_to_text(raw, charset)
        out.append(decoded if decoded is not None else value[i:j + 1])
        i = j + 1
    return "".join(out)


def split(text, sep):
    """An empty text has no parts; a missing separator never splits."""
    if text == "":
        return []
    if sep is None:
        return [text]
    return text.split(sep)


def field_json(raw, chars, field, charset):
    component, repetition, subcomponent = chars[0], chars[1], chars[3]
    return [
        [
            [unescape(sub, chars, field, charset) for sub in split(comp, subcomponent)]
            for comp in split(rep, component)
        ]
        for rep in split(raw, repetition)
    ]


def segment_json(line, n, field, chars, charset):
    seg_id = line[:3]
    if len(seg_id) < 3 or any(not (c.isascii() and (c.isupper() or c.isdigit())) for c in seg_id):
        raise NotReadable("segment %d: no segment id" % n)
    after = line[3:]
    if seg_id == "MSH":
        # MSH-1 is the byte after the id, MSH-2 the encoding characters up to the next separator.
        if not after.startswith(field):
            raise NotReadable("segment %d: MSH without its field separator" % n)
        pieces = after[1:].split(field)
        fields = [[[[field]]], [[[pieces[0]]]]]
        fields += [field_json(f, chars, field, charset) for f in pieces[1:]]
        return [seg_id] + fields
    if after.strip(" ") == "":
        return [seg_id]  # no field at all (trailing spaces tolerated)
    if after[0] != field:
        raise NotReadable("segment %d: no field separator after the segment id" % n)
    return [seg_id] + [field_json(f, chars, field, charset) for f in after[1:].split(field)]


def read_message(lines):
    field, _, chars = delimiters(lines[0])
    charset, text_lines = decode_lines(lines)
    segments = []
    for line in text_lines:
        if all(c in " \t\x00\x1c\ufeff" for c in line):
            continue  # a blank line is not a segment
        segments.append(segment_json(line, len(segments) + 1, field, chars, charset))
    return charset, segments


def main(paths):
    status = 0
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        for index, (kind, content) in enumerate(frames(data), start=1):
            source = "%s#%d" % (path, index)
            if kind == "junk":
                obj = {"source": source, "error": content}
                status = 1
            else:
                try:
                    charset, segments = read_message(content)
                    obj = {"source": source, "charset": charset, "segments": segments}
                except NotReadable as e:
                    obj = {"source": source, "error": str(e)}
                    status = 1
            sys.stdout.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
