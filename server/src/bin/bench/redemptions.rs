//! The redemption line's helpers: a campaign of recorded coupons whose codes the load generator
//! redeems, and the check that each was redeemed at most once, its history agreeing.

use super::{Failure, draft};
use coupon::Engine;
use std::io::Write;

/// Rows per insert statement.
const ROWS_PER_INSERT: i64 = 10_000;

/// A campaign of `n` coupons recorded in PostgreSQL (as the sync leaves them) and their codes in
/// `file`, one a line; prints the campaign's id.
pub async fn coupons(engine: &Engine, n: i64, file: &str) -> Result<(), Failure> {
    let campaign = engine.create_campaign(&draft(n)).await?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(file)?);
    let mut first = 1;
    while first <= n {
        let last = (first + ROWS_PER_INSERT - 1).min(n);
        let sequences: Vec<i64> = (first..=last).collect();
        let codes = sequences
            .iter()
            .map(|&sequence| {
                engine
                    .codes()
                    .code_of(campaign.id, sequence)
                    .ok_or("a sequence beyond what a code can carry")
            })
            .collect::<Result<Vec<String>, _>>()?;
        sqlx::query(
            "INSERT INTO issued_coupons (campaign_id, user_id, code, sequence, claimed_at) \
             SELECT $1, 'bench-buyer-' || s, c, s, now() \
             FROM UNNEST($2::bigint[], $3::text[]) AS batch(s, c)",
        )
        .bind(campaign.id.0)
        .bind(&sequences)
        .bind(&codes)
        .execute(engine.db())
        .await?;
        for code in &codes {
            writeln!(out, "{code}")?;
        }
        first = last + 1;
    }
    out.flush()?;
    println!("id={}", campaign.id);
    Ok(())
}

/// How many of campaign `id`'s coupons are redeemed; fails if one was redeemed twice or the
/// history does not tell the same.
pub async fn redeemed(engine: &Engine, id: i64) -> Result<(), Failure> {
    let (redeemed, events, twice): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM issued_coupons WHERE campaign_id = $1 \
                 AND redeemed_at IS NOT NULL), \
                (SELECT count(*) FROM coupon_events WHERE campaign_id = $1 \
                 AND kind = 'redeemed'), \
                (SELECT count(*) FROM (SELECT sequence FROM coupon_events \
                 WHERE campaign_id = $1 AND kind = 'redeemed' \
                 GROUP BY sequence HAVING count(*) > 1) AS repeated)",
    )
    .bind(id)
    .fetch_one(engine.db())
    .await?;
    if twice > 0 || events != redeemed {
        return Err(format!(
            "campaign {id}: {redeemed} redeemed, {events} redemptions in the history, \
             {twice} coupons redeemed twice"
        )
        .into());
    }
    println!("redeemed={redeemed}");
    Ok(())
}
