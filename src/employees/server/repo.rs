//! The employees table.

use crate::core::{ClientId, EmployeeId};
use crate::employees::*;
use crate::platform::db::{decode_err, TenantTx};
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::Row;

fn employee_from_row(row: &PgRow) -> Result<Employee, sqlx::Error> {
    let id: String = row.try_get("id")?;
    let client_id: String = row.try_get("client_id")?;
    let status: String = row.try_get("status")?;
    let Json(personality): Json<PersonalityConfig> = row.try_get("personality")?;
    let Json(model_preferences): Json<ModelPreferences> = row.try_get("model_preferences")?;
    Ok(Employee {
        id: EmployeeId::parse(&id).ok_or_else(|| decode_err("employee id", &id))?,
        client_id: ClientId::parse(&client_id)
            .ok_or_else(|| decode_err("client id", &client_id))?,
        name: row.try_get("name")?,
        role: row.try_get("role")?,
        industry: row.try_get("industry")?,
        expertise_areas: row.try_get("expertise_areas")?,
        personality,
        model_preferences,
        tool_access: row.try_get("tool_access")?,
        knowledge_sources: row.try_get("knowledge_sources")?,
        status: EmployeeStatus::parse(&status)
            .ok_or_else(|| decode_err("employee status", &status))?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        archived_at: row.try_get("archived_at")?,
    })
}

/// Employees that count against `max_employees` (archived ones do not).
pub async fn count_live_employees(tx: &mut TenantTx) -> Result<i64, sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query_scalar(
        "SELECT count(*) FROM employees WHERE client_id = $1 AND status <> 'archived'",
    )
    .bind(client.as_str())
    .fetch_one(&mut **tx)
    .await
}

/// Serialises employee creation per client for the rest of the transaction, so two concurrent
/// creations cannot both pass the limit check.
pub async fn lock_client_for_creation(tx: &mut TenantTx) -> Result<(), sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))")
        .bind(client.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Stores a new employee of the transaction's client.
pub async fn insert_employee(tx: &mut TenantTx, e: &Employee) -> Result<(), sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query(
        "INSERT INTO employees (client_id, id, name, role, industry, expertise_areas, personality,
             model_preferences, tool_access, knowledge_sources, status, created_at, updated_at, archived_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(client.as_str())
    .bind(e.id.as_str())
    .bind(&e.name)
    .bind(&e.role)
    .bind(&e.industry)
    .bind(&e.expertise_areas)
    .bind(Json(&e.personality))
    .bind(Json(&e.model_preferences))
    .bind(&e.tool_access)
    .bind(&e.knowledge_sources)
    .bind(e.status.as_str())
    .bind(e.created_at)
    .bind(e.updated_at)
    .bind(e.archived_at)
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
    let sql = if for_update {
        "SELECT * FROM employees WHERE client_id = $1 AND id = $2 FOR UPDATE"
    } else {
        "SELECT * FROM employees WHERE client_id = $1 AND id = $2"
    };
    let row = sqlx::query(sql)
        .bind(client.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(employee_from_row).transpose()
}

pub async fn list_employees(
    tx: &mut TenantTx,
    status: Option<EmployeeStatus>,
) -> Result<Vec<Employee>, sqlx::Error> {
    let client = tx.client().clone();
    let rows = sqlx::query(
        "SELECT * FROM employees WHERE client_id = $1 AND ($2::text IS NULL OR status = $2)
         ORDER BY created_at DESC, id",
    )
    .bind(client.as_str())
    .bind(status.map(EmployeeStatus::as_str))
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(employee_from_row).collect()
}

/// Writes every mutable field of `e` and returns the stored row.
pub async fn update_employee(tx: &mut TenantTx, e: &Employee) -> Result<Employee, sqlx::Error> {
    let client = tx.client().clone();
    let row = sqlx::query(
        "UPDATE employees SET name = $3, role = $4, industry = $5, expertise_areas = $6, personality = $7,
             model_preferences = $8, tool_access = $9, knowledge_sources = $10, status = $11,
             archived_at = $12, updated_at = now()
         WHERE client_id = $1 AND id = $2
         RETURNING *",
    )
    .bind(client.as_str())
    .bind(e.id.as_str())
    .bind(&e.name)
    .bind(&e.role)
    .bind(&e.industry)
    .bind(&e.expertise_areas)
    .bind(Json(&e.personality))
    .bind(Json(&e.model_preferences))
    .bind(&e.tool_access)
    .bind(&e.knowledge_sources)
    .bind(e.status.as_str())
    .bind(e.archived_at)
    .fetch_one(&mut **tx)
    .await?;
    employee_from_row(&row)
}

/// Deletes the employee; its interactions (and their vectors) and status history go with it.
pub async fn delete_employee(tx: &mut TenantTx, id: &EmployeeId) -> Result<bool, sqlx::Error> {
    let client = tx.client().clone();
    let done = sqlx::query("DELETE FROM employees WHERE client_id = $1 AND id = $2")
        .bind(client.as_str())
        .bind(id.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}
