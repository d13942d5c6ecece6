//! `GET /c/{id}?member_token=…`: the shop's link to a claim page, naming its member in a signed
//! token. The server verifies the token, signs the member in on this browser (a fresh session
//! that lasts `MEMBER_SESSION_MINUTES`) and redirects to the clean URL, so the token appears
//! neither in the address bar nor in a `Referer` afterwards.
//!
//! Any site can make a browser follow a link, so a link never replaces a member already signed
//! in on the browser: for another member it answers a page that asks, and only that page's
//! form (`POST /c/{id}` with the token, same-origin like every other write) switches.

use crate::SharedState;
use crate::guard;
use app::i18n::{self, LANG_COOKIE, Lang};
use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use coupon_access::limits::LimitRefusal;
use coupon_access::session;
use tower_sessions::Session;

/// The query parameter the shop puts the token in, and the confirming form's field.
const TOKEN_PARAMETER: &str = "member_token";

/// The most of a confirming form that is read: it holds a token and nothing else.
const FORM_LIMIT: usize = 16 * 1024;

/// A refusal already shaped as the page to send.
type Refused = Response;

/// Signs in the member of a claim-page link's token, then redirects; confirms a switch of
/// members asked about before; every other request passes through.
pub async fn sign_in_from_link(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    if !request.uri().path().starts_with("/c/") {
        return next.run(request).await;
    }
    if request.method() == Method::POST {
        return confirm_behind_guard(state, request).await;
    }
    let reads = matches!(*request.method(), Method::GET | Method::HEAD);
    let token = token_in(request.uri().query());
    match token {
        Some(token) if reads => follow_link(state, request, &token).await,
        _ => next.run(request).await,
    }
}

/// The link itself: signs its member in and redirects, unless the browser holds another
/// member, who is asked first and stays signed in meanwhile.
async fn follow_link(state: SharedState, request: Request, token: &str) -> Response {
    let (parts, _) = request.into_parts();
    let clean = parts.uri.path().to_owned();
    let member = match verified_member(&state, &parts, token).await {
        Ok(member) => member,
        Err(refused) => return refused,
    };
    let Some(session) = parts.extensions.get::<Session>() else {
        return refusal(StatusCode::INTERNAL_SERVER_ERROR, "sessions are not set up");
    };
    match session::member(session).await {
        Some(current) if current != member.as_str() => ask_before_switching(
            lang_of(&parts.headers),
            &clean,
            &current,
            member.as_str(),
            token,
        ),
        _ => sign_in(&state, session, member.as_str(), &clean).await,
    }
}

/// The confirming `POST`, behind the same-origin guard every other write passes. In the router
/// that guard sits inside this middleware, so it is put in front of [`confirm_switch`] here.
async fn confirm_behind_guard(state: SharedState, request: Request) -> Response {
    let same_origin = axum::middleware::from_fn_with_state(
        guard::PublicOrigin(state.public_origin.clone()),
        guard::same_origin_writes,
    );
    let confirm = Handler::<_, SharedState>::layer(confirm_switch, same_origin);
    Handler::call(confirm, request, state).await
}

/// `POST /c/{id}` with `member_token` in its form: the answer "continue as the link's member".
/// The token is verified again (it may have expired since the question, and a form is only as
/// good as whoever filled it in); then its member replaces the session's.
async fn confirm_switch(State(state): State<SharedState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let clean = parts.uri.path().to_owned();
    let Ok(form) = to_bytes(body, FORM_LIMIT).await else {
        return refusal(StatusCode::BAD_REQUEST, "the form could not be read");
    };
    let Some(token) = token_in_form(&form) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "member_token: missing from the form",
        );
    };
    let member = match verified_member(&state, &parts, &token).await {
        Ok(member) => member,
        Err(refused) => return refused,
    };
    let Some(session) = parts.extensions.get::<Session>() else {
        return refusal(StatusCode::INTERNAL_SERVER_ERROR, "sessions are not set up");
    };
    sign_in(&state, session, member.as_str(), &clean).await
}

/// The member `token` names, if this server takes member tokens, the client's address may sign
/// in again and the token checks out (signature, expiry, issuer, audience); else the page
/// saying why not.
async fn verified_member(
    state: &SharedState,
    parts: &Parts,
    token: &str,
) -> Result<coupon::UserId, Refused> {
    let Some(tokens) = &state.access.members.tokens else {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            "member_token: this server accepts no member tokens (MEMBER_TOKEN_SECRET or \
             MEMBER_TOKEN_KEYS is not set)",
        ));
    };
    let address = state.access.client_of(parts);
    match state.access.limits.member_sign_in(address).await {
        Ok(()) => {}
        Err(LimitRefusal::Limited(limited)) => {
            let mut answer = refusal(
                StatusCode::TOO_MANY_REQUESTS,
                "too many sign-ins from this address; try again in a minute",
            );
            if let Ok(value) = limited.retry_after.as_secs().max(1).to_string().parse() {
                answer.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return Err(answer);
        }
        Err(LimitRefusal::Unavailable(error)) => {
            tracing::error!(%error, "rate limits unreadable: sign-in link refused");
            return Err(unavailable());
        }
    }
    tokens.verify(token).map_err(|refused| {
        tracing::info!(%refused, "member token refused");
        refusal(StatusCode::UNAUTHORIZED, &refused.to_string())
    })
}

/// Signs `member` in on this browser (a fresh session id) and goes to the clean URL.
async fn sign_in(state: &SharedState, session: &Session, member: &str, clean: &str) -> Response {
    if let Err(error) =
        session::sign_in_member(session, member, state.access.members.session_lifetime).await
    {
        tracing::error!(%error, "cannot save a member session");
        return unavailable();
    }
    Redirect::to(clean).into_response()
}

/// The page asking whether the link's member `next` should replace `current`. Never stored:
/// its form carries the token.
fn ask_before_switching(
    lang: Lang,
    clean: &str,
    current: &str,
    next: &str,
    token: &str,
) -> Response {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Html(question_page(lang, clean, current, next, token)),
    )
        .into_response()
}

/// The question's HTML: a form that posts the token back to the clean URL, and a link to the
/// clean URL that keeps `current` (without the token-bearing address as its `Referer`).
fn question_page(lang: Lang, clean: &str, current: &str, next: &str, token: &str) -> String {
    let t = lang.texts();
    let (current, next) = (escape(current), escape(next));
    let (path, token) = (escape(clean), escape(token));
    let tag = lang.tag();
    let title = t.switch_member_title;
    let question = i18n::format_switch_question(lang, &current, &next);
    let continue_as = i18n::format_continue_as(lang, &next);
    let stay_as = i18n::format_stay_as(lang, &current);
    let note = t.switch_member_note;
    format!(
        "<!doctype html><html lang=\"{tag}\"><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><h1>{title}</h1><p>{question}</p>\
         <form method=post action=\"{path}\">\
         <input type=hidden name={TOKEN_PARAMETER} value=\"{token}\">\
         <button type=submit>{continue_as}</button></form>\
         <p><a href=\"{path}\" rel=noreferrer>{stay_as}</a></p><p>{note}</p>"
    )
}

/// The page language, chosen as the app's pages choose it: the `lang` cookie, then
/// `Accept-Language`, then Korean.
fn lang_of(headers: &HeaderMap) -> Lang {
    let text = |name: HeaderName| {
        headers
            .get(name)
            .and_then(|value: &HeaderValue| value.to_str().ok())
    };
    let cookie = text(header::COOKIE).and_then(|cookies| {
        cookies.split(';').find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == LANG_COOKIE).then_some(value)
        })
    });
    Lang::negotiate(cookie, text(header::ACCEPT_LANGUAGE))
}

/// The token of a query string, percent-decoded, if it has one.
fn token_in(query: Option<&str>) -> Option<String> {
    token_in_form(query?.as_bytes())
}

/// The token of a URL-encoded form (or query), if it has one.
fn token_in_form(form: &[u8]) -> Option<String> {
    form_urlencoded::parse(form)
        .find(|(name, _)| name == TOKEN_PARAMETER)
        .map(|(_, value)| value.into_owned())
}

/// `text` safe inside HTML text and quoted attribute values.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The answer when Redis cannot keep the session or the limits.
fn unavailable() -> Response {
    refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        "the service is temporarily unavailable; please try again",
    )
}

/// A short page saying why the link did not sign the member in.
fn refusal(status: StatusCode, reason: &str) -> Response {
    let escaped = escape(reason);
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
        assert_eq!(token_in_form(b"member_token=a.b.c"), Some("a.b.c".into()));
    }

    #[test]
    fn the_question_escapes_the_member_ids_and_posts_the_token_to_the_clean_url() {
        let page = question_page(Lang::En, "/c/7", "<b>y</b>", "x\"'&", "a.b.c");

        assert!(
            page.contains("You are signed in as &lt;b&gt;y&lt;/b&gt;."),
            "{page}"
        );
        assert!(page.contains("Continue as x&quot;&#39;&amp;"), "{page}");
        assert!(!page.contains("<b>y"), "{page}");
        assert!(
            page.contains("<form method=post action=\"/c/7\">"),
            "{page}"
        );
        assert!(page.contains("name=member_token value=\"a.b.c\""), "{page}");
        assert!(
            page.contains("<a href=\"/c/7\" rel=noreferrer>Stay as"),
            "{page}"
        );
    }

    #[test]
    fn the_question_speaks_the_pages_language() {
        fn headers(pairs: &[(HeaderName, &'static str)]) -> HeaderMap {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(name.clone(), HeaderValue::from_static(value));
            }
            map
        }

        let korean = lang_of(&headers(&[]));
        let english = lang_of(&headers(&[(header::ACCEPT_LANGUAGE, "en-US,en;q=0.9")]));
        let chosen = lang_of(&headers(&[
            (header::ACCEPT_LANGUAGE, "en-US"),
            (header::COOKIE, "coupon_session=x; lang=ko"),
        ]));

        assert_eq!(korean, Lang::Ko);
        assert_eq!(english, Lang::En);
        assert_eq!(chosen, Lang::Ko, "the remembered choice wins");
        let page = question_page(korean, "/c/7", "y", "x", "t");
        assert!(page.contains("<html lang=\"ko\">"), "{page}");
        assert!(page.contains("x 님으로 계속"), "{page}");
    }
}
