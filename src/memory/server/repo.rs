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
use crate::platform::ranking::hybrid_ranking_sql;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::Row;

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

/// One remembered exchange found by recall, with how each signal ranked it.
#[derive(Debug, Clone)]
pub struct Recalled {
    pub record: InteractionRecord,
    /// The reciprocal-rank-fusion score that ordered it.
    pub score: f64,
    /// Cosine similarity to the query, when it was among the `per_signal` closest in meaning.
    pub similarity: Option<f64>,
    /// Its keyword (BM25) score, when it shares a word with the query.
    pub keyword: Option<f64>,
}

/// The largest vectors the covering recall index carries (see migrations/…_halfvec_recall.sql).
macro_rules! compact_max_dims {
    () => {
        1024
    };
}
const COMPACT_MAX_DIMS: usize = compact_max_dims!();

/// Hybrid recall over one employee's memory, exact, in one statement:
/// * `dense`: the `$6` closest vectors of model `$3` to `$4` (none when `$4` is NULL), ranked
///   by an index-only scan of the covering index (vectors up to `compact_max_dims!()`) or through
///   the primary key (wider ones) — the argument picks which, a constant condition so even a
///   generic plan matches the partial index;
/// * `keyword`: the exchanges whose unit (message and the reply before it) shares a word with
///   `$5` (read in the employee's language — its stemming, its stop words — as its exchanges
///   were; `workforce_search_config`), found through the GIN index led by client and
///   employee, scored as BM25 is — each shared word's inverse document frequency among the
///   employee's exchanges times its weight in the unit — with Postgres's `ts_rank` of the word as
///   that weight (saturating with repeats, an occurrence in the reply before the message half one
///   in the message: weights B 0.5, A 1, scaled so one A occurrence is 1), the best `$6`;
/// * fused by reciprocal rank: `$8 / ($7 + dense rank) + $9 / ($7 + keyword rank)`, the best
///   `$10`, each read through its key (`OFFSET 0` keeps that a subquery run once per winner).
///
/// `$1` client, `$2` employee. Every table read is under the client's RLS policy as well.
macro_rules! hybrid_sql {
    ($dims_cmp:literal) => {
        hybrid_ranking_sql!(
            dense: concat!(
                "SELECT interaction_id AS winner, embedding <=> $4 AS distance
                 FROM interaction_vectors
                 WHERE $4::halfvec IS NOT NULL
                   AND client_id = $1 AND employee_id = $2 AND model = $3
                   AND vector_dims(embedding) ",
                $dims_cmp,
                " ",
                compact_max_dims!(),
                "
                 ORDER BY embedding <=> $4 LIMIT $6"
            ),
            config: "coalesce((SELECT workforce_search_config(language) FROM employees
                               WHERE client_id = $1 AND id = $2),
                              'english'::regconfig)",
            matching: "SELECT e.interaction_id AS winner, e.search_terms
                 FROM employee_interactions e, terms
                 WHERE e.client_id = $1 AND e.employee_id = $2 AND e.search_terms @@ terms.any_word
                   AND e.status = 'completed'",
            docs: "coalesce((SELECT answered FROM employee_turn_counts
                             WHERE client_id = $1 AND employee_id = $2), 0)",
            result: concat!(
                "SELECT i.*, fused.similarity, fused.keyword, fused.fused AS score
             FROM fused CROSS JOIN LATERAL (",
                interaction_columns!(),
                " FROM employee_interactions
                 WHERE client_id = $1 AND employee_id = $2 AND interaction_id = fused.winner
                 OFFSET 0) i
             ORDER BY score DESC, i.timestamp DESC"
            ),
        )
    };
}

/// `recall`, for vectors that fit the covering index and for wider ones (or none).
const HYBRID_COMPACT: &str = hybrid_sql!("<=");
const HYBRID_WIDE: &str = hybrid_sql!(">");

/// The SQL for a query vector of `dims` dimensions: vectors up to the limit are ranked by an
/// index-only scan of the covering index, wider ones through the primary key and the table.
fn by_dims(dims: usize, compact: &'static str, wide: &'static str) -> &'static str {
    if dims <= COMPACT_MAX_DIMS {
        compact
    } else {
        wide
    }
}

fn recalled_from_row(r: &PgRow) -> Result<Recalled, sqlx::Error> {
    Ok(Recalled {
        record: interaction_from_row(r)?,
        score: r.try_get::<Option<f64>, _>("score")?.unwrap_or(0.0),
        similarity: r.try_get("similarity")?,
        keyword: r.try_get("keyword")?,
    })
}

pub use crate::platform::ranking::Fusion;

/// The query: a vector of a model (for the dense signal) and words (for the keyword signal);
/// either may be absent.
pub struct RecallQuery<'a> {
    pub dense: Option<(&'a str, &'a pgvector::HalfVector)>,
    pub words: &'a str,
}

/// The `limit` exchanges of one employee that best match `query`, by reciprocal rank fusion of
/// the semantic and the keyword ranking. Exact: every vector of this employee and model is
/// compared, and every exchange sharing a word is scored.
pub async fn recall(
    tx: &mut TenantTx,
    employee: &EmployeeId,
    query: RecallQuery<'_>,
    fusion: Fusion,
    limit: u32,
) -> Result<Vec<Recalled>, sqlx::Error> {
    let dims = query.dense.map_or(0, |(_, v)| v.as_slice().len());
    let sql = by_dims(dims, HYBRID_COMPACT, HYBRID_WIDE);
    let client = tx.client().clone();
    let rows = sqlx::query(sql)
        .bind(client.as_str())
        .bind(employee.as_str())
        .bind(query.dense.map_or("", |(m, _)| m))
        .bind(query.dense.map(|(_, v)| v))
        .bind(query.words)
        .bind(i64::from(fusion.per_signal))
        .bind(fusion.k)
        .bind(fusion.dense_weight)
        .bind(fusion.keyword_weight)
        .bind(i64::from(limit))
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(recalled_from_row).collect()
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
            "SELECT i.employee_id, i.interaction_id, i.message, i.prior_reply, i.timestamp
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
                text: memory_unit(
                    &r.try_get::<String, _>("message")?,
                    &r.try_get::<String, _>("prior_reply")?,
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

/// The recipe of a memory unit (see `memory_unit`), part of the key its vectors are stored
/// under: a change of recipe is a new key, and the sweeper embeds the history again under it in
/// the background, as after a switch of embedding model. (Vectors from before units carried the
/// reply before the message, made of the message and its own answer, are under the bare
/// model name.)
pub const UNIT_RECIPE: &str = "unit2";

/// What vectors of `model` made by the current recipe are stored under
/// (`interaction_vectors.model`).
pub fn vector_key(model: &str) -> String {
    format!("{model}#{UNIT_RECIPE}")
}

/// How much of the reply before an exchange its memory unit carries.
pub const PRIOR_REPLY_CHARS: usize = 600;

/// The start of the reply before an exchange, as its memory unit carries it (as the migration
/// that introduced units cut the existing ones).
pub fn prior_reply(reply: &str) -> &str {
    match reply.char_indices().nth(PRIOR_REPLY_CHARS) {
        Some((at, _)) => &reply[..at],
        None => reply,
    }
}

/// An exchange's memory unit, what is embedded and searched by keyword: the user's message,
/// then the assistant's reply just before it (the question a short message answers), never the
/// exchange's own answer. The message comes first, so a model that truncates its input cuts the
/// context, not the message. The keyword vector (`search_terms`) is made by Postgres from the
/// same two texts in the same order.
pub fn memory_unit(message: &str, prior_reply: &str) -> String {
    if prior_reply.is_empty() {
        message.to_owned()
    } else {
        format!("{message}\n{prior_reply}")
    }
}

/// An exchange of an import, ready to store.
#[derive(Debug, Clone)]
pub struct ImportedExchange {
    pub interaction_id: InteractionId,
    pub message: String,
    pub response: String,
    pub prior_reply: String,
    pub at: DateTime<Utc>,
    /// The ids of the imported lines it holds.
    pub line_ids: Vec<String>,
}

/// `insert_imported`: the exchanges of `unnest`, answered (no model, no tokens), marked as
/// imported; one already stored under its id is left as it is. The employee's answered count
/// goes up by the number stored, in the same statement.
const INSERT_IMPORTED: &str = "WITH ins AS (
         INSERT INTO employee_interactions (client_id, employee_id, interaction_id, message,
             response, prior_reply, timestamp, status, source)
         SELECT $1::text, $2::text, r.interaction_id, r.message, r.response, r.prior_reply, r.at,
                'completed', 'import'
         FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
              AS r(interaction_id, message, response, prior_reply, at)
         ON CONFLICT (client_id, employee_id, interaction_id) DO NOTHING
         RETURNING interaction_id),
     counted AS (
         INSERT INTO employee_turn_counts (client_id, employee_id, answered)
         SELECT $1::text, $2::text, count(*) FROM ins HAVING count(*) > 0
         ON CONFLICT (client_id, employee_id)
         DO UPDATE SET answered = employee_turn_counts.answered + excluded.answered)
     SELECT interaction_id FROM ins";

/// `insert_imported`'s record of the lines of the exchanges stored: (line, exchange) pairs.
const INSERT_IMPORT_LINES: &str =
    "INSERT INTO memory_import_lines (client_id, employee_id, line_id, interaction_id)
     SELECT $1::text, $2::text, l.line_id, l.interaction_id
     FROM unnest($3::text[], $4::text[]) AS l(line_id, interaction_id)
     ON CONFLICT DO NOTHING";

/// `imported_lines`: which of the line ids $3 an earlier import stored.
const IMPORTED_LINES: &str = "SELECT line_id FROM memory_import_lines
     WHERE client_id = $1 AND employee_id = $2 AND line_id = ANY($3::text[])";

/// Which of these line ids an earlier import of this employee stored.
pub async fn imported_lines(
    tx: &mut TenantTx,
    employee: &EmployeeId,
    line_ids: &[&str],
) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    let client = tx.client().clone();
    let mut found = std::collections::HashSet::new();
    for chunk in line_ids.chunks(5000) {
        let rows = sqlx::query_scalar::<_, String>(IMPORTED_LINES)
            .bind(client.as_str())
            .bind(employee.as_str())
            .bind(chunk)
            .fetch_all(&mut **tx)
            .await?;
        found.extend(rows);
    }
    Ok(found)
}

/// Stores an import's exchanges and the record of their lines; returns the ids of the
/// exchanges stored now (not before).
pub async fn insert_imported(
    tx: &mut TenantTx,
    employee: &EmployeeId,
    rows: &[ImportedExchange],
) -> Result<Vec<InteractionId>, sqlx::Error> {
    let client = tx.client().clone();
    let ids: Vec<&str> = rows.iter().map(|r| r.interaction_id.as_str()).collect();
    let messages: Vec<&str> = rows.iter().map(|r| r.message.as_str()).collect();
    let responses: Vec<&str> = rows.iter().map(|r| r.response.as_str()).collect();
    let priors: Vec<&str> = rows.iter().map(|r| r.prior_reply.as_str()).collect();
    let times: Vec<DateTime<Utc>> = rows.iter().map(|r| r.at).collect();
    let stored = sqlx::query_scalar::<_, String>(INSERT_IMPORTED)
        .bind(client.as_str())
        .bind(employee.as_str())
        .bind(&ids)
        .bind(&messages)
        .bind(&responses)
        .bind(&priors)
        .bind(&times)
        .fetch_all(&mut **tx)
        .await?;
    let (mut lines, mut holders) = (Vec::new(), Vec::new());
    for r in rows
        .iter()
        .filter(|r| stored.iter().any(|s| s == r.interaction_id.as_str()))
    {
        for l in &r.line_ids {
            lines.push(l.as_str());
            holders.push(r.interaction_id.as_str());
        }
    }
    sqlx::query(INSERT_IMPORT_LINES)
        .bind(client.as_str())
        .bind(employee.as_str())
        .bind(&lines)
        .bind(&holders)
        .execute(&mut **tx)
        .await?;
    Ok(stored.into_iter().map(InteractionId::from).collect())
}

/// `reply_before`: the answer of the employee's last exchange before $3.
const REPLY_BEFORE: &str = "SELECT response FROM employee_interactions
     WHERE client_id = $1 AND employee_id = $2 AND status = 'completed' AND timestamp < $3
     ORDER BY timestamp DESC, id DESC LIMIT 1";

/// The answer of the employee's last exchange before `at` ("" when none).
pub async fn reply_before(
    tx: &mut TenantTx,
    employee: &EmployeeId,
    at: DateTime<Utc>,
) -> Result<String, sqlx::Error> {
    let client = tx.client().clone();
    let reply = sqlx::query_scalar::<_, String>(REPLY_BEFORE)
        .bind(client.as_str())
        .bind(employee.as_str())
        .bind(at)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(reply.unwrap_or_default())
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
        HYBRID_COMPACT,
        HYBRID_WIDE,
        INSERT_VECTORS,
        INSERT_IMPORTED,
        INSERT_IMPORT_LINES,
        IMPORTED_LINES,
        REPLY_BEFORE,
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
