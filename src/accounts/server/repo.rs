//! The api_keys table.

use crate::core::{ClientId, KeyId};
use crate::platform::db::{OperatorConn, TenantTx};

/// Stores a key's id and hash (never the key) for the transaction's client.
pub async fn insert_api_key(
    tx: &mut TenantTx,
    key_id: &KeyId,
    hash: &str,
) -> Result<(), sqlx::Error> {
    let client: ClientId = tx.client().clone();
    sqlx::query!(
        "INSERT INTO api_keys (client_id, id, key_hash) VALUES ($1, $2, $3)",
        client.as_str(),
        key_id.as_str(),
        hash,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub struct KeyRecord {
    pub client_id: String,
    pub key_hash: String,
    pub client_status: String,
    pub client_tier: String,
}

/// Resolves a key id to its client through the operator path (`wf_lookup_api_key`). A
/// function's columns carry no NOT NULL; these four come from NOT NULL columns.
pub async fn lookup_api_key(
    conn: &mut OperatorConn,
    key_id: &KeyId,
) -> Result<Option<KeyRecord>, sqlx::Error> {
    sqlx::query_as!(
        KeyRecord,
        r#"SELECT client_id AS "client_id!", key_hash AS "key_hash!",
                  client_status AS "client_status!", client_tier AS "client_tier!"
           FROM wf_lookup_api_key($1)"#,
        key_id.as_str(),
    )
    .fetch_optional(&mut **conn)
    .await
}
