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
                  coalesce(sum(completion_tokens), 0)::bigint AS "completion_tokens!"
           FROM usage_daily
           WHERE client_id = $1 AND ($2::text IS NULL OR employee_id = $2)
           GROUP BY 1 ORDER BY 1"#,
        client.as_str(),
        employee.map(EmployeeId::as_str),
    )
    .fetch_all(&mut **tx)
    .await
}

/// Every (day, employee, model) with usage from `from` on, of the employees in `only` if given.
pub async fn daily(
    tx: &mut TenantTx,
    from: NaiveDate,
    only: Option<&[String]>,
) -> Result<Vec<DailyUsage>, sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query_as!(
        DailyUsage,
        r#"SELECT day, employee_id, model, completed, failed,
                  (prompt_tokens + completion_tokens) AS "tokens!"
           FROM usage_daily
           WHERE client_id = $1 AND day >= $2 AND ($3::text[] IS NULL OR employee_id = ANY($3))
           ORDER BY day, employee_id, model"#,
        client.as_str(),
        from,
        only as Option<&[String]>,
    )
    .fetch_all(&mut **tx)
    .await
}

/// Each employee's answered turns from `month_start` on and its last exchange.
pub async fn activity(
    tx: &mut TenantTx,
    month_start: NaiveDate,
    only: Option<&[String]>,
) -> Result<Vec<EmployeeActivity>, sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query_as!(
        EmployeeActivity,
        r#"SELECT employee_id,
                  coalesce(sum(completed) FILTER (WHERE day >= $2), 0)::bigint AS "turns_this_month!",
                  max(last_at) AS last_at
           FROM usage_daily
           WHERE client_id = $1 AND ($3::text[] IS NULL OR employee_id = ANY($3))
           GROUP BY employee_id"#,
        client.as_str(),
        month_start,
        only as Option<&[String]>,
    )
    .fetch_all(&mut **tx)
    .await
}
