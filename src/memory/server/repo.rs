//! Memory's SQL: recent exchanges, exact semantic recall over one employee's vectors, and the
//! vectors the indexer writes and the sweeper looks for.
//!
//! Unlike the other repositories, these statements are runtime `sqlx::query`, not checked
//! `query!`: they are assembled from shared pieces with `concat!` (one definition of "recent
//! turns" and of recall for several statements, one variant per vector size or scan order), and
//! the recall and insert statements bind `halfvec`, a type the query macros do not know.
//! [`assembled_statements`] lists every one of them so a test can prepare each against the
//! migrated database.

use crate::conversations::server::repo::{
    interaction_columns, interaction_from_row, InteractionRecord,
};
use crate::core::{EmployeeId, InteractionId};
use crate::platform::db::TenantTx;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{Postgres, Row};

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

/// `recent_interactions`: $3 is how many.
const RECENT: &str = recent_sql!("$3");

/// `history_before`: the completed exchanges before exchange $3 (in time, then insertion
/// order), newest first, $4 of them. An unknown $3 finds nothing.
const HISTORY_BEFORE: &str = concat!(
    interaction_columns!(),
    " FROM employee_interactions
     WHERE client_id = $1 AND employee_id = $2 AND status = 'completed'
       AND (timestamp, id) < (SELECT timestamp, id FROM employee_interactions
                              WHERE client_id = $1 AND employee_id = $2 AND interaction_id = $3)
     ORDER BY timestamp DESC, id DESC LIMIT $4"
);

/// `excerpts`: the start ($4 characters) of the messages of exchanges $3.
const EXCERPTS: &str = "SELECT interaction_id, left(message, $4) AS excerpt
     FROM employee_interactions
     WHERE client_id = $1 AND employee_id = $2 AND interaction_id = ANY($3)";

/// `recent_counted`: the newest exchanges and, in the same snapshot, how many were answered.
const RECENT_COUNTED: &str = concat!(
    interaction_columns!(),
    ", (SELECT answered FROM employee_turn_counts WHERE client_id = $1 AND employee_id = $2) AS answered
     FROM employee_interactions
     WHERE client_id = $1 AND employee_id = $2 AND status = 'completed'
     ORDER BY timestamp DESC, id DESC LIMIT $3"
);

/// How many exchanges of `employee` were answered.
pub async fn answered_turns(tx: &mut TenantTx, employee: &EmployeeId) -> Result<i64, sqlx::Error> {
    let client = tx.client().clone();
    let n = sqlx::query_scalar!(
        "SELECT answered FROM employee_turn_counts WHERE client_id = $1 AND employee_id = $2",
        client.as_str(),
        employee.as_str(),
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(n.unwrap_or(0))
}

/// The newest `limit` answered exchanges, newest first, with how many were answered in all,
/// read in one snapshot.
pub async fn recent_counted(
    tx: &mut TenantTx,
    employee: &EmployeeId,
    limit: u32,
) -> Result<(i64, Vec<InteractionRecord>), sqlx::Error> {
    let client = tx.client().clone();
    let rows = sqlx::query(RECENT_COUNTED)
        .bind(client.as_str())
        .bind(employee.as_str())
        .bind(i64::from(limit))
        .fetch_all(&mut **tx)
        .await?;
    let answered = match rows.first() {
        Some(r) => r.try_get::<Option<i64>, _>("answered")?.unwrap_or(0),
        None => 0,
    };
    let records = rows
        .iter()
        .map(interaction_from_row)
        .collect::<Result<_, _>>()?;
    Ok((answered, records))
}

/// The newest completed exchanges, newest first.
pub async fn recent_interactions(
    tx: &mut TenantTx,
    employee: &EmployeeId,
    limit: u32,
) -> Result<Vec<InteractionRecord>, sqlx::Error> {
    let client = tx.client().clone();
    let rows = sqlx::query(RECENT)
        .bind(client.as_str())
        .bind(employee.as_str())
        .bind(i64::from(limit))
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(interaction_from_row).collect()
}

/// The `limit` completed exchanges just before exchange `before`, newest first: a page of the
/// conversation further back.
pub async fn history_before(
    tx: &mut TenantTx,
    employee: &EmployeeId,
    before: &InteractionId,
    limit: u32,
) -> Result<Vec<InteractionRecord>, sqlx::Error> {
    let client = tx.client().clone();
    let rows = sqlx::query(HISTORY_BEFORE)
        .bind(client.as_str())
        .bind(employee.as_str())
        .bind(before.as_str())
        .bind(i64::from(limit))
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(interaction_from_row).collect()
}

/// The start (at most `chars` characters) of each of these exchanges' messages, by id.
pub async fn excerpts(
    tx: &mut TenantTx,
    employee: &EmployeeId,
    ids: &[&str],
    chars: i32,
) -> Result<Vec<(InteractionId, String)>, sqlx::Error> {
    let client = tx.client().clone();
    let rows = sqlx::query(EXCERPTS)
        .bind(client.as_str())
        .bind(employee.as_str())
        .bind(ids)
        .bind(chars)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("interaction_id")?, r.try_get("excerpt")?)))
        .collect()
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

/// `recall`, for vectors that fit the covering index and for wider ones.
const RECALL_COMPACT: &str = recall_only_sql!("<=");
const RECALL_WIDE: &str = recall_only_sql!(">");
/// `recent_and_recalled`, likewise.
const RECENT_AND_RECALL_COMPACT: &str = recent_and_recall_sql!("<=");
const RECENT_AND_RECALL_WIDE: &str = recent_and_recall_sql!(">");

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
    client: &'a crate::core::ClientId,
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
    tx: &mut TenantTx,
    employee: &EmployeeId,
    model: &str,
    query: &pgvector::HalfVector,
    limit: u32,
) -> Result<Vec<Recalled>, sqlx::Error> {
    let sql = by_dims(query.as_slice().len(), RECALL_COMPACT, RECALL_WIDE);
    let client = tx.client().clone();
    let rows = recall_query(sql, &client, employee, model, query, limit)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(recalled_from_row).collect()
}

/// What a turn remembers, in one statement: the newest `recent` completed exchanges (newest
/// first, as `recent_interactions`) and the `limit` most similar to `query` (as `recall`).
#[allow(clippy::too_many_arguments)]
pub async fn recent_and_recalled(
    tx: &mut TenantTx,
    employee: &EmployeeId,
    recent: u32,
    model: &str,
    query: &pgvector::HalfVector,
    limit: u32,
) -> Result<(Vec<InteractionRecord>, Vec<Recalled>), sqlx::Error> {
    let sql = by_dims(
        query.as_slice().len(),
        RECENT_AND_RECALL_COMPACT,
        RECENT_AND_RECALL_WIDE,
    );
    let client = tx.client().clone();
    let rows = recall_query(sql, &client, employee, model, query, limit)
        .bind(i64::from(recent))
        .fetch_all(&mut **tx)
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

/// `insert_vectors`: $4 is a `halfvec[]`. `$1::text` (what sqlx binds anyway) lets the statement
/// be prepared without parameter types: unnamed, $1 would be text in the select list and
/// varchar in the comparison.
const INSERT_VECTORS: &str =
    "INSERT INTO interaction_vectors (client_id, employee_id, interaction_id, model, embedding)
     SELECT $1::text, v.employee_id, v.interaction_id, $5, v.embedding
     FROM unnest($2::text[], $3::text[], $4::halfvec[]) AS v(employee_id, interaction_id, embedding)
     WHERE EXISTS (SELECT 1 FROM employee_interactions i
                   WHERE i.client_id = $1 AND i.employee_id = v.employee_id
                     AND i.interaction_id = v.interaction_id)
     ON CONFLICT DO NOTHING";

/// Stores the vectors of several exchanges of one client, made by `model`, in one statement;
/// returns how many were new. An exchange deleted meanwhile is skipped, and so is one that
/// already has a vector of this model.
pub async fn insert_vectors(
    tx: &mut TenantTx,
    employees: &[&str],
    interaction_ids: &[&str],
    model: &str,
    embeddings: &[&pgvector::HalfVector],
) -> Result<u64, sqlx::Error> {
    let client = tx.client().clone();
    let done = sqlx::query(INSERT_VECTORS)
        .bind(client.as_str())
        .bind(employees)
        .bind(interaction_ids)
        .bind(embeddings)
        .bind(model)
        .execute(&mut **tx)
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

/// `missing_vectors` in key order ($4 an employee id) and in time order ($4 a timestamp).
const MISSING_BY_EMPLOYEE: &str = missing_vectors_sql!(
    "(i.employee_id, i.interaction_id) > ($4, $5)",
    "i.employee_id, i.interaction_id"
);
const MISSING_BY_TIME: &str = missing_vectors_sql!(
    "(i.timestamp, i.interaction_id) > ($4, $5)",
    "i.timestamp, i.interaction_id"
);

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
    tx: &mut TenantTx,
    model: &str,
    after: MissingAfter<'_>,
    after_interaction: &str,
    limit: u32,
) -> Result<Vec<PendingEmbedding>, sqlx::Error> {
    let client = tx.client().clone();
    let query = sqlx::query(match after {
        MissingAfter::Employee(_) => MISSING_BY_EMPLOYEE,
        MissingAfter::Time(_) => MISSING_BY_TIME,
    })
    .bind(client.as_str())
    .bind(model)
    .bind(i64::from(limit));
    let query = match after {
        MissingAfter::Employee(employee_id) => query.bind(employee_id),
        MissingAfter::Time(timestamp) => query.bind(timestamp),
    }
    .bind(after_interaction);
    let rows = query.fetch_all(&mut **tx).await?;
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
    pub interaction_id: InteractionId,
    pub text: String,
    pub timestamp: DateTime<Utc>,
}

/// What is embedded for an exchange: the user's words, then the answer.
pub fn embedding_text(message: &str, response: &str) -> String {
    format!("{message}\n{response}")
}

/// Every statement of this module, each variant once: the SQL that is assembled at run time
/// and so is not checked at compile time as the `query!` statements elsewhere are. A test
/// prepares each one (`PREPARE s AS …`, or a prepared statement through sqlx) against the
/// migrated database, which checks its syntax, its tables and columns and its parameter types
/// without running it; each one prepares with no parameter types given. A statement added to
/// this module belongs here too.
pub fn assembled_statements() -> Vec<&'static str> {
    vec![
        RECENT,
        RECENT_COUNTED,
        HISTORY_BEFORE,
        EXCERPTS,
        RECALL_COMPACT,
        RECALL_WIDE,
        RECENT_AND_RECALL_COMPACT,
        RECENT_AND_RECALL_WIDE,
        INSERT_VECTORS,
        MISSING_BY_EMPLOYEE,
        MISSING_BY_TIME,
    ]
}

/// What to erase from an employee's memory.
pub enum Erase<'a> {
    /// One exchange.
    One(&'a str),
    /// Every exchange whose message or answer contains the term (case-insensitive).
    Mentioning(&'a str),
    /// Every exchange whose context named this `subject_id`.
    Subject(&'a str),
}

/// Deletes the matching exchanges of the employee (their vectors go with them); returns each
/// one's id and the SHA-256 of its message and answer, for the receipt.
pub async fn erase(
    tx: &mut TenantTx,
    employee: &EmployeeId,
    what: Erase<'_>,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let client = tx.client().clone();
    let (kind, value) = match what {
        Erase::One(id) => ("one", id),
        Erase::Mentioning(term) => ("mentioning", term),
        Erase::Subject(s) => ("subject", s),
    };
    let rows = sqlx::query!(
        r#"DELETE FROM employee_interactions
           WHERE client_id = $1 AND employee_id = $2
             AND CASE $3
                   WHEN 'one' THEN interaction_id = $4
                   WHEN 'mentioning' THEN
                     strpos(lower(message), lower($4)) > 0 OR strpos(lower(response), lower($4)) > 0
                   ELSE context->>'subject_id' = $4
                 END
           RETURNING interaction_id,
                     encode(sha256(convert_to(message || E'\n' || response, 'UTF8')), 'hex') AS "digest!""#,
        client.as_str(),
        employee.as_str(),
        kind,
        value,
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.interaction_id, r.digest))
        .collect())
}

/// Deletes the client's exchanges older than `days` days (their vectors go with them); returns
/// each one's employee, id and content hash.
pub async fn purge_older_than(
    tx: &mut TenantTx,
    days: i32,
) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    let client = tx.client().clone();
    let rows = sqlx::query!(
        r#"DELETE FROM employee_interactions
           WHERE client_id = $1 AND timestamp < now() - make_interval(days => $2)
           RETURNING employee_id, interaction_id,
                     encode(sha256(convert_to(message || E'\n' || response, 'UTF8')), 'hex') AS "digest!""#,
        client.as_str(),
        days,
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.employee_id, r.interaction_id, r.digest))
        .collect())
}
