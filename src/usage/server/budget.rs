//! Monthly token budgets: reserve before the model call, settle when the turn is stored.
//!
//! A turn reserves an upper bound of what it can spend — its prompt's bytes (a token is at least
//! one byte) plus a few tokens of framing per message, plus the answer's `max_tokens` — in one
//! statement that only succeeds while spent + reserved + this reservation stays within the
//! budget; the row's lock orders concurrent turns, so together they never pass it. Storing the
//! turn releases the reservation and adds what the provider counted.

use crate::accounts::ClientPrincipal;
use crate::ai::{ChatMessage, ChatRequest};
use crate::core::AppError;
use crate::platform::db::TenantTx;
use crate::platform::AppState;
use crate::usage::BudgetStatus;
use chrono::{Datelike, NaiveDate, Utc};

/// Tokens held for a turn until it is stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reservation {
    pub period: NaiveDate,
    pub tokens: i64,
}

/// The first day of this month and of the next (UTC).
pub fn period_bounds(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let start = today.with_day(1).unwrap_or(today);
    let next = if start.month() == 12 {
        NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(start.year(), start.month() + 1, 1)
    };
    (start, next.unwrap_or(start))
}

/// An upper bound of the tokens `req` can spend.
pub fn upper_bound(req: &ChatRequest) -> i64 {
    let prompt: usize = req
        .messages
        .iter()
        .map(|m| {
            let calls: usize = match m {
                ChatMessage::Assistant { tool_calls, .. } => tool_calls
                    .iter()
                    .map(|c| c.id.len() + c.name.len() + c.arguments.len() + 8)
                    .sum(),
                ChatMessage::Tool { call_id, .. } => call_id.len(),
                _ => 0,
            };
            m.role_and_text().1.len() + calls + 8
        })
        .sum();
    (prompt + 16) as i64 + i64::from(req.max_tokens)
}

fn monthly_limit(state: &AppState, who: &ClientPrincipal) -> u64 {
    state
        .settings
        .file
        .tiers
        .get(&who.tier)
        .map_or(0, |t| t.monthly_tokens)
}

fn exhausted(limit: u64, spent: i64, resets: NaiveDate) -> AppError {
    AppError::BudgetExhausted {
        message: format!(
            "the monthly budget of {limit} tokens is used up ({spent} spent); it resets on {resets}"
        ),
    }
}

/// Reserves what `req` can spend in `tx`; `None` when the client has no budget. 402 when the
/// reservation would pass the budget.
pub async fn reserve(
    state: &AppState,
    who: &ClientPrincipal,
    tx: &mut TenantTx,
    req: &ChatRequest,
) -> Result<Option<Reservation>, AppError> {
    let limit = monthly_limit(state, who);
    if limit == 0 {
        return Ok(None);
    }
    let (period, resets) = period_bounds(Utc::now().date_naive());
    let tokens = upper_bound(req);
    let limit_i = i64::try_from(limit).unwrap_or(i64::MAX);
    if tokens > limit_i {
        return Err(AppError::BudgetExhausted {
            message: format!(
                "this turn could spend up to {tokens} tokens, more than the whole monthly budget of {limit}"
            ),
        });
    }
    let client = tx.client().clone();
    let taken = sqlx::query_scalar!(
        "INSERT INTO token_budgets (client_id, period, reserved) VALUES ($1, $2, $3)
         ON CONFLICT (client_id, period) DO UPDATE
           SET reserved = token_budgets.reserved + EXCLUDED.reserved
           WHERE token_budgets.spent + token_budgets.reserved + EXCLUDED.reserved <= $4
         RETURNING spent",
        client.as_str(),
        period,
        tokens,
        limit_i,
    )
    .fetch_optional(&mut **tx)
    .await?;
    if taken.is_none() {
        let spent = sqlx::query_scalar!(
            "SELECT spent FROM token_budgets WHERE client_id = $1 AND period = $2",
            client.as_str(),
            period,
        )
        .fetch_optional(&mut **tx)
        .await?
        .unwrap_or(0);
        return Err(exhausted(limit, spent, resets));
    }
    Ok(Some(Reservation { period, tokens }))
}

/// Releases a reservation and counts what the turn spent, in the transaction that stores it.
pub async fn settle(
    tx: &mut TenantTx,
    reservation: Reservation,
    spent: u64,
) -> Result<(), sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query!(
        "UPDATE token_budgets
         SET reserved = GREATEST(reserved - $3, 0), spent = spent + $4
         WHERE client_id = $1 AND period = $2",
        client.as_str(),
        reservation.period,
        reservation.tokens,
        i64::try_from(spent).unwrap_or(i64::MAX),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The client's budget this month, when it has one.
pub async fn status(
    state: &AppState,
    who: &ClientPrincipal,
    tx: &mut TenantTx,
) -> Result<Option<BudgetStatus>, AppError> {
    let limit = monthly_limit(state, who);
    if limit == 0 {
        return Ok(None);
    }
    let (period, resets) = period_bounds(Utc::now().date_naive());
    let client = tx.client().clone();
    let row = sqlx::query!(
        "SELECT spent, reserved FROM token_budgets WHERE client_id = $1 AND period = $2",
        client.as_str(),
        period,
    )
    .fetch_optional(&mut **tx)
    .await?;
    let (spent, reserved) = row.map_or((0, 0), |r| (r.spent, r.reserved));
    Ok(Some(BudgetStatus {
        monthly_tokens: limit,
        spent: spent.max(0) as u64,
        reserved: reserved.max(0) as u64,
        period_start: period,
        resets_on: resets,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_runs_from_its_first_day_to_the_next_months() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("date");
        assert_eq!(
            period_bounds(d(2026, 12, 2)),
            (d(2026, 12, 1), d(2027, 1, 1))
        );
        assert_eq!(
            period_bounds(d(2027, 2, 28)),
            (d(2027, 2, 1), d(2027, 3, 1))
        );
    }

    #[test]
    fn the_bound_covers_every_byte_of_the_prompt_and_the_whole_answer() {
        let req = ChatRequest {
            tenant: "c".into(),
            models: vec![],
            messages: vec![
                ChatMessage::System("abc".into()),
                ChatMessage::User("héllo".into()),
            ],
            temperature: 0.7,
            max_tokens: 100,
        };
        assert_eq!(upper_bound(&req), (3 + 8 + 6 + 8 + 16) + 100);
    }
}
