//! `…/clients/{client_id}/api-keys` (create, list) and `…/api-keys/{key_id}` (revoke), for a
//! key with the `admin` scope.

use crate::accounts::server::principal::ClientPath;
use crate::accounts::{ApiKeyInfo, CreatedApiKey, NewApiKey};
use crate::core::AppError;
use crate::platform::http::ApiRoutes;
use crate::platform::http::{ApiJson, CLIENT};
use crate::platform::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use std::collections::HashMap;

async fn create(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    ApiJson(req): ApiJson<NewApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>), AppError> {
    let key = super::keys::create_key(&state, &who, &req).await?;
    Ok((StatusCode::CREATED, Json(key)))
}

async fn list(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
) -> Result<Json<Vec<ApiKeyInfo>>, AppError> {
    Ok(Json(super::keys::list_keys(&state, &who).await?))
}

async fn revoke(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    Path(params): Path<HashMap<String, String>>,
) -> Result<StatusCode, AppError> {
    let id = params.get("key_id").map_or("", String::as_str);
    super::keys::revoke_key(&state, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> ApiRoutes {
    ApiRoutes::new()
        .post(&format!("{CLIENT}/api-keys"), create)
        .get(&format!("{CLIENT}/api-keys"), list)
        .delete(&format!("{CLIENT}/api-keys/{{key_id}}"), revoke)
}
