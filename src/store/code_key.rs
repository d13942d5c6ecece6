//! The `coupon_code_key` table: the deployment's one [`CodeKey`], made by whichever server starts
//! first and read by every other; the bot check's key is derived from it ([`BotCheckKey`]).

use crate::bot_check::BotCheckKey;
use crate::code::CodeKey;
use sqlx::PgPool;

/// The stored key, made first if there is none. Servers starting together race safely: one
/// insert wins and every one of them reads the winner's key.
pub async fn load_or_create(db: &PgPool) -> Result<CodeKey, sqlx::Error> {
    Ok(load_or_create_keys(db).await?.0)
}

/// The stored code key, made first if there is none, and the bot check's key derived from it:
/// every instance derives the same one, so none needs a setting of its own.
pub async fn load_or_create_keys(db: &PgPool) -> Result<(CodeKey, BotCheckKey), sqlx::Error> {
    sqlx::query("INSERT INTO coupon_code_key (key) VALUES ($1) ON CONFLICT (only_row) DO NOTHING")
        .bind(CodeKey::generate().as_slice())
        .execute(db)
        .await?;
    let stored: Vec<u8> = sqlx::query_scalar("SELECT key FROM coupon_code_key")
        .fetch_one(db)
        .await?;
    // The table's CHECK admits only keys of the right length.
    let codes = CodeKey::from_bytes(&stored).ok_or_else(|| {
        sqlx::Error::Decode(format!("the coupon code key has {} bytes", stored.len()).into())
    })?;
    Ok((codes, BotCheckKey::derive(&stored)))
}
