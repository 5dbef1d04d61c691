//! Auth policies: [`AuthPolicyAllow`] and the path matching of Backstage's
//! `createPathPolicyPredicate` (`path-to-regexp` v8 with `end: false`).

use std::fmt;
use std::str::FromStr;

use regex::Regex;

use crate::Error;

/// What an auth policy allows on its paths (Backstage's `HttpRouterServiceAuthPolicy.allow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthPolicyAllow {
    /// `unauthenticated`: requests without credentials pass.
    Unauthenticated,
    /// `user-cookie`: the limited-access user cookie is accepted as well.
    UserCookie,
}

impl AuthPolicyAllow {
    /// `unauthenticated` or `user-cookie`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::UserCookie => "user-cookie",
        }
    }
}

impl fmt::Display for AuthPolicyAllow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuthPolicyAllow {
    type Err = Error;

    /// `unauthenticated` or `user-cookie`; anything else is [`Error::InvalidAuthPolicy`]
    /// (`Invalid auth policy`).
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "unauthenticated" => Ok(Self::Unauthenticated),
            "user-cookie" => Ok(Self::UserCookie),
            _ => Err(Error::InvalidAuthPolicy {
                allow: s.to_owned(),
            }),
        }
    }
}

/// A compiled policy path.
#[derive(Debug, Clone)]
pub(crate) enum PathPolicy {
    /// `/` or `*`: every path.
    All,
    /// A route pattern, matched as a case-insensitive prefix on segment boundaries.
    Pattern(Regex),
}

impl PathPolicy {
    /// Compiles a policy path as `pathToRegexp(path, { end: false })`: literal text,
    /// `:name` parameters (one or more characters other than `/`), `*name` wildcards (one or
    /// more characters), `{…}` optional groups and `\` escapes; `()[]+?!` are reserved.
    pub(crate) fn new(path: &str) -> Result<Self, Error> {
        if path == "/" || path == "*" {
            return Ok(Self::All);
        }
        let source = Parser::new(path).parse()?;
        // `(?:/$)?(?=/|$)` after the pattern: the rest is empty or starts with `/`.
        Regex::new(&format!("(?is)^{source}(?:/.*)?$"))
            .map(Self::Pattern)
            .map_err(|err| Error::InvalidAuthPolicyPath {
                path: path.to_owned(),
                message: err.to_string(),
            })
    }

    /// Whether the policy covers `path` (the request path relative to the plugin).
    pub(crate) fn matches(&self, path: &str) -> bool {
        match self {
            Self::All => true,
            Self::Pattern(regex) => regex.is_match(path),
        }
    }
}

/// `path-to-regexp`'s lexer and parser, producing a regex source directly.
struct Parser<'a> {
    path: &'a str,
    chars: Vec<char>,
    index: usize,
}

impl<'a> Parser<'a> {
    fn new(path: &'a str) -> Self {
        Self {
            path,
            chars: path.chars().collect(),
            index: 0,
        }
    }

    fn error(&self, message: String) -> Error {
        Error::InvalidAuthPolicyPath {
            path: self.path.to_owned(),
            message,
        }
    }

    fn parse(mut self) -> Result<String, Error> {
        self.sequence(None)
    }

    /// Tokens until `end` (`}` for a group, `None` for the end of the path).
    fn sequence(&mut self, end: Option<char>) -> Result<String, Error> {
        let mut source = String::new();
        loop {
            let Some(&c) = self.chars.get(self.index) else {
                return match end {
                    None => Ok(source),
                    Some(close) => Err(self.error(format!(
                        "Unexpected end at index {}, expected {close}",
                        self.chars.len()
                    ))),
                };
            };
            self.index += 1;
            match c {
                '\\' => {
                    if let Some(&escaped) = self.chars.get(self.index) {
                        self.index += 1;
                        source.push_str(&regex::escape(&escaped.to_string()));
                    }
                }
                ':' => {
                    self.name()?;
                    source.push_str("[^/]+");
                }
                '*' => {
                    self.name()?;
                    source.push_str(".+");
                }
                '{' => {
                    let group = self.sequence(Some('}'))?;
                    source.push_str(&format!("(?:{group})?"));
                }
                '}' if end == Some('}') => return Ok(source),
                '}' | '(' | ')' | '[' | ']' | '+' | '?' | '!' => {
                    let expected = end.map_or_else(|| "end".to_owned(), |e| e.to_string());
                    return Err(self.error(format!(
                        "Unexpected {c} at index {}, expected {expected}",
                        self.index
                    )));
                }
                _ => source.push_str(&regex::escape(&c.to_string())),
            }
        }
    }

    /// A parameter name: an identifier or a quoted string.
    fn name(&mut self) -> Result<String, Error> {
        let mut value = String::new();
        match self.chars.get(self.index) {
            Some(&c) if c == '$' || c == '_' || c.is_alphabetic() => {
                while let Some(&c) = self.chars.get(self.index) {
                    if c == '$'
                        || c == '_'
                        || c == '\u{200c}'
                        || c == '\u{200d}'
                        || c.is_alphanumeric()
                    {
                        value.push(c);
                        self.index += 1;
                    } else {
                        break;
                    }
                }
            }
            Some('"') => {
                let quote_start = self.index;
                self.index += 1;
                let mut closed = false;
                while let Some(&c) = self.chars.get(self.index) {
                    self.index += 1;
                    if c == '"' {
                        closed = true;
                        break;
                    }
                    if c == '\\' {
                        if let Some(&escaped) = self.chars.get(self.index) {
                            value.push(escaped);
                            self.index += 1;
                        }
                    } else {
                        value.push(c);
                    }
                }
                if !closed {
                    return Err(self.error(format!("Unterminated quote at index {quote_start}")));
                }
            }
            _ => {}
        }
        if value.is_empty() {
            return Err(self.error(format!("Missing parameter name at index {}", self.index)));
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_values() {
        assert_eq!(
            "unauthenticated".parse::<AuthPolicyAllow>().expect("valid"),
            AuthPolicyAllow::Unauthenticated
        );
        assert_eq!(
            "user-cookie".parse::<AuthPolicyAllow>().expect("valid"),
            AuthPolicyAllow::UserCookie
        );
        let err = "public".parse::<AuthPolicyAllow>().expect_err("invalid");
        assert_eq!(err.to_string(), "Invalid auth policy");
        assert_eq!(AuthPolicyAllow::UserCookie.to_string(), "user-cookie");
    }

    #[test]
    fn matching_table() {
        let table: &[(&str, &str, bool)] = &[
            ("/", "/", true),
            ("/", "/anything/at/all", true),
            ("*", "/x", true),
            ("/hello", "/hello", true),
            ("/hello", "/hello/", true),
            ("/hello", "/hello/x", true),
            ("/hello", "/HELLO/x", true),
            ("/hello", "/helloworld", false),
            ("/hello", "/", false),
            ("/hello/", "/hello", false),
            ("/hello/", "/hello/", true),
            ("/hello/", "/hello/x", false),
            ("/static/:id", "/static/abc", true),
            ("/static/:id", "/static/abc/more", true),
            ("/static/:id", "/static", false),
            ("/static/:id", "/static/", false),
            ("/a/:b/c", "/a/x/c/d", true),
            ("/a/:b/c", "/a/x/y/c", false),
            ("/files/*rest", "/files/a/b", true),
            ("/files/*rest", "/files", false),
            ("/users{/:id}", "/users", true),
            ("/users{/:id}", "/users/7", true),
            ("/v1.0", "/v1x0", false),
            ("/v1.0", "/v1.0", true),
            ("/a\\:b", "/a:b", true),
        ];
        for (policy, path, expected) in table {
            let compiled = PathPolicy::new(policy).expect("valid policy");
            assert_eq!(
                compiled.matches(path),
                *expected,
                "policy {policy} on {path}"
            );
        }
    }

    #[test]
    fn path_errors_like_path_to_regexp() {
        let err = |path: &str| PathPolicy::new(path).expect_err("invalid").to_string();
        assert_eq!(
            err("/foo("),
            "Unexpected ( at index 5, expected end: /foo(; visit https://git.new/pathToRegexpError for info"
        );
        assert_eq!(
            err("/:"),
            "Missing parameter name at index 2: /:; visit https://git.new/pathToRegexpError for info"
        );
        assert_eq!(
            err("{/a"),
            "Unexpected end at index 3, expected }: {/a; visit https://git.new/pathToRegexpError for info"
        );
        assert_eq!(
            err("/a?"),
            "Unexpected ? at index 3, expected end: /a?; visit https://git.new/pathToRegexpError for info"
        );
    }
}
