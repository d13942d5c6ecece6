//! Whether an admin signed in on a session is still an admin: the session remembers who signed
//! in, but the `admins` table decides. Asked on every admin request, so the answer is kept for a
//! few seconds per admin (a deleted admin loses access within that time, not at once).
//!
//! The answers belong to one [`AdminCheck`], which the server keeps in its state: servers
//! sharing a process (the tests start many) each keep their own.

use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long an answer is reused.
pub const ADMIN_CHECK_TTL: Duration = Duration::from_secs(5);

/// Asks the `admins` table, remembering each answer for [`ADMIN_CHECK_TTL`]; cheap to clone.
#[derive(Clone)]
pub struct AdminCheck(Arc<Checked>);

struct Checked {
    db: PgPool,
    /// Answers of the last [`ADMIN_CHECK_TTL`], by admin id.
    answers: Mutex<HashMap<i64, (bool, Instant)>>,
}

impl AdminCheck {
    /// A check against the `admins` table of `db`, remembering nothing yet.
    pub fn new(db: PgPool) -> Self {
        Self(Arc::new(Checked {
            db,
            answers: Mutex::new(HashMap::new()),
        }))
    }

    /// Whether the admin with `id` still exists. An unreadable table answers `Err`.
    pub async fn is_still_admin(&self, id: i64) -> Result<bool, sqlx::Error> {
        let now = Instant::now();
        if let Some(answer) = self.remembered(id, now) {
            return Ok(answer);
        }
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM admins WHERE id = $1)")
            .bind(id)
            .fetch_one(&self.0.db)
            .await?;
        if let Ok(mut answers) = self.0.answers.lock() {
            // Admins are few; dropping stale answers keeps the map as small as they are.
            answers.retain(|_, (_, at)| now.duration_since(*at) < ADMIN_CHECK_TTL);
            answers.insert(id, (exists, now));
        }
        Ok(exists)
    }

    fn remembered(&self, id: i64, now: Instant) -> Option<bool> {
        let answers = self.0.answers.lock().ok()?;
        let (answer, at) = answers.get(&id)?;
        (now.duration_since(*at) < ADMIN_CHECK_TTL).then_some(*answer)
    }
}
