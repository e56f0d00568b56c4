//! The operations of the employee lifecycle. REST handlers and server functions both call these
//! after authenticating; each runs in one tenant transaction and writes its audit event there.

use super::auth::{self, ClientPrincipal, OPERATOR_ACTOR};
use super::db::tenant_tx;
use super::repo::{self, AuditEvent};
use super::state::AppState;
use crate::domain::generator::{apply_update, client_configuration, generate_employee};
use crate::domain::*;
use chrono::Utc;
use serde_json::json;

fn to_json<T: serde::Serialize>(v: &T) -> Option<serde_json::Value> {
    serde_json::to_value(v).ok()
}

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
    let (api_key, key_id, secret) = auth::new_api_key();
    let hash = auth::hash_secret(secret).await?;

    let mut tx = tenant_tx(&state.pool, &client.id).await?;
    repo::insert_client(&mut tx, &client).await?;
    repo::insert_api_key(&mut tx, &client.id, &key_id, &hash).await?;
    repo::insert_audit(
        &mut tx,
        AuditEvent {
            client: &client.id,
            actor: OPERATOR_ACTOR,
            action: "client.onboard",
            entity_type: "client",
            entity_id: client.id.as_str(),
            before: None,
            after: to_json(&client),
        },
    )
    .await?;
    repo::insert_audit(
        &mut tx,
        AuditEvent {
            client: &client.id,
            actor: OPERATOR_ACTOR,
            action: "api_key.create",
            entity_type: "api_key",
            entity_id: &key_id,
            before: None,
            after: Some(json!({ "key_id": key_id })),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(client_id = %client.id, tier = %client.tier, "client onboarded");
    Ok(OnboardedClient { client, api_key })
}

pub async fn list_clients(state: &AppState) -> Result<Vec<Client>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(repo::list_all_clients(&mut conn).await?)
}

pub async fn get_client(state: &AppState, who: &ClientPrincipal) -> Result<Client, AppError> {
    let mut tx = tenant_tx(&state.pool, &who.client_id).await?;
    let client = repo::get_client(&mut tx, &who.client_id)
        .await?
        .ok_or_else(|| AppError::not_found("client"))?;
    tx.commit().await?;
    Ok(client)
}

/// The path's client must be the caller's; another client's id answers exactly like a missing one.
pub fn check_path_client(who: &ClientPrincipal, path_client: &str) -> Result<(), AppError> {
    if who.client_id.as_str() == path_client {
        Ok(())
    } else {
        Err(AppError::not_found("client"))
    }
}

pub fn parse_employee_id(who: &ClientPrincipal, raw: &str) -> Result<EmployeeId, AppError> {
    EmployeeId::parse(raw)
        .filter(|id| id.client_id() == who.client_id)
        .ok_or_else(|| AppError::not_found("employee"))
}

pub async fn create_employee(
    state: &AppState,
    who: &ClientPrincipal,
    req: &EmployeeRequirements,
) -> Result<Employee, AppError> {
    let mut tx = tenant_tx(&state.pool, &who.client_id).await?;
    let client = repo::get_client(&mut tx, &who.client_id)
        .await?
        .ok_or_else(|| AppError::not_found("client"))?;
    if client.status != ClientStatus::Active {
        return Err(AppError::Forbidden {
            message: "this client is suspended".into(),
        });
    }
    let config = generate_employee(
        req,
        &client.configuration.allowed_models,
        state.settings.default_model(),
    )?;
    repo::lock_client_for_creation(&mut tx, &client.id).await?;
    let live = repo::count_live_employees(&mut tx, &client.id).await?;
    if live >= i64::from(client.configuration.max_employees) {
        return Err(AppError::LimitExceeded {
            message: format!(
                "client has reached its limit of {} employees (archive or delete one first)",
                client.configuration.max_employees
            ),
        });
    }
    let now = Utc::now();
    let employee = config.into_employee(EmployeeId::generate(&client.id), client.id.clone(), now);
    let actor = who.actor();
    repo::insert_employee(&mut tx, &employee).await?;
    repo::insert_status_change(&mut tx, &employee, None, &actor).await?;
    repo::insert_audit(
        &mut tx,
        AuditEvent {
            client: &client.id,
            actor: &actor,
            action: "employee.create",
            entity_type: "employee",
            entity_id: employee.id.as_str(),
            before: None,
            after: to_json(&employee),
        },
    )
    .await?;
    tx.commit().await?;
    if !state
        .cache
        .init_employee(&client.id, &employee.id, &now.to_rfc3339())
        .await
    {
        tracing::warn!(employee_id = %employee.id, "employee created; its cache namespace was not initialised");
    }
    Ok(employee)
}

pub async fn list_employees(
    state: &AppState,
    who: &ClientPrincipal,
    status: Option<EmployeeStatus>,
) -> Result<Vec<Employee>, AppError> {
    let mut tx = tenant_tx(&state.pool, &who.client_id).await?;
    let list = repo::list_employees(&mut tx, &who.client_id, status).await?;
    tx.commit().await?;
    Ok(list)
}

pub async fn get_employee(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
) -> Result<Employee, AppError> {
    let mut tx = tenant_tx(&state.pool, &who.client_id).await?;
    let e = repo::get_employee(&mut tx, &who.client_id, id, false)
        .await?
        .ok_or_else(|| AppError::not_found("employee"))?;
    tx.commit().await?;
    Ok(e)
}

pub async fn update_employee(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
    update: &EmployeeUpdate,
) -> Result<Employee, AppError> {
    let mut tx = tenant_tx(&state.pool, &who.client_id).await?;
    let current = repo::get_employee(&mut tx, &who.client_id, id, true)
        .await?
        .ok_or_else(|| AppError::not_found("employee"))?;
    if current.status == EmployeeStatus::Archived {
        return Err(AppError::conflict("an archived employee cannot be changed"));
    }
    let client = repo::get_client(&mut tx, &who.client_id)
        .await?
        .ok_or_else(|| AppError::not_found("client"))?;
    let next = apply_update(&current, update, &client.configuration.allowed_models)?;
    let stored = repo::update_employee(&mut tx, &next).await?;
    repo::insert_audit(
        &mut tx,
        AuditEvent {
            client: &who.client_id,
            actor: &who.actor(),
            action: "employee.update",
            entity_type: "employee",
            entity_id: id.as_str(),
            before: to_json(&current),
            after: to_json(&stored),
        },
    )
    .await?;
    tx.commit().await?;
    employee_changed(state, &who.client_id, id).await;
    Ok(stored)
}

pub async fn change_status(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
    action: LifecycleAction,
) -> Result<Employee, AppError> {
    let mut tx = tenant_tx(&state.pool, &who.client_id).await?;
    let current = repo::get_employee(&mut tx, &who.client_id, id, true)
        .await?
        .ok_or_else(|| AppError::not_found("employee"))?;
    let to = action.apply(current.status).map_err(AppError::conflict)?;
    let mut next = current.clone();
    next.status = to;
    if to == EmployeeStatus::Archived {
        next.archived_at = Some(Utc::now());
    }
    let stored = repo::update_employee(&mut tx, &next).await?;
    let actor = who.actor();
    repo::insert_status_change(&mut tx, &stored, Some(current.status), &actor).await?;
    repo::insert_audit(
        &mut tx,
        AuditEvent {
            client: &who.client_id,
            actor: &actor,
            action: match action {
                LifecycleAction::Pause => "employee.pause",
                LifecycleAction::Resume => "employee.resume",
                LifecycleAction::Archive => "employee.archive",
            },
            entity_type: "employee",
            entity_id: id.as_str(),
            before: Some(json!({ "status": current.status })),
            after: Some(json!({ "status": stored.status, "archived_at": stored.archived_at })),
        },
    )
    .await?;
    tx.commit().await?;
    employee_changed(state, &who.client_id, id).await;
    Ok(stored)
}

/// Drops the employee from this instance's cache at once and tells the other instances.
async fn employee_changed(state: &AppState, client: &ClientId, id: &EmployeeId) {
    state.employees.remove(client.as_str(), id.as_str());
    if !state.cache.publish_employee_change(client, id).await {
        tracing::warn!(employee_id = %id, "could not announce the change; other instances see it when their copy expires");
    }
}

/// Deletes the employee with its interactions, vectors and cache entries. The audit trail keeps
/// a record of what was deleted.
pub async fn delete_employee(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
) -> Result<(), AppError> {
    let mut tx = tenant_tx(&state.pool, &who.client_id).await?;
    let current = repo::get_employee(&mut tx, &who.client_id, id, true)
        .await?
        .ok_or_else(|| AppError::not_found("employee"))?;
    repo::delete_employee(&mut tx, &who.client_id, id).await?;
    repo::insert_audit(
        &mut tx,
        AuditEvent {
            client: &who.client_id,
            actor: &who.actor(),
            action: "employee.delete",
            entity_type: "employee",
            entity_id: id.as_str(),
            before: to_json(&current),
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    employee_changed(state, &who.client_id, id).await;
    if !state.cache.purge_employee(&who.client_id, id).await {
        tracing::warn!(employee_id = %id, "employee deleted; its cache entries could not be removed now");
    }
    Ok(())
}
