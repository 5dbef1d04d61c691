//! [`ProcessorError`]: what a processor stage returns when it fails.

use std::borrow::Cow;
use std::fmt;

use crate::model::SerializedError;

/// An error thrown by a processor stage, shaped like a JavaScript error of
/// `@backstage/errors`: a name (`InputError`, `NotFoundError`, `Error`, …), a message and an
/// optional cause.
///
/// Like Backstage's `CustomErrorBase`, [`ProcessorError::with_cause`] appends
/// `; caused by <Name>: <message>` to the message, so the text alone tells the whole story.
/// `Display` prints `<Name>: <message>`, which is what JavaScript's `String(error)` (and a
/// template string `${error}`) gives; use it when composing Backstage-style messages such as
/// `Unable to read url, NotFoundError: …`.
///
/// ```
/// use backstage_catalog_backend::processing::ProcessorError;
///
/// let e = ProcessorError::input("Processor X threw an error while preprocessing")
///     .with_cause(ProcessorError::general("boom"));
/// assert_eq!(e.name(), "InputError");
/// assert_eq!(e.message(), "Processor X threw an error while preprocessing; caused by Error: boom");
/// assert_eq!(e.to_string(), format!("InputError: {}", e.message()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessorError {
    name: Cow<'static, str>,
    message: String,
    cause: Option<Box<ProcessorError>>,
}

impl ProcessorError {
    /// An error with any name.
    pub fn new(name: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            message: message.into(),
            cause: None,
        }
    }

    /// `InputError`: the entity or its data is malformed.
    pub fn input(message: impl Into<String>) -> Self {
        Self::new("InputError", message)
    }

    /// `NotFoundError`: a location's target does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new("NotFoundError", message)
    }

    /// `NotAllowedError`: reading or emitting something is forbidden.
    pub fn not_allowed(message: impl Into<String>) -> Self {
        Self::new("NotAllowedError", message)
    }

    /// `ConflictError`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new("ConflictError", message)
    }

    /// A plain `Error` (Backstage's `processingResult.generalError`).
    pub fn general(message: impl Into<String>) -> Self {
        Self::new("Error", message)
    }

    /// `TypeError` (what JavaScript validators throw).
    pub fn type_error(message: impl Into<String>) -> Self {
        Self::new("TypeError", message)
    }

    /// Attaches a cause and appends `; caused by <Name>: <message>` to the message.
    #[must_use]
    pub fn with_cause(mut self, cause: impl Into<ProcessorError>) -> Self {
        let cause = cause.into();
        if self.message.is_empty() {
            self.message = format!("caused by {cause}");
        } else {
            self.message = format!("{}; caused by {cause}", self.message);
        }
        self.cause = Some(Box::new(cause));
        self
    }

    /// The error's name (`InputError`, …).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The message (including the cause's text, if any).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The cause, if any.
    pub fn cause(&self) -> Option<&ProcessorError> {
        self.cause.as_deref()
    }

    /// The error as the catalog stores it (`{name, message, cause?}`).
    pub fn into_serialized(self) -> SerializedError {
        SerializedError {
            name: self.name.into_owned(),
            message: self.message,
            cause: self.cause.map(|c| Box::new(c.into_serialized())),
        }
    }
}

impl fmt::Display for ProcessorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl std::error::Error for ProcessorError {}

impl From<ProcessorError> for SerializedError {
    fn from(error: ProcessorError) -> Self {
        error.into_serialized()
    }
}

impl From<SerializedError> for ProcessorError {
    fn from(error: SerializedError) -> Self {
        Self {
            name: Cow::Owned(error.name),
            message: error.message,
            cause: error.cause.map(|c| Box::new(ProcessorError::from(*c))),
        }
    }
}

impl From<crate::CatalogError> for ProcessorError {
    fn from(error: crate::CatalogError) -> Self {
        use crate::CatalogError as E;
        match error {
            E::Input(m) => Self::input(m),
            E::NotFound(m) => Self::not_found(m),
            E::Conflict(m) => Self::conflict(m),
            E::NotAllowed(m) => Self::not_allowed(m),
            other => Self::general(other.to_string()),
        }
    }
}

/// `Result` with [`ProcessorError`].
pub type ProcessorResult<T> = Result<T, ProcessorError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cause_is_appended_and_serialized() {
        let e = ProcessorError::input("outer").with_cause(ProcessorError::not_found("inner"));
        assert_eq!(e.message(), "outer; caused by NotFoundError: inner");
        let s = e.into_serialized();
        assert_eq!(s.name, "InputError");
        let cause = s.cause.as_deref().expect("cause");
        assert_eq!(cause.name, "NotFoundError");
        assert_eq!(cause.message, "inner");
        let back = ProcessorError::from(s);
        assert_eq!(
            back.cause().map(ProcessorError::name),
            Some("NotFoundError")
        );
    }

    #[test]
    fn empty_message_gets_caused_by_only() {
        let e = ProcessorError::general("").with_cause(ProcessorError::general("x"));
        assert_eq!(e.message(), "caused by Error: x");
    }
}
