//! People: signing in with email and password, invites, a client's members and their roles, and
//! the first operator. Passwords are argon2id hashes, checked on a bounded number of slots
//! (`keys::verify_slow_hash`); an unknown email costs a check against a stand-in hash, so it
//! answers like a wrong password.

use super::keys::verify_slow_hash;
use super::sessions;
use super::throttle;
use crate::accounts::{
    AcceptInvite, ClientPrincipal, CreatedInvite, Member, MemberUpdate, NewInvite, Person, Role,
    SignIn,
};
use crate::audit::server::service as audit;
use crate::audit::{Actor, AuditAction};
use crate::core::{AppError, ClientId, EmployeeId, FieldErrors, UserId};
use crate::platform::db::{decode_err, OperatorConn, TenantTx};
use crate::platform::error::internal;
use crate::platform::AppState;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::Row;
use std::sync::LazyLock;

pub const MIN_PASSWORD: usize = 12;
pub const MAX_PASSWORD: usize = 256;

/// A hash no password matches, checked when an email is unknown.
static STAND_IN: LazyLock<String> =
    LazyLock::new(|| hash_password_now("stand-in for an unknown account").unwrap_or_default());

fn hash_password_now(password: &str) -> Result<String, AppError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| internal("making a salt", &e))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| internal("hashing a password", &e))
}

/// An argon2id hash of `password`, on one of the slow-hash slots.
pub async fn hash_password(password: &str) -> Result<String, AppError> {
    let password = password.to_owned();
    verify_slow_hash(move || hash_password_now(&password)).await?
}

async fn password_matches(password: &str, hash: &str) -> Result<bool, AppError> {
    let (password, hash) = (password.to_owned(), hash.to_owned());
    verify_slow_hash(move || {
        PasswordHash::new(&hash).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    })
    .await
}

/// An email as stored: trimmed; refused when it is not an address.
pub fn check_email(raw: &str, fields: &mut FieldErrors) -> String {
    let email = raw.trim().to_owned();
    let ok = email.len() <= 320
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        });
    if !ok {
        fields.insert(
            "email".into(),
            "must be an email address, like name@example.com".into(),
        );
    }
    email
}

pub fn check_password(password: &str, fields: &mut FieldErrors) {
    let n = password.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&n) {
        fields.insert(
            "password".into(),
            format!("must be {MIN_PASSWORD} to {MAX_PASSWORD} characters"),
        );
    } else if password.contains('\0') {
        fields.insert("password".into(), "must not contain NUL characters".into());
    }
}

fn validation(fields: FieldErrors) -> Result<(), AppError> {
    if fields.is_empty() {
        return Ok(());
    }
    let message = fields
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join("; ");
    Err(AppError::Validation { message, fields })
}

fn wrong_credentials() -> AppError {
    AppError::unauthorized("wrong email or password")
}

/// A new session: its cookie value and the person it signs in.
pub struct SignedIn {
    pub token: String,
    pub person: Person,
}

/// Signs a person in: throttled per IP address and per account, each failure of a client's
/// person audited in its client's trail; a success opens a fresh session (never the one the
/// browser had) and is audited with it, in one transaction.
#[tracing::instrument(skip_all)]
pub async fn sign_in(state: &AppState, ip: &str, req: &SignIn) -> Result<SignedIn, AppError> {
    let email = req.email.trim().to_lowercase();
    let account = format!("person:{email}");
    throttle::before_attempt(state, ip, Some(&account)).await?;
    let mut conn = OperatorConn::acquire(&state.pool).await?;
    let row = sqlx::query(
        "SELECT user_id, client_id, role, password_hash, client_status, client_tier \
         FROM wf_sign_in_lookup($1)",
    )
    .bind(&email)
    .fetch_optional(&mut *conn)
    .await?;
    drop(conn);
    let hash = match &row {
        Some(r) => r.try_get::<String, _>("password_hash")?,
        None => STAND_IN.clone(),
    };
    let ok = password_matches(&req.password, &hash).await? && row.is_some();
    let Some(row) = row else {
        throttle::failed_attempt(state, ip, Some(&account)).await;
        return Err(wrong_credentials());
    };
    let raw_user: String = row.try_get("user_id")?;
    let user = UserId::parse(&raw_user).ok_or_else(|| decode_err("user id", &raw_user))?;
    let client = row
        .try_get::<Option<String>, _>("client_id")?
        .and_then(|c| ClientId::parse(&c));
    if !ok {
        throttle::failed_attempt(state, ip, Some(&account)).await;
        if let Some(client) = &client {
            let mut tx = TenantTx::begin(&state.pool, client).await?;
            audit::record(
                &mut tx,
                &Actor::Person(user.clone()),
                AuditAction::SessionSignInFailed,
                user.as_str(),
                None,
                None,
            )
            .await?;
            tx.commit().await?;
        }
        return Err(wrong_credentials());
    }
    if client.is_some()
        && row
            .try_get::<Option<String>, _>("client_status")?
            .as_deref()
            != Some("active")
    {
        return Err(AppError::Forbidden {
            message: "this client is suspended".into(),
        });
    }
    let token = sessions::new_token();
    match &client {
        Some(client) => {
            let mut tx = TenantTx::begin(&state.pool, client).await?;
            sessions::open(&mut tx, state, &token, &user).await?;
            audit::record(
                &mut tx,
                &Actor::Person(user.clone()),
                AuditAction::SessionSignIn,
                user.as_str(),
                None,
                None,
            )
            .await?;
            tx.commit().await?;
        }
        None => {
            let mut conn = OperatorConn::acquire(&state.pool).await?;
            sessions::open(&mut conn, state, &token, &user).await?;
        }
    }
    signed_in(state, token).await
}

async fn signed_in(state: &AppState, token: String) -> Result<SignedIn, AppError> {
    let person = sessions::resolve(state, &token)
        .await?
        .ok_or_else(|| internal("opening a session", &"the new session did not resolve"))?
        .person();
    Ok(SignedIn { token, person })
}

/// Ends the session (or every session of its person), audited for a client's person.
pub async fn sign_out(
    state: &AppState,
    token: &str,
    who: Option<&sessions::SessionPerson>,
    everywhere: bool,
) -> Result<(), AppError> {
    if let Some(p) = who {
        if let Some(client) = &p.client_id {
            let mut tx = TenantTx::begin(&state.pool, client).await?;
            audit::record(
                &mut tx,
                &Actor::Person(p.user_id.clone()),
                AuditAction::SessionSignOut,
                p.user_id.as_str(),
                None,
                Some(json!({ "everywhere": everywhere })),
            )
            .await?;
            tx.commit().await?;
        }
    }
    sessions::close(state, token, everywhere).await
}

/// Accepts an invite: the person's account (email and password), a session for it, and the
/// audit record, in the inviting client's transaction.
#[tracing::instrument(skip_all)]
pub async fn accept_invite(
    state: &AppState,
    ip: &str,
    req: &AcceptInvite,
) -> Result<SignedIn, AppError> {
    throttle::before_attempt(state, ip, None).await?;
    let mut fields = FieldErrors::new();
    let email = check_email(&req.email, &mut fields);
    check_password(&req.password, &mut fields);
    validation(fields)?;
    let invalid = || AppError::NotFound {
        message: "this invite link is not valid: it was used, has expired or never existed".into(),
    };
    let token = req.token.trim();
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        throttle::failed_attempt(state, ip, None).await;
        return Err(invalid());
    }
    let digest = state.secrets.token_digest("invite", token);
    let mut conn = OperatorConn::acquire(&state.pool).await?;
    let client: Option<String> = sqlx::query_scalar("SELECT wf_invite_client($1)")
        .bind(&digest)
        .fetch_one(&mut *conn)
        .await?;
    drop(conn);
    let Some(client) = client.and_then(|c| ClientId::parse(&c)) else {
        throttle::failed_attempt(state, ip, None).await;
        return Err(invalid());
    };
    let hash = hash_password(&req.password).await?;
    let user = UserId::generate();
    let mut tx = TenantTx::begin(&state.pool, &client).await?;
    let row = sqlx::query("SELECT outcome, role FROM wf_invite_accept($1, $2, $3, $4)")
        .bind(&digest)
        .bind(user.as_str())
        .bind(&email)
        .bind(&hash)
        .fetch_one(&mut *tx)
        .await?;
    let outcome: String = row.try_get("outcome")?;
    match outcome.as_str() {
        "ok" => {}
        "email_taken" => {
            return Err(AppError::field(
                "email",
                "an account with this email already exists; sign in instead",
            ))
        }
        _ => return Err(invalid()),
    }
    let role: Option<String> = row.try_get("role")?;
    audit::record(
        &mut tx,
        &Actor::Person(user.clone()),
        AuditAction::InviteAccept,
        user.as_str(),
        None,
        Some(json!({ "role": role })),
    )
    .await?;
    let session = sessions::new_token();
    sessions::open(&mut tx, state, &session, &user).await?;
    tx.commit().await?;
    signed_in(state, session).await
}

/// Employee ids of the caller's client that exist, or 422 naming the first that does not.
async fn own_employees(
    tx: &mut TenantTx,
    who: &ClientPrincipal,
    raw: &[String],
) -> Result<Vec<EmployeeId>, AppError> {
    let mut ids = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let id = super::principal::employee_id(who, r)
            .map_err(|_| AppError::field(format!("employee_ids[{i}]"), "no such employee"))?;
        ids.push(id);
    }
    let raw_ids: Vec<&str> = ids.iter().map(EmployeeId::as_str).collect();
    let found: Vec<String> = sqlx::query_scalar("SELECT id FROM employees WHERE id = ANY($1)")
        .bind(&raw_ids)
        .fetch_all(&mut **tx)
        .await?;
    if let Some((i, _)) = raw_ids
        .iter()
        .enumerate()
        .find(|(_, id)| !found.iter().any(|f| f == *id))
    {
        return Err(AppError::field(
            format!("employee_ids[{i}]"),
            "no such employee",
        ));
    }
    ids.dedup();
    Ok(ids)
}

fn only_owners(what: &str) -> AppError {
    AppError::Forbidden {
        message: format!("only an owner may {what}"),
    }
}

/// `POST …/invites`: a one-time link for a new person of the caller's client.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn create_invite(
    state: &AppState,
    who: &ClientPrincipal,
    req: &NewInvite,
) -> Result<CreatedInvite, AppError> {
    match req.role {
        Role::Operator => {
            return Err(AppError::field(
                "role",
                "must be one of: owner, admin, member",
            ))
        }
        Role::Owner | Role::Admin if !who.may_grant_roles() => {
            return Err(only_owners("invite owners and admins"))
        }
        Role::Owner | Role::Admin if !req.employee_ids.is_empty() => {
            return Err(AppError::field(
                "employee_ids",
                "only members are given employees; owners and admins reach them all",
            ))
        }
        _ => {}
    }
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let employees = own_employees(&mut tx, who, &req.employee_ids).await?;
    let token = sessions::new_token();
    let id = hex::encode(rand::random::<[u8; 8]>());
    let hours = state.settings.file.accounts.invite_hours.max(1);
    let raw: Vec<String> = employees.iter().map(|e| e.as_str().to_owned()).collect();
    let expires: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO invites (client_id, id, token_digest, role, employee_ids, created_by, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(hours => $7)) \
         RETURNING expires_at",
    )
    .bind(who.client_id.as_str())
    .bind(&id)
    .bind(state.secrets.token_digest("invite", &token))
    .bind(req.role.as_str())
    .bind(&raw)
    .bind(who.actor().to_string())
    .bind(i32::try_from(hours).unwrap_or(i32::MAX))
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        &who.actor(),
        AuditAction::InviteCreate,
        &id,
        None,
        Some(json!({ "role": req.role, "employee_ids": raw, "expires_at": expires })),
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedInvite {
        id,
        role: req.role,
        employee_ids: raw,
        url: format!("/invite#{token}"),
        token,
        expires_at: expires,
    })
}

const MEMBER_COLUMNS: &str = "SELECT u.id, u.email, u.role, u.created_at, u.last_sign_in_at, \
     ARRAY(SELECT m.employee_id::text FROM member_employees m WHERE m.user_id = u.id ORDER BY 1) \
     AS employee_ids FROM users u";

fn member_row(row: &sqlx::postgres::PgRow) -> Result<Member, AppError> {
    let raw_id: String = row.try_get("id")?;
    let raw_role: String = row.try_get("role")?;
    Ok(Member {
        id: UserId::parse(&raw_id).ok_or_else(|| decode_err("user id", &raw_id))?,
        email: row.try_get("email")?,
        role: Role::parse(&raw_role).ok_or_else(|| decode_err("role", &raw_role))?,
        employee_ids: row.try_get("employee_ids")?,
        created_at: row.try_get("created_at")?,
        last_sign_in_at: row.try_get("last_sign_in_at")?,
    })
}

/// `GET …/members`: the client's people.
pub async fn list_members(
    state: &AppState,
    who: &ClientPrincipal,
) -> Result<Vec<Member>, AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{MEMBER_COLUMNS} ORDER BY u.created_at, u.id"
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.iter().map(member_row).collect()
}

async fn member(tx: &mut TenantTx, raw_id: &str) -> Result<Member, AppError> {
    let id = UserId::parse(raw_id).ok_or_else(|| AppError::not_found("member"))?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{MEMBER_COLUMNS} WHERE u.id = $1 FOR UPDATE OF u"
    )))
    .bind(id.as_str())
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| AppError::not_found("member"))?;
    member_row(&row)
}

/// Refuses to leave the client without an owner.
async fn keeps_an_owner(tx: &mut TenantTx, leaving: &UserId) -> Result<(), AppError> {
    let others: i64 =
        sqlx::query_scalar("SELECT count(*) FROM users WHERE role = 'owner' AND id <> $1")
            .bind(leaving.as_str())
            .fetch_one(&mut **tx)
            .await?;
    if others == 0 {
        return Err(AppError::conflict(
            "a client keeps at least one owner: make someone else an owner first",
        ));
    }
    Ok(())
}

/// `PATCH …/members/{user_id}`: a new role (owners only), or a member's employees.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn update_member(
    state: &AppState,
    who: &ClientPrincipal,
    raw_id: &str,
    req: &MemberUpdate,
) -> Result<Member, AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let before = member(&mut tx, raw_id).await?;
    if req.role.is_none() && req.employee_ids.is_none() {
        return Err(AppError::field(
            "role",
            "say what to change: a new `role`, or a member's `employee_ids`",
        ));
    }
    let role = req.role.unwrap_or(before.role);
    if role == Role::Operator {
        return Err(AppError::field(
            "role",
            "must be one of: owner, admin, member",
        ));
    }
    if role != before.role {
        if !who.may_grant_roles() {
            return Err(only_owners("change roles"));
        }
        if before.role == Role::Owner {
            keeps_an_owner(&mut tx, &before.id).await?;
        }
        sqlx::query("UPDATE users SET role = $2 WHERE id = $1")
            .bind(before.id.as_str())
            .bind(role.as_str())
            .execute(&mut *tx)
            .await?;
    } else if before.role != Role::Member && !who.may_grant_roles() {
        return Err(only_owners("change owners and admins"));
    }
    if role != Role::Member {
        if req.employee_ids.as_ref().is_some_and(|e| !e.is_empty()) {
            return Err(AppError::field(
                "employee_ids",
                "only members are given employees; owners and admins reach them all",
            ));
        }
        sqlx::query("DELETE FROM member_employees WHERE user_id = $1")
            .bind(before.id.as_str())
            .execute(&mut *tx)
            .await?;
    } else if let Some(raw) = &req.employee_ids {
        let ids = own_employees(&mut tx, who, raw).await?;
        let raw_ids: Vec<&str> = ids.iter().map(EmployeeId::as_str).collect();
        sqlx::query("DELETE FROM member_employees WHERE user_id = $1")
            .bind(before.id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO member_employees (client_id, user_id, employee_id) \
             SELECT $1, $2, unnest($3::text[])",
        )
        .bind(who.client_id.as_str())
        .bind(before.id.as_str())
        .bind(&raw_ids)
        .execute(&mut *tx)
        .await?;
    }
    let after = member(&mut tx, raw_id).await?;
    audit::record(
        &mut tx,
        &who.actor(),
        AuditAction::MemberUpdate,
        after.id.as_str(),
        Some(json!({ "role": before.role, "employee_ids": before.employee_ids })),
        Some(json!({ "role": after.role, "employee_ids": after.employee_ids })),
    )
    .await?;
    let digests = sessions::of_client(&mut tx, Some(&after.id)).await?;
    tx.commit().await?;
    // The person's next request reads the new role from Postgres.
    sessions::forget(state, &digests).await;
    Ok(after)
}

/// `DELETE …/members/{user_id}`: removes a person (owners and admins only by an owner); their
/// sessions end at once.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn remove_member(
    state: &AppState,
    who: &ClientPrincipal,
    raw_id: &str,
) -> Result<(), AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let before = member(&mut tx, raw_id).await?;
    if before.role != Role::Member && !who.may_grant_roles() {
        return Err(only_owners("remove owners and admins"));
    }
    if before.role == Role::Owner {
        keeps_an_owner(&mut tx, &before.id).await?;
    }
    let digests = sessions::of_client(&mut tx, Some(&before.id)).await?;
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(before.id.as_str())
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        &who.actor(),
        AuditAction::MemberRemove,
        before.id.as_str(),
        Some(json!({ "email_sha256": hex::encode(<sha2::Sha256 as sha2::Digest>::digest(before.email.as_bytes())), "role": before.role })),
        None,
    )
    .await?;
    tx.commit().await?;
    sessions::forget(state, &digests).await;
    Ok(())
}

/// The first operator, made at start-up while there is none: from `WORKFORCE_ADMIN_EMAIL` and
/// `WORKFORCE_ADMIN_PASSWORD`, or with a generated password printed once on standard output.
pub async fn ensure_operator(
    state: &AppState,
    email: Option<&str>,
    password: Option<&str>,
) -> Result<(), AppError> {
    let mut conn = OperatorConn::acquire(&state.pool).await?;
    let mut fields = FieldErrors::new();
    let email = check_email(
        email.unwrap_or("operator@localhost.localdomain"),
        &mut fields,
    );
    let (password, generated) = match password {
        Some(p) => (p.to_owned(), false),
        None => (hex::encode(rand::random::<[u8; 12]>()), true),
    };
    check_password(&password, &mut fields);
    if !fields.is_empty() {
        return Err(internal(
            "the first operator",
            &format!("WORKFORCE_ADMIN_EMAIL / WORKFORCE_ADMIN_PASSWORD: {fields:?}"),
        ));
    }
    let hash = hash_password(&password).await?;
    let made: bool = sqlx::query_scalar("SELECT wf_operator_ensure($1, $2, $3)")
        .bind(UserId::generate().as_str())
        .bind(&email)
        .bind(&hash)
        .fetch_one(&mut *conn)
        .await?;
    if made {
        tracing::info!(email, "created the first operator");
        if generated {
            // Printed once, never logged: the only place this password ever appears.
            println!(
                "\nThe first operator account was created.\n  email:    {email}\n  password: {password}\nKeep it now; it is not shown again.\n"
            );
        }
    }
    Ok(())
}
