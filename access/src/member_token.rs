//! Signed member tokens: the shop (or its OpenID Connect provider) names the member in a
//! short-lived JWT, and this server believes the name only if the signature, the expiry and,
//! when configured, the issuer and audience check out.
//!
//! Keys: `MEMBER_TOKEN_SECRET` for HS256, and/or `MEMBER_TOKEN_KEYS`, a file holding one PEM
//! public key (RSA: RS256, P-256: ES256) or a JWKS document (an OpenID provider's `jwks_uri`
//! saved to disk); a token's `kid` picks the JWKS key when it names one.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;

/// Seconds of clock difference between the shop and this server that `exp` and `nbf` forgive.
const CLOCK_LEEWAY_SECONDS: u64 = 30;

/// What verifies member tokens, built once from the configuration.
pub struct MemberTokens {
    keys: Vec<TokenKey>,
    issuer: Option<String>,
    audience: Option<String>,
}

impl std::fmt::Debug for MemberTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemberTokens")
            .field("keys", &self.keys.len())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

struct TokenKey {
    id: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// Why a token was not accepted, in words fit for the member's browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRefused(pub String);

impl std::fmt::Display for TokenRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "member_token: {}", self.0)
    }
}

#[derive(Deserialize)]
struct MemberClaims {
    sub: String,
}

impl MemberTokens {
    /// The verifier for an HS256 `secret` and/or the public keys in `keys_document` (a PEM key
    /// or a JWKS), checking `iss` and `aud` against `issuer` and `audience` when given. `None`
    /// when neither a secret nor keys are configured; an error names what is wrong.
    pub fn new(
        secret: Option<&str>,
        keys_document: Option<&str>,
        issuer: Option<String>,
        audience: Option<String>,
    ) -> Result<Option<Self>, String> {
        let mut keys = Vec::new();
        if let Some(secret) = secret {
            if secret.len() < 32 {
                return Err("MEMBER_TOKEN_SECRET must be at least 32 bytes".into());
            }
            keys.push(TokenKey {
                id: None,
                algorithm: Algorithm::HS256,
                key: DecodingKey::from_secret(secret.as_bytes())
                    .map_err(|e| format!("MEMBER_TOKEN_SECRET: {e}"))?,
            });
        }
        if let Some(document) = keys_document {
            keys.extend(public_keys(document)?);
        }
        if keys.is_empty() {
            return Ok(None);
        }
        Ok(Some(Self {
            keys,
            issuer,
            audience,
        }))
    }

    /// The member a token names (its `sub`), if it is valid now.
    pub fn verify(&self, token: &str) -> Result<coupon::UserId, TokenRefused> {
        let refused = |why: &str| TokenRefused(why.to_owned());
        let header = decode_header(token).map_err(|_| refused("not a signed token"))?;
        let candidates = self.keys.iter().filter(|key| {
            key.algorithm == header.alg
                && match (&header.kid, &key.id) {
                    (Some(wanted), Some(id)) => wanted == id,
                    _ => true,
                }
        });
        let mut outcome = Err(refused(
            "signed with an algorithm or key this server does not accept",
        ));
        for key in candidates {
            let decoded = decode::<MemberClaims>(token, &key.key, &self.validation(key.algorithm));
            // Another key may still verify it, unless the signature was right and a claim
            // was not.
            let wrong_key = matches!(&decoded, Err(error)
                if *error.kind() == jsonwebtoken::errors::ErrorKind::InvalidSignature);
            outcome = decoded.map_err(|error| TokenRefused(reason(&error).to_owned()));
            if !wrong_key {
                break;
            }
        }
        let claims = outcome?.claims;
        coupon::UserId::parse(&claims.sub)
            .map_err(|error| TokenRefused(format!("sub: {}", error.reason)))
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.leeway = CLOCK_LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        match &self.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
        }
        validation
    }
}

fn reason(error: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => "expired",
        ErrorKind::ImmatureSignature => "not valid yet",
        ErrorKind::InvalidAudience => "meant for another audience",
        ErrorKind::InvalidIssuer => "issued by someone this server does not trust",
        ErrorKind::InvalidSignature => "the signature does not match",
        ErrorKind::MissingRequiredClaim(_) => "lacks exp or sub",
        ErrorKind::InvalidAlgorithm => "signed with an algorithm this server does not accept",
        _ => "not a valid token",
    }
}

/// The keys of a PEM public key or a JWKS document.
fn public_keys(document: &str) -> Result<Vec<TokenKey>, String> {
    let bad = |what: &str| format!("MEMBER_TOKEN_KEYS: {what}");
    if document.trim_start().starts_with('{') {
        let set: JwkSet =
            serde_json::from_str(document).map_err(|e| bad(&format!("not a JWKS: {e}")))?;
        let mut keys = Vec::new();
        for jwk in &set.keys {
            let algorithm = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => Algorithm::RS256,
                AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
                    Algorithm::ES256
                }
                // Other key types (an HMAC secret in a JWKS, other curves) are not for this.
                _ => continue,
            };
            let key = DecodingKey::from_jwk(jwk).map_err(|e| bad(&format!("a key: {e}")))?;
            keys.push(TokenKey {
                id: jwk.common.key_id.clone(),
                algorithm,
                key,
            });
        }
        if keys.is_empty() {
            return Err(bad("the JWKS has no RSA or P-256 key"));
        }
        return Ok(keys);
    }
    let pem = document.as_bytes();
    let (algorithm, key) = match DecodingKey::from_rsa_pem(pem) {
        Ok(key) => (Algorithm::RS256, key),
        Err(_) => (
            Algorithm::ES256,
            DecodingKey::from_ec_pem(pem)
                .map_err(|_| bad("neither an RSA nor an EC public key in PEM"))?,
        ),
    };
    Ok(vec![TokenKey {
        id: None,
        algorithm,
        key,
    }])
}
