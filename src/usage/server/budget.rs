//! Monthly token budgets, the client's and (when it has one) the employee's: reserve before the
//! model call, settle when the turn is stored.
//!
//! A turn reserves an upper bound of what it can spend — its prompt's bytes (a token is at least
//! one byte) plus a few tokens of framing per message, plus the answer's `max_tokens` — in one
//! statement that only succeeds while spent + reserved + this reservation stays within the
//! budget; the row's lock orders concurrent turns, so together they never pass it. Storing the
//! turn releases the reservation and adds what the provider counted.

use crate::ai::{ChatMessage, ChatRequest};
use crate::core::{AppError, EmployeeId};
use crate::platform::db::TenantTx;
use crate::usage::BudgetStatus;
use chrono::{Datelike, NaiveDate, Utc};

/// Tokens held for a turn until it is stored: against the client's budget, the employee's, or
/// both.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reservation {
    pub period: NaiveDate,
    pub tokens: i64,
    pub client: bool,
    pub employee: bool,
}

/// The budgets a turn spends against: the client's monthly tokens (0: none) and the
/// employee's own, if it has one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budgets {
    pub client_monthly: u64,
    pub employee_monthly: Option<u64>,
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

fn exhausted(limit: u64, spent: i64, resets: NaiveDate) -> AppError {
    AppError::BudgetExhausted {
        message: format!(
            "the monthly budget of {limit} tokens is used up ({spent} spent); it resets on {resets}"
        ),
    }
}

/// Reserves what `req` can spend in `tx`, against the client's budget and the employee's;
/// `None` when neither has one. 402 when the reservation would pass either. On an error the
/// caller rolls `tx` back, so nothing is held.
pub async fn reserve(
    tx: &mut TenantTx,
    employee: &EmployeeId,
    budgets: Budgets,
    req: &ChatRequest,
) -> Result<Option<Reservation>, AppError> {
    let employee_limit = budgets.employee_monthly.filter(|n| *n > 0);
    if budgets.client_monthly == 0 && employee_limit.is_none() {
        return Ok(None);
    }
    let (period, resets) = period_bounds(Utc::now().date_naive());
    let tokens = upper_bound(req);
    let too_big = |limit: u64, whose: &str| {
        (tokens > i64::try_from(limit).unwrap_or(i64::MAX)).then(|| AppError::BudgetExhausted {
            message: format!(
                "this turn could spend up to {tokens} tokens, more than {whose} whole monthly budget of {limit}"
            ),
        })
    };
    if budgets.client_monthly > 0 {
        if let Some(e) = too_big(budgets.client_monthly, "the client's") {
            return Err(e);
        }
    }
    if let Some(limit) = employee_limit {
        if let Some(e) = too_big(limit, "this employee's") {
            return Err(e);
        }
    }
    let client = tx.client().clone();
    if budgets.client_monthly > 0 {
        let limit_i = i64::try_from(budgets.client_monthly).unwrap_or(i64::MAX);
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
            return Err(exhausted(budgets.client_monthly, spent, resets));
        }
    }
    if let Some(limit) = employee_limit {
        let limit_i = i64::try_from(limit).unwrap_or(i64::MAX);
        let taken = sqlx::query_scalar!(
            "INSERT INTO employee_token_budgets (client_id, employee_id, period, reserved)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (client_id, employee_id, period) DO UPDATE
               SET reserved = employee_token_budgets.reserved + EXCLUDED.reserved
               WHERE employee_token_budgets.spent + employee_token_budgets.reserved
                     + EXCLUDED.reserved <= $5
             RETURNING spent",
            client.as_str(),
            employee.as_str(),
            period,
            tokens,
            limit_i,
        )
        .fetch_optional(&mut **tx)
        .await?;
        if taken.is_none() {
            let spent = sqlx::query_scalar!(
                "SELECT spent FROM employee_token_budgets
                 WHERE client_id = $1 AND employee_id = $2 AND period = $3",
                client.as_str(),
                employee.as_str(),
                period,
            )
            .fetch_optional(&mut **tx)
            .await?
            .unwrap_or(0);
            return Err(AppError::BudgetExhausted {
                message: format!(
                    "this employee's monthly budget of {limit} tokens is used up ({spent} spent); it resets on {resets}"
                ),
            });
        }
    }
    Ok(Some(Reservation {
        period,
        tokens,
        client: budgets.client_monthly > 0,
        employee: employee_limit.is_some(),
    }))
}

/// Releases a reservation and counts what the turn spent, in the transaction that stores it.
pub async fn settle(
    tx: &mut TenantTx,
    employee: &EmployeeId,
    reservation: Reservation,
    spent: u64,
) -> Result<(), sqlx::Error> {
    let client = tx.client().clone();
    let spent = i64::try_from(spent).unwrap_or(i64::MAX);
    if reservation.client {
        sqlx::query!(
            "UPDATE token_budgets
             SET reserved = GREATEST(reserved - $3, 0), spent = spent + $4
             WHERE client_id = $1 AND period = $2",
            client.as_str(),
            reservation.period,
            reservation.tokens,
            spent,
        )
        .execute(&mut **tx)
        .await?;
    }
    if reservation.employee {
        sqlx::query!(
            "UPDATE employee_token_budgets
             SET reserved = GREATEST(reserved - $4, 0), spent = spent + $5
             WHERE client_id = $1 AND employee_id = $2 AND period = $3",
            client.as_str(),
            employee.as_str(),
            reservation.period,
            reservation.tokens,
            spent,
        )
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The client's budget this month (`limit` tokens; none when 0).
pub async fn status(tx: &mut TenantTx, limit: u64) -> Result<Option<BudgetStatus>, AppError> {
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
    Ok(Some(budget_status(limit, spent, reserved, period, resets)))
}

/// An employee's own budget this month, when it has one.
pub async fn employee_status(
    tx: &mut TenantTx,
    employee: &EmployeeId,
    limit: Option<u64>,
) -> Result<Option<BudgetStatus>, AppError> {
    let Some(limit) = limit.filter(|n| *n > 0) else {
        return Ok(None);
    };
    let (period, resets) = period_bounds(Utc::now().date_naive());
    let client = tx.client().clone();
    let row = sqlx::query!(
        "SELECT spent, reserved FROM employee_token_budgets
         WHERE client_id = $1 AND employee_id = $2 AND period = $3",
        client.as_str(),
        employee.as_str(),
        period,
    )
    .fetch_optional(&mut **tx)
    .await?;
    let (spent, reserved) = row.map_or((0, 0), |r| (r.spent, r.reserved));
    Ok(Some(budget_status(limit, spent, reserved, period, resets)))
}

fn budget_status(
    limit: u64,
    spent: i64,
    reserved: i64,
    period: NaiveDate,
    resets: NaiveDate,
) -> BudgetStatus {
    BudgetStatus {
        monthly_tokens: limit,
        spent: spent.max(0) as u64,
        reserved: reserved.max(0) as u64,
        period_start: period,
        resets_on: resets,
    }
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
