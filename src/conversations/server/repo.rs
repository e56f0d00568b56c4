//! The exchanges table (`employee_interactions`): where a turn is stored, and how a stored one
//! is read back. Memory reads the same rows through `InteractionRecord` and its column list.

use crate::conversations::InteractionStatus;
use crate::core::sources::SourceRecord;
use crate::core::{EmployeeId, InteractionId};
use crate::platform::db::TenantTx;
use crate::tools::ToolCallRecord;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::Row;

/// A stored exchange.
#[derive(Debug, Clone)]
pub struct InteractionRecord {
    pub interaction_id: InteractionId,
    pub message: String,
    pub response: String,
    pub model: Option<String>,
    pub prompt_tokens: i32,
    pub completion_tokens: i32,
    pub latency_ms: i32,
    pub memories_used: Vec<InteractionId>,
    pub timestamp: DateTime<Utc>,
    /// The person stopped the answer while it was being written.
    pub stopped: bool,
    /// The tools called while answering.
    pub tool_calls: Json<Vec<ToolCallRecord>>,
    pub tool_rounds: i16,
    /// The passages of the client's knowledge the prompt carried.
    pub sources: Json<Vec<SourceRecord>>,
}

/// The columns `interaction_from_row` reads (never the vector), for the statements memory
/// assembles at run time; `interaction_by_idempotency_key` names the same ones.
macro_rules! interaction_columns {
    () => {
        "SELECT interaction_id, message, response, model, prompt_tokens, completion_tokens, \
         latency_ms, memories_used, timestamp, stopped, tool_calls, tool_rounds, sources"
    };
}

pub(crate) use interaction_columns;

pub fn interaction_from_row(r: &PgRow) -> Result<InteractionRecord, sqlx::Error> {
    Ok(InteractionRecord {
        interaction_id: r.try_get("interaction_id")?,
        message: r.try_get("message")?,
        response: r.try_get("response")?,
        model: r.try_get("model")?,
        prompt_tokens: r.try_get("prompt_tokens")?,
        completion_tokens: r.try_get("completion_tokens")?,
        latency_ms: r.try_get("latency_ms")?,
        memories_used: r.try_get("memories_used")?,
        timestamp: r.try_get("timestamp")?,
        stopped: r.try_get("stopped")?,
        tool_calls: r.try_get("tool_calls")?,
        tool_rounds: r.try_get("tool_rounds")?,
        sources: r.try_get("sources")?,
    })
}

pub struct NewInteraction<'a> {
    pub employee: &'a EmployeeId,
    pub interaction_id: &'a InteractionId,
    pub message: &'a str,
    pub response: &'a str,
    pub context: Value,
    pub status: InteractionStatus,
    pub model: Option<&'a str>,
    pub task_type: Option<&'a str>,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub latency_ms: u64,
    pub error: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
    pub memories_used: &'a [InteractionId],
    pub stopped: bool,
    /// The start of the reply before this exchange (its memory unit's context).
    pub prior_reply: &'a str,
    /// The conversation's own time for it; the time of the insert when `None`.
    pub occurred_at: Option<DateTime<Utc>>,
    pub tool_calls: &'a [ToolCallRecord],
    pub tool_rounds: u32,
    pub sources: &'a [SourceRecord],
}

/// `sqlx::query!` of an exchange's insert, `$sql` taking the columns as $1…$21 (checked SQL
/// is a literal, so the two statements of `insert_interaction` share their arguments here).
macro_rules! insert_query {
    ($sql:literal, $client:expr, $i:expr, $memories_used:expr) => {
        sqlx::query!(
            $sql,
            $client.as_str(),
            $i.employee.as_str(),
            $i.interaction_id.as_str(),
            $i.message,
            $i.response,
            $i.context,
            $i.status.as_str(),
            $i.model,
            $i.task_type,
            $i.prompt_tokens as i32,
            $i.completion_tokens as i32,
            $i.latency_ms.min(i32::MAX as u64) as i32,
            $i.error,
            $i.idempotency_key,
            $memories_used as &[&str],
            $i.stopped,
            $i.prior_reply,
            $i.occurred_at,
            Json($i.tool_calls) as _,
            $i.tool_rounds.min(i16::MAX as u32) as i16,
            Json($i.sources) as _,
        )
    };
}

/// Stores an exchange; returns its timestamp and, for an answered one, its number among the
/// employee's answered exchanges (`employee_turn_counts`, which memory's recent list in Redis
/// is checked against). Counting takes the employee's counter row lock before the insert, and
/// the timestamp is the time of the insert: an employee's answered exchanges are numbered in the
/// order of their timestamps. One statement either way.
pub async fn insert_interaction(
    tx: &mut TenantTx,
    i: NewInteraction<'_>,
) -> Result<(DateTime<Utc>, Option<i64>), sqlx::Error> {
    let client = tx.client().clone();
    let memories_used: Vec<&str> = i.memories_used.iter().map(InteractionId::as_str).collect();
    if i.status != InteractionStatus::Completed {
        let r = insert_query!(
            "INSERT INTO employee_interactions (client_id, employee_id, interaction_id, message, response, context,
                 status, model, task_type, prompt_tokens, completion_tokens, latency_ms, error, idempotency_key,
                 memories_used, stopped, prior_reply, timestamp, tool_calls, tool_rounds, sources)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                     coalesce($18, clock_timestamp()), $19, $20, $21)
             RETURNING timestamp",
            client,
            i,
            &memories_used
        )
        .fetch_one(&mut **tx)
        .await?;
        return Ok((r.timestamp, None));
    }
    let r = insert_query!(
        r#"WITH n AS (
             INSERT INTO employee_turn_counts (client_id, employee_id, answered) VALUES ($1, $2, 1)
             ON CONFLICT (client_id, employee_id) DO UPDATE SET answered = employee_turn_counts.answered + 1
             RETURNING answered),
           i AS (
             INSERT INTO employee_interactions (client_id, employee_id, interaction_id, message, response,
                 context, status, model, task_type, prompt_tokens, completion_tokens, latency_ms, error,
                 idempotency_key, memories_used, stopped, prior_reply, timestamp, tool_calls, tool_rounds,
                 sources)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                    coalesce($18, clock_timestamp()), $19, $20, $21 FROM n
             RETURNING timestamp)
         SELECT i.timestamp AS "timestamp!", n.answered AS "answered!" FROM i, n"#,
        client,
        i,
        &memories_used
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok((r.timestamp, Some(r.answered)))
}

pub async fn interaction_by_idempotency_key(
    tx: &mut TenantTx,
    employee: &EmployeeId,
    key: &str,
) -> Result<Option<InteractionRecord>, sqlx::Error> {
    let client = tx.client().clone();
    // The columns of `interaction_columns!`, written out: a checked query's text is a literal.
    sqlx::query_as!(
        InteractionRecord,
        r#"SELECT interaction_id AS "interaction_id: InteractionId", message, response, model,
                prompt_tokens, completion_tokens, latency_ms,
                memories_used AS "memories_used: Vec<InteractionId>", timestamp, stopped,
                tool_calls AS "tool_calls: Json<Vec<ToolCallRecord>>", tool_rounds,
                sources AS "sources: Json<Vec<SourceRecord>>"
         FROM employee_interactions WHERE client_id = $1 AND employee_id = $2 AND idempotency_key = $3"#,
        client.as_str(),
        employee.as_str(),
        key,
    )
    .fetch_optional(&mut **tx)
    .await
}

/// Claims `key` for a turn about to be answered, unless another request holds it (a claim
/// left by a crashed instance lapses after `ttl_secs`). True when this request holds it now.
pub async fn claim_key(
    tx: &mut TenantTx,
    employee: &EmployeeId,
    key: &str,
    ttl_secs: f64,
) -> Result<bool, sqlx::Error> {
    let client = tx.client().clone();
    let claimed = sqlx::query_scalar!(
        "INSERT INTO turn_claims (client_id, employee_id, idempotency_key, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))
         ON CONFLICT (client_id, employee_id, idempotency_key)
         DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE turn_claims.expires_at < now()
         RETURNING 1 AS claimed",
        client.as_str(),
        employee.as_str(),
        key,
        ttl_secs,
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(claimed.is_some())
}

/// Releases the claim on `key` (the turn is stored, answered or not).
pub async fn release_key(
    tx: &mut TenantTx,
    employee: &EmployeeId,
    key: &str,
) -> Result<(), sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query!(
        "DELETE FROM turn_claims WHERE client_id = $1 AND employee_id = $2 AND idempotency_key = $3",
        client.as_str(),
        employee.as_str(),
        key,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Whether a turn under `key` is being answered now (its claim is held and has not lapsed).
pub async fn key_in_flight(
    tx: &mut TenantTx,
    employee: &EmployeeId,
    key: &str,
) -> Result<bool, sqlx::Error> {
    let client = tx.client().clone();
    let held = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM turn_claims
             WHERE client_id = $1 AND employee_id = $2 AND idempotency_key = $3 AND expires_at > now())
           AS "held!""#,
        client.as_str(),
        employee.as_str(),
        key,
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(held)
}
