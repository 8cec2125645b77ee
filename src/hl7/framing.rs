//! Framing: cutting a byte stream into messages, sans I/O.
//!
//! Three framings are detected, never configured (CONTRACT.md "Commands"):
//! * MLLP (HL7 v2 Appendix C): `0x0B` message `0x1C 0x0D`. A frame may hold several messages
//!   (a batch inside MLLP); each becomes its own frame. The frame is complete at `0x1C`, so a
//!   stream gets its answer without waiting for the `0x0D` or the next message.
//! * Batches (HL7 v2.5 ch. 2.10.3): `FHS`/`BHS` … `BTS`/`FTS`. The envelope is not a message.
//! * Plain messages one after another, each starting at `MSH`.
//!
//! Segment terminators `\r`, `\n` and `\r\n` all end a segment. Blank lines, whitespace, NUL padding
//! and stray `0x1C 0x0D` between messages are skipped, consumed as they arrive; more than
//! [`MAX_BLANK_GAP`] such bytes after a line end the message in progress. A `0x0B`, which can never be data, starts an
//! MLLP block wherever it is: it ends the plain message in progress, and an MLLP block it interrupts
//! (its `0x1C` was lost) is reported [`FrameDefect::UnterminatedMllp`]. Outside a block, a `0x1C`
//! inside a line is data. Bytes that are not a message (no `MSH`) become a frame
//! of their own with [`FrameDefect::NotHl7`], so nothing is silently dropped.
//!
//! A plain message is complete when the next message (or envelope segment) starts, at the end of
//! input, or when the caller says the input is idle ([`Framer::flush_idle`]): a plain stream has
//! no end-of-message marker, which is why interface engines should prefer MLLP.
//!
//! [`Scanner`] is the state machine over a caller-owned buffer; [`Framer`] owns a growing buffer
//! for streams (any chunking gives the same frames); [`frames`] walks a complete slice without
//! copying.

use memchr::{memchr2, memchr3};
use std::collections::VecDeque;

const VT: u8 = 0x0B; // MLLP start block
const FS: u8 = 0x1C; // MLLP end block
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// How a message arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Framing {
    Mllp,
    Batch,
    Plain,
}

/// Why a frame is not a well-framed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameDefect {
    /// Bytes between messages that do not start with `MSH` (or an empty MLLP block).
    NotHl7,
    /// The input ended inside an MLLP block (no `0x1C`).
    UnterminatedMllp,
    /// Longer than the configured limit; `bytes` holds only the first part of it.
    TooLarge { size: u64 },
}

impl FrameDefect {
    /// What is wrong with a frame of `len` bytes, in the words of a report detail (`convert`'s
    /// findings, `inspect`'s errors): `397 bytes that are not an HL7 message (no MSH segment)`.
    pub fn describe(self, len: usize) -> String {
        match self {
            FrameDefect::NotHl7 if len == 0 => "an empty MLLP block (no message)".to_owned(),
            FrameDefect::NotHl7 => format!("{len} {self}"),
            _ => self.to_string(),
        }
    }
}

/// What is wrong, for people (see [`FrameDefect::describe`], which adds the size).
impl std::fmt::Display for FrameDefect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameDefect::NotHl7 => {
                f.write_str("bytes that are not an HL7 message (no MSH segment)")
            }
            FrameDefect::UnterminatedMllp => {
                f.write_str("the input ended inside an MLLP block (no 0x1C end byte)")
            }
            FrameDefect::TooLarge { size } => write!(
                f,
                "message of {size} bytes, over the limit (limits.max_message_bytes)"
            ),
        }
    }
}

/// Where one frame is in the buffer the [`Scanner`] walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub framing: Framing,
    pub defect: Option<FrameDefect>,
    /// An MLLP block's content, which may hold several messages: split it with [`frames`].
    pub mllp_block: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between messages, at `pos`.
    Between,
    /// Inside a plain or batch message starting at `start`; next terminator search from `scan`.
    Message { start: usize, scan: usize },
    /// Inside bytes that are not HL7, until a line starts a message.
    Junk { start: usize, scan: usize },
    /// A message (or junk) whose last line ended at `end`, followed by blank bytes up to
    /// `blank`: it ends there when a message head, the end of input or more than
    /// [`MAX_BLANK_GAP`] blank bytes follow, and goes on when another line does.
    Tail {
        start: usize,
        end: usize,
        blank: usize,
        junk: bool,
    },
    /// Inside an MLLP block whose content starts at `start`, just after its `0x0B` (which is
    /// never part of a frame, even of the prefix kept of an oversize one).
    Mllp { start: usize, scan: usize },
    /// Skipping an envelope segment (FHS/BHS/BTS/FTS) until its terminator.
    Envelope { scan: usize },
}

/// What starts at a line head.
enum Head {
    Message,
    BatchOpen,
    BatchClose,
    MllpStart,
    Other,
    NeedMore,
}

/// The framing state machine over a buffer owned by the caller. Positions are indices in that
/// buffer; [`Scanner::shift`] follows the caller when it drops a consumed prefix.
#[derive(Debug, Clone)]
pub struct Scanner {
    state: State,
    pos: usize,
    in_batch: bool,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner {
            state: State::Between,
            pos: 0,
            in_batch: false,
        }
    }
}

impl Scanner {
    /// Finds the next frame in `buf`, or `None` when more bytes are needed (never `None` with
    /// bytes left when `eof`). Chunking never changes the result: every decision waits for the
    /// bytes it depends on.
    pub fn next_span(&mut self, buf: &[u8], eof: bool) -> Option<Span> {
        loop {
            match self.state {
                State::Between => {
                    // The blank bytes skipped are consumed even when more must come: a stream
                    // of padding is dropped as it arrives, never scanned twice (issue 8).
                    match skip_blank(buf, self.pos, eof) {
                        Ok(p) => self.pos = p,
                        Err(p) => {
                            self.pos = p;
                            return None;
                        }
                    }
                    let p = self.pos;
                    if p == buf.len() {
                        return None;
                    }
                    match classify(buf, p, eof) {
                        Head::NeedMore => return None,
                        Head::Message => self.state = State::Message { start: p, scan: p },
                        Head::MllpStart => {
                            self.state = State::Mllp {
                                start: p + 1,
                                scan: p + 1,
                            }
                        }
                        Head::BatchOpen => {
                            self.in_batch = true;
                            self.state = State::Envelope { scan: p };
                        }
                        Head::BatchClose => {
                            self.in_batch = false;
                            self.state = State::Envelope { scan: p };
                        }
                        Head::Other => self.state = State::Junk { start: p, scan: p },
                    }
                }
                State::Envelope { scan } => match memchr3(b'\r', b'\n', VT, &buf[scan..]) {
                    // A 0x0B cannot be data: it starts an MLLP block wherever it is.
                    Some(i) if buf[scan + i] == VT => {
                        self.pos = scan + i;
                        self.state = State::Between;
                    }
                    Some(i) => {
                        self.pos = scan + i + 1;
                        self.state = State::Between;
                    }
                    None if eof => {
                        self.pos = buf.len();
                        self.state = State::Between;
                    }
                    None => {
                        self.state = State::Envelope { scan: buf.len() };
                        return None;
                    }
                },
                State::Mllp { start, scan } => match memchr2(FS, VT, &buf[scan..]) {
                    Some(i) if buf[scan + i] == VT => {
                        // A new block starts before this one ended: its end marker was lost, so
                        // its content may be cut short (MLLP, HL7 v2 Appendix C).
                        let end = scan + i;
                        self.pos = end;
                        self.state = State::Between;
                        return Some(Span {
                            start,
                            end,
                            framing: Framing::Mllp,
                            defect: Some(FrameDefect::UnterminatedMllp),
                            mllp_block: false,
                        });
                    }
                    Some(i) => {
                        let end = scan + i;
                        self.pos = end + 1;
                        self.state = State::Between;
                        return Some(Span {
                            start,
                            end,
                            framing: Framing::Mllp,
                            defect: None,
                            mllp_block: true,
                        });
                    }
                    None if eof => {
                        self.pos = buf.len();
                        self.state = State::Between;
                        return Some(Span {
                            start,
                            end: buf.len(),
                            framing: Framing::Mllp,
                            defect: Some(FrameDefect::UnterminatedMllp),
                            mllp_block: false,
                        });
                    }
                    None => {
                        self.state = State::Mllp {
                            start,
                            scan: buf.len(),
                        };
                        return None;
                    }
                },
                State::Message { start, scan } | State::Junk { start, scan } => {
                    let junk = matches!(self.state, State::Junk { .. });
                    // Segment terminators end a line; a 0x0B, which cannot be data, starts an
                    // MLLP block wherever it is and so ends the message (or junk) in progress.
                    match memchr3(b'\r', b'\n', VT, &buf[scan..]) {
                        Some(i) if buf[scan + i] == VT => {
                            return Some(self.end_frame(start, scan + i, scan + i, junk));
                        }
                        Some(i) => {
                            let t = scan + i;
                            if buf[t] == b'\r' && t + 1 == buf.len() && !eof {
                                // A `\n` may follow: wait, so that `\r\n` is one terminator.
                                self.set_scan(t);
                                return None;
                            }
                            let end = if buf[t] == b'\r' && buf.get(t + 1) == Some(&b'\n') {
                                t + 2
                            } else {
                                t + 1
                            };
                            self.state = State::Tail {
                                start,
                                end,
                                blank: end,
                                junk,
                            };
                        }
                        None if eof => {
                            return Some(self.end_frame(start, buf.len(), buf.len(), junk));
                        }
                        None => {
                            self.set_scan(buf.len());
                            return None;
                        }
                    }
                }
                State::Tail {
                    start,
                    end,
                    blank,
                    junk,
                } => {
                    let head = match skip_blank(buf, blank, eof) {
                        // Blank lines inside a message are allowed, not without end: a stream
                        // of padding after a message must neither keep it open nor be held in
                        // memory with it. The same test on the bytes whatever the chunking.
                        Ok(p) | Err(p) if p - end > MAX_BLANK_GAP => {
                            return Some(self.end_frame(start, end, p, junk));
                        }
                        Ok(head) => head,
                        Err(p) => {
                            self.set_blank(p);
                            return None;
                        }
                    };
                    if head == buf.len() {
                        // Only blank bytes up to the end of input (skip_blank returns the end
                        // only at eof): the message ends at its last terminator.
                        return Some(self.end_frame(start, end, head, junk));
                    }
                    match classify(buf, head, eof) {
                        Head::NeedMore => {
                            self.set_blank(head);
                            return None;
                        }
                        // Another line: still this message (or junk).
                        Head::Other if junk => self.state = State::Junk { start, scan: head },
                        Head::Other => self.state = State::Message { start, scan: head },
                        _ => return Some(self.end_frame(start, end, head, junk)),
                    }
                }
            }
        }
    }

    /// The message (or junk) `start..end` is complete; scanning goes on at `next`.
    fn end_frame(&mut self, start: usize, end: usize, next: usize, junk: bool) -> Span {
        self.pos = next;
        self.state = State::Between;
        Span {
            start,
            end,
            framing: if junk {
                Framing::Plain
            } else if self.in_batch {
                Framing::Batch
            } else {
                Framing::Plain
            },
            defect: junk.then_some(FrameDefect::NotHl7),
            mllp_block: false,
        }
    }

    fn set_blank(&mut self, new: usize) {
        if let State::Tail { blank, .. } = &mut self.state {
            *blank = new;
        }
    }

    /// Ends a pending plain message (or junk) when the buffer ends right after a segment
    /// terminator: the input is idle, and a plain stream has no other end marker.
    pub fn flush_idle(&mut self, buf: &[u8]) -> Option<Span> {
        match self.state {
            State::Message { .. } | State::Junk { .. } | State::Tail { .. }
                if matches!(buf.last(), Some(b'\r' | b'\n')) =>
            {
                self.next_span(buf, true)
            }
            _ => None,
        }
    }

    fn set_scan(&mut self, new: usize) {
        if let State::Message { scan, .. } | State::Junk { scan, .. } = &mut self.state {
            *scan = new;
        }
    }

    /// Where the frame in progress starts (what the caller must keep), or the scan position
    /// when between frames.
    pub fn pending_start(&self) -> usize {
        match self.state {
            State::Between => self.pos,
            State::Envelope { scan } => scan,
            State::Message { start, .. }
            | State::Junk { start, .. }
            | State::Tail { start, .. }
            | State::Mllp { start, .. } => start,
        }
    }

    /// The earliest position the scanner will still read (bytes before it may be dropped even
    /// while a frame is in progress).
    pub fn resume_point(&self) -> usize {
        match self.state {
            State::Between => self.pos,
            State::Envelope { scan }
            | State::Message { scan, .. }
            | State::Junk { scan, .. }
            | State::Mllp { scan, .. } => scan,
            // The blank bytes after `end` are not part of the message.
            State::Tail { end, .. } => end,
        }
    }

    /// Where the frame in progress ends when only blank bytes have followed its last line.
    pub fn frame_end(&self) -> Option<usize> {
        match self.state {
            State::Tail { end, .. } => Some(end),
            _ => None,
        }
    }

    /// True when a frame has started and is not complete.
    pub fn in_frame(&self) -> bool {
        matches!(
            self.state,
            State::Message { .. } | State::Junk { .. } | State::Tail { .. } | State::Mllp { .. }
        )
    }

    /// Follows the caller dropping the first `n` bytes of its buffer. Positions before the cut
    /// (the start of an oversize frame) become 0.
    pub fn shift(&mut self, n: usize) {
        let s = |p: &mut usize| *p = p.saturating_sub(n);
        s(&mut self.pos);
        match &mut self.state {
            State::Between => {}
            State::Envelope { scan } => s(scan),
            State::Message { start, scan }
            | State::Junk { start, scan }
            | State::Mllp { start, scan } => {
                s(start);
                s(scan);
            }
            State::Tail {
                start, end, blank, ..
            } => {
                s(start);
                s(end);
                s(blank);
            }
        }
    }
}

/// Most blank bytes (whitespace, NUL, stray MLLP end bytes) a message may hold between two of
/// its lines: more end it, so that padding never holds a message open (nor in memory).
pub const MAX_BLANK_GAP: usize = 64 * 1024;

/// Skips blank bytes (whitespace, stray MLLP end bytes, a UTF-8 BOM) from `p`: `Ok` at the
/// first other byte (or the end of input), `Err` with the position reached when the buffer ends
/// before anything else and more may come.
fn skip_blank(buf: &[u8], mut p: usize, eof: bool) -> Result<usize, usize> {
    loop {
        match buf.get(p).copied() {
            Some(b' ' | b'\t' | b'\r' | b'\n' | FS | 0) => p += 1,
            Some(0xEF) if buf[p..].starts_with(BOM) => p += BOM.len(),
            Some(0xEF) if !eof && BOM.starts_with(&buf[p..]) => return Err(p),
            Some(_) => return Ok(p),
            None if eof => return Ok(p),
            None => return Err(p),
        }
    }
}

fn classify(buf: &[u8], p: usize, eof: bool) -> Head {
    let rest = &buf[p..];
    if rest.first() == Some(&VT) {
        return Head::MllpStart;
    }
    if rest.len() < 4 && !eof {
        // Undecidable until 4 bytes are there, unless it already cannot be a segment id.
        let could_be = [&b"MSH"[..], b"FHS", b"BHS", b"BTS", b"FTS"]
            .iter()
            .any(|id| id.starts_with(&rest[..rest.len().min(3)]));
        if could_be {
            return Head::NeedMore;
        }
        return Head::Other;
    }
    let id = &rest[..rest.len().min(3)];
    let after = rest.get(3).copied();
    let ends_id = |b: Option<u8>| b.is_none_or(|b| !b.is_ascii_alphanumeric());
    match id {
        b"MSH" if after.is_some_and(|b| b.is_ascii_graphic() && !b.is_ascii_alphanumeric()) => {
            Head::Message
        }
        b"FHS" | b"BHS" if ends_id(after) => Head::BatchOpen,
        b"BTS" | b"FTS" if ends_id(after) => Head::BatchClose,
        _ => Head::Other,
    }
}

/// Frames of a complete buffer, borrowed (no copy): for files read whole and MLLP blocks.
pub fn frames(buf: &[u8]) -> Frames<'_> {
    Frames {
        buf,
        scanner: Scanner::default(),
        inner: VecDeque::new(),
    }
}

/// One frame of a complete buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRef<'a> {
    pub bytes: &'a [u8],
    /// Byte offset in the buffer.
    pub offset: usize,
    pub framing: Framing,
    pub defect: Option<FrameDefect>,
}

/// Iterator returned by [`frames`].
pub struct Frames<'a> {
    buf: &'a [u8],
    scanner: Scanner,
    inner: VecDeque<FrameRef<'a>>,
}

impl<'a> Iterator for Frames<'a> {
    type Item = FrameRef<'a>;

    fn next(&mut self) -> Option<FrameRef<'a>> {
        if let Some(f) = self.inner.pop_front() {
            return Some(f);
        }
        let span = self.scanner.next_span(self.buf, true)?;
        if span.mllp_block {
            split_mllp_block(self.buf, span, |f| self.inner.push_back(f));
            return self.inner.pop_front();
        }
        Some(FrameRef {
            bytes: &self.buf[span.start..span.end],
            offset: span.start,
            framing: span.framing,
            defect: span.defect,
        })
    }
}

/// The messages of one MLLP block (usually one). An empty or non-HL7 block is one defect frame.
fn split_mllp_block<'a>(buf: &'a [u8], span: Span, mut out: impl FnMut(FrameRef<'a>)) {
    let content = &buf[span.start..span.end];
    let mut any = false;
    let mut scanner = Scanner::default();
    while let Some(inner) = scanner.next_span(content, true) {
        any = true;
        let (defect, bytes) = if inner.mllp_block {
            // A 0x0B inside a block: what follows it cannot be framed.
            (Some(FrameDefect::NotHl7), &content[inner.start - 1..])
        } else {
            (inner.defect, &content[inner.start..inner.end])
        };
        out(FrameRef {
            bytes,
            offset: span.start + (bytes.as_ptr() as usize - content.as_ptr() as usize),
            framing: Framing::Mllp,
            defect,
        });
        if inner.mllp_block {
            break;
        }
    }
    if !any {
        out(FrameRef {
            bytes: content,
            offset: span.start,
            framing: Framing::Mllp,
            defect: Some(FrameDefect::NotHl7),
        });
    }
}

/// One framed message of a stream, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The message bytes (MLLP bytes excluded); for [`FrameDefect::TooLarge`] only a prefix.
    pub bytes: Vec<u8>,
    /// 1-based position of the frame in the stream (the `#N` of report sources).
    pub index: usize,
    /// Byte offset of the frame in the stream.
    pub offset: u64,
    pub framing: Framing,
    pub defect: Option<FrameDefect>,
}

/// A streaming framer: push chunks of any size, pull complete frames. Memory stays bounded by
/// the largest message allowed (`max_message_bytes`) plus one chunk: a longer message is skipped
/// to its end and reported as [`FrameDefect::TooLarge`] with its first bytes kept.
#[derive(Debug)]
pub struct Framer {
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    base: u64,
    scanner: Scanner,
    eof: bool,
    ready: VecDeque<Frame>,
    count: usize,
    max_message_bytes: usize,
    /// Set while skipping an oversize frame: its kept prefix and the bytes dropped so far.
    oversize: Option<(Vec<u8>, u64)>,
}

/// Bytes of an oversize message kept for its rejection file.
const OVERSIZE_PREFIX: usize = 64 * 1024;

impl Default for Framer {
    fn default() -> Self {
        Framer::new(usize::MAX)
    }
}

impl Framer {
    pub fn new(max_message_bytes: usize) -> Self {
        Framer {
            buf: Vec::new(),
            base: 0,
            scanner: Scanner::default(),
            eof: false,
            ready: VecDeque::new(),
            count: 0,
            max_message_bytes,
            oversize: None,
        }
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// Appends bytes the caller no longer needs: with nothing buffered they become the buffer
    /// itself, so that a file read in one piece and holding one message is handed on as it was
    /// read, without a copy (see [`Framer::take`]).
    pub fn push_owned(&mut self, bytes: Vec<u8>) {
        if self.buf.is_empty() {
            self.buf = bytes;
        } else {
            self.buf.extend_from_slice(&bytes);
        }
    }

    /// Marks the end of input: pending bytes become frames.
    pub fn finish(&mut self) {
        self.eof = true;
    }

    /// The next complete frame, if any.
    pub fn next_frame(&mut self) -> Option<Frame> {
        loop {
            if let Some(f) = self.ready.pop_front() {
                return Some(f);
            }
            match self.scanner.next_span(&self.buf, self.eof) {
                Some(span) => self.take(span),
                None => {
                    self.enforce_limit();
                    self.compact();
                    return self.ready.pop_front();
                }
            }
        }
    }

    /// When the input is idle, ends a plain message that ends with a segment terminator.
    pub fn flush_idle(&mut self) -> Option<Frame> {
        if let Some(f) = self.next_frame() {
            return Some(f);
        }
        let span = self.scanner.flush_idle(&self.buf)?;
        self.take(span);
        self.ready.pop_front()
    }

    /// Bytes buffered and not yet framed.
    pub fn pending_bytes(&self) -> usize {
        self.buf.len() - self.scanner.pending_start().min(self.buf.len())
    }

    /// True when no bytes are buffered towards a frame.
    pub fn is_idle(&self) -> bool {
        !self.scanner.in_frame() && self.ready.is_empty()
    }

    fn take(&mut self, span: Span) {
        if let Some((mut prefix, dropped)) = self.oversize.take() {
            let tail = &self.buf[span.start..span.end];
            let room = OVERSIZE_PREFIX.saturating_sub(prefix.len());
            prefix.extend_from_slice(&tail[..tail.len().min(room)]);
            let size = dropped + (span.end - span.start) as u64;
            self.emit(
                prefix,
                span.start,
                span.framing,
                Some(FrameDefect::TooLarge { size }),
                dropped,
            );
            return;
        }
        if span.end - span.start > self.max_message_bytes {
            let bytes = self.buf
                [span.start..span.start + OVERSIZE_PREFIX.min(span.end - span.start)]
                .to_vec();
            let size = (span.end - span.start) as u64;
            self.emit(
                bytes,
                span.start,
                span.framing,
                Some(FrameDefect::TooLarge { size }),
                0,
            );
            return;
        }
        if span.mllp_block {
            let mut frames = Vec::new();
            split_mllp_block(&self.buf, span, |f| {
                frames.push((f.bytes.to_vec(), f.offset, f.framing, f.defect));
            });
            for (bytes, offset, framing, defect) in frames {
                self.emit(bytes, offset, framing, defect, 0);
            }
        } else if span.start == 0
            && self.scanner.pending_start() >= span.end
            && self.buf.len() - span.end <= span.end / 4
        {
            // The frame is most of the buffer, from its first byte (a file of one plain
            // message, read whole): the buffer becomes the frame, and only what follows it (a
            // line end) is copied into a new one.
            let rest = self.buf.split_off(span.end);
            let bytes = std::mem::replace(&mut self.buf, rest);
            self.emit(bytes, 0, span.framing, span.defect, 0);
            self.base += span.end as u64;
            self.scanner.shift(span.end);
        } else {
            let bytes = self.buf[span.start..span.end].to_vec();
            self.emit(bytes, span.start, span.framing, span.defect, 0);
        }
    }

    fn emit(
        &mut self,
        bytes: Vec<u8>,
        at: usize,
        framing: Framing,
        defect: Option<FrameDefect>,
        dropped: u64,
    ) {
        self.count += 1;
        self.ready.push_back(Frame {
            bytes,
            index: self.count,
            offset: self.base + at as u64 - dropped,
            framing,
            defect,
        });
    }

    /// A frame in progress longer than the limit: keep its prefix, drop what was scanned.
    fn enforce_limit(&mut self) {
        if !self.scanner.in_frame() {
            return;
        }
        let start = self.scanner.pending_start();
        let resume = self.scanner.resume_point();
        // The blank bytes after a message's last line are not part of it: a message within the
        // limit stays within it whatever padding follows (and whatever the chunking).
        let in_progress = self.scanner.frame_end().unwrap_or(self.buf.len()) - start;
        let dropped_so_far = self.oversize.as_ref().map_or(0, |o| o.1);
        if self.oversize.is_none() && in_progress <= self.max_message_bytes {
            return;
        }
        let (prefix, dropped) = self.oversize.get_or_insert_with(|| (Vec::new(), 0));
        let cut = resume.max(start);
        let room = OVERSIZE_PREFIX.saturating_sub(prefix.len());
        let seg = &self.buf[start..cut];
        prefix.extend_from_slice(&seg[..seg.len().min(room)]);
        *dropped = dropped_so_far + (cut - start) as u64;
        let n = cut;
        self.buf.drain(..n);
        self.base += n as u64;
        self.scanner.shift(n);
    }

    /// Drops consumed bytes once they are worth moving.
    fn compact(&mut self) {
        let keep = self.scanner.pending_start().min(self.buf.len());
        if keep > 0 && (keep >= self.buf.len() / 2 || keep > 1 << 20) {
            self.buf.drain(..keep);
            self.base += keep as u64;
            self.scanner.shift(keep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const M1: &[u8] = b"MSH|^~\\&|A|B|||20240101||MDM^T02|1|P|2.6\rPID|||1\rOBX|1|TX|||texte\r";
    const M2: &[u8] = b"MSH|^~\\&|A|B|||20240101||MDM^T02|2|P|2.6\nPID|||2\n";
    const M3: &[u8] = b"MSH#$%!@#A#B###20240101##ORU$R01#3#P#2.5\r\nPID###3\r\n";

    fn mllp(m: &[u8]) -> Vec<u8> {
        [&[VT][..], m, &[FS, b'\r']].concat()
    }

    fn stream(input: &[u8], chunk: usize) -> Vec<(Vec<u8>, Framing, Option<FrameDefect>, u64)> {
        let mut f = Framer::default();
        let mut out = Vec::new();
        for c in input.chunks(chunk.max(1)) {
            f.push(c);
            while let Some(fr) = f.next_frame() {
                out.push((fr.bytes, fr.framing, fr.defect, fr.offset));
            }
        }
        f.finish();
        while let Some(fr) = f.next_frame() {
            out.push((fr.bytes, fr.framing, fr.defect, fr.offset));
        }
        out
    }

    fn whole(input: &[u8]) -> Vec<(Vec<u8>, Framing, Option<FrameDefect>, u64)> {
        frames(input)
            .map(|f| (f.bytes.to_vec(), f.framing, f.defect, f.offset as u64))
            .collect()
    }

    /// Every split point and 1-byte chunks give the same frames as the whole buffer.
    fn assert_chunking_invariant(
        input: &[u8],
    ) -> Vec<(Vec<u8>, Framing, Option<FrameDefect>, u64)> {
        let expected = whole(input);
        assert_eq!(stream(input, 1), expected, "1-byte chunks");
        for split in 0..=input.len() {
            let mut f = Framer::default();
            let mut got = Vec::new();
            for part in [&input[..split], &input[split..]] {
                f.push(part);
                while let Some(fr) = f.next_frame() {
                    got.push((fr.bytes, fr.framing, fr.defect, fr.offset));
                }
            }
            f.finish();
            while let Some(fr) = f.next_frame() {
                got.push((fr.bytes, fr.framing, fr.defect, fr.offset));
            }
            assert_eq!(got, expected, "split at {split}");
        }
        expected
    }

    fn bodies(frames: &[(Vec<u8>, Framing, Option<FrameDefect>, u64)]) -> Vec<&[u8]> {
        frames.iter().map(|f| f.0.as_slice()).collect()
    }

    #[test]
    fn plain_messages_one_after_another() {
        let input = [M1, M2, M3].concat();
        let got = assert_chunking_invariant(&input);
        assert_eq!(bodies(&got), [M1, M2, M3]);
        assert!(got.iter().all(|f| f.1 == Framing::Plain && f.2.is_none()));
        assert_eq!(got[1].3, M1.len() as u64);
    }

    #[test]
    fn mllp_frames() {
        let input = [mllp(M1), mllp(M2), mllp(M3)].concat();
        let got = assert_chunking_invariant(&input);
        assert_eq!(bodies(&got), [M1, M2, M3]);
        assert!(got.iter().all(|f| f.1 == Framing::Mllp));
        assert_eq!(got[0].3, 1);
    }

    #[test]
    fn mllp_frame_is_complete_at_its_end_byte_without_waiting() {
        let mut f = Framer::default();
        let mut input = mllp(M1);
        input.pop(); // the 0x0D has not arrived yet
        f.push(&input);
        assert_eq!(f.next_frame().map(|fr| fr.bytes), Some(M1.to_vec()));
    }

    #[test]
    fn batch_envelope_is_not_a_message() {
        let input = [
            &b"FHS|^~\\&|A\rBHS|^~\\&|A\r"[..],
            M1,
            M2,
            b"BTS|2\rFTS|1\r",
        ]
        .concat();
        let got = assert_chunking_invariant(&input);
        assert_eq!(bodies(&got), [M1, M2]);
        assert!(got.iter().all(|f| f.1 == Framing::Batch));
    }

    #[test]
    fn batch_inside_mllp() {
        let block = [&b"BHS|^~\\&|A\r"[..], M1, M2, b"BTS|2\r"].concat();
        let got = assert_chunking_invariant(&mllp(&block));
        assert_eq!(bodies(&got), [M1, M2]);
    }

    #[test]
    fn crlf_blank_lines_and_spaces_between_messages() {
        let input = [&b"\r\n  \r\n"[..], M1, b"\r\n\r\n   \t\r\n", M2, b"  \n\n"].concat();
        let got = assert_chunking_invariant(&input);
        assert_eq!(bodies(&got), [M1, M2]);
    }

    #[test]
    fn crlf_terminated_message_keeps_its_terminator() {
        let got = assert_chunking_invariant(M3);
        assert_eq!(bodies(&got), [M3]);
    }

    #[test]
    fn bom_at_start_is_skipped() {
        let input = [BOM, M1].concat();
        let got = assert_chunking_invariant(&input);
        assert_eq!(bodies(&got), [M1]);
    }

    #[test]
    fn junk_before_a_message_is_its_own_frame() {
        let input = [&b"hello\rworld\r"[..], M1].concat();
        let got = assert_chunking_invariant(&input);
        assert_eq!(bodies(&got), [&b"hello\rworld\r"[..], M1]);
        assert_eq!(got[0].2, Some(FrameDefect::NotHl7));
        assert_eq!(got[1].2, None);
    }

    #[test]
    fn junk_then_mllp_on_the_same_line() {
        let input = [&b"garbage"[..], &mllp(M1)].concat();
        let got = assert_chunking_invariant(&input);
        assert_eq!(bodies(&got), [&b"garbage"[..], M1]);
    }

    #[test]
    fn unterminated_mllp_at_end_of_input() {
        let input = [mllp(M1), vec![VT], M2.to_vec()].concat();
        let got = assert_chunking_invariant(&input);
        assert_eq!(bodies(&got), [M1, M2]);
        assert_eq!(got[1].2, Some(FrameDefect::UnterminatedMllp));
    }

    #[test]
    fn empty_or_non_hl7_mllp_block() {
        let input = [mllp(b""), mllp(b"not hl7"), mllp(M1)].concat();
        let got = assert_chunking_invariant(&input);
        assert_eq!(bodies(&got), [&b""[..], b"not hl7", M1]);
        assert_eq!(got[0].2, Some(FrameDefect::NotHl7));
        assert_eq!(got[1].2, Some(FrameDefect::NotHl7));
        assert_eq!(got[2].2, None);
    }

    #[test]
    fn vt_inside_a_plain_message_starts_an_mllp_block() {
        // 0x0B is never data: a plain message ends where an MLLP block starts, even mid-line.
        let input = [&b"MSH|^~\\&|A\rPID|1"[..], &mllp(M2)].concat();
        let got = assert_chunking_invariant(&input);
        assert_eq!(bodies(&got), [&b"MSH|^~\\&|A\rPID|1"[..], M2]);
        assert_eq!(got[0].2, None);
    }

    #[test]
    fn vt_inside_an_mllp_block_means_its_end_was_lost() {
        let input = [vec![VT], M1.to_vec(), mllp(M2)].concat();
        let got = assert_chunking_invariant(&input);
        assert_eq!(bodies(&got), [M1, M2]);
        assert_eq!(got[0].2, Some(FrameDefect::UnterminatedMllp));
        assert_eq!(got[1].2, None);
    }

    #[test]
    fn vt_inside_an_envelope_segment_starts_an_mllp_block() {
        let input = [&b"BHS|^~\\&|A"[..], &mllp(M1)].concat();
        let got = assert_chunking_invariant(&input);
        assert_eq!(bodies(&got), [M1]);
    }

    #[test]
    fn nul_and_fs_padding_between_messages_is_skipped() {
        let input = [M1, b"\0\0\r\x1c\r\n", M2].concat();
        let got = assert_chunking_invariant(&input);
        assert_eq!(bodies(&got), [M1, M2]);
    }

    #[test]
    fn message_without_final_terminator() {
        let input = b"MSH|^~\\&|A\rPID|1";
        let got = assert_chunking_invariant(input);
        assert_eq!(bodies(&got), [&input[..]]);
    }

    #[test]
    fn msh_lookalike_is_not_a_message_start() {
        // "MSHX" is not MSH + separator; it stays inside the message as a (bad) segment.
        let input = b"MSH|^~\\&|A\rMSHX|1\r";
        let got = assert_chunking_invariant(input);
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn idle_flush_ends_a_plain_message_at_a_terminator() {
        let mut f = Framer::default();
        f.push(M1);
        assert!(
            f.next_frame().is_none(),
            "a plain message could still go on"
        );
        assert_eq!(f.flush_idle().map(|fr| fr.bytes), Some(M1.to_vec()));
        f.push(&M2[..20]);
        assert!(f.flush_idle().is_none(), "not at a segment terminator");
    }

    #[test]
    fn oversize_message_is_reported_with_its_size_and_memory_stays_bounded() {
        let big = [
            &b"MSH|^~\\&|A\rOBX|1|ED|||"[..],
            &vec![b'A'; 300_000],
            b"\r",
        ]
        .concat();
        let input = [big.clone(), M2.to_vec()].concat();
        let mut f = Framer::new(100_000);
        let mut got = Vec::new();
        let mut peak = 0;
        for c in input.chunks(4096) {
            f.push(c);
            peak = peak.max(f.buf.len());
            while let Some(fr) = f.next_frame() {
                got.push(fr);
            }
        }
        f.finish();
        while let Some(fr) = f.next_frame() {
            got.push(fr);
        }
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0].defect,
            Some(FrameDefect::TooLarge {
                size: big.len() as u64
            })
        );
        assert_eq!(got[0].bytes, big[..OVERSIZE_PREFIX]);
        assert_eq!(got[0].offset, 0);
        assert_eq!(got[1].bytes, M2);
        assert_eq!(got[1].offset, big.len() as u64);
        assert!(peak < 100_000 + 2 * 4096, "buffer grew to {peak}");
    }

    #[test]
    fn frame_indexes_count_from_one() {
        let mut f = Framer::default();
        f.push(&[mllp(M1), mllp(M2)].concat());
        let idx: Vec<_> = std::iter::from_fn(|| f.next_frame())
            .map(|fr| fr.index)
            .collect();
        assert_eq!(idx, [1, 2]);
    }

    /// Issue 8: padding between messages (a zero-filled file, keep-alive newlines on a stream)
    /// was scanned again from its start at every chunk (quadratic: 32 MB of NUL took 40 s) and
    /// kept in the buffer whole. It is consumed as it arrives.
    #[test]
    fn padding_is_consumed_as_it_arrives() {
        for pad in [0u8, b'\n', b' ', FS] {
            let mut f = Framer::new(100_000);
            f.push(M1);
            let chunk = vec![pad; 64 * 1024];
            let mut peak = 0;
            let mut frames = Vec::new();
            for _ in 0..160 {
                f.push(&chunk);
                frames.extend(std::iter::from_fn(|| f.next_frame()));
                peak = peak.max(f.buf.len());
            }
            f.push(M2);
            f.finish();
            frames.extend(std::iter::from_fn(|| f.next_frame()));
            // M1 ends with `\r`: a first `\n` makes it a `\r\n` terminator.
            let first = [M1, if pad == b'\n' { b"\n" } else { b"" }].concat();
            let got: Vec<_> = frames.iter().map(|fr| (&fr.bytes[..], fr.defect)).collect();
            assert_eq!(got, [(&first[..], None), (M2, None)], "padding {pad:#x}");
            assert_eq!(frames[1].offset, (M1.len() + 160 * chunk.len()) as u64);
            assert!(
                peak <= MAX_BLANK_GAP + 2 * chunk.len(),
                "buffer grew to {peak}"
            );
        }
    }

    /// A message of exactly the limit followed by padding is not too large, whichever chunk the
    /// padding arrives in (it was when the padding came before the next message's head).
    #[test]
    fn padding_after_a_message_at_the_limit_does_not_make_it_too_large() {
        let input = [M1, &[b' '; 300][..], M2].concat();
        for chunk in [1, 7, M1.len(), M1.len() + 100, 4096] {
            let mut f = Framer::new(M1.len());
            let mut got = Vec::new();
            for c in input.chunks(chunk) {
                f.push(c);
                got.extend(std::iter::from_fn(|| f.next_frame()));
            }
            f.finish();
            got.extend(std::iter::from_fn(|| f.next_frame()));
            let got: Vec<_> = got.iter().map(|fr| (&fr.bytes[..], fr.defect)).collect();
            assert_eq!(got, [(M1, None), (M2, None)], "chunks of {chunk}");
        }
    }

    /// The prefix kept of an oversize MLLP message is its first bytes, not its `0x0B` (which
    /// the limit, enforced mid-block, used to keep; found by the `framing_chunks` target).
    #[test]
    fn an_oversize_mllp_message_keeps_its_own_first_bytes_whatever_the_chunking() {
        let big = [M1, &[b'x'; 500][..], b"\r"].concat();
        let input = [mllp(&big), mllp(M2)].concat();
        for chunk in [1, 3, 64, 4096] {
            let mut f = Framer::new(100);
            let mut got = Vec::new();
            for c in input.chunks(chunk) {
                f.push(c);
                got.extend(std::iter::from_fn(|| f.next_frame()));
            }
            f.finish();
            got.extend(std::iter::from_fn(|| f.next_frame()));
            assert_eq!(got.len(), 2, "chunks of {chunk}");
            assert_eq!(got[0].bytes, big, "chunks of {chunk}");
            assert_eq!(got[0].offset, 1);
            assert_eq!(
                got[0].defect,
                Some(FrameDefect::TooLarge {
                    size: big.len() as u64
                })
            );
            assert_eq!(got[1].bytes, M2);
        }
    }

    /// Blank lines inside a message are part of it, up to [`MAX_BLANK_GAP`] bytes; a longer gap
    /// ends it, whatever the chunking.
    #[test]
    fn a_blank_gap_longer_than_the_limit_ends_the_message() {
        let line = b"OBX|2|TX|||suite\r";
        for (gap, frames_expected) in [(MAX_BLANK_GAP - 1, 1), (MAX_BLANK_GAP + 1, 2)] {
            let input = [M1, &vec![b' '; gap], line].concat();
            let whole = whole(&input);
            assert_eq!(whole.len(), frames_expected, "gap {gap}");
            if frames_expected == 2 {
                assert_eq!(whole[0].0, M1);
                assert_eq!(whole[1].2, Some(FrameDefect::NotHl7));
            }
            for chunk in [1000, 4096, 65536, 100_000] {
                assert_eq!(stream(&input, chunk), whole, "gap {gap}, chunks of {chunk}");
            }
        }
    }

    proptest! {
        #[test]
        fn chunking_never_changes_frames(
            parts in proptest::collection::vec(prop_oneof![
                Just(M1.to_vec()), Just(M2.to_vec()), Just(M3.to_vec()),
                Just(mllp(M1)), Just(b"\r\n".to_vec()), Just(b"junk\r".to_vec()),
                Just(b"BHS|^~\\&\r".to_vec()), Just(b"BTS|1\r".to_vec()), Just(vec![VT]), Just(vec![FS]),
                proptest::collection::vec(any::<u8>(), 0..8),
            ], 0..8),
            chunk in 1usize..64,
        ) {
            let input = parts.concat();
            prop_assert_eq!(stream(&input, chunk), whole(&input));
            // A file read in one piece, its buffer handed over (`push_owned`): the same frames.
            prop_assert_eq!(owned(&input), whole(&input));
        }
    }

    fn owned(input: &[u8]) -> Vec<(Vec<u8>, Framing, Option<FrameDefect>, u64)> {
        let mut f = Framer::default();
        f.push_owned(input.to_vec());
        f.finish();
        std::iter::from_fn(|| f.next_frame())
            .map(|fr| (fr.bytes, fr.framing, fr.defect, fr.offset))
            .collect()
    }

    #[test]
    fn a_buffer_of_one_message_becomes_its_frame_without_a_copy() {
        let file = [M1, b"\n\n"].concat();
        let expected = whole(&file);
        let at = file.as_ptr();
        let mut f = Framer::default();
        f.push_owned(file);
        f.finish();
        let frame = f.next_frame().unwrap();
        assert_eq!(frame.bytes.as_ptr(), at, "the buffer read is the frame");
        assert_eq!(frame.bytes, expected[0].0);
        assert!(f.next_frame().is_none());
        // Two messages: the first is copied out (most of the buffer follows it), the second
        // is the rest; offsets as read.
        let mut f = Framer::default();
        f.push_owned([M1, M2].concat());
        f.finish();
        let (a, b) = (f.next_frame().unwrap(), f.next_frame().unwrap());
        assert_eq!((&a.bytes[..], a.offset), (M1, 0));
        assert_eq!((&b.bytes[..], b.offset), (M2, M1.len() as u64));
    }
}
