//! Who is claiming: the member the shop vouches for, never one the visitor merely typed
//! (unless the demo sign-in is on). In order of preference for a request:
//! 1. `Authorization: Bearer <member token>` (the shop's frontend calling the server functions);
//! 2. the `MEMBER_HEADER` set by a proxy whose address is in `TRUSTED_PROXIES`;
//! 3. the member remembered in the session, signed in by a member-token link
//!    (`/c/{id}?member_token=…`) or, in demo mode, by the typed id.
//!
//! This module reads the first two; the server functions' `current_member` (in `app`) falls
//! back to the session.

use crate::member_token::{MemberTokens, TokenRefused};
use crate::proxies::TrustedProxies;
use axum::http::request::Parts;
use axum::http::{HeaderName, header};
use std::sync::Arc;

/// The configured sources of member identity; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct MemberSources(Arc<Sources>);

/// What [`MemberSources`] holds.
#[derive(Debug, Default)]
pub struct Sources {
    /// `MEMBER_TOKEN_SECRET` / `MEMBER_TOKEN_KEYS` (with `MEMBER_TOKEN_ISSUER`,
    /// `MEMBER_TOKEN_AUDIENCE`).
    pub tokens: Option<MemberTokens>,
    /// `MEMBER_HEADER`, honoured only from `TRUSTED_PROXIES`.
    pub header: Option<HeaderName>,
    pub trusted_proxies: TrustedProxies,
    /// `MEMBER_DEMO_SIGN_IN`: the claim page lets visitors type any member id.
    pub demo_sign_in: bool,
    /// `MEMBER_SESSION_MINUTES`: how long a member stays signed in on a browser.
    pub session_lifetime: std::time::Duration,
}

impl MemberSources {
    pub fn new(sources: Sources) -> Self {
        Self(Arc::new(sources))
    }
}

impl std::ops::Deref for MemberSources {
    type Target = Sources;
    fn deref(&self) -> &Sources {
        &self.0
    }
}

/// Where a request's member came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberOf {
    /// A bearer token or the trusted proxy's header: this request alone.
    Request(coupon::UserId),
    /// The browser's session (a sign-in link or the demo sign-in).
    Session(coupon::UserId),
}

impl MemberOf {
    pub fn id(&self) -> &coupon::UserId {
        match self {
            Self::Request(id) | Self::Session(id) => id,
        }
    }
}

/// Why a request's claim to be a member was refused (answered 401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRefused(pub String);

impl From<TokenRefused> for MemberRefused {
    fn from(refused: TokenRefused) -> Self {
        Self(refused.to_string())
    }
}

impl Sources {
    /// The member a request speaks for without a session, if any: a bearer token, or the
    /// trusted proxy's header. A token or header that is present but wrong is refused rather
    /// than ignored, so a misconfigured shop hears why.
    pub fn member_of_request(
        &self,
        parts: &Parts,
    ) -> Result<Option<coupon::UserId>, MemberRefused> {
        if let (Some(tokens), Some(token)) = (&self.tokens, bearer(parts)) {
            return tokens.verify(token).map(Some).map_err(Into::into);
        }
        let Some(name) = &self.header else {
            return Ok(None);
        };
        let Some(value) = parts.headers.get(name) else {
            return Ok(None);
        };
        let peer = crate::client_address::peer_of(parts);
        if !peer.is_some_and(|peer| self.trusted_proxies.contains(peer)) {
            // Anyone can send the header; only the proxy's copy counts.
            return Ok(None);
        }
        let text = header_text(value.as_bytes())
            .ok_or_else(|| MemberRefused(format!("{name}: not UTF-8 or percent-encoded UTF-8")))?;
        coupon::UserId::parse(&text)
            .map(Some)
            .map_err(|error| MemberRefused(format!("{name}: {}", error.reason)))
    }
}

/// The text of a proxy's member header: its bytes with every `%XX` decoded, read as UTF-8.
///
/// A member id need not be ASCII (a Korean name is a fine id), and proxies pass such an id
/// either as raw UTF-8, which HTTP allows but `HeaderValue::to_str` refuses, or percent-encoded
/// to keep the header ASCII; both are read here. A literal `%` must therefore arrive as `%25`.
/// `None` for a `%` not followed by two hex digits, or bytes that are not UTF-8 once decoded.
fn header_text(raw: &[u8]) -> Option<String> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let [first, tail @ ..] = rest {
        if *first == b'%' {
            let [high, low, after @ ..] = tail else {
                return None;
            };
            bytes.push((hex_value(*high)? << 4) | hex_value(*low)?);
            rest = after;
        } else {
            bytes.push(*first);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

/// The value of one hex digit, either case.
fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_text_reads_raw_and_percent_encoded_utf8() {
        assert_eq!(header_text("김철수".as_bytes()).as_deref(), Some("김철수"));
        assert_eq!(
            header_text(b"%EA%B9%80%ec%b2%a0%EC%88%98").as_deref(),
            Some("김철수")
        );
        assert_eq!(header_text(b"member-42").as_deref(), Some("member-42"));
        assert_eq!(header_text(b"50%25off").as_deref(), Some("50%off"));
    }

    #[test]
    fn header_text_refuses_broken_escapes_and_invalid_utf8() {
        // A bare `%`, a short or non-hex escape, a lone byte or a cut sequence that is not UTF-8.
        let broken: [&[u8]; 7] = [b"50%off", b"%4", b"%", b"%zz", b"%FF", b"\xff", b"%EA%B9"];
        for raw in broken {
            assert_eq!(header_text(raw), None, "{raw:?}");
        }
    }
}
