//! The clients table.

use crate::clients::*;
use crate::core::ClientId;
use crate::platform::db::{decode_err, OperatorConn, TenantTx};
use chrono::{DateTime, Utc};
use sqlx::types::Json;

/// A `clients` row as the checked queries read it.
struct ClientRow {
    id: String,
    name: String,
    industry: Option<String>,
    tier: String,
    configuration: Json<ClientConfiguration>,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl ClientRow {
    fn into_client(self) -> Result<Client, sqlx::Error> {
        Ok(Client {
            id: ClientId::parse(&self.id).ok_or_else(|| decode_err("client id", &self.id))?,
            name: self.name,
            industry: self.industry,
            tier: self.tier,
            configuration: self.configuration.0,
            status: ClientStatus::parse(&self.status)
                .ok_or_else(|| decode_err("client status", &self.status))?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

pub async fn insert_client(tx: &mut TenantTx, c: &Client) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO clients (id, name, industry, tier, configuration, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        c.id.as_str(),
        c.name,
        c.industry,
        c.tier,
        Json(&c.configuration) as _,
        c.status.as_str(),
        c.created_at,
        c.updated_at,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The transaction's own client.
pub async fn get_client(tx: &mut TenantTx) -> Result<Option<Client>, sqlx::Error> {
    let id = tx.client().clone();
    let row = sqlx::query_as!(
        ClientRow,
        r#"SELECT id, name, industry, tier,
                  configuration AS "configuration: Json<ClientConfiguration>",
                  status, created_at, updated_at
           FROM clients WHERE id = $1"#,
        id.as_str(),
    )
    .fetch_optional(&mut **tx)
    .await?;
    row.map(ClientRow::into_client).transpose()
}

/// Every client, through the operator path (`wf_list_clients`, SECURITY DEFINER). A function's
/// columns carry no NOT NULL, so the ones the table declares NOT NULL say so here.
pub async fn list_all_clients(conn: &mut OperatorConn) -> Result<Vec<Client>, sqlx::Error> {
    let rows = sqlx::query_as!(
        ClientRow,
        r#"SELECT id AS "id!", name AS "name!", industry, tier AS "tier!",
                  configuration AS "configuration!: Json<ClientConfiguration>",
                  status AS "status!", created_at AS "created_at!", updated_at AS "updated_at!"
           FROM wf_list_clients()"#,
    )
    .fetch_all(&mut **conn)
    .await?;
    rows.into_iter().map(ClientRow::into_client).collect()
}

/// Per client: live employees, and this month's answered turns and tokens (`wf_client_overview`,
/// SECURITY DEFINER: counts only).
pub async fn overview(
    conn: &mut OperatorConn,
) -> Result<std::collections::HashMap<String, (i64, i64, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT client_id AS "client_id!", employees AS "employees!",
                  turns_this_month AS "turns!", tokens_this_month AS "tokens!"
           FROM wf_client_overview()"#,
    )
    .fetch_all(&mut **conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.client_id, (r.employees, r.turns, r.tokens)))
        .collect())
}

/// Sets the transaction's client's status; the client as it was before, if it exists.
pub async fn set_status(
    tx: &mut TenantTx,
    status: ClientStatus,
) -> Result<Option<Client>, sqlx::Error> {
    let before = get_client(tx).await?;
    if before.is_some() {
        let id = tx.client().clone();
        sqlx::query!(
            "UPDATE clients SET status = $2, updated_at = now() WHERE id = $1",
            id.as_str(),
            status.as_str(),
        )
        .execute(&mut **tx)
        .await?;
    }
    Ok(before)
}

/// The transaction's client's tier and the operator's overrides of its limits.
pub async fn tier_and_overrides(
    tx: &mut TenantTx,
) -> Result<Option<(String, LimitOverrides)>, sqlx::Error> {
    let id = tx.client().clone();
    let row = sqlx::query!(
        r#"SELECT tier, limit_overrides AS "limit_overrides: Json<LimitOverrides>"
           FROM clients WHERE id = $1"#,
        id.as_str(),
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| (r.tier, r.limit_overrides.0)))
}

/// Replaces the transaction's client's limit overrides.
pub async fn set_overrides(
    tx: &mut TenantTx,
    overrides: &LimitOverrides,
) -> Result<(), sqlx::Error> {
    let id = tx.client().clone();
    sqlx::query!(
        "UPDATE clients SET limit_overrides = $2, updated_at = now() WHERE id = $1",
        id.as_str(),
        Json(overrides) as _,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
