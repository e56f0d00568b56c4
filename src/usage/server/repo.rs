//! Usage, read from the daily roll-up that every stored exchange adds to (`usage_daily`, kept by
//! a trigger in the exchange's own transaction).

use crate::core::EmployeeId;
use crate::platform::db::TenantTx;
use crate::usage::{DailyUsage, EmployeeActivity, ModelUsage};
use chrono::NaiveDate;

/// Token usage summed per model, for one employee or (with `employee` `None`) the whole client.
pub async fn usage_by_model(
    tx: &mut TenantTx,
    employee: Option<&EmployeeId>,
) -> Result<Vec<ModelUsage>, sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query_as!(
        ModelUsage,
        r#"SELECT model AS "model!",
                  coalesce(sum(completed), 0)::bigint AS "completed!",
                  coalesce(sum(failed), 0)::bigint AS "failed!",
                  coalesce(sum(prompt_tokens), 0)::bigint AS "prompt_tokens!",
                  coalesce(sum(completion_tokens), 0)::bigint AS "completion_tokens!",
                  coalesce(sum(tool_rounds), 0)::bigint AS "tool_rounds!",
                  coalesce(sum(tool_calls), 0)::bigint AS "tool_calls!"
           FROM usage_daily
           WHERE client_id = $1 AND ($2::text IS NULL OR employee_id = $2)
           GROUP BY 1 ORDER BY 1"#,
        client.as_str(),
        employee.map(EmployeeId::as_str),
    )
    .fetch_all(&mut **tx)
    .await
}

/// Turns and tokens a day from `from` on, per model and per employee (one grouping each: the
/// per-model rows have no employee, the per-employee rows no model), of the employees in `only`
/// if given. Summed as `float8` (exact below 2^53), a quarter faster than `bigint`'s `numeric`.
pub async fn daily(
    tx: &mut TenantTx,
    from: NaiveDate,
    only: Option<&[String]>,
) -> Result<Vec<DailyUsage>, sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query_as!(
        DailyUsage,
        r#"SELECT day AS "day!", coalesce(employee_id, '') AS "employee_id!",
                  coalesce(model, '') AS "model!",
                  sum(completed::float8)::bigint AS "completed!",
                  sum(failed::float8)::bigint AS "failed!",
                  sum(prompt_tokens::float8)::bigint AS "prompt_tokens!",
                  sum(completion_tokens::float8)::bigint AS "completion_tokens!",
                  sum(tool_rounds::float8)::bigint AS "tool_rounds!",
                  sum(tool_calls::float8)::bigint AS "tool_calls!"
           FROM usage_daily
           WHERE client_id = $1 AND day >= $2 AND ($3::text[] IS NULL OR employee_id = ANY($3))
           GROUP BY GROUPING SETS ((day, model), (day, employee_id))"#,
        client.as_str(),
        from,
        only as Option<&[String]>,
    )
    .fetch_all(&mut **tx)
    .await
}

/// Each live employee's answered turns from `month_start` on and its last exchange: two index
/// probes an employee (this month's rows, the newest row), whatever its history's length.
pub async fn activity(
    tx: &mut TenantTx,
    month_start: NaiveDate,
    only: Option<&[String]>,
) -> Result<Vec<EmployeeActivity>, sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query_as!(
        EmployeeActivity,
        r#"SELECT e.id AS "employee_id!",
                  coalesce(m.turns, 0)::bigint AS "turns_this_month!",
                  l.last_at AS "last_at?"
           FROM employees e
           CROSS JOIN LATERAL (
               SELECT sum(completed) AS turns FROM usage_daily u
               WHERE u.client_id = $1 AND u.employee_id = e.id AND u.day >= $2) m
           LEFT JOIN LATERAL (
               SELECT last_at FROM usage_daily u
               WHERE u.client_id = $1 AND u.employee_id = e.id
               ORDER BY day DESC, last_at DESC LIMIT 1) l ON true
           WHERE e.client_id = $1 AND ($3::text[] IS NULL OR e.id = ANY($3))
             AND (m.turns IS NOT NULL OR l.last_at IS NOT NULL)"#,
        client.as_str(),
        month_start,
        only as Option<&[String]>,
    )
    .fetch_all(&mut **tx)
    .await
}
