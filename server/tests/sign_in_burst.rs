//! A burst of admin sign-ins (issue 27): every attempt is counted before its password is hashed
//! and the hashing has a bounded queue, so 300 simultaneous wrong passwords from one address get
//! at most the address's allowance checked and 429 for the rest, while the real admin, from
//! another address, is answered meanwhile. An email too long to be one is refused before it
//! reaches Redis.

mod support;

use coupon_access::limits::{LimitSettings, RateLimits};
use redis::AsyncCommands;
use reqwest::StatusCode;
use std::time::Duration;
use support::*;

const ATTACKER: &str = "198.51.100.7";
const OWNER: &str = "203.0.113.20";

/// A server whose limits count in a namespace of their own (returned with it), and which takes
/// the client's address from `X-Forwarded-For` (the test is its proxy).
async fn behind_proxy() -> (TestServer, String) {
    let namespace = unique_marker();
    let counted_in = namespace.clone();
    let server = spawn_server_with(move |state| {
        state.access.limits =
            RateLimits::in_namespace(state.engine.redis(), LimitSettings::default(), &counted_in);
        state.access.trust_forwarded_for = true;
    })
    .await;
    (server, namespace)
}

/// An admin sign-in from `from`.
fn sign_in(
    client: &reqwest::Client,
    server: &TestServer,
    from: &str,
    email: &str,
    password: &str,
) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send + use<> {
    client
        .post(server.url("/api/admin_sign_in"))
        .header("origin", server.origin())
        .header("x-forwarded-for", from)
        .form(&[("email", email), ("password", password)])
        .send()
}

/// The limits' keys in `namespace` matching `pattern`.
async fn limit_keys(server: &TestServer, namespace: &str, pattern: &str) -> Vec<String> {
    let pattern = format!("limit:{namespace}:{pattern}");
    let mut redis = server.engine.redis();
    redis.keys(&pattern).await.expect("KEYS")
}

/// The attempts counted from `address` (both windows).
async fn counted_from(server: &TestServer, namespace: &str, address: &str) -> i64 {
    let keys = limit_keys(server, namespace, &format!("signin_fail_addr:{address}:*")).await;
    let mut redis = server.engine.redis();
    let mut total = 0;
    for key in keys {
        let count: Option<i64> = redis.get(&key).await.expect("GET");
        total += count.unwrap_or(0);
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_wrong_passwords_is_checked_up_to_the_limit_while_the_admin_signs_in() {
    // Arrange: 300 guesses from one address, each at an email of its own, so that the address's
    // allowance (3× the per-account one) is what binds.
    let (server, namespace) = behind_proxy().await;
    let per_address = usize::try_from(LimitSettings::default().sign_ins_per_minute * 3).unwrap();
    let attacker = reqwest::Client::new();
    let guesses: Vec<_> = (0..300)
        .map(|n| {
            let email = format!("guess-{n}@example.com");
            sign_in(&attacker, &server, ATTACKER, &email, "wrong password")
        })
        .collect();

    // Act: the burst; once it is counted past the address's allowance (its checks queued or
    // running), the admin from their own address.
    let burst = tokio::spawn(futures::future::join_all(guesses));
    eventually(
        "the burst to be counted past the address's allowance",
        Duration::from_secs(30),
        || async {
            counted_from(&server, &namespace, ATTACKER).await >= i64::try_from(per_address).unwrap()
        },
    )
    .await;
    let owner = browser();
    let right = tokio::time::timeout(Duration::from_secs(5), async {
        let answer = sign_in(&owner, &server, OWNER, ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .unwrap();
        (answer.status(), answer.text().await.unwrap())
    })
    .await
    .expect("the admin's sign-in was answered within 5 s");
    let mut checked = 0;
    let mut refused = 0;
    let mut other = Vec::new();
    for answer in burst.await.unwrap() {
        let answer = answer.unwrap();
        let status = answer.status();
        let text = answer.text().await.unwrap();
        if status == StatusCode::OK && text == "false" {
            checked += 1;
        } else if status == StatusCode::TOO_MANY_REQUESTS && text.contains("too many attempts") {
            refused += 1;
        } else {
            other.push((status, text));
        }
    }

    // Assert: at most the allowance was hashed ("wrong password"), every other guess was told
    // to come back later, and the admin got in.
    assert!(other.is_empty(), "{other:?}");
    assert!(
        (1..=per_address).contains(&checked),
        "{checked} checked, allowance {per_address}"
    );
    assert_eq!(refused, 300 - checked);
    assert_eq!(right, (StatusCode::OK, "true".to_owned()));
}

#[tokio::test]
async fn an_email_too_long_to_be_one_is_refused_naming_the_field_before_redis() {
    // Arrange
    let (server, namespace) = behind_proxy().await;
    let client = browser();
    let email_of = |bytes: usize| {
        let domain = "@example.com";
        format!("{}{domain}", "a".repeat(bytes - domain.len()))
    };
    let (too_long, longest) = (email_of(255), email_of(254));
    assert_eq!((too_long.len(), longest.len()), (255, 254));

    // Act
    let refused = sign_in(&client, &server, ATTACKER, &too_long, "whatever")
        .await
        .unwrap();
    let made_session = refused.headers().contains_key("set-cookie");
    let refusal = (refused.status(), refused.text().await.unwrap());
    let keys_after_refusal = limit_keys(&server, &namespace, "*").await;
    let accepted = sign_in(&client, &server, ATTACKER, &longest, "whatever")
        .await
        .unwrap();
    let accepted = (accepted.status(), accepted.text().await.unwrap());
    let keys_after_check = limit_keys(&server, &namespace, "*").await;

    // Assert: refused, naming `email`, with nothing written (no counter, no session); one byte
    // less is an ordinary wrong sign-in, counted where the refusal was looked for.
    assert_eq!(refusal.0, StatusCode::UNPROCESSABLE_ENTITY, "{refusal:?}");
    assert!(refusal.1.contains("email:"), "{refusal:?}");
    assert!(!made_session, "the refusal made a session");
    assert!(keys_after_refusal.is_empty(), "{keys_after_refusal:?}");
    assert_eq!(accepted, (StatusCode::OK, "false".to_owned()));
    assert!(
        !keys_after_check.is_empty(),
        "the checked attempt was counted"
    );
}
