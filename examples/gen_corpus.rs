//! Writes the deterministic benchmark corpus of issue 7 (see `benches/common/corpus.rs` for the
//! mix): MDM^T02 messages, 40 % with a PDF, 60 % with narrative text, half in ISO 8859-1.
//!
//! ```text
//! cargo run --release --example gen_corpus -- --out DIR --messages N
//!     [--form dir|mllp|both] [--mix mixed|text|pdf] [--seed S]
//! ```
//!
//! * `dir`: one message per file, `DIR/pdf/NNN/IIIIIII.hl7` and `DIR/text/NNN/IIIIIII.hl7`
//!   (1,000 files a folder), so that `DIR/pdf` and `DIR/text` are the PDF-only and text-only
//!   sub-corpora of `DIR`.
//! * `mllp`: every message in one MLLP stream, `DIR/stream.mllp`, in index order.
//!
//! `DIR/corpus.json` tells what was written (counts and bytes per kind and per charset), so that
//! a script can check that a corpus is there and complete.

#[path = "../benches/common/corpus.rs"]
mod corpus;

use corpus::{Kind, Mix};
use std::io::Write;
use std::path::{Path, PathBuf};

struct Args {
    out: PathBuf,
    messages: usize,
    dir: bool,
    mllp: bool,
    mix: Mix,
    seed: u64,
}

fn usage(why: &str) -> ! {
    eprintln!(
        "gen_corpus: {why}\nusage: gen_corpus --out DIR --messages N [--form dir|mllp|both] \
         [--mix mixed|text|pdf] [--seed S]"
    );
    std::process::exit(2)
}

fn args() -> Args {
    let mut out = None;
    let mut messages = None;
    let (mut dir, mut mllp) = (true, false);
    let mut mix = Mix::Mixed;
    let mut seed = 7u64;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--out" => out = Some(PathBuf::from(value())),
            "--messages" => {
                messages = Some(value().parse().unwrap_or_else(|_| usage("--messages N")))
            }
            "--form" => match value().as_str() {
                "dir" => (dir, mllp) = (true, false),
                "mllp" => (dir, mllp) = (false, true),
                "both" => (dir, mllp) = (true, true),
                _ => usage("--form dir|mllp|both"),
            },
            "--mix" => mix = Mix::parse(&value()).unwrap_or_else(|| usage("--mix mixed|text|pdf")),
            "--seed" => seed = value().parse().unwrap_or_else(|_| usage("--seed S")),
            _ => usage(&format!("unknown argument {a}")),
        }
    }
    Args {
        out: out.unwrap_or_else(|| usage("--out DIR is required")),
        messages: messages.unwrap_or_else(|| usage("--messages N is required")),
        dir,
        mllp,
        mix,
        seed,
    }
}

#[derive(Default)]
struct Count {
    messages: u64,
    bytes: u64,
}

impl Count {
    fn add(&mut self, bytes: usize) {
        self.messages += 1;
        self.bytes += bytes as u64;
    }

    fn json(&self) -> String {
        format!(
            "{{\"messages\": {}, \"bytes\": {}}}",
            self.messages, self.bytes
        )
    }
}

fn main() -> std::io::Result<()> {
    let a = args();
    std::fs::create_dir_all(&a.out)?;
    let mut stream = if a.mllp {
        let f = std::fs::File::create(a.out.join("stream.mllp"))?;
        Some(std::io::BufWriter::with_capacity(1 << 20, f))
    } else {
        None
    };
    let (mut all, mut pdf, mut text, mut latin1) = (
        Count::default(),
        Count::default(),
        Count::default(),
        Count::default(),
    );
    let mut framed = Vec::new();
    for m in corpus::messages(a.seed, a.mix, a.messages) {
        if a.dir {
            let folder = a
                .out
                .join(m.kind.as_str())
                .join(format!("{:03}", m.index / 1000));
            if m.index % 1000 == 0 || !folder.exists() {
                std::fs::create_dir_all(&folder)?;
            }
            write_if_changed(&folder.join(format!("{:07}.hl7", m.index)), &m.bytes)?;
        }
        if let Some(s) = stream.as_mut() {
            framed.clear();
            corpus::mllp(&m.bytes, &mut framed);
            s.write_all(&framed)?;
        }
        all.add(m.bytes.len());
        match m.kind {
            Kind::Pdf => pdf.add(m.bytes.len()),
            Kind::Text => text.add(m.bytes.len()),
        }
        if m.latin1 {
            latin1.add(m.bytes.len());
        }
    }
    if let Some(mut s) = stream {
        s.flush()?;
    }
    let mix = match a.mix {
        Mix::Mixed => "mixed",
        Mix::Text => "text",
        Mix::Pdf => "pdf",
    };
    let manifest = format!(
        "{{\"seed\": {}, \"mix\": \"{mix}\", \"dir\": {}, \"mllp\": {}, \"all\": {}, \"pdf\": {}, \
         \"text\": {}, \"latin1\": {}}}\n",
        a.seed,
        a.dir,
        a.mllp,
        all.json(),
        pdf.json(),
        text.json(),
        latin1.json()
    );
    std::fs::write(a.out.join("corpus.json"), &manifest)?;
    print!("{manifest}");
    Ok(())
}

/// Writes a file unless it already holds these bytes (regenerating a corpus leaves its files,
/// and the page cache, alone).
fn write_if_changed(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.len() == bytes.len() as u64 && std::fs::read(path)? == bytes => Ok(()),
        _ => std::fs::write(path, bytes),
    }
}
