//! Monthly budgets, the client's and (when it has one) the employee's, in tokens and in cost
//! (millionths of a US dollar at the providers' prices): reserve before the model call, settle
//! when the turn is stored.
//!
//! A turn reserves an upper bound of what it can spend — its prompt's bytes (a token is at least
//! one byte) plus a few tokens of framing per message, plus the answer's `max_tokens`; its cost
//! at the dearest of the models that may answer it — in one statement per budget row that only
//! succeeds while spent + reserved + this reservation stays within every limit of that row; the
//! row's lock orders concurrent turns, so together they never pass it. Storing the turn releases
//! the reservation and adds what the provider counted, priced at the model that answered.

use crate::ai::{ChatMessage, ChatRequest};
use crate::core::{AppError, EmployeeId};
use crate::platform::config::Price;
use crate::platform::db::TenantTx;
use crate::usage::BudgetStatus;
use chrono::{Datelike, NaiveDate, Utc};

/// What is held for a turn until it is stored (tokens, and cost in millionths of a dollar):
/// against the client's budgets, the employee's, or both.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reservation {
    pub period: NaiveDate,
    pub tokens: i64,
    pub cost: i64,
    pub client: bool,
    pub employee: bool,
}

/// One scope's monthly limits: tokens and cost in millionths of a dollar (0: none).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Limit {
    pub tokens: u64,
    pub cost: i64,
}

impl Limit {
    /// A client's limits in force (its tier's, or the operator's overrides).
    pub fn of_tier(tier: &crate::platform::config::Tier) -> Self {
        Limit {
            tokens: tier.monthly_tokens,
            cost: micro_usd(tier.monthly_cost_usd),
        }
    }

    /// An employee's own budget.
    pub fn of_employee(b: &crate::employees::EmployeeBudget) -> Self {
        Limit {
            tokens: b.monthly_tokens.unwrap_or(0),
            cost: b.monthly_cost_usd.map_or(0, micro_usd),
        }
    }

    fn is_set(self) -> bool {
        self.tokens > 0 || self.cost > 0
    }
}

/// The budgets a turn spends against: the client's, and the employee's own if it has one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budgets {
    pub client: Limit,
    pub employee: Option<Limit>,
}

/// Dollars as millionths (rounded up, so a budget is never passed by rounding).
pub fn micro_usd(usd: f64) -> i64 {
    if usd.is_finite() && usd > 0.0 {
        (usd * 1e6).ceil().min(i64::MAX as f64) as i64
    } else {
        0
    }
}

fn usd(micro: i64) -> f64 {
    micro as f64 / 1e6
}

/// Millionths of a dollar as a person reads them: `0.005 USD`.
fn show_usd(micro: i64) -> String {
    let text = format!("{:.6}", usd(micro));
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} USD")
}

/// What `prompt` and `completion` tokens cost at `price` (per million tokens), in millionths
/// of a dollar: a dollar a million tokens is a millionth of a dollar a token.
pub fn cost(price: Option<Price>, prompt: u64, completion: u64) -> i64 {
    price.map_or(0, |p| {
        (prompt as f64 * p.input + completion as f64 * p.output)
            .ceil()
            .min(i64::MAX as f64) as i64
    })
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

/// An upper bound of the tokens of `req`'s prompt.
fn prompt_bound(req: &ChatRequest) -> i64 {
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
    // Offered tools are read as part of the prompt.
    let tools: usize = req
        .tools
        .iter()
        .map(|t| t.name.len() + t.description.len() + t.parameters.to_string().len() + 8)
        .sum();
    (prompt + tools + 16) as i64
}

/// An upper bound of the tokens `req` can spend.
pub fn upper_bound(req: &ChatRequest) -> i64 {
    prompt_bound(req) + i64::from(req.max_tokens)
}

/// An upper bound of what `req` can cost, whichever of its models answers (`price` looks a
/// model's price up).
pub fn cost_bound(req: &ChatRequest, price: impl Fn(&str) -> Option<Price>) -> i64 {
    let prompt = prompt_bound(req).max(0) as u64;
    req.models
        .iter()
        .map(|m| cost(price(m), prompt, u64::from(req.max_tokens)))
        .max()
        .unwrap_or(0)
}

/// The refusal for a budget of `whose` (e.g. "the client's") that `tokens` and `cost` more
/// would pass, given what the row holds now.
fn exhausted(
    whose: &str,
    limit: Limit,
    row: Option<(i64, i64, i64, i64)>,
    (tokens, cost): (i64, i64),
    resets: NaiveDate,
) -> AppError {
    let (spent, reserved, spent_cost, reserved_cost) = row.unwrap_or_default();
    let tokens_out = limit.tokens > 0
        && spent + reserved + tokens > i64::try_from(limit.tokens).unwrap_or(i64::MAX);
    let message = if tokens_out || (limit.cost == 0) {
        format!(
            "{whose} monthly budget of {} tokens is used up ({spent} spent, {reserved} held by turns in progress, this one could take {tokens}); it resets on {resets}",
            limit.tokens
        )
    } else {
        format!(
            "{whose} monthly budget of {} is used up ({} spent, {} held by turns in progress, this one could cost {}); it resets on {resets}",
            show_usd(limit.cost),
            show_usd(spent_cost),
            show_usd(reserved_cost),
            show_usd(cost)
        )
    };
    AppError::BudgetExhausted { message }
}

fn cap(limit: u64) -> i64 {
    if limit == 0 {
        i64::MAX
    } else {
        i64::try_from(limit).unwrap_or(i64::MAX)
    }
}

fn cap_cost(limit: i64) -> i64 {
    if limit <= 0 {
        i64::MAX
    } else {
        limit
    }
}

/// A reservation larger than a whole budget can never fit: say so.
fn larger_than_budget(whose: &str, limit: Limit, tokens: i64, cost: i64) -> Option<AppError> {
    if limit.tokens > 0 && tokens > cap(limit.tokens) {
        return Some(AppError::BudgetExhausted {
            message: format!(
                "this turn could spend up to {tokens} tokens, more than {whose} whole monthly budget of {}",
                limit.tokens
            ),
        });
    }
    if limit.cost > 0 && cost > limit.cost {
        return Some(AppError::BudgetExhausted {
            message: format!(
                "this turn could cost up to {}, more than {whose} whole monthly budget of {}",
                show_usd(cost),
                show_usd(limit.cost)
            ),
        });
    }
    None
}

/// Reserves what `req` can spend and cost in `tx`, against the client's budgets and the
/// employee's; `None` when neither has one. 402 when the reservation would pass any of them.
/// On an error the caller rolls `tx` back, so nothing is held.
pub async fn reserve(
    tx: &mut TenantTx,
    employee: &EmployeeId,
    budgets: Budgets,
    req: &ChatRequest,
    cost: i64,
) -> Result<Option<Reservation>, AppError> {
    let own = budgets.employee.filter(|l| l.is_set());
    if !budgets.client.is_set() && own.is_none() {
        return Ok(None);
    }
    let (period, resets) = period_bounds(Utc::now().date_naive());
    let tokens = upper_bound(req);
    if budgets.client.is_set() {
        if let Some(e) = larger_than_budget("the client's", budgets.client, tokens, cost) {
            return Err(e);
        }
    }
    if let Some(limit) = own {
        if let Some(e) = larger_than_budget("this employee's", limit, tokens, cost) {
            return Err(e);
        }
    }
    let client = tx.client().clone();
    if budgets.client.is_set() {
        let limit = budgets.client;
        let taken = sqlx::query_scalar!(
            "INSERT INTO token_budgets (client_id, period, reserved, reserved_cost)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (client_id, period) DO UPDATE
               SET reserved = token_budgets.reserved + EXCLUDED.reserved,
                   reserved_cost = token_budgets.reserved_cost + EXCLUDED.reserved_cost
               WHERE token_budgets.spent + token_budgets.reserved + EXCLUDED.reserved <= $5
                 AND token_budgets.spent_cost + token_budgets.reserved_cost
                     + EXCLUDED.reserved_cost <= $6
             RETURNING spent",
            client.as_str(),
            period,
            tokens,
            cost,
            cap(limit.tokens),
            cap_cost(limit.cost),
        )
        .fetch_optional(&mut **tx)
        .await?;
        if taken.is_none() {
            let row = sqlx::query!(
                "SELECT spent, reserved, spent_cost, reserved_cost FROM token_budgets
                 WHERE client_id = $1 AND period = $2",
                client.as_str(),
                period,
            )
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| (r.spent, r.reserved, r.spent_cost, r.reserved_cost));
            return Err(exhausted(
                "the client's",
                limit,
                row,
                (tokens, cost),
                resets,
            ));
        }
    }
    if let Some(limit) = own {
        let taken = sqlx::query_scalar!(
            "INSERT INTO employee_token_budgets
                 (client_id, employee_id, period, reserved, reserved_cost)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (client_id, employee_id, period) DO UPDATE
               SET reserved = employee_token_budgets.reserved + EXCLUDED.reserved,
                   reserved_cost = employee_token_budgets.reserved_cost + EXCLUDED.reserved_cost
               WHERE employee_token_budgets.spent + employee_token_budgets.reserved
                     + EXCLUDED.reserved <= $6
                 AND employee_token_budgets.spent_cost + employee_token_budgets.reserved_cost
                     + EXCLUDED.reserved_cost <= $7
             RETURNING spent",
            client.as_str(),
            employee.as_str(),
            period,
            tokens,
            cost,
            cap(limit.tokens),
            cap_cost(limit.cost),
        )
        .fetch_optional(&mut **tx)
        .await?;
        if taken.is_none() {
            let row = sqlx::query!(
                "SELECT spent, reserved, spent_cost, reserved_cost FROM employee_token_budgets
                 WHERE client_id = $1 AND employee_id = $2 AND period = $3",
                client.as_str(),
                employee.as_str(),
                period,
            )
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| (r.spent, r.reserved, r.spent_cost, r.reserved_cost));
            return Err(exhausted(
                "this employee's",
                limit,
                row,
                (tokens, cost),
                resets,
            ));
        }
    }
    Ok(Some(Reservation {
        period,
        tokens,
        cost,
        client: budgets.client.is_set(),
        employee: own.is_some(),
    }))
}

/// Releases a reservation and counts what the turn spent (`spent` tokens costing `spent_cost`
/// millionths of a dollar), in the transaction that stores it.
pub async fn settle(
    tx: &mut TenantTx,
    employee: &EmployeeId,
    reservation: Reservation,
    spent: u64,
    spent_cost: i64,
) -> Result<(), sqlx::Error> {
    let client = tx.client().clone();
    let spent = i64::try_from(spent).unwrap_or(i64::MAX);
    if reservation.client {
        sqlx::query!(
            "UPDATE token_budgets
             SET reserved = GREATEST(reserved - $3, 0), spent = spent + $4,
                 reserved_cost = GREATEST(reserved_cost - $5, 0), spent_cost = spent_cost + $6
             WHERE client_id = $1 AND period = $2",
            client.as_str(),
            reservation.period,
            reservation.tokens,
            spent,
            reservation.cost,
            spent_cost,
        )
        .execute(&mut **tx)
        .await?;
    }
    if reservation.employee {
        sqlx::query!(
            "UPDATE employee_token_budgets
             SET reserved = GREATEST(reserved - $4, 0), spent = spent + $5,
                 reserved_cost = GREATEST(reserved_cost - $6, 0), spent_cost = spent_cost + $7
             WHERE client_id = $1 AND employee_id = $2 AND period = $3",
            client.as_str(),
            employee.as_str(),
            reservation.period,
            reservation.tokens,
            spent,
            reservation.cost,
            spent_cost,
        )
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The client's budget this month, when it has one.
pub async fn status(tx: &mut TenantTx, limit: Limit) -> Result<Option<BudgetStatus>, AppError> {
    if !limit.is_set() {
        return Ok(None);
    }
    let (period, resets) = period_bounds(Utc::now().date_naive());
    let client = tx.client().clone();
    let row = sqlx::query!(
        "SELECT spent, reserved, spent_cost, reserved_cost FROM token_budgets
         WHERE client_id = $1 AND period = $2",
        client.as_str(),
        period,
    )
    .fetch_optional(&mut **tx)
    .await?
    .map(|r| (r.spent, r.reserved, r.spent_cost, r.reserved_cost));
    Ok(Some(budget_status(limit, row, period, resets)))
}

/// An employee's own budget this month, when it has one.
pub async fn employee_status(
    tx: &mut TenantTx,
    employee: &EmployeeId,
    limit: Option<Limit>,
) -> Result<Option<BudgetStatus>, AppError> {
    let Some(limit) = limit.filter(|l| l.is_set()) else {
        return Ok(None);
    };
    let (period, resets) = period_bounds(Utc::now().date_naive());
    let client = tx.client().clone();
    let row = sqlx::query!(
        "SELECT spent, reserved, spent_cost, reserved_cost FROM employee_token_budgets
         WHERE client_id = $1 AND employee_id = $2 AND period = $3",
        client.as_str(),
        employee.as_str(),
        period,
    )
    .fetch_optional(&mut **tx)
    .await?
    .map(|r| (r.spent, r.reserved, r.spent_cost, r.reserved_cost));
    Ok(Some(budget_status(limit, row, period, resets)))
}

fn budget_status(
    limit: Limit,
    row: Option<(i64, i64, i64, i64)>,
    period: NaiveDate,
    resets: NaiveDate,
) -> BudgetStatus {
    let (spent, reserved, spent_cost, reserved_cost) = row.unwrap_or_default();
    BudgetStatus {
        monthly_tokens: limit.tokens,
        spent: spent.max(0) as u64,
        reserved: reserved.max(0) as u64,
        monthly_cost_usd: usd(limit.cost),
        spent_cost_usd: usd(spent_cost),
        reserved_cost_usd: usd(reserved_cost),
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
            tools: Vec::new(),
            tools_closed: false,
        };
        assert_eq!(upper_bound(&req), (3 + 8 + 6 + 8 + 16) + 100);
    }

    #[test]
    fn the_cost_bound_prices_the_whole_bound_at_the_dearest_model_that_may_answer() {
        let req = ChatRequest {
            tenant: "c".into(),
            models: vec!["cheap".into(), "dear".into(), "unpriced".into()],
            messages: vec![ChatMessage::User("x".repeat(84))],
            temperature: 0.7,
            max_tokens: 100,
            tools: Vec::new(),
            tools_closed: false,
        };
        let price = |m: &str| match m {
            "cheap" => Some(Price {
                input: 0.15,
                output: 0.60,
            }),
            "dear" => Some(Price {
                input: 2.0,
                output: 8.0,
            }),
            _ => None,
        };
        // 84 + 8 + 16 = 108 prompt tokens at most: 108 × 2 + 100 × 8 millionths.
        assert_eq!(cost_bound(&req, price), 216 + 800);
        assert_eq!(cost(price("cheap"), 1000, 1000), 750);
        assert_eq!(cost(None, 1000, 1000), 0);
        assert_eq!(micro_usd(0.001), 1000);
        assert_eq!(micro_usd(-1.0), 0);
        assert_eq!(show_usd(5_000), "0.005 USD");
        assert_eq!(show_usd(2_000_000), "2 USD");
    }
}
