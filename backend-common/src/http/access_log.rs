//! The request log of the root router: one `info` event per response, worded as Backstage's
//! `MiddlewareFactory.logging()`.

use std::time::SystemTime;

use axum::body::HttpBody as _;
use axum::http::{HeaderMap, Method, Uri, Version, header};
use axum::response::Response;

use super::util::iso_timestamp;

/// What the log needs from the request, captured before the request is handed on.
pub(crate) struct RequestInfo {
    method: Method,
    url: String,
    version: Version,
    user_agent: Option<String>,
    referrer: Option<String>,
}

impl RequestInfo {
    pub(crate) fn capture(
        method: &Method,
        uri: &Uri,
        version: Version,
        headers: &HeaderMap,
    ) -> Self {
        let text = |value: &axum::http::HeaderValue| {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        Self {
            method: method.clone(),
            url: uri
                .path_and_query()
                .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned()),
            version,
            user_agent: headers.get(header::USER_AGENT).map(text),
            referrer: headers
                .get(header::REFERER)
                .or_else(|| headers.get("referrer"))
                .map(text),
        }
    }

    /// Emits the log event for `response`.
    pub(crate) fn log(&self, response: &Response) {
        let date = iso_timestamp(SystemTime::now());
        let status = response.status().as_u16();
        let content_length = content_length(response);
        let http_version = match self.version {
            Version::HTTP_09 => "0.9",
            Version::HTTP_10 => "1.0",
            Version::HTTP_2 => "2.0",
            Version::HTTP_3 => "3.0",
            _ => "1.1",
        };
        tracing::info!(
            service = "rootHttpRouter",
            r#type = "incomingRequest",
            date = date.as_str(),
            method = self.method.as_str(),
            url = self.url.as_str(),
            status,
            httpVersion = http_version,
            userAgent = self.user_agent.as_deref(),
            contentLength = content_length,
            referrer = self.referrer.as_deref(),
            "[{date}] \"{} {} HTTP/{http_version}\" {status} {} \"{}\" \"{}\"",
            self.method,
            self.url,
            content_length.unwrap_or(0),
            self.referrer.as_deref().unwrap_or("-"),
            self.user_agent.as_deref().unwrap_or("-"),
        );
    }
}

/// The response's `Content-Length` header, else the exact size of its body when known.
fn content_length(response: &Response) -> Option<u64> {
    response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .or_else(|| response.body().size_hint().exact())
}
