//! [`ApiError`]: the error a request handler returns.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

use serde_json::{Map, Value};

use super::ErrorKind;

/// A boxed error that can be the cause of an [`ApiError`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// An error a plugin's request handler returns; it becomes a Backstage error response (see the
/// [module docs](super)).
///
/// It mirrors a `CustomErrorBase` of `@backstage/errors`: a name (one of the [`ErrorKind`]
/// names, or any custom name), a message, an optional cause and extra fields (own properties
/// of the JavaScript error, such as `statusCode` or `code`), which are part of the JSON body.
///
/// The message already contains the cause (Backstage's rule):
///
/// ```
/// use backstage_backend_common::errors::ApiError;
///
/// let err = ApiError::input("bad filter").with_cause(ApiError::not_found("no such kind"));
/// assert_eq!(err.message(), "bad filter; caused by NotFoundError: no such kind");
/// assert_eq!(err.status(), 400);
/// assert_eq!(
///     err.to_string(),
///     "InputError: bad filter; caused by NotFoundError: no such kind"
/// );
/// ```
#[derive(Debug)]
pub struct ApiError {
    // Boxed: handlers return `Result<_, ApiError>` everywhere, so keep it one pointer wide.
    inner: Box<Inner>,
}

#[derive(Debug)]
struct Inner {
    name: Cow<'static, str>,
    message: String,
    cause: Option<BoxError>,
    fields: Map<String, Value>,
}

impl ApiError {
    /// An error of `kind` with `message` (may be empty).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self::with_name(kind.name(), message)
    }

    /// An error with a custom name, like a subclass of Backstage's `CustomErrorBase`.
    ///
    /// The status follows the name: a name of an [`ErrorKind`] (`"NotFoundError"`) gets that
    /// kind's status, any other name 500 unless a status is set with
    /// [`with_status`](Self::with_status).
    pub fn with_name(name: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self {
            inner: Box::new(Inner {
                name: name.into(),
                message: message.into(),
                cause: None,
                fields: Map::new(),
            }),
        }
    }

    /// An `InputError` (400).
    pub fn input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Input, message)
    }

    /// An `AuthenticationError` (401).
    pub fn authentication(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Authentication, message)
    }

    /// A `NotAllowedError` (403).
    pub fn not_allowed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotAllowed, message)
    }

    /// A `NotFoundError` (404).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// A `ConflictError` (409).
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    /// A `NotModifiedError` (304; the response has no body).
    pub fn not_modified(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotModified, message)
    }

    /// A `NotImplementedError` (501).
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotImplemented, message)
    }

    /// A `ServiceUnavailableError` (503).
    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ServiceUnavailable, message)
    }

    /// A plain `Error` (500).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// Backstage's `ForwardedError`: adds context (`message`) to `cause` and takes the cause's
    /// name, so the response has the status that name maps to. As in Backstage, only the name
    /// is taken: an explicit status of the cause (see [`with_status`](Self::with_status)) is
    /// not, so a forwarded error with a custom name answers 500.
    pub fn forwarded(message: impl Into<String>, cause: ApiError) -> Self {
        Self::with_name(cause.inner.name.clone(), message).with_cause(cause)
    }

    /// Sets the cause and appends it to the message as Backstage does:
    /// `<message>; caused by <cause>` or, with an empty message, `caused by <cause>`.
    ///
    /// The cause's string form is its [`Display`](fmt::Display) for an [`ApiError`]
    /// (`<Name>: <message>`) and `Error: <display>` for any other error, which is how Backstage
    /// shows a plain JavaScript `Error`. Call it once: a second call replaces the stored cause
    /// but appends to the message again.
    pub fn with_cause(mut self, cause: impl Into<BoxError>) -> Self {
        let cause = cause.into();
        let described = describe(cause.as_ref());
        self.inner.message = if self.inner.message.is_empty() {
            format!("caused by {described}")
        } else {
            format!("{}; caused by {described}", self.inner.message)
        };
        self.inner.cause = Some(cause);
        self
    }

    /// Adds an extra field to the serialised error (an own property of the JavaScript error,
    /// such as `code`).
    ///
    /// `name`, `message`, `stack` and `cause` are reserved and left out of the serialised
    /// form. A `statusCode` or `status` field that is an integer in `100..=599` sets the
    /// status, as in Backstage; see [`with_status`](Self::with_status).
    pub fn with_field(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.inner.fields.insert(key.into(), value.into());
        self
    }

    /// Sets the `statusCode` field, which takes precedence over the name when choosing the
    /// response status (Backstage's rule 1). Values outside `100..=599` are kept in the
    /// serialised form but ignored for the status, as in Backstage.
    pub fn with_status(self, status: u16) -> Self {
        self.with_field("statusCode", status)
    }

    /// The name: an [`ErrorKind::name`] or a custom name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The message, including the `; caused by …` suffix when there is a cause.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The kind whose name this error has, if any.
    pub fn kind(&self) -> Option<ErrorKind> {
        ErrorKind::from_name(&self.inner.name)
    }

    /// The cause set with [`with_cause`](Self::with_cause) or [`forwarded`](Self::forwarded).
    pub fn cause(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.inner.cause.as_deref()
    }

    /// The extra fields, in insertion order.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.inner.fields
    }

    /// The HTTP status of the response, chosen as Backstage's error handler does: an integral
    /// `statusCode` (then `status`) field in `100..=599`, else the status of the kind with this
    /// name, else 500.
    pub fn status(&self) -> u16 {
        ["statusCode", "status"]
            .iter()
            .filter_map(|key| self.inner.fields.get(*key)?.as_u64())
            .find(|code| (100..=599).contains(code))
            .and_then(|code| u16::try_from(code).ok())
            .or_else(|| self.kind().map(ErrorKind::status))
            .unwrap_or(500)
    }
}

/// The string form of a cause: `<Name>: <message>`.
fn describe(cause: &(dyn StdError + 'static)) -> String {
    match cause.downcast_ref::<ApiError>() {
        Some(api) => api.to_string(),
        None => format!("Error: {cause}"),
    }
}

impl fmt::Display for ApiError {
    /// `<Name>: <message>`, or just the name when the message is empty (JavaScript's
    /// `Error.prototype.toString`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.inner.message.is_empty() {
            f.write_str(&self.inner.name)
        } else {
            write!(f, "{}: {}", self.inner.name, self.inner.message)
        }
    }
}

impl StdError for ApiError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .cause
            .as_deref()
            .map(|cause| cause as &(dyn StdError + 'static))
    }
}

impl From<ErrorKind> for ApiError {
    /// An error of that kind with an empty message.
    fn from(kind: ErrorKind) -> Self {
        Self::new(kind, "")
    }
}

impl From<crate::Error> for ApiError {
    /// A configuration error becomes an internal error (500) with the same message (Backstage's
    /// config errors are plain `Error`s or `TypeError`s, which also answer 500). The original
    /// error is not kept as a cause, so the message does not repeat it.
    fn from(err: crate::Error) -> Self {
        Self::internal(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cause_is_appended_to_the_message() {
        let err = ApiError::conflict("could not save").with_cause(ApiError::internal("boom"));
        assert_eq!(err.message(), "could not save; caused by Error: boom");
        assert_eq!(
            err.to_string(),
            "ConflictError: could not save; caused by Error: boom"
        );
        assert!(StdError::source(&err).is_some());
    }

    #[test]
    fn cause_without_message() {
        let err = ApiError::input("").with_cause(ApiError::not_found("gone"));
        assert_eq!(err.message(), "caused by NotFoundError: gone");
    }

    #[test]
    fn foreign_cause_is_shown_as_plain_error() {
        let io = std::io::Error::other("disk full");
        let err = ApiError::internal("write failed").with_cause(io);
        assert_eq!(err.message(), "write failed; caused by Error: disk full");
    }

    #[test]
    fn empty_message_displays_just_the_name() {
        let err = ApiError::not_found("");
        assert_eq!(err.message(), "");
        assert_eq!(err.to_string(), "NotFoundError");
        assert_eq!(ApiError::from(ErrorKind::Input).to_string(), "InputError");
    }

    #[test]
    fn forwarded_takes_the_cause_name_and_status() {
        let err = ApiError::forwarded("while reading", ApiError::not_found("no entity"));
        assert_eq!(err.name(), "NotFoundError");
        assert_eq!(err.status(), 404);
        assert_eq!(
            err.message(),
            "while reading; caused by NotFoundError: no entity"
        );

        // Only the name is taken, as in Backstage: `ResponseError` maps to no status.
        let teapot = ApiError::with_name("ResponseError", "remote").with_status(418);
        let err = ApiError::forwarded("calling catalog", teapot);
        assert_eq!(err.name(), "ResponseError");
        assert_eq!(err.status(), 500);
    }

    #[test]
    fn status_selection() {
        assert_eq!(ApiError::internal("teapot").with_status(418).status(), 418);
        assert_eq!(ApiError::not_found("x").with_status(409).status(), 409);
        assert_eq!(ApiError::input("x").with_field("status", 429).status(), 429);
        // Out of range or not integral: ignored.
        assert_eq!(ApiError::input("x").with_status(600).status(), 400);
        assert_eq!(
            ApiError::input("x").with_field("status", 404.5).status(),
            400
        );
        assert_eq!(
            ApiError::input("x").with_field("status", "404").status(),
            400
        );
        // By name, including custom errors named like a kind.
        assert_eq!(ApiError::with_name("NotAllowedError", "no").status(), 403);
        assert_eq!(ApiError::with_name("MyError", "oops").status(), 500);
        assert_eq!(ApiError::not_modified("").status(), 304);
    }

    #[test]
    fn config_errors_become_internal() {
        let config = crate::Error::InvalidKey { key: "a..b".into() };
        let err = ApiError::from(config);
        assert_eq!(err.kind(), Some(ErrorKind::Internal));
        assert_eq!(err.status(), 500);
        assert_eq!(err.to_string(), "Error: Invalid config key 'a..b'");
    }
}
