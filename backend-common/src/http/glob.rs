//! The part of `minimatch` (options `nocase`, `noglobstar`) that Backstage's CORS origin
//! patterns use.
//!
//! Supported: `*` (any run of characters except `/`), `?` (one character except `/`), `[…]`
//! classes (`[!…]` / `[^…]` negated, ranges, never matching `/`), `{a,b}` alternatives and
//! `{1..3}` numeric ranges (brace expansion), `\` escapes, a leading `!` (negation) and a
//! leading `#` (a comment, which matches nothing). `**` is the same as `*`. Matching is
//! case-insensitive and segment-wise (split on `/`); a wildcard never matches a leading `.`
//! of a segment, nor an empty segment. Extended globs (`+(a|b)`, `@(…)`) are not supported:
//! their characters are literal.

use regex::Regex;

/// Upper bound of brace expansions per pattern, against patterns that would explode.
const MAX_EXPANSIONS: usize = 1024;

/// A compiled glob pattern.
#[derive(Debug, Clone)]
pub(crate) struct Glob {
    negated: bool,
    /// `None` for a comment pattern, which matches nothing (and, negated, everything).
    alternatives: Option<Vec<Vec<Segment>>>,
}

#[derive(Debug, Clone)]
enum Segment {
    /// A segment without magic, compared case-insensitively.
    Literal(String),
    /// A segment with wildcards; `dot` when the pattern itself starts with a literal `.`.
    Pattern { regex: Regex, dot: bool },
}

impl Glob {
    /// Compiles `pattern`. Never fails: what cannot be a class is literal text.
    pub(crate) fn new(pattern: &str) -> Self {
        let mut negated = false;
        let mut rest = pattern;
        while let Some(stripped) = rest.strip_prefix('!') {
            negated = !negated;
            rest = stripped;
        }
        if rest.starts_with('#') {
            return Self {
                negated,
                alternatives: None,
            };
        }
        let alternatives = expand_braces(rest)
            .iter()
            .map(|expanded| expanded.split('/').map(compile_segment).collect())
            .collect();
        Self {
            negated,
            alternatives: Some(alternatives),
        }
    }

    /// Whether `input` matches.
    pub(crate) fn is_match(&self, input: &str) -> bool {
        let matched = self.alternatives.as_ref().is_some_and(|alternatives| {
            let parts: Vec<&str> = input.split('/').collect();
            alternatives.iter().any(|segments| {
                segments.len() == parts.len()
                    && segments
                        .iter()
                        .zip(&parts)
                        .all(|(segment, part)| segment.is_match(part))
            })
        });
        matched != self.negated
    }
}

impl Segment {
    fn is_match(&self, part: &str) -> bool {
        match self {
            Segment::Literal(literal) => literal.to_lowercase() == part.to_lowercase(),
            // A wildcard segment never matches an empty one (`a/*` does not match `a/`).
            Segment::Pattern { regex, dot } => {
                !part.is_empty() && (*dot || !part.starts_with('.')) && regex.is_match(part)
            }
        }
    }
}

/// Compiles one `/`-free segment of an expanded pattern.
fn compile_segment(segment: &str) -> Segment {
    let chars: Vec<char> = segment.chars().collect();
    let mut source = String::from("(?is)^");
    let mut literal = String::new();
    let mut magic = false;
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            '\\' => {
                let escaped = chars.get(i + 1).copied().unwrap_or('\\');
                literal.push(escaped);
                source.push_str(&regex::escape(&escaped.to_string()));
                i += 2;
            }
            '*' => {
                magic = true;
                // `**` with `noglobstar` is a plain star; repeated stars add nothing.
                if !source.ends_with("[^/]*") {
                    source.push_str("[^/]*");
                }
                i += 1;
            }
            '?' => {
                magic = true;
                source.push_str("[^/]");
                i += 1;
            }
            '[' => match parse_class(&chars, i) {
                Some((class, next)) => {
                    magic = true;
                    source.push_str(&class);
                    i = next;
                }
                None => {
                    literal.push('[');
                    source.push_str("\\[");
                    i += 1;
                }
            },
            _ => {
                literal.push(c);
                source.push_str(&regex::escape(&c.to_string()));
                i += 1;
            }
        }
    }
    source.push('$');
    if !magic {
        return Segment::Literal(literal);
    }
    match Regex::new(&source) {
        Ok(regex) => Segment::Pattern {
            regex,
            dot: segment.starts_with('.'),
        },
        // Every piece is escaped or a well-formed class; fall back to literal text regardless.
        Err(_) => Segment::Literal(literal),
    }
}

/// Parses a `[…]` class starting at `start`; returns its regex and the index after `]`.
fn parse_class(chars: &[char], start: usize) -> Option<(String, usize)> {
    let mut i = start + 1;
    let negated = matches!(chars.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut items: Vec<(char, char)> = Vec::new();
    let mut first = true;
    loop {
        let c = *chars.get(i)?;
        if c == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        let c = if c == '\\' {
            i += 1;
            *chars.get(i)?
        } else {
            c
        };
        i += 1;
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|&n| n != ']') {
            let mut end = *chars.get(i + 1)?;
            i += 2;
            if end == '\\' {
                end = *chars.get(i)?;
                i += 1;
            }
            if end < c {
                return None;
            }
            items.push((c, end));
        } else {
            items.push((c, c));
        }
    }
    let mut members = String::new();
    for (from, to) in &items {
        push_class_char(&mut members, *from);
        if from != to {
            members.push('-');
            push_class_char(&mut members, *to);
        }
    }
    // A class never matches the separator.
    let class = if negated {
        format!("[^/{members}]")
    } else {
        format!("[{members}&&[^/]]")
    };
    Some((class, i))
}

fn push_class_char(class: &mut String, c: char) {
    if c.is_ascii_punctuation() {
        class.push('\\');
    }
    class.push(c);
}

/// Bash-style brace expansion: `a{b,c}d` → `abd`, `acd`; `{1..3}` → `1`, `2`, `3`. A brace
/// without a comma or a range is literal.
fn expand_braces(pattern: &str) -> Vec<String> {
    let mut out = Vec::new();
    expand_into(pattern, &mut out);
    if out.is_empty() {
        out.push(pattern.to_owned());
    }
    out
}

fn expand_into(pattern: &str, out: &mut Vec<String>) {
    if out.len() >= MAX_EXPANSIONS {
        return;
    }
    let Some((open, close, parts)) = find_brace(pattern) else {
        out.push(pattern.to_owned());
        return;
    };
    let (head, tail) = (
        pattern.get(..open).unwrap_or(""),
        pattern.get(close + 1..).unwrap_or(""),
    );
    for part in parts {
        expand_into(&format!("{head}{part}{tail}"), out);
    }
}

/// The first expandable `{…}`: its byte offsets and alternatives.
fn find_brace(pattern: &str) -> Option<(usize, usize, Vec<String>)> {
    let bytes = pattern.as_bytes();
    let mut search_from = 0;
    while let Some(offset) = pattern.get(search_from..)?.find('{') {
        let open = search_from + offset;
        if open > 0 && bytes.get(open - 1) == Some(&b'\\') {
            search_from = open + 1;
            continue;
        }
        let mut depth = 0usize;
        let mut commas = Vec::new();
        let mut close = None;
        let mut i = open;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'\\' => i += 1,
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(i);
                        break;
                    }
                }
                b',' if depth == 1 => commas.push(i),
                _ => {}
            }
            i += 1;
        }
        let close = close?;
        let inner = pattern.get(open + 1..close)?;
        if !commas.is_empty() {
            let mut parts = Vec::new();
            let mut start = open + 1;
            for comma in commas.iter().copied().chain(std::iter::once(close)) {
                parts.push(pattern.get(start..comma)?.to_owned());
                start = comma + 1;
            }
            return Some((open, close, parts));
        }
        if let Some(range) = numeric_range(inner) {
            return Some((open, close, range));
        }
        search_from = open + 1;
    }
    None
}

fn numeric_range(inner: &str) -> Option<Vec<String>> {
    let (from, to) = inner.split_once("..")?;
    let from: i64 = from.parse().ok()?;
    let to: i64 = to.parse().ok()?;
    if from.abs_diff(to) >= MAX_EXPANSIONS as u64 {
        return None;
    }
    Some(if from <= to {
        (from..=to).map(|n| n.to_string()).collect()
    } else {
        (to..=from).rev().map(|n| n.to_string()).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, input: &str) -> bool {
        Glob::new(pattern).is_match(input)
    }

    #[test]
    fn literal_patterns_compare_case_insensitively() {
        assert!(matches("http://localhost:3000", "http://localhost:3000"));
        assert!(matches("https://Example.COM", "https://example.com"));
        assert!(!matches("http://localhost:3000", "http://localhost:3001"));
        assert!(!matches("http://localhost:3000", ""));
    }

    #[test]
    fn star_does_not_cross_slashes() {
        assert!(matches("https://*.example.com", "https://app.example.com"));
        assert!(matches("https://*.example.com", "https://a-b.EXAMPLE.com"));
        assert!(!matches("https://*.example.com", "https://example.com"));
        assert!(!matches(
            "https://*.example.com",
            "https://x.example.com/path"
        ));
        assert!(!matches("*", "http://localhost:3000"));
        assert!(!matches("*", ""));
        assert!(matches("https://**.example.com", "https://app.example.com"));
        assert!(!matches("https://*", "https://.hidden"));
        assert!(matches("https://.*", "https://.hidden"));
    }

    #[test]
    fn classes_question_marks_and_braces() {
        assert!(matches("http://localhost:300?", "http://localhost:3007"));
        assert!(matches(
            "http://localhost:300[0-3]",
            "http://localhost:3002"
        ));
        assert!(!matches(
            "http://localhost:300[0-3]",
            "http://localhost:3005"
        ));
        assert!(matches(
            "http://localhost:300[!0-3]",
            "http://localhost:3005"
        ));
        assert!(matches(
            "https://{a,b}.example.com",
            "https://b.example.com"
        ));
        assert!(!matches(
            "https://{a,b}.example.com",
            "https://c.example.com"
        ));
        assert!(matches(
            "http://localhost:{3000..3002}",
            "http://localhost:3001"
        ));
        assert!(!matches(
            "http://localhost:{3000..3002}",
            "http://localhost:3003"
        ));
        assert!(matches("http://[x", "http://[x"));
        assert!(matches("a\\*b", "a*b"));
        assert!(!matches("a\\*b", "axb"));
    }

    #[test]
    fn negation_and_comments() {
        assert!(matches("!https://evil.com", "https://good.com"));
        assert!(!matches("!https://evil.com", "https://evil.com"));
        assert!(!matches("#https://a.com", "#https://a.com"));
    }
}
