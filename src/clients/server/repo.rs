//! The clients table.

use crate::clients::*;
use crate::core::ClientId;
use crate::platform::db::{decode_err, OperatorConn, TenantTx};
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::Row;

fn client_from_row(row: &PgRow) -> Result<Client, sqlx::Error> {
    let id: String = row.try_get("id")?;
    let status: String = row.try_get("status")?;
    let Json(configuration): Json<ClientConfiguration> = row.try_get("configuration")?;
    Ok(Client {
        id: ClientId::parse(&id).ok_or_else(|| decode_err("client id", &id))?,
        name: row.try_get("name")?,
        industry: row.try_get("industry")?,
        tier: row.try_get("tier")?,
        configuration,
        status: ClientStatus::parse(&status).ok_or_else(|| decode_err("client status", &status))?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub async fn insert_client(tx: &mut TenantTx, c: &Client) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO clients (id, name, industry, tier, configuration, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(c.id.as_str())
    .bind(&c.name)
    .bind(&c.industry)
    .bind(&c.tier)
    .bind(Json(&c.configuration))
    .bind(c.status.as_str())
    .bind(c.created_at)
    .bind(c.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The transaction's own client.
pub async fn get_client(tx: &mut TenantTx) -> Result<Option<Client>, sqlx::Error> {
    let id = tx.client().clone();
    let row = sqlx::query("SELECT * FROM clients WHERE id = $1")
        .bind(id.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(client_from_row).transpose()
}

/// Every client, through the operator path (`wf_list_clients`, SECURITY DEFINER).
pub async fn list_all_clients(conn: &mut OperatorConn) -> Result<Vec<Client>, sqlx::Error> {
    let rows = sqlx::query("SELECT * FROM wf_list_clients()")
        .fetch_all(&mut **conn)
        .await?;
    rows.iter().map(client_from_row).collect()
}
