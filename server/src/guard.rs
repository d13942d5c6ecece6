//! Request guards in front of the pages and server functions: refuse cross-site writes, and
//! turn a server function's unreadable arguments into the 400 they are (not a 500).

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Refuses a state-changing request that another site made the browser send. Session cookies
/// are `SameSite=Lax` already; this checks `Origin` (sent by browsers on every cross-origin
/// POST) and `Sec-Fetch-Site` as a second, explicit line.
pub async fn same_origin_writes(request: Request, next: Next) -> Response {
    let writes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if writes && is_cross_site(request.headers()) {
        tracing::warn!(path = %request.uri().path(), "cross-site write refused");
        return (StatusCode::FORBIDDEN, "cross-site requests are not allowed").into_response();
    }
    next.run(request).await
}

fn is_cross_site(headers: &HeaderMap) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &header::HeaderValue| v.to_str().ok())
    };
    if text("sec-fetch-site") == Some("cross-site") {
        return true;
    }
    match (text(header::ORIGIN.as_str()), text(header::HOST.as_str())) {
        // `Origin: null` comes from sandboxed or privacy-stripped contexts: not our pages.
        (Some("null"), _) => true,
        (Some(origin), Some(host)) => origin.split_once("://").map(|(_, h)| h) != Some(host),
        _ => false,
    }
}

/// Server functions answer 500 when their arguments cannot be read (a missing field, text in
/// a number); that is the caller's mistake, so say 400 and keep the explanation.
pub async fn bad_arguments_are_400(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key("serverfnerror")
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, 64 * 1024).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "error").into_response();
    };
    if bytes.starts_with(b"Args|") || bytes.starts_with(b"MissingArg|") {
        parts.status = StatusCode::BAD_REQUEST;
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn another_origin_is_cross_site_and_the_same_one_is_not() {
        assert!(is_cross_site(&headers(&[
            ("origin", "http://evil.example"),
            ("host", "shop.kr")
        ])));
        assert!(!is_cross_site(&headers(&[
            ("origin", "https://shop.kr"),
            ("host", "shop.kr")
        ])));
        assert!(is_cross_site(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(
            !is_cross_site(&headers(&[("host", "shop.kr")])),
            "no Origin: not a browser"
        );
    }
}
