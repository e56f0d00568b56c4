//! Repository functions. Each takes `&mut PgConnection` — in practice the inside of a tenant
//! transaction — never a pool, so a query outside a tenant is hard to write by accident.

use crate::domain::*;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::types::Json;
use sqlx::{PgConnection, Postgres, Row};

fn decode_err(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unexpected {what} '{value}' in the database").into())
}

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

fn employee_from_row(row: &PgRow) -> Result<Employee, sqlx::Error> {
    let id: String = row.try_get("id")?;
    let client_id: String = row.try_get("client_id")?;
    let status: String = row.try_get("status")?;
    let Json(personality): Json<PersonalityConfig> = row.try_get("personality")?;
    let Json(model_preferences): Json<ModelPreferences> = row.try_get("model_preferences")?;
    Ok(Employee {
        id: EmployeeId::parse(&id).ok_or_else(|| decode_err("employee id", &id))?,
        client_id: ClientId::parse(&client_id)
            .ok_or_else(|| decode_err("client id", &client_id))?,
        name: row.try_get("name")?,
        role: row.try_get("role")?,
        industry: row.try_get("industry")?,
        expertise_areas: row.try_get("expertise_areas")?,
        personality,
        model_preferences,
        tool_access: row.try_get("tool_access")?,
        knowledge_sources: row.try_get("knowledge_sources")?,
        status: EmployeeStatus::parse(&status)
            .ok_or_else(|| decode_err("employee status", &status))?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        archived_at: row.try_get("archived_at")?,
    })
}

// ---- clients ----------------------------------------------------------------------------------

pub async fn insert_client(conn: &mut PgConnection, c: &Client) -> Result<(), sqlx::Error> {
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
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get_client(
    conn: &mut PgConnection,
    id: &ClientId,
) -> Result<Option<Client>, sqlx::Error> {
    let row = sqlx::query("SELECT * FROM clients WHERE id = $1")
        .bind(id.as_str())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(client_from_row).transpose()
}

/// Every client, through the operator path (`wf_list_clients`, SECURITY DEFINER).
pub async fn list_all_clients(conn: &mut PgConnection) -> Result<Vec<Client>, sqlx::Error> {
    let rows = sqlx::query("SELECT * FROM wf_list_clients()")
        .fetch_all(conn)
        .await?;
    rows.iter().map(client_from_row).collect()
}

// ---- API keys ---------------------------------------------------------------------------------

pub async fn insert_api_key(
    conn: &mut PgConnection,
    client: &ClientId,
    key_id: &str,
    hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO api_keys (client_id, id, key_hash) VALUES ($1, $2, $3)")
        .bind(client.as_str())
        .bind(key_id)
        .bind(hash)
        .execute(conn)
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
    conn: &mut PgConnection,
    key_id: &str,
) -> Result<Option<KeyRecord>, sqlx::Error> {
    let row = sqlx::query("SELECT client_id, key_hash, client_status FROM wf_lookup_api_key($1)")
        .bind(key_id)
        .fetch_optional(conn)
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

// ---- employees --------------------------------------------------------------------------------

/// Employees that count against `max_employees` (archived ones do not).
pub async fn count_live_employees(
    conn: &mut PgConnection,
    client: &ClientId,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM employees WHERE client_id = $1 AND status <> 'archived'",
    )
    .bind(client.as_str())
    .fetch_one(conn)
    .await
}

/// Serialises employee creation per client for the rest of the transaction, so two concurrent
/// creations cannot both pass the limit check.
pub async fn lock_client_for_creation(
    conn: &mut PgConnection,
    client: &ClientId,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))")
        .bind(client.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn insert_employee(conn: &mut PgConnection, e: &Employee) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO employees (client_id, id, name, role, industry, expertise_areas, personality,
             model_preferences, tool_access, knowledge_sources, status, created_at, updated_at, archived_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(e.client_id.as_str())
    .bind(e.id.as_str())
    .bind(&e.name)
    .bind(&e.role)
    .bind(&e.industry)
    .bind(&e.expertise_areas)
    .bind(Json(&e.personality))
    .bind(Json(&e.model_preferences))
    .bind(&e.tool_access)
    .bind(&e.knowledge_sources)
    .bind(e.status.as_str())
    .bind(e.created_at)
    .bind(e.updated_at)
    .bind(e.archived_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Loads one employee; `for_update` locks the row until the transaction ends.
pub async fn get_employee(
    conn: &mut PgConnection,
    client: &ClientId,
    id: &EmployeeId,
    for_update: bool,
) -> Result<Option<Employee>, sqlx::Error> {
    let sql = if for_update {
        "SELECT * FROM employees WHERE client_id = $1 AND id = $2 FOR UPDATE"
    } else {
        "SELECT * FROM employees WHERE client_id = $1 AND id = $2"
    };
    let row = sqlx::query(sql)
        .bind(client.as_str())
        .bind(id.as_str())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(employee_from_row).transpose()
}

pub async fn list_employees(
    conn: &mut PgConnection,
    client: &ClientId,
    status: Option<EmployeeStatus>,
) -> Result<Vec<Employee>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT * FROM employees WHERE client_id = $1 AND ($2::text IS NULL OR status = $2)
         ORDER BY created_at DESC, id",
    )
    .bind(client.as_str())
    .bind(status.map(EmployeeStatus::as_str))
    .fetch_all(conn)
    .await?;
    rows.iter().map(employee_from_row).collect()
}

/// Writes every mutable field of `e` and returns the stored row.
pub async fn update_employee(
    conn: &mut PgConnection,
    e: &Employee,
) -> Result<Employee, sqlx::Error> {
    let row = sqlx::query(
        "UPDATE employees SET name = $3, role = $4, industry = $5, expertise_areas = $6, personality = $7,
             model_preferences = $8, tool_access = $9, knowledge_sources = $10, status = $11,
             archived_at = $12, updated_at = now()
         WHERE client_id = $1 AND id = $2
         RETURNING *",
    )
    .bind(e.client_id.as_str())
    .bind(e.id.as_str())
    .bind(&e.name)
    .bind(&e.role)
    .bind(&e.industry)
    .bind(&e.expertise_areas)
    .bind(Json(&e.personality))
    .bind(Json(&e.model_preferences))
    .bind(&e.tool_access)
    .bind(&e.knowledge_sources)
    .bind(e.status.as_str())
    .bind(e.archived_at)
    .fetch_one(conn)
    .await?;
    employee_from_row(&row)
}

/// Deletes the employee; its interactions (and their vectors) and status history go with it.
pub async fn delete_employee(
    conn: &mut PgConnection,
    client: &ClientId,
    id: &EmployeeId,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM employees WHERE client_id = $1 AND id = $2")
        .bind(client.as_str())
        .bind(id.as_str())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn insert_status_change(
    conn: &mut PgConnection,
    e: &Employee,
    from: Option<EmployeeStatus>,
    actor: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO employee_status_history (client_id, employee_id, from_status, to_status, actor)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(e.client_id.as_str())
    .bind(e.id.as_str())
    .bind(from.map(EmployeeStatus::as_str))
    .bind(e.status.as_str())
    .bind(actor)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct StatusChange {
    pub from_status: Option<String>,
    pub to_status: String,
    pub actor: String,
    pub changed_at: DateTime<Utc>,
}

pub async fn status_history(
    conn: &mut PgConnection,
    client: &ClientId,
    id: &EmployeeId,
) -> Result<Vec<StatusChange>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT from_status, to_status, actor, changed_at FROM employee_status_history
         WHERE client_id = $1 AND employee_id = $2 ORDER BY changed_at, id",
    )
    .bind(client.as_str())
    .bind(id.as_str())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(StatusChange {
                from_status: r.try_get("from_status")?,
                to_status: r.try_get("to_status")?,
                actor: r.try_get("actor")?,
                changed_at: r.try_get("changed_at")?,
            })
        })
        .collect()
}

// ---- audit ------------------------------------------------------------------------------------

pub struct AuditEvent<'a> {
    pub client: &'a ClientId,
    pub actor: &'a str,
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: &'a str,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

pub async fn insert_audit(conn: &mut PgConnection, ev: AuditEvent<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_events (client_id, actor, action, entity_type, entity_id, before, after)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(ev.client.as_str())
    .bind(ev.actor)
    .bind(ev.action)
    .bind(ev.entity_type)
    .bind(ev.entity_id)
    .bind(ev.before)
    .bind(ev.after)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AuditRecord {
    pub actor: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub created_at: DateTime<Utc>,
}

pub async fn audit_for_entity(
    conn: &mut PgConnection,
    client: &ClientId,
    entity_id: &str,
) -> Result<Vec<AuditRecord>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT actor, action, entity_type, entity_id, before, after, created_at FROM audit_events
         WHERE client_id = $1 AND entity_id = $2 ORDER BY id",
    )
    .bind(client.as_str())
    .bind(entity_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditRecord {
                actor: r.try_get("actor")?,
                action: r.try_get("action")?,
                entity_type: r.try_get("entity_type")?,
                entity_id: r.try_get("entity_id")?,
                before: r.try_get("before")?,
                after: r.try_get("after")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

// ---- interactions -----------------------------------------------------------------------------

/// A stored exchange.
#[derive(Debug, Clone)]
pub struct InteractionRecord {
    pub interaction_id: String,
    pub message: String,
    pub response: String,
    pub model: Option<String>,
    pub prompt_tokens: i32,
    pub completion_tokens: i32,
    pub latency_ms: i32,
    pub memories_used: Vec<String>,
    pub timestamp: DateTime<Utc>,
}

/// The columns `interaction_from_row` reads (never the vector).
macro_rules! interaction_columns {
    () => {
        "SELECT interaction_id, message, response, model, prompt_tokens, completion_tokens, \
         latency_ms, memories_used, timestamp"
    };
}

fn interaction_from_row(r: &PgRow) -> Result<InteractionRecord, sqlx::Error> {
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
    })
}

pub struct NewInteraction<'a> {
    pub client: &'a ClientId,
    pub employee: &'a EmployeeId,
    pub interaction_id: &'a str,
    pub message: &'a str,
    pub response: &'a str,
    pub context: Value,
    pub status: &'a str,
    pub model: Option<&'a str>,
    pub task_type: Option<&'a str>,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub latency_ms: u64,
    pub error: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
    pub memories_used: &'a [String],
}

/// Stores an exchange; returns its timestamp.
pub async fn insert_interaction(
    conn: &mut PgConnection,
    i: NewInteraction<'_>,
) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO employee_interactions (client_id, employee_id, interaction_id, message, response, context,
             status, model, task_type, prompt_tokens, completion_tokens, latency_ms, error, idempotency_key, memories_used)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         RETURNING timestamp",
    )
    .bind(i.client.as_str())
    .bind(i.employee.as_str())
    .bind(i.interaction_id)
    .bind(i.message)
    .bind(i.response)
    .bind(i.context)
    .bind(i.status)
    .bind(i.model)
    .bind(i.task_type)
    .bind(i.prompt_tokens as i32)
    .bind(i.completion_tokens as i32)
    .bind(i.latency_ms.min(i32::MAX as u64) as i32)
    .bind(i.error)
    .bind(i.idempotency_key)
    .bind(i.memories_used)
    .fetch_one(conn)
    .await
}

pub async fn interaction_by_idempotency_key(
    conn: &mut PgConnection,
    client: &ClientId,
    employee: &EmployeeId,
    key: &str,
) -> Result<Option<InteractionRecord>, sqlx::Error> {
    let row = sqlx::query(
        concat!(
            interaction_columns!(),
            " FROM employee_interactions WHERE client_id = $1 AND employee_id = $2 AND idempotency_key = $3"
        ),
    )
    .bind(client.as_str())
    .bind(employee.as_str())
    .bind(key)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(interaction_from_row).transpose()
}

/// The newest completed exchanges of employee $2, newest first; the argument is the parameter
/// holding how many.
macro_rules! recent_sql {
    ($limit:literal) => {
        concat!(
            interaction_columns!(),
            " FROM employee_interactions
             WHERE client_id = $1 AND employee_id = $2 AND status = 'completed'
             ORDER BY timestamp DESC, id DESC LIMIT ",
            $limit
        )
    };
}

/// The newest completed exchanges, newest first.
pub async fn recent_interactions(
    conn: &mut PgConnection,
    client: &ClientId,
    employee: &EmployeeId,
    limit: u32,
) -> Result<Vec<InteractionRecord>, sqlx::Error> {
    let rows = sqlx::query(recent_sql!("$3"))
        .bind(client.as_str())
        .bind(employee.as_str())
        .bind(i64::from(limit))
        .fetch_all(conn)
        .await?;
    rows.iter().map(interaction_from_row).collect()
}

/// Token usage summed per model, for one employee or (with `employee` `None`) the whole client.
pub async fn usage_by_model(
    conn: &mut PgConnection,
    client: &ClientId,
    employee: Option<&EmployeeId>,
) -> Result<Vec<ModelUsage>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT coalesce(model, '') AS model,
                count(*) FILTER (WHERE status = 'completed') AS completed,
                count(*) FILTER (WHERE status = 'failed') AS failed,
                coalesce(sum(prompt_tokens), 0)::bigint AS prompt_tokens,
                coalesce(sum(completion_tokens), 0)::bigint AS completion_tokens
         FROM employee_interactions
         WHERE client_id = $1 AND ($2::text IS NULL OR employee_id = $2)
         GROUP BY 1 ORDER BY 1",
    )
    .bind(client.as_str())
    .bind(employee.map(EmployeeId::as_str))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ModelUsage {
                model: r.try_get("model")?,
                completed: r.try_get("completed")?,
                failed: r.try_get("failed")?,
                prompt_tokens: r.try_get("prompt_tokens")?,
                completion_tokens: r.try_get("completion_tokens")?,
            })
        })
        .collect()
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelUsage {
    /// Empty for turns no model answered.
    pub model: String,
    pub completed: i64,
    pub failed: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

/// One remembered exchange found by semantic search, with its cosine similarity to the query.
#[derive(Debug, Clone)]
pub struct Recalled {
    pub record: InteractionRecord,
    pub score: f64,
}

/// The largest vectors the covering recall index carries (see migrations/…_halfvec_recall.sql).
macro_rules! compact_max_dims {
    () => {
        1024
    };
}
const COMPACT_MAX_DIMS: usize = compact_max_dims!();

/// Ranks one employee's vectors of one model (`top`), then reads the winning exchanges one by
/// one through their key. The argument is how the vector's dimension compares with
/// `compact_max_dims!()`, which picks the covering index or the primary key (a constant
/// condition, so even a generic plan matches the partial index). `OFFSET 0` keeps the lookup a
/// subquery run once per winner: as a plain join, a generic plan (which cannot know how small
/// `LIMIT $5` is) may hash-join the winners against every exchange of the employee.
macro_rules! recall_sql {
    ($dims_cmp:literal) => {
        concat!(
            "WITH top AS (
                 SELECT interaction_id AS winner, embedding <=> $4 AS distance
                 FROM interaction_vectors
                 WHERE client_id = $1 AND employee_id = $2 AND model = $3
                   AND vector_dims(embedding) ",
            $dims_cmp,
            " ",
            compact_max_dims!(),
            "
                 ORDER BY embedding <=> $4 LIMIT $5)
             SELECT i.*, 1 - top.distance AS score
             FROM top CROSS JOIN LATERAL (",
            interaction_columns!(),
            " FROM employee_interactions
                 WHERE client_id = $1 AND employee_id = $2 AND interaction_id = top.winner
                 OFFSET 0) i"
        )
    };
}

/// Recall's rows, best first.
macro_rules! recall_only_sql {
    ($dims_cmp:literal) => {
        concat!(
            recall_sql!($dims_cmp),
            " ORDER BY score DESC, timestamp DESC"
        )
    };
}

/// Recall's rows and the newest `$6` completed exchanges (score NULL) in one statement: the
/// recent ones first, newest first, then the recalled ones, best first.
macro_rules! recent_and_recall_sql {
    ($dims_cmp:literal) => {
        concat!(
            "(",
            recall_sql!($dims_cmp),
            ") UNION ALL (SELECT *, NULL::float8 AS score FROM (",
            recent_sql!("$6"),
            ") recent)
             ORDER BY score DESC, timestamp DESC"
        )
    };
}

/// The SQL for a query vector of `dims` dimensions: vectors up to the limit are ranked by an
/// index-only scan of the covering index, wider ones through the primary key and the table.
fn by_dims(dims: usize, compact: &'static str, wide: &'static str) -> &'static str {
    if dims <= COMPACT_MAX_DIMS {
        compact
    } else {
        wide
    }
}

/// `sql` with recall's parameters bound: $1 client, $2 employee, $3 model, $4 the query vector,
/// $5 how many to rank.
fn recall_query<'a>(
    sql: &'static str,
    client: &'a ClientId,
    employee: &'a EmployeeId,
    model: &'a str,
    query: &'a pgvector::HalfVector,
    limit: u32,
) -> Query<'a, Postgres, PgArguments> {
    sqlx::query(sql)
        .bind(client.as_str())
        .bind(employee.as_str())
        .bind(model)
        .bind(query)
        .bind(i64::from(limit))
}

fn recalled_from_row(r: &PgRow) -> Result<Recalled, sqlx::Error> {
    Ok(Recalled {
        record: interaction_from_row(r)?,
        score: r.try_get::<Option<f64>, _>("score")?.unwrap_or(0.0),
    })
}

/// The `limit` exchanges of one employee most similar to `query` (cosine), among the vectors of
/// `model` only. Exact: every vector of this employee and model is compared.
pub async fn recall(
    conn: &mut PgConnection,
    client: &ClientId,
    employee: &EmployeeId,
    model: &str,
    query: &pgvector::HalfVector,
    limit: u32,
) -> Result<Vec<Recalled>, sqlx::Error> {
    let sql = by_dims(
        query.as_slice().len(),
        recall_only_sql!("<="),
        recall_only_sql!(">"),
    );
    let rows = recall_query(sql, client, employee, model, query, limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(recalled_from_row).collect()
}

/// What a turn remembers, in one statement: the newest `recent` completed exchanges (newest
/// first, as `recent_interactions`) and the `limit` most similar to `query` (as `recall`).
#[allow(clippy::too_many_arguments)]
pub async fn recent_and_recalled(
    conn: &mut PgConnection,
    client: &ClientId,
    employee: &EmployeeId,
    recent: u32,
    model: &str,
    query: &pgvector::HalfVector,
    limit: u32,
) -> Result<(Vec<InteractionRecord>, Vec<Recalled>), sqlx::Error> {
    let sql = by_dims(
        query.as_slice().len(),
        recent_and_recall_sql!("<="),
        recent_and_recall_sql!(">"),
    );
    let rows = recall_query(sql, client, employee, model, query, limit)
        .bind(i64::from(recent))
        .fetch_all(conn)
        .await?;
    let (mut newest, mut recalled) = (Vec::new(), Vec::new());
    for r in &rows {
        if r.try_get::<Option<f64>, _>("score")?.is_none() {
            newest.push(interaction_from_row(r)?);
        } else {
            recalled.push(recalled_from_row(r)?);
        }
    }
    Ok((newest, recalled))
}

/// Stores the vectors of several exchanges of one client, made by `model`, in one statement;
/// returns how many were new. An exchange deleted meanwhile is skipped, and so is one that
/// already has a vector of this model.
pub async fn insert_vectors(
    conn: &mut PgConnection,
    client: &ClientId,
    employees: &[&str],
    interaction_ids: &[&str],
    model: &str,
    embeddings: &[&pgvector::HalfVector],
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO interaction_vectors (client_id, employee_id, interaction_id, model, embedding)
         SELECT $1, v.employee_id, v.interaction_id, $5, v.embedding
         FROM unnest($2::text[], $3::text[], $4::halfvec[]) AS v(employee_id, interaction_id, embedding)
         WHERE EXISTS (SELECT 1 FROM employee_interactions i
                       WHERE i.client_id = $1 AND i.employee_id = v.employee_id
                         AND i.interaction_id = v.interaction_id)
         ON CONFLICT DO NOTHING",
    )
    .bind(client.as_str())
    .bind(employees)
    .bind(interaction_ids)
    .bind(embeddings)
    .bind(model)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Answered exchanges of one client without a vector of `model`, in a given order after a
/// cursor ($4, $5). The arguments are the cursor condition and the order it follows.
macro_rules! missing_vectors_sql {
    ($after:literal, $order:literal) => {
        concat!(
            "SELECT i.employee_id, i.interaction_id, i.message, i.response, i.timestamp
             FROM employee_interactions i
             WHERE i.client_id = $1 AND i.status = 'completed' AND ",
            $after,
            "
               AND NOT EXISTS (SELECT 1 FROM interaction_vectors v
                               WHERE v.client_id = $1 AND v.employee_id = i.employee_id
                                 AND v.interaction_id = i.interaction_id AND v.model = $2)
             ORDER BY ",
            $order,
            " LIMIT $3"
        )
    };
}

/// Where a scan for missing vectors goes on from; ties are broken by the exchange's id.
pub enum MissingAfter<'a> {
    /// In key order (employee, exchange), through the unique index: a pass over everything.
    Employee(&'a str),
    /// In time order: the exchanges stored from a moment on.
    Time(DateTime<Utc>),
}

/// Up to `limit` answered exchanges of one client after (`after`, `after_interaction`) that have
/// no vector of `model`.
pub async fn missing_vectors(
    conn: &mut PgConnection,
    client: &ClientId,
    model: &str,
    after: MissingAfter<'_>,
    after_interaction: &str,
    limit: u32,
) -> Result<Vec<PendingEmbedding>, sqlx::Error> {
    let query = sqlx::query(match after {
        MissingAfter::Employee(_) => missing_vectors_sql!(
            "(i.employee_id, i.interaction_id) > ($4, $5)",
            "i.employee_id, i.interaction_id"
        ),
        MissingAfter::Time(_) => missing_vectors_sql!(
            "(i.timestamp, i.interaction_id) > ($4, $5)",
            "i.timestamp, i.interaction_id"
        ),
    })
    .bind(client.as_str())
    .bind(model)
    .bind(i64::from(limit));
    let query = match after {
        MissingAfter::Employee(employee_id) => query.bind(employee_id),
        MissingAfter::Time(timestamp) => query.bind(timestamp),
    }
    .bind(after_interaction);
    let rows = query.fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            Ok(PendingEmbedding {
                employee_id: r.try_get("employee_id")?,
                interaction_id: r.try_get("interaction_id")?,
                text: embedding_text(
                    &r.try_get::<String, _>("message")?,
                    &r.try_get::<String, _>("response")?,
                ),
                timestamp: r.try_get("timestamp")?,
            })
        })
        .collect()
}

/// An exchange waiting for its embedding.
#[derive(Debug, Clone)]
pub struct PendingEmbedding {
    pub employee_id: String,
    pub interaction_id: String,
    pub text: String,
    pub timestamp: DateTime<Utc>,
}

/// What is embedded for an exchange: the user's words, then the answer.
pub fn embedding_text(message: &str, response: &str) -> String {
    format!("{message}\n{response}")
}
