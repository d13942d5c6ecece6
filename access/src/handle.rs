//! The access handle: what a request needs to know who is asking and whether to let it through,
//! built in one place from the settings.

use crate::admin_check::AdminCheck;
use crate::client_address;
use crate::limits::{LimitSettings, RateLimits};
use crate::member::MemberSources;
use crate::password_checks::{HashingSettings, PasswordChecks};
use axum::http::request::Parts;
use std::net::IpAddr;

/// The access settings, as the server's configuration reads them.
#[derive(Debug, Clone, Default)]
pub struct AccessSettings {
    /// Where the claiming member comes from: `MEMBER_TOKEN_*`, `MEMBER_HEADER` with
    /// `TRUSTED_PROXIES`, `MEMBER_DEMO_SIGN_IN`, `MEMBER_SESSION_MINUTES`.
    pub members: MemberSources,
    /// `TRUST_FORWARDED_FOR`: the direct peer is a proxy whatever its address.
    pub trust_forwarded_for: bool,
    /// `RATE_SIGNINS_PER_MINUTE`, `RATE_CLAIMS_PER_USER_PER_MINUTE`,
    /// `RATE_CLAIMS_PER_ADDRESS_PER_SECOND`.
    pub limits: LimitSettings,
    /// How admin password checks are bounded (not read from the environment: this machine's
    /// cores decide).
    pub hashing: HashingSettings,
}

/// Member identity, client addresses, rate limits, password checks and the admin check of one
/// server. Cheap to clone (each part is shared behind an `Arc`): the server puts a copy into
/// the context of every server-function call.
#[derive(Clone)]
pub struct Access {
    /// Where the claiming member comes from (tokens, a trusted proxy's header, demo sign-in).
    pub members: MemberSources,
    /// Whether `X-Forwarded-For` names the client whatever the direct peer is.
    pub trust_forwarded_for: bool,
    /// Sign-in and claim rate limits.
    pub limits: RateLimits,
    /// The bounded queue admin sign-ins wait in for their password hash (one per server: it
    /// shares out this machine's cores).
    pub password_checks: PasswordChecks,
    /// Whether a signed-in admin is still in the `admins` table (answers kept a few seconds).
    pub admins: AdminCheck,
}

impl Access {
    /// The access of a server whose engine is `engine` (its Redis keeps the limits, its
    /// PostgreSQL the admins).
    pub fn new(settings: AccessSettings, engine: &coupon::Engine) -> Self {
        Self {
            members: settings.members,
            trust_forwarded_for: settings.trust_forwarded_for,
            limits: RateLimits::new(engine.redis(), settings.limits),
            password_checks: PasswordChecks::new(settings.hashing),
            admins: AdminCheck::new(engine.db().clone()),
        }
    }

    /// The client's address of a request, seen through the trusted proxies (see
    /// [`client_address`]).
    pub fn client_of(&self, parts: &Parts) -> Option<IpAddr> {
        client_address::client_of(
            &self.members.trusted_proxies,
            self.trust_forwarded_for,
            parts,
        )
    }
}
