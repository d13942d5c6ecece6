//! The `coupon_code_key` table: the deployment's one [`CodeKey`], made by whichever server starts
//! first and read by every other.

use crate::code::CodeKey;
use sqlx::PgPool;

/// The stored key, made first if there is none. Servers starting together race safely: one
/// insert wins and every one of them reads the winner's key.
pub async fn load_or_create(db: &PgPool) -> Result<CodeKey, sqlx::Error> {
    sqlx::query("INSERT INTO coupon_code_key (key) VALUES ($1) ON CONFLICT (only_row) DO NOTHING")
        .bind(CodeKey::generate().as_slice())
        .execute(db)
        .await?;
    let stored: Vec<u8> = sqlx::query_scalar("SELECT key FROM coupon_code_key")
        .fetch_one(db)
        .await?;
    // The table's CHECK admits only keys of the right length.
    CodeKey::from_bytes(&stored).ok_or_else(|| {
        sqlx::Error::Decode(format!("the coupon code key has {} bytes", stored.len()).into())
    })
}
