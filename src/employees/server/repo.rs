//! The employees table.

use crate::core::{ClientId, EmployeeId};
use crate::employees::*;
use crate::platform::db::{decode_err, TenantTx};
use chrono::{DateTime, Utc};
use sqlx::types::Json;

/// An `employees` row as the checked queries read it (every query names the same columns).
struct EmployeeRow {
    id: String,
    client_id: String,
    name: String,
    role: String,
    industry: String,
    language: String,
    expertise_areas: Vec<String>,
    personality: Json<PersonalityConfig>,
    model_preferences: Json<ModelPreferences>,
    tool_access: Vec<String>,
    knowledge_sources: Vec<String>,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    archived_at: Option<DateTime<Utc>>,
}

impl EmployeeRow {
    fn into_employee(self) -> Result<Employee, sqlx::Error> {
        Ok(Employee {
            id: EmployeeId::parse(&self.id).ok_or_else(|| decode_err("employee id", &self.id))?,
            client_id: ClientId::parse(&self.client_id)
                .ok_or_else(|| decode_err("client id", &self.client_id))?,
            name: self.name,
            role: self.role,
            industry: self.industry,
            language: self.language,
            expertise_areas: self.expertise_areas,
            personality: self.personality.0,
            model_preferences: self.model_preferences.0,
            tool_access: self.tool_access,
            knowledge_sources: self.knowledge_sources,
            status: EmployeeStatus::parse(&self.status)
                .ok_or_else(|| decode_err("employee status", &self.status))?,
            created_at: self.created_at,
            updated_at: self.updated_at,
            archived_at: self.archived_at,
        })
    }
}

/// Employees that count against `max_employees` (archived ones do not).
pub async fn count_live_employees(tx: &mut TenantTx) -> Result<i64, sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM employees WHERE client_id = $1 AND status <> 'archived'"#,
        client.as_str(),
    )
    .fetch_one(&mut **tx)
    .await
}

/// Serialises employee creation per client for the rest of the transaction, so two concurrent
/// creations cannot both pass the limit check.
pub async fn lock_client_for_creation(tx: &mut TenantTx) -> Result<(), sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 7))",
        client.as_str(),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stores a new employee. The row keeps its own client id, so row-level security refuses an
/// employee of another client than the transaction's.
pub async fn insert_employee(tx: &mut TenantTx, e: &Employee) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO employees (client_id, id, name, role, industry, expertise_areas, personality,
             model_preferences, tool_access, knowledge_sources, status, created_at, updated_at, archived_at,
             language)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        e.client_id.as_str(),
        e.id.as_str(),
        e.name,
        e.role,
        e.industry,
        e.expertise_areas.as_slice(),
        Json(&e.personality) as _,
        Json(&e.model_preferences) as _,
        e.tool_access.as_slice(),
        e.knowledge_sources.as_slice(),
        e.status.as_str(),
        e.created_at,
        e.updated_at,
        e.archived_at,
        e.language,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Loads one employee; `for_update` locks the row until the transaction ends.
pub async fn get_employee(
    tx: &mut TenantTx,
    id: &EmployeeId,
    for_update: bool,
) -> Result<Option<Employee>, sqlx::Error> {
    let client = tx.client().clone();
    let row = if for_update {
        sqlx::query_as!(
            EmployeeRow,
            r#"SELECT id, client_id, name, role, industry, language, expertise_areas,
                      personality AS "personality: Json<PersonalityConfig>",
                      model_preferences AS "model_preferences: Json<ModelPreferences>",
                      tool_access, knowledge_sources, status, created_at, updated_at, archived_at
               FROM employees WHERE client_id = $1 AND id = $2 FOR UPDATE"#,
            client.as_str(),
            id.as_str(),
        )
        .fetch_optional(&mut **tx)
        .await?
    } else {
        sqlx::query_as!(
            EmployeeRow,
            r#"SELECT id, client_id, name, role, industry, language, expertise_areas,
                      personality AS "personality: Json<PersonalityConfig>",
                      model_preferences AS "model_preferences: Json<ModelPreferences>",
                      tool_access, knowledge_sources, status, created_at, updated_at, archived_at
               FROM employees WHERE client_id = $1 AND id = $2"#,
            client.as_str(),
            id.as_str(),
        )
        .fetch_optional(&mut **tx)
        .await?
    };
    row.map(EmployeeRow::into_employee).transpose()
}

pub async fn list_employees(
    tx: &mut TenantTx,
    status: Option<EmployeeStatus>,
) -> Result<Vec<Employee>, sqlx::Error> {
    let client = tx.client().clone();
    let rows = sqlx::query_as!(
        EmployeeRow,
        r#"SELECT id, client_id, name, role, industry, language, expertise_areas,
                  personality AS "personality: Json<PersonalityConfig>",
                  model_preferences AS "model_preferences: Json<ModelPreferences>",
                  tool_access, knowledge_sources, status, created_at, updated_at, archived_at
           FROM employees WHERE client_id = $1 AND ($2::text IS NULL OR status = $2)
           ORDER BY created_at DESC, id"#,
        client.as_str(),
        status.map(EmployeeStatus::as_str),
    )
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter().map(EmployeeRow::into_employee).collect()
}

/// Writes every mutable field of `e` and returns the stored row.
pub async fn update_employee(tx: &mut TenantTx, e: &Employee) -> Result<Employee, sqlx::Error> {
    let client = tx.client().clone();
    let row = sqlx::query_as!(
        EmployeeRow,
        r#"UPDATE employees SET name = $3, role = $4, industry = $5, expertise_areas = $6, personality = $7,
               model_preferences = $8, tool_access = $9, knowledge_sources = $10, status = $11,
               archived_at = $12, language = $13, updated_at = now()
           WHERE client_id = $1 AND id = $2
           RETURNING id, client_id, name, role, industry, language, expertise_areas,
                     personality AS "personality: Json<PersonalityConfig>",
                     model_preferences AS "model_preferences: Json<ModelPreferences>",
                     tool_access, knowledge_sources, status, created_at, updated_at, archived_at"#,
        client.as_str(),
        e.id.as_str(),
        e.name,
        e.role,
        e.industry,
        e.expertise_areas.as_slice(),
        Json(&e.personality) as _,
        Json(&e.model_preferences) as _,
        e.tool_access.as_slice(),
        e.knowledge_sources.as_slice(),
        e.status.as_str(),
        e.archived_at,
        e.language,
    )
    .fetch_one(&mut **tx)
    .await?;
    row.into_employee()
}

/// Deletes the employee; its interactions (and their vectors) and status history go with it.
pub async fn delete_employee(tx: &mut TenantTx, id: &EmployeeId) -> Result<bool, sqlx::Error> {
    let client = tx.client().clone();
    let done = sqlx::query!(
        "DELETE FROM employees WHERE client_id = $1 AND id = $2",
        client.as_str(),
        id.as_str(),
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The employee's own monthly budget (tokens, cost in millionths of a dollar), if it has one.
pub async fn own_budget(
    tx: &mut TenantTx,
    id: &EmployeeId,
) -> Result<Option<(Option<i64>, Option<i64>)>, sqlx::Error> {
    let client = tx.client().clone();
    let row = sqlx::query!(
        "SELECT monthly_tokens, monthly_cost FROM employee_budgets
         WHERE client_id = $1 AND employee_id = $2",
        client.as_str(),
        id.as_str(),
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| (r.monthly_tokens, r.monthly_cost)))
}

/// Sets (or, with neither, removes) the employee's own monthly budget: tokens, and cost in
/// millionths of a dollar.
pub async fn set_own_budget(
    tx: &mut TenantTx,
    id: &EmployeeId,
    tokens: Option<i64>,
    cost: Option<i64>,
) -> Result<(), sqlx::Error> {
    let client = tx.client().clone();
    if tokens.is_none() && cost.is_none() {
        sqlx::query!(
            "DELETE FROM employee_budgets WHERE client_id = $1 AND employee_id = $2",
            client.as_str(),
            id.as_str(),
        )
        .execute(&mut **tx)
        .await?;
    } else {
        sqlx::query!(
            "INSERT INTO employee_budgets (client_id, employee_id, monthly_tokens, monthly_cost)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (client_id, employee_id)
             DO UPDATE SET monthly_tokens = EXCLUDED.monthly_tokens,
                           monthly_cost = EXCLUDED.monthly_cost, updated_at = now()",
            client.as_str(),
            id.as_str(),
            tokens,
            cost,
        )
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
