//! Which files a directory walk (or an archive) skips: hidden entries (a name starting with `.`)
//! and the `input.ignore` patterns of the configuration. Files named on the command line are
//! never skipped.
//!
//! A pattern is a shell-style glob: `*` any run of characters, `?` one character, anything else
//! itself; case-sensitive. A pattern without `/` matches the file name (`*.md`); one with `/`
//! matches the path relative to the walked folder or the archive root (`exports/old/*`), where
//! `*` does not cross a `/`.

/// The compiled `input.ignore` patterns.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    patterns: Vec<String>,
}

impl Ignore {
    pub fn new(patterns: &[String]) -> Ignore {
        Ignore {
            patterns: patterns.iter().filter(|p| !p.is_empty()).cloned().collect(),
        }
    }

    /// True when the file at `relative` (inside a walked folder or an archive, `/`-separated)
    /// is to be skipped.
    pub fn skips(&self, relative: &str) -> bool {
        let relative = relative.trim_start_matches('/');
        let name = relative.rsplit('/').next().unwrap_or(relative);
        self.patterns.iter().any(|p| {
            if p.contains('/') {
                glob(p.trim_start_matches('/').as_bytes(), relative.as_bytes())
            } else {
                glob(p.as_bytes(), name.as_bytes())
            }
        })
    }
}

/// True for a hidden path component (`.git`, `.DS_Store`); `.` and `..` are not hidden, they
/// are path syntax (an archive entry named `../x` is read, and its name never used to write).
pub fn is_hidden(component: &str) -> bool {
    component.starts_with('.') && component != "." && component != ".."
}

/// True when any component of a `/`-separated path is hidden.
pub fn has_hidden_component(path: &str) -> bool {
    path.split(['/', '\\']).any(is_hidden)
}

/// Glob matching with backtracking on the last `*` (linear in practice, no recursion).
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if (c == b'?' && text[t] != b'/') || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                // `*` does not cross a directory separator.
                Some((sp, st)) if text[st] != b'/' => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                _ => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! skips {
        ($($name:ident: $patterns:expr, $path:expr => $expected:expr;)+) => {$(
            #[test]
            fn $name() {
                let patterns: Vec<String> = $patterns.iter().map(|s: &&str| s.to_string()).collect();
                assert_eq!(Ignore::new(&patterns).skips($path), $expected);
            }
        )+};
    }

    skips! {
        markdown_by_name: ["*.md"], "samples/README.md" => true;
        expected_cda_by_name: ["*.md", "*.xml"], "samples/expected/batch.1.xml" => true;
        hl7_not_skipped: ["*.md"], "samples/a.hl7" => false;
        question_mark: ["a?.hl7"], "x/ab.hl7" => true;
        question_mark_needs_one: ["a?.hl7"], "a.hl7" => false;
        path_pattern: ["old/*"], "old/a.hl7" => true;
        path_pattern_star_stays_in_its_folder: ["old/*"], "old/sub/a.hl7" => false;
        path_pattern_elsewhere: ["old/*"], "new/old/a.hl7" => false;
        star_in_the_middle: ["*-backup-*.hl7"], "a-backup-2024.hl7" => true;
        star_matches_empty: ["*.hl7*"], "a.hl7" => true;
        no_patterns: [], "anything" => false;
        literal_is_case_sensitive: ["*.MD"], "README.md" => false;
    }

    #[test]
    fn hidden_components() {
        assert!(has_hidden_component(".git/config"));
        assert!(has_hidden_component("a/.DS_Store"));
        assert!(!has_hidden_component("../x.hl7"));
        assert!(!has_hidden_component("/etc/x.hl7"));
        assert!(!has_hidden_component("a/b.hl7"));
    }
}
