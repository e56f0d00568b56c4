//! Accounts over REST.
//! - `…/clients/{client_id}/api-keys` (create, list) and `…/api-keys/{key_id}` (revoke);
//!   `…/invites` (a one-time link for a new person) and `…/members`, `…/members/{user_id}`
//!   (list, change a role or a member's employees, remove): for owners, admins and `admin` keys
//!   (the policy's default for a client route), with owner-only powers checked in `people`.
//! - `/auth/sessions` (sign in: `POST`; sign out everywhere: `DELETE`),
//!   `/auth/sessions/current` (who am I: `GET`; sign out: `DELETE`) and `/auth/invites/accept`:
//!   for people, with the session in an HttpOnly cookie.
//! - `…/support-access` (grant, show, end the operator's read access): owners, admins, `admin`
//!   keys.

use super::people::{self, SignedIn};
use super::principal::{cookie, ClientPath};
use super::sessions;
use super::throttle;
use crate::accounts::{
    AcceptInvite, ApiKeyInfo, CreatedApiKey, CreatedInvite, Member, MemberUpdate, NewApiKey,
    NewInvite, NewSupportGrant, Person, SignIn, SupportAccess, SupportGrant, SESSION_COOKIE,
};
use crate::core::{AppError, KeyId, UserId};
use crate::platform::http::ApiRoutes;
use crate::platform::http::{ApiJson, CLIENT};
use crate::platform::http::{ClientParams, ErrorBody};
use crate::platform::AppState;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::collections::HashMap;

/// Create an API key
///
/// The whole key is in this answer only; the server keeps a keyed digest. A key bound to one
/// employee can reach only that employee.
#[utoipa::path(post, path = "/api/v1/employees/clients/{client_id}/api-keys", tag = "accounts",
    params(ClientParams), request_body = NewApiKey,
    responses((status = 201, description = "The key, shown this once.", body = CreatedApiKey)))]
async fn create(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    ApiJson(req): ApiJson<NewApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>), AppError> {
    let key = super::keys::create_key(&state, &who, &req).await?;
    Ok((StatusCode::CREATED, Json(key)))
}

/// List the client's API keys (never their secrets)
#[utoipa::path(get, path = "/api/v1/employees/clients/{client_id}/api-keys", tag = "accounts",
    params(ClientParams),
    responses((status = 200, description = "Every key, revoked ones included.", body = Vec<ApiKeyInfo>)))]
async fn list(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
) -> Result<Json<Vec<ApiKeyInfo>>, AppError> {
    Ok(Json(super::keys::list_keys(&state, &who).await?))
}

/// Revoke an API key
///
/// It stops working at once on every instance.
#[utoipa::path(delete, path = "/api/v1/employees/clients/{client_id}/api-keys/{key_id}", tag = "accounts",
    params(ClientParams, ("key_id" = KeyId, Path, description = "The key's id (16 hex digits).")),
    responses((status = 204, description = "Revoked.")))]
async fn revoke(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    Path(params): Path<HashMap<String, String>>,
) -> Result<StatusCode, AppError> {
    let id = params.get("key_id").map_or("", String::as_str);
    super::keys::revoke_key(&state, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Invite a person
///
/// Answers a one-time link (no mail is sent: give it to the person). Only an owner may invite an
/// owner or an admin.
#[utoipa::path(post, path = "/api/v1/employees/clients/{client_id}/invites", tag = "accounts",
    params(ClientParams), request_body = NewInvite,
    responses((status = 201, description = "The invite and its link, shown this once.", body = CreatedInvite)))]
async fn invite(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    ApiJson(req): ApiJson<NewInvite>,
) -> Result<(StatusCode, Json<CreatedInvite>), AppError> {
    let created = people::create_invite(&state, &who, &req).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// List the client's people
#[utoipa::path(get, path = "/api/v1/employees/clients/{client_id}/members", tag = "accounts",
    params(ClientParams),
    responses((status = 200, description = "Every person of the client.", body = Vec<Member>)))]
async fn members(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
) -> Result<Json<Vec<Member>>, AppError> {
    Ok(Json(people::list_members(&state, &who).await?))
}

/// Change a person's role, or a member's employees
///
/// Their sessions see the change on their very next request.
#[utoipa::path(patch, path = "/api/v1/employees/clients/{client_id}/members/{user_id}", tag = "accounts",
    params(ClientParams, ("user_id" = UserId, Path, description = "The person (`usr_…`).")),
    request_body = MemberUpdate,
    responses((status = 200, description = "The person as changed.", body = Member)))]
async fn update_member(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    Path(params): Path<HashMap<String, String>>,
    ApiJson(req): ApiJson<MemberUpdate>,
) -> Result<Json<Member>, AppError> {
    let id = params.get("user_id").map_or("", String::as_str);
    Ok(Json(people::update_member(&state, &who, id, &req).await?))
}

/// Remove a person from the client
///
/// Their sessions end at once.
#[utoipa::path(delete, path = "/api/v1/employees/clients/{client_id}/members/{user_id}", tag = "accounts",
    params(ClientParams, ("user_id" = UserId, Path, description = "The person (`usr_…`).")),
    responses((status = 204, description = "Removed.")))]
async fn remove_member(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    Path(params): Path<HashMap<String, String>>,
) -> Result<StatusCode, AppError> {
    let id = params.get("user_id").map_or("", String::as_str);
    people::remove_member(&state, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Grant the operator support access
///
/// For `hours` (1 to 168) the platform's operator may read this client's employees, their memory
/// and usage — nothing else, and never talk to an employee. A new grant replaces the one in
/// force; each grant, revocation and read under it is in the audit trail.
#[utoipa::path(post, path = "/api/v1/employees/clients/{client_id}/support-access", tag = "accounts",
    params(ClientParams), request_body = NewSupportGrant,
    responses((status = 201, description = "The grant in force.", body = SupportGrant)))]
async fn grant_support(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    ApiJson(req): ApiJson<NewSupportGrant>,
) -> Result<(StatusCode, Json<SupportGrant>), AppError> {
    let granted = super::support::grant(&state, &who, &req).await?;
    Ok((StatusCode::CREATED, Json(granted)))
}

/// The support access in force
#[utoipa::path(get, path = "/api/v1/employees/clients/{client_id}/support-access", tag = "accounts",
    params(ClientParams),
    responses((status = 200, description = "The grant in force, if any.", body = SupportAccess)))]
async fn support_access(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
) -> Result<Json<SupportAccess>, AppError> {
    Ok(Json(super::support::current(&state, &who).await?))
}

/// End support access now
#[utoipa::path(delete, path = "/api/v1/employees/clients/{client_id}/support-access", tag = "accounts",
    params(ClientParams),
    responses((status = 204, description = "Ended: the operator's next request is refused.")))]
async fn revoke_support(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
) -> Result<StatusCode, AppError> {
    super::support::revoke(&state, &who).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's address (for throttling).
pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(throttle::client_ip(&parts.extensions)))
    }
}

/// A new session's answer: the person (201) and the cookie.
fn session_response(signed: SignedIn, secure: bool) -> Response {
    let max_age = (signed.person.session_expires_at - chrono::Utc::now()).num_seconds();
    let mut res = (StatusCode::CREATED, Json(signed.person)).into_response();
    if let Ok(v) = HeaderValue::from_str(&sessions::cookie(&signed.token, max_age, secure)) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

fn cleared(secure: bool) -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&sessions::cookie("", 0, secure)) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// Sign in
///
/// Starts a session in the `wf_session` cookie (HttpOnly, SameSite=Lax, Secure over HTTPS). A
/// wrong email and a wrong password get the same answer; attempts are throttled per address
/// and per account.
#[utoipa::path(post, path = "/api/v1/auth/sessions", tag = "accounts",
    request_body = SignIn, security(()),
    responses(
        (status = 201, description = "Signed in; the cookie is set.", body = Person,
         headers(("Set-Cookie" = String, description = "The session cookie."))),
        (status = 401, description = "The email or the password is wrong.", body = ErrorBody)))]
async fn sign_in(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    uri: Uri,
    ApiJson(req): ApiJson<SignIn>,
) -> Result<Response, AppError> {
    let signed = people::sign_in(&state, &ip, &req).await?;
    start_session(&state, signed, &headers, &uri).await
}

/// 201 with the new session's cookie; the session the browser held (if any) ends, so each
/// sign-in is a new session.
async fn start_session(
    state: &AppState,
    signed: SignedIn,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Response, AppError> {
    if let Some(old) = cookie(headers, SESSION_COOKIE) {
        sessions::close(state, old, false).await?;
    }
    Ok(session_response(signed, sessions::over_https(headers, uri)))
}

/// Accept an invite
///
/// Creates the person's account from the invite's one-time token and signs them in.
#[utoipa::path(post, path = "/api/v1/auth/invites/accept", tag = "accounts",
    request_body = AcceptInvite, security(()),
    responses(
        (status = 201, description = "The account exists and is signed in.", body = Person,
         headers(("Set-Cookie" = String, description = "The session cookie."))),
        (status = 409, description = "That email already has an account.", body = ErrorBody)))]
async fn accept_invite(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    uri: Uri,
    ApiJson(req): ApiJson<AcceptInvite>,
) -> Result<Response, AppError> {
    let signed = people::accept_invite(&state, &ip, &req).await?;
    start_session(&state, signed, &headers, &uri).await
}

/// The session the request carries, or 401.
fn current_person(parts: &Parts) -> Result<(String, sessions::SessionPerson), AppError> {
    let principal = parts
        .extensions
        .get::<super::principal::Principal>()
        .cloned()
        .unwrap_or_default();
    match (cookie(&parts.headers, SESSION_COOKIE), principal.person()) {
        (Some(token), Some(p)) => Ok((token.to_owned(), p.clone())),
        _ => Err(AppError::unauthorized(
            "not signed in (sign in with POST /api/v1/auth/sessions)",
        )),
    }
}

/// Extractor: the signed-in person and their session cookie.
pub struct SignedInPerson(String, sessions::SessionPerson);

impl<S: Send + Sync> FromRequestParts<S> for SignedInPerson {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let (token, person) = current_person(parts)?;
        Ok(SignedInPerson(token, person))
    }
}

/// The signed-in person
#[utoipa::path(get, path = "/api/v1/auth/sessions/current", tag = "accounts",
    security(("session" = [])),
    responses((status = 200, description = "The person and when the session ends.", body = Person)))]
async fn who_am_i(SignedInPerson(_, p): SignedInPerson) -> Json<Person> {
    Json(p.person())
}

/// Sign out
#[utoipa::path(delete, path = "/api/v1/auth/sessions/current", tag = "accounts",
    security(("session" = [])),
    responses((status = 204, description = "This session ended; the cookie is cleared.")))]
async fn sign_out(
    State(state): State<AppState>,
    SignedInPerson(token, p): SignedInPerson,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, AppError> {
    people::sign_out(&state, &token, Some(&p), false).await?;
    Ok(cleared(sessions::over_https(&headers, &uri)))
}

/// Sign out everywhere
#[utoipa::path(delete, path = "/api/v1/auth/sessions", tag = "accounts",
    security(("session" = [])),
    responses((status = 204, description = "Every session of this person ended.")))]
async fn sign_out_everywhere(
    State(state): State<AppState>,
    SignedInPerson(token, p): SignedInPerson,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, AppError> {
    people::sign_out(&state, &token, Some(&p), true).await?;
    Ok(cleared(sessions::over_https(&headers, &uri)))
}

/// Routes open to anyone (they are how a person gets a session).
pub const PUBLIC_ROUTES: &[&str] = &["/auth/sessions", "/auth/invites/accept"];

/// This feature's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create,
    list,
    revoke,
    invite,
    members,
    update_member,
    remove_member,
    sign_in,
    accept_invite,
    who_am_i,
    sign_out,
    sign_out_everywhere,
    grant_support,
    support_access,
    revoke_support
))]
pub struct Api;

pub fn router() -> ApiRoutes {
    ApiRoutes::new()
        .post(&format!("{CLIENT}/api-keys"), create)
        .get(&format!("{CLIENT}/api-keys"), list)
        .delete(&format!("{CLIENT}/api-keys/{{key_id}}"), revoke)
        .post(&format!("{CLIENT}/invites"), invite)
        .get(&format!("{CLIENT}/members"), members)
        .patch(&format!("{CLIENT}/members/{{user_id}}"), update_member)
        .delete(&format!("{CLIENT}/members/{{user_id}}"), remove_member)
        .post(&format!("{CLIENT}/support-access"), grant_support)
        .get(&format!("{CLIENT}/support-access"), support_access)
        .delete(&format!("{CLIENT}/support-access"), revoke_support)
        .post("/auth/sessions", sign_in)
        .delete("/auth/sessions", sign_out_everywhere)
        .get("/auth/sessions/current", who_am_i)
        .delete("/auth/sessions/current", sign_out)
        .post("/auth/invites/accept", accept_invite)
}
