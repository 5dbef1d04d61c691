//! Splitting a YAML stream into per-document chunks at document-marker lines.
//!
//! YAML forbids `---` and `...` at the start of a line (followed by a space, a tab or a line
//! break) anywhere inside document content, including quoted and block scalars, so such lines
//! always delimit documents. Parsing every chunk with its own parser lets a syntax error in one
//! document leave the others intact.

/// A byte range of the input holding at most one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chunk {
    /// Byte offset of the chunk's first character (always at a line start).
    pub start: usize,
    /// Byte offset just past the chunk's last character.
    pub end: usize,
    /// 1-based line number of the chunk's first line in the whole input.
    pub first_line: usize,
}

/// What a line means for splitting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineKind {
    /// `---` marker line.
    DocumentStart,
    /// `...` marker line.
    DocumentEnd,
    /// Empty, whitespace-only or comment-only line.
    Blank,
    /// Line starting with `%`.
    Directive,
    /// Anything else.
    Content,
}

fn classify(line: &[u8]) -> LineKind {
    let is_marker = |marker: &[u8]| {
        line.starts_with(marker) && matches!(line.get(3), None | Some(b' ' | b'\t'))
    };
    if is_marker(b"---") {
        return LineKind::DocumentStart;
    }
    if is_marker(b"...") {
        return LineKind::DocumentEnd;
    }
    match line.iter().find(|&&b| b != b' ' && b != b'\t') {
        None | Some(b'#') => LineKind::Blank,
        Some(b'%') if line.first() == Some(&b'%') => LineKind::Directive,
        Some(_) => LineKind::Content,
    }
}

/// Split `text` into chunks of at most one document each.
///
/// * A `---` line starts a new chunk, unless the current chunk holds only blank lines, comments
///   and directives (its document prefix).
/// * A `...` line ends the current chunk (it is included in it).
///
/// Line breaks are `\n`, `\r\n` and a lone `\r`, like the YAML parser counts them. Chunks
/// that contain nothing at all are omitted.
pub(crate) fn split_documents(text: &str) -> Vec<Chunk> {
    let bytes = text.as_bytes();
    let mut chunks = Vec::new();
    let mut chunk = Chunk {
        start: 0,
        end: 0,
        first_line: 1,
    };
    let mut has_start = false;
    let mut has_content = false;
    let mut pos = 0;
    let mut line_number = 1;

    while pos < bytes.len() {
        let rest = bytes.get(pos..).unwrap_or_default();
        let content_len = rest
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .unwrap_or(rest.len());
        let break_len = match rest.get(content_len..content_len + 2) {
            Some(b"\r\n") => 2,
            _ if content_len < rest.len() => 1,
            _ => 0,
        };
        let line = rest.get(..content_len).unwrap_or_default();
        let next = pos + content_len + break_len;

        match classify(line) {
            LineKind::DocumentStart => {
                if has_start || has_content {
                    chunk.end = pos;
                    push_chunk(&mut chunks, chunk);
                    chunk = Chunk {
                        start: pos,
                        end: pos,
                        first_line: line_number,
                    };
                    has_content = false;
                }
                has_start = true;
            }
            LineKind::DocumentEnd => {
                chunk.end = next;
                push_chunk(&mut chunks, chunk);
                chunk = Chunk {
                    start: next,
                    end: next,
                    first_line: line_number + 1,
                };
                has_start = false;
                has_content = false;
            }
            LineKind::Blank => {}
            LineKind::Directive if !has_start && !has_content => {}
            LineKind::Directive | LineKind::Content => has_content = true,
        }

        pos = next;
        line_number += 1;
    }
    chunk.end = bytes.len();
    push_chunk(&mut chunks, chunk);
    chunks
}

fn push_chunk(chunks: &mut Vec<Chunk>, chunk: Chunk) {
    if chunk.end > chunk.start {
        chunks.push(chunk);
    }
}

/// Number of document-marker lines in `text` (for tests: the stream can hold at most this many
/// documents plus one).
#[cfg(test)]
pub(crate) fn count_markers(text: &str) -> usize {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.split(['\n', '\r'])
        .filter(|line| {
            matches!(
                classify(line.as_bytes()),
                LineKind::DocumentStart | LineKind::DocumentEnd
            )
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str) -> Vec<(&str, usize)> {
        split_documents(text)
            .into_iter()
            .map(|c| {
                (
                    text.get(c.start..c.end).unwrap_or("<bad range>"),
                    c.first_line,
                )
            })
            .collect()
    }

    #[test]
    fn implicit_then_explicit_documents_are_split_at_markers() {
        let text = "a: 1\n---\nb: 2\n--- {c: 3}\n";
        assert_eq!(
            pieces(text),
            vec![("a: 1\n", 1), ("---\nb: 2\n", 2), ("--- {c: 3}\n", 4)]
        );
    }

    #[test]
    fn prefix_comments_and_directives_stay_with_the_next_document() {
        let text = "# header\n%YAML 1.2\n---\na: 1\n";
        assert_eq!(pieces(text), vec![(text, 1)]);
    }

    #[test]
    fn end_markers_close_a_chunk() {
        let text = "a: 1\n...\n%YAML 1.2\n---\nb: 2\n...\n# trailing\n";
        assert_eq!(
            pieces(text),
            vec![
                ("a: 1\n...\n", 1),
                ("%YAML 1.2\n---\nb: 2\n...\n", 3),
                ("# trailing\n", 7)
            ]
        );
    }

    #[test]
    fn marker_needs_whitespace_or_end_of_line_after_it() {
        assert_eq!(pieces("a: ---x\n---x: 1\n").len(), 1);
        assert_eq!(pieces("a: 1\n---\tb: 2").len(), 2);
        assert_eq!(pieces("a: 1\n---").len(), 2);
        assert_eq!(pieces("a: 1\n  ---\n").len(), 1);
    }

    #[test]
    fn crlf_and_lone_cr_count_as_one_line_break() {
        let text = "a: 1\r\n\r\n---\r\nb: 2\r\n";
        assert_eq!(
            pieces(text),
            vec![("a: 1\r\n\r\n", 1), ("---\r\nb: 2\r\n", 3)]
        );
        let text = "a: 1\r---\rb: 2";
        assert_eq!(pieces(text), vec![("a: 1\r", 1), ("---\rb: 2", 2)]);
    }

    #[test]
    fn empty_input_has_no_chunks() {
        assert!(pieces("").is_empty());
    }

    #[test]
    fn markers_are_counted() {
        assert_eq!(count_markers("---\na\n...\n---\n"), 3);
        assert_eq!(count_markers("a: '---'\n"), 0);
    }
}
