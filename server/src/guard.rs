//! Request guards in front of the pages and server functions: refuse cross-site writes, and
//! turn a server function's unreadable arguments into the 400 they are (not a 500).

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The site's own origin, as browsers name it in `Origin` (`PUBLIC_ORIGIN`, e.g.
/// `https://coupons.shop.example`); without it, the `Host` the request arrived with stands in,
/// which is right unless a proxy rewrites `Host` (nginx's plain `proxy_pass` does).
#[derive(Debug, Clone, Default)]
pub struct PublicOrigin(pub Option<String>);

/// Refuses a state-changing request unless it surely comes from the site's own pages. Session
/// cookies are `SameSite=Lax` already; this checks `Origin` (browsers send it with every POST)
/// and `Sec-Fetch-Site`, and refuses when neither says "same origin". A request with an
/// `Authorization` header carries its own credentials, which no other site can make a browser
/// send, so it passes.
pub async fn same_origin_writes(
    State(origin): State<PublicOrigin>,
    request: Request,
    next: Next,
) -> Response {
    let writes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if writes && !is_same_origin(request.headers(), origin.0.as_deref()) {
        tracing::warn!(path = %request.uri().path(), "write not surely from our pages: refused");
        return (
            StatusCode::FORBIDDEN,
            "cross-site requests are not allowed (the request's Origin is not this site's)",
        )
            .into_response();
    }
    next.run(request).await
}

fn is_same_origin(headers: &HeaderMap, public_origin: Option<&str>) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &header::HeaderValue| v.to_str().ok())
    };
    if headers.contains_key(header::AUTHORIZATION) {
        return true;
    }
    let fetch_site = text("sec-fetch-site");
    if matches!(fetch_site, Some("cross-site" | "same-site")) {
        return false;
    }
    match text(header::ORIGIN.as_str()) {
        // `Origin: null` comes from sandboxed or privacy-stripped contexts: not our pages.
        Some("null") => false,
        Some(origin) => match public_origin {
            Some(ours) => origin.eq_ignore_ascii_case(ours),
            None => origin.split_once("://").map(|(_, host)| host) == text(header::HOST.as_str()),
        },
        None => fetch_site == Some("same-origin"),
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
    fn another_origin_is_refused_and_the_same_one_is_not() {
        let same = |pairs: &[(&'static str, &'static str)]| is_same_origin(&headers(pairs), None);
        assert!(!same(&[
            ("origin", "http://evil.example"),
            ("host", "shop.kr")
        ]));
        assert!(same(&[("origin", "https://shop.kr"), ("host", "shop.kr")]));
        assert!(!same(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://shop.kr")
        ]));
        assert!(!same(&[("origin", "null"), ("host", "shop.kr")]));
        assert!(same(&[("sec-fetch-site", "same-origin")]));
        assert!(same(&[("authorization", "Bearer x")]), "own credentials");
    }

    #[test]
    fn unsure_is_refused() {
        assert!(
            !is_same_origin(&headers(&[("host", "shop.kr")]), None),
            "no Origin"
        );
    }

    #[test]
    fn behind_a_proxy_that_rewrites_host_the_public_origin_decides() {
        // nginx's `proxy_pass http://127.0.0.1:3000` sends Host: 127.0.0.1:3000.
        let proxied = headers(&[
            ("origin", "https://coupons.shop.example"),
            ("host", "127.0.0.1:3000"),
        ]);
        assert!(!is_same_origin(&proxied, None));
        assert!(is_same_origin(
            &proxied,
            Some("https://coupons.shop.example")
        ));
        let evil = headers(&[
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:3000"),
        ]);
        assert!(!is_same_origin(&evil, Some("https://coupons.shop.example")));
    }
}
