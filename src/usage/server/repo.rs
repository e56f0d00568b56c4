//! Token usage, summed from the exchanges.

use crate::core::EmployeeId;
use crate::platform::db::TenantTx;
use crate::usage::ModelUsage;

/// Token usage summed per model, for one employee or (with `employee` `None`) the whole client.
pub async fn usage_by_model(
    tx: &mut TenantTx,
    employee: Option<&EmployeeId>,
) -> Result<Vec<ModelUsage>, sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query_as!(
        ModelUsage,
        r#"SELECT coalesce(model, '') AS "model!",
                  count(*) FILTER (WHERE status = 'completed') AS "completed!",
                  count(*) FILTER (WHERE status = 'failed') AS "failed!",
                  coalesce(sum(prompt_tokens), 0)::bigint AS "prompt_tokens!",
                  coalesce(sum(completion_tokens), 0)::bigint AS "completion_tokens!"
           FROM employee_interactions
           WHERE client_id = $1 AND ($2::text IS NULL OR employee_id = $2)
           GROUP BY 1 ORDER BY 1"#,
        client.as_str(),
        employee.map(EmployeeId::as_str),
    )
    .fetch_all(&mut **tx)
    .await
}
