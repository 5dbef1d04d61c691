//! [`ErrorKind`]: Backstage's error classes and their HTTP statuses.

use std::fmt;

/// One of Backstage's error classes from `@backstage/errors`, with its wire name and HTTP status.
///
/// Clients match on the name (`error.name` in a response body), so [`ErrorKind::name`] returns
/// exactly the JavaScript class names.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Malformed input (`InputError`, 400).
    Input,
    /// Missing or invalid credentials (`AuthenticationError`, 401).
    Authentication,
    /// Authenticated but not permitted (`NotAllowedError`, 403).
    NotAllowed,
    /// The resource does not exist (`NotFoundError`, 404).
    NotFound,
    /// The request conflicts with the current state (`ConflictError`, 409).
    Conflict,
    /// Unchanged since the last request (`NotModifiedError`, 304; no body is sent).
    NotModified,
    /// Unsupported functionality (`NotImplementedError`, 501).
    NotImplemented,
    /// Not ready or shutting down (`ServiceUnavailableError`, 503).
    ServiceUnavailable,
    /// Anything else: a plain JavaScript `Error` (500).
    Internal,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [Self; 9] = [
        Self::Input,
        Self::Authentication,
        Self::NotAllowed,
        Self::NotFound,
        Self::Conflict,
        Self::NotModified,
        Self::NotImplemented,
        Self::ServiceUnavailable,
        Self::Internal,
    ];

    /// The Backstage error name: `InputError`, `NotFoundError`, …, and `Error` for
    /// [`ErrorKind::Internal`].
    pub const fn name(self) -> &'static str {
        match self {
            Self::Input => "InputError",
            Self::Authentication => "AuthenticationError",
            Self::NotAllowed => "NotAllowedError",
            Self::NotFound => "NotFoundError",
            Self::Conflict => "ConflictError",
            Self::NotModified => "NotModifiedError",
            Self::NotImplemented => "NotImplementedError",
            Self::ServiceUnavailable => "ServiceUnavailableError",
            Self::Internal => "Error",
        }
    }

    /// The HTTP status Backstage's error handler answers with for this kind.
    pub const fn status(self) -> u16 {
        match self {
            Self::Input => 400,
            Self::Authentication => 401,
            Self::NotAllowed => 403,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::NotModified => 304,
            Self::NotImplemented => 501,
            Self::ServiceUnavailable => 503,
            Self::Internal => 500,
        }
    }

    /// The kind whose [`name`](Self::name) is `name`, if any (matching is exact, as
    /// Backstage's error handler matches by name, not by class).
    ///
    /// `"Error"` gives [`ErrorKind::Internal`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_statuses_match_backstage() {
        let table: Vec<(&str, u16)> = ErrorKind::ALL
            .iter()
            .map(|k| (k.name(), k.status()))
            .collect();
        assert_eq!(
            table,
            [
                ("InputError", 400),
                ("AuthenticationError", 401),
                ("NotAllowedError", 403),
                ("NotFoundError", 404),
                ("ConflictError", 409),
                ("NotModifiedError", 304),
                ("NotImplementedError", 501),
                ("ServiceUnavailableError", 503),
                ("Error", 500),
            ]
        );
    }

    #[test]
    fn from_name_round_trips() {
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(ErrorKind::from_name("ForwardedError"), None);
        assert_eq!(ErrorKind::from_name("notfounderror"), None);
    }
}
