//! Onboarding and reading clients. REST handlers and server functions both call these after
//! the principal is resolved; each runs in one transaction and writes its audit events there.

use super::repo;
use crate::accounts::server::keys::issue_key;
use crate::accounts::ClientPrincipal;
use crate::audit::server::service::{self as audit, snapshot};
use crate::audit::{Actor, AuditAction};
use crate::clients::onboarding::client_configuration;
use crate::clients::*;
use crate::core::{AppError, ClientId};
use crate::platform::db::{OperatorConn, TenantTx};
use crate::platform::AppState;
use chrono::Utc;
use serde_json::json;
use sqlx::PgPool;

#[tracing::instrument(skip_all, fields(tier = %info.tier))]
pub async fn onboard_client(
    state: &AppState,
    info: &ClientInfo,
) -> Result<OnboardedClient, AppError> {
    let tier = state.settings.tier(&info.tier);
    let (name, industry, tier, configuration) =
        client_configuration(info, tier.as_ref(), &state.settings.tier_names())?;
    let now = Utc::now();
    let client = Client {
        id: ClientId::generate(),
        name,
        industry,
        tier,
        configuration,
        status: ClientStatus::Active,
        created_at: now,
        updated_at: now,
    };
    let mut tx = TenantTx::begin(&state.pool, &client.id).await?;
    repo::insert_client(&mut tx, &client).await?;
    audit::record(
        &mut tx,
        &Actor::Operator,
        AuditAction::ClientOnboard,
        client.id.as_str(),
        None,
        Some(snapshot(&client)?),
    )
    .await?;
    let api_key = issue_key(&mut tx, &state.secrets).await?;
    tx.commit().await?;
    tracing::info!(client_id = %client.id, tier = %client.tier, "client onboarded");
    Ok(OnboardedClient { client, api_key })
}

pub async fn list_clients(state: &AppState) -> Result<Vec<Client>, AppError> {
    let mut conn = OperatorConn::acquire(&state.pool).await?;
    Ok(repo::list_all_clients(&mut conn).await?)
}

/// Every client with its employees and this month's usage, for the operator console.
pub async fn client_summaries(state: &AppState) -> Result<Vec<ClientSummary>, AppError> {
    let mut conn = OperatorConn::acquire(&state.pool).await?;
    let clients = repo::list_all_clients(&mut conn).await?;
    let mut figures = repo::overview(&mut conn).await?;
    Ok(clients
        .into_iter()
        .map(|client| {
            let (employees, turns_this_month, tokens_this_month) =
                figures.remove(client.id.as_str()).unwrap_or_default();
            ClientSummary {
                client,
                employees,
                turns_this_month,
                tokens_this_month,
            }
        })
        .collect())
}

/// Every client's id, for background work that goes over every tenant.
pub async fn all_client_ids(pool: &PgPool) -> Result<Vec<ClientId>, sqlx::Error> {
    let mut conn = OperatorConn::acquire(pool).await?;
    Ok(repo::list_all_clients(&mut conn)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect())
}

#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn get_client(state: &AppState, who: &ClientPrincipal) -> Result<Client, AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let client = current(&mut tx).await?;
    tx.commit().await?;
    Ok(client)
}

/// One client by its id, for the operator.
pub async fn get_client_by_id(state: &AppState, raw_id: &str) -> Result<Client, AppError> {
    let id = ClientId::parse(raw_id).ok_or_else(|| AppError::not_found("client"))?;
    let mut tx = TenantTx::begin(&state.pool, &id).await?;
    let client = current(&mut tx).await?;
    tx.commit().await?;
    Ok(client)
}

/// The transaction's client, inside a caller's transaction.
pub async fn current(tx: &mut TenantTx) -> Result<Client, AppError> {
    repo::get_client(tx)
        .await?
        .ok_or_else(|| AppError::not_found("client"))
}

/// Suspends (`active = false`) or reactivates a client, for the operator. A suspended client's
/// keys and sessions fail on every instance at once; nothing of it is deleted.
#[tracing::instrument(skip_all, fields(client_id = %raw_id))]
pub async fn set_active(state: &AppState, raw_id: &str, active: bool) -> Result<Client, AppError> {
    let id = ClientId::parse(raw_id).ok_or_else(|| AppError::not_found("client"))?;
    let status = if active {
        ClientStatus::Active
    } else {
        ClientStatus::Suspended
    };
    let mut tx = TenantTx::begin(&state.pool, &id).await?;
    let before = repo::set_status(&mut tx, status)
        .await?
        .ok_or_else(|| AppError::not_found("client"))?;
    let after = current(&mut tx).await?;
    if before.status != status {
        audit::record(
            &mut tx,
            &Actor::Operator,
            if active {
                AuditAction::ClientReactivate
            } else {
                AuditAction::ClientSuspend
            },
            id.as_str(),
            Some(json!({ "status": before.status })),
            Some(json!({ "status": after.status })),
        )
        .await?;
    }
    tx.commit().await?;
    crate::accounts::server::keys::broadcast_invalidation(state, &format!("client {id}")).await;
    crate::accounts::server::sessions::forget_client(state, &id).await?;
    Ok(after)
}
