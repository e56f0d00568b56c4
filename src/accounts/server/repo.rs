//! The api_keys table.

use crate::core::ClientId;
use crate::platform::db::{OperatorConn, TenantTx};
use sqlx::Row;

/// Stores a key's id and hash (never the key) for the transaction's client.
pub async fn insert_api_key(
    tx: &mut TenantTx,
    key_id: &str,
    hash: &str,
) -> Result<(), sqlx::Error> {
    let client: ClientId = tx.client().clone();
    sqlx::query("INSERT INTO api_keys (client_id, id, key_hash) VALUES ($1, $2, $3)")
        .bind(client.as_str())
        .bind(key_id)
        .bind(hash)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub struct KeyRecord {
    pub client_id: String,
    pub key_hash: String,
    pub client_status: String,
}

/// Resolves a key id to its client through the operator path (`wf_lookup_api_key`).
pub async fn lookup_api_key(
    conn: &mut OperatorConn,
    key_id: &str,
) -> Result<Option<KeyRecord>, sqlx::Error> {
    let row = sqlx::query("SELECT client_id, key_hash, client_status FROM wf_lookup_api_key($1)")
        .bind(key_id)
        .fetch_optional(&mut **conn)
        .await?;
    row.map(|r| {
        Ok(KeyRecord {
            client_id: r.try_get("client_id")?,
            key_hash: r.try_get("key_hash")?,
            client_status: r.try_get("client_status")?,
        })
    })
    .transpose()
}
