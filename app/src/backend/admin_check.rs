//! Whether an admin signed in on a session is still an admin: the session remembers who signed
//! in, but the `admins` table decides. Asked on every admin request, so the answer is kept for a
//! few seconds per admin (a deleted admin loses access within that time, not at once).

use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an answer is reused.
pub const ADMIN_CHECK_TTL: Duration = Duration::from_secs(5);

/// Answers of the last [`ADMIN_CHECK_TTL`], by admin id.
static ANSWERS: Mutex<Option<HashMap<i64, (bool, Instant)>>> = Mutex::new(None);

/// Whether the admin with `id` still exists. An unreadable table answers `Err`.
pub async fn is_still_admin(db: &PgPool, id: i64) -> Result<bool, sqlx::Error> {
    let now = Instant::now();
    if let Some(answer) = remembered(id, now) {
        return Ok(answer);
    }
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM admins WHERE id = $1)")
        .bind(id)
        .fetch_one(db)
        .await?;
    if let Ok(mut answers) = ANSWERS.lock() {
        let answers = answers.get_or_insert_with(HashMap::new);
        // Admins are few; dropping stale answers keeps the map as small as they are.
        answers.retain(|_, (_, at)| now.duration_since(*at) < ADMIN_CHECK_TTL);
        answers.insert(id, (exists, now));
    }
    Ok(exists)
}

fn remembered(id: i64, now: Instant) -> Option<bool> {
    let answers = ANSWERS.lock().ok()?;
    let (answer, at) = answers.as_ref()?.get(&id)?;
    (now.duration_since(*at) < ADMIN_CHECK_TTL).then_some(*answer)
}
