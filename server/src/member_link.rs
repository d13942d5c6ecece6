//! `GET /c/{id}?member_token=…`: the shop's link to a claim page, naming its member in a signed
//! token. The server verifies the token, signs the member in on this browser (a fresh session
//! that lasts `MEMBER_SESSION_MINUTES`) and redirects to the clean URL, so the token appears
//! neither in the address bar nor in a `Referer` afterwards.

use crate::SharedState;
use app::backend::limits::LimitRefusal;
use app::backend::session;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use tower_sessions::Session;

/// The query parameter the shop puts the token in.
const TOKEN_PARAMETER: &str = "member_token";

/// Signs in the member of a claim-page link's token, then redirects; every other request
/// passes through.
pub async fn sign_in_from_link(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let Some(token) = path
        .starts_with("/c/")
        .then(|| token_in(request.uri().query()))
        .flatten()
    else {
        return next.run(request).await;
    };
    let clean = path.to_owned();
    let Some(tokens) = &state.members.tokens else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "member_token: this server accepts no member tokens (MEMBER_TOKEN_SECRET or \
             MEMBER_TOKEN_KEYS is not set)",
        );
    };
    let (parts, body) = request.into_parts();
    let address = state.client_addresses().client_of(&parts);
    let request = Request::from_parts(parts, body);
    match state.limits.member_sign_in(address).await {
        Ok(()) => {}
        Err(LimitRefusal::Limited(limited)) => {
            let mut answer = refusal(
                StatusCode::TOO_MANY_REQUESTS,
                "too many sign-ins from this address; try again in a minute",
            );
            if let Ok(value) = limited.retry_after.as_secs().max(1).to_string().parse() {
                answer
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, value);
            }
            return answer;
        }
        Err(LimitRefusal::Unavailable(error)) => {
            tracing::error!(%error, "rate limits unreadable: sign-in link refused");
            return refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "the service is temporarily unavailable; please try again",
            );
        }
    }
    let member = match tokens.verify(&token) {
        Ok(member) => member,
        Err(refused) => {
            tracing::info!(%refused, "member token refused");
            return refusal(StatusCode::UNAUTHORIZED, &refused.to_string());
        }
    };
    let Some(session) = request.extensions().get::<Session>() else {
        return refusal(StatusCode::INTERNAL_SERVER_ERROR, "sessions are not set up");
    };
    if let Err(error) =
        session::sign_in_member(session, member.as_str(), state.members.session_lifetime).await
    {
        tracing::error!(%error, "cannot save a member session");
        return refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "the service is temporarily unavailable; please try again",
        );
    }
    Redirect::to(&clean).into_response()
}

/// The token of a query string, percent-decoded, if it has one.
fn token_in(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(name, _)| name == TOKEN_PARAMETER)
        .map(|(_, value)| value.into_owned())
}

/// A short page saying why the link did not sign the member in.
fn refusal(status: StatusCode, reason: &str) -> Response {
    let escaped = reason
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let page = format!(
        "<!doctype html><meta charset=utf-8><title>Sign-in link not accepted</title>\
         <p>This sign-in link was not accepted: {escaped}.</p>\
         <p>Go back to the shop and open its coupon link again.</p>"
    );
    (status, Html(page)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_read_from_the_query_whatever_else_it_holds() {
        assert_eq!(token_in(Some("member_token=a.b.c")), Some("a.b.c".into()));
        assert_eq!(
            token_in(Some("utm=x&member_token=a%2Eb.c")),
            Some("a.b.c".into())
        );
        assert_eq!(token_in(Some("utm=x")), None);
        assert_eq!(token_in(None), None);
    }
}
