//! The knowledge tables: collections, documents (with the upload until it is ingested), chunks
//! and their vectors. Every statement runs in a tenant transaction, except the ingester's list
//! of waiting documents (`pending`, through the operator's SECURITY DEFINER function).

use crate::core::ClientId;
use crate::knowledge::{Collection, Document, DocumentState};
use crate::platform::db::{decode_err, OperatorConn, TenantTx};
use crate::platform::ranking::hybrid_ranking_sql;
use pgvector::HalfVector;

pub async fn insert_collection(
    tx: &mut TenantTx,
    name: &str,
    description: &str,
) -> Result<(), sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query!(
        "INSERT INTO knowledge_collections (client_id, name, description) VALUES ($1, $2, $3)",
        client.as_str(),
        name,
        description,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The client's collections (or the one named) with their document and chunk counts.
pub async fn collections(
    tx: &mut TenantTx,
    only: Option<&str>,
) -> Result<Vec<Collection>, sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query_as!(
        Collection,
        r#"SELECT c.name, c.description, c.created_at,
                  count(d.id) AS "documents!",
                  coalesce(sum(d.chunk_count) FILTER (WHERE d.state = 'ready'), 0)::bigint AS "chunks!"
           FROM knowledge_collections c
           LEFT JOIN knowledge_documents d ON d.client_id = c.client_id AND d.collection = c.name
           WHERE c.client_id = $1 AND ($2::text IS NULL OR c.name = $2)
           GROUP BY c.client_id, c.name ORDER BY c.name"#,
        client.as_str(),
        only,
    )
    .fetch_all(&mut **tx)
    .await
}

/// Whether there was such a collection (its documents, chunks and vectors go with it).
pub async fn delete_collection(tx: &mut TenantTx, name: &str) -> Result<bool, sqlx::Error> {
    let client = tx.client().clone();
    let done = sqlx::query!(
        "DELETE FROM knowledge_collections WHERE client_id = $1 AND name = $2",
        client.as_str(),
        name,
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The client's documents, all collections together.
pub async fn count_documents(tx: &mut TenantTx) -> Result<i64, sqlx::Error> {
    let client = tx.client().clone();
    let n = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM knowledge_documents WHERE client_id = $1"#,
        client.as_str(),
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(n)
}

/// Serialises uploads of one client (so two at once cannot pass its document limit together).
pub async fn lock_for_upload(tx: &mut TenantTx) -> Result<(), sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtext('knowledge:' || $1::text))",
        client.as_str()
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub struct NewDocument<'a> {
    pub id: &'a str,
    pub collection: &'a str,
    pub title: &'a str,
    pub media_type: &'a str,
    pub content: &'a [u8],
}

pub async fn insert_document(tx: &mut TenantTx, d: &NewDocument<'_>) -> Result<(), sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query!(
        "INSERT INTO knowledge_documents (client_id, id, collection, title, media_type, bytes,
                                          content)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        client.as_str(),
        d.id,
        d.collection,
        d.title,
        d.media_type,
        d.content.len() as i32,
        d.content,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

struct DocumentRow {
    id: String,
    collection: String,
    title: String,
    media_type: String,
    bytes: i32,
    state: String,
    progress: f32,
    chunk_count: i32,
    error: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

impl DocumentRow {
    fn into_document(self) -> Result<Document, sqlx::Error> {
        Ok(Document {
            state: DocumentState::parse(&self.state)
                .ok_or_else(|| decode_err("document state", &self.state))?,
            id: self.id,
            collection: self.collection,
            title: self.title,
            media_type: self.media_type,
            bytes: i64::from(self.bytes),
            progress: self.progress,
            chunk_count: self.chunk_count,
            error: self.error,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A collection's documents, newest first (or the one with `id`).
pub async fn documents(
    tx: &mut TenantTx,
    collection: &str,
    id: Option<&str>,
) -> Result<Vec<Document>, sqlx::Error> {
    let client = tx.client().clone();
    let rows = sqlx::query_as!(
        DocumentRow,
        r#"SELECT id, collection, title, media_type, bytes, state, progress, chunk_count, error,
                  created_at, updated_at
           FROM knowledge_documents
           WHERE client_id = $1 AND collection = $2 AND ($3::text IS NULL OR id = $3)
           ORDER BY created_at DESC, id"#,
        client.as_str(),
        collection,
        id,
    )
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter().map(DocumentRow::into_document).collect()
}

/// Whether there was such a document (its chunks and vectors go with it).
pub async fn delete_document(
    tx: &mut TenantTx,
    collection: &str,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let client = tx.client().clone();
    let done = sqlx::query!(
        "DELETE FROM knowledge_documents WHERE client_id = $1 AND collection = $2 AND id = $3",
        client.as_str(),
        collection,
        id,
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Documents waiting for the ingester, across clients, oldest first.
pub async fn pending(
    conn: &mut OperatorConn,
    max: i32,
) -> Result<Vec<(ClientId, String)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT client_id AS "client_id!", document_id AS "document_id!"
           FROM wf_knowledge_pending($1)"#,
        max
    )
    .fetch_all(&mut **conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| ClientId::parse(&r.client_id).map(|c| (c, r.document_id)))
        .collect())
}

/// A document taken for ingestion.
pub struct Claimed {
    pub collection: String,
    pub media_type: String,
    pub content: Vec<u8>,
}

/// Takes a waiting document for `lease_seconds` (queued, or processing under a lease that ran
/// out); None when another instance has it or it is gone.
pub async fn claim(
    tx: &mut TenantTx,
    id: &str,
    lease_seconds: i32,
) -> Result<Option<Claimed>, sqlx::Error> {
    let client = tx.client().clone();
    let row = sqlx::query!(
        r#"UPDATE knowledge_documents
           SET state = 'processing', progress = 0, error = NULL, updated_at = now(),
               lease_until = now() + make_interval(secs => $3)
           WHERE client_id = $1 AND id = $2 AND content IS NOT NULL
             AND (state = 'queued' OR (state = 'processing' AND lease_until < now()))
           RETURNING collection, media_type, content AS "content!""#,
        client.as_str(),
        id,
        f64::from(lease_seconds),
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| Claimed {
        collection: r.collection,
        media_type: r.media_type,
        content: r.content,
    }))
}

/// How far along a document is; renews its lease.
pub async fn set_progress(
    tx: &mut TenantTx,
    id: &str,
    progress: f32,
    lease_seconds: i32,
) -> Result<(), sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query!(
        "UPDATE knowledge_documents
         SET progress = $3, updated_at = now(), lease_until = now() + make_interval(secs => $4)
         WHERE client_id = $1 AND id = $2 AND state = 'processing'",
        client.as_str(),
        id,
        progress.clamp(0.0, 1.0),
        f64::from(lease_seconds),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stores a document's chunks and their vectors of `model` and marks it ready (its upload is
/// dropped). Chunks left by an earlier, interrupted run are replaced. False when the document
/// is gone or no longer processing.
pub async fn store_chunks(
    tx: &mut TenantTx,
    id: &str,
    collection: &str,
    texts: &[String],
    model: &str,
    vectors: &[HalfVector],
) -> Result<bool, sqlx::Error> {
    let client = tx.client().clone();
    let updated = sqlx::query!(
        "UPDATE knowledge_documents
         SET state = 'ready', progress = 1, chunk_count = $3, content = NULL, lease_until = NULL,
             updated_at = now()
         WHERE client_id = $1 AND id = $2 AND state = 'processing'",
        client.as_str(),
        id,
        texts.len() as i32,
    )
    .execute(&mut **tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query!(
        "DELETE FROM knowledge_chunks WHERE client_id = $1 AND document_id = $2",
        client.as_str(),
        id,
    )
    .execute(&mut **tx)
    .await?;
    let ords: Vec<i32> = (0..texts.len() as i32).collect();
    sqlx::query!(
        "INSERT INTO knowledge_chunks (client_id, document_id, ord, collection, text)
         SELECT $1, $2, c.ord, $3, c.text FROM unnest($4::int4[], $5::text[]) AS c(ord, text)",
        client.as_str(),
        id,
        collection,
        &ords,
        texts,
    )
    .execute(&mut **tx)
    .await?;
    insert_vectors(tx, id, collection, &ords, model, vectors).await?;
    Ok(true)
}

/// `$6` is a `halfvec[]`, which the checked macros cannot type: a run-time statement.
const INSERT_VECTORS: &str =
    "INSERT INTO knowledge_vectors (client_id, document_id, ord, collection, model, embedding)
     SELECT $1::text, $2::text, v.ord, $3::text, $4::text, v.embedding
     FROM unnest($5::int4[], $6::halfvec[]) AS v(ord, embedding)
     ON CONFLICT DO NOTHING";

pub async fn insert_vectors(
    tx: &mut TenantTx,
    id: &str,
    collection: &str,
    ords: &[i32],
    model: &str,
    vectors: &[HalfVector],
) -> Result<(), sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query(INSERT_VECTORS)
        .bind(client.as_str())
        .bind(id)
        .bind(collection)
        .bind(model)
        .bind(ords)
        .bind(vectors)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Marks a document failed, with the reason (its upload is dropped: it cannot be read).
pub async fn fail(tx: &mut TenantTx, id: &str, reason: &str) -> Result<(), sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query!(
        "UPDATE knowledge_documents
         SET state = 'failed', error = $3, content = NULL, lease_until = NULL, updated_at = now()
         WHERE client_id = $1 AND id = $2",
        client.as_str(),
        id,
        reason,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A chunk without a vector of the current model.
pub struct Unembedded {
    pub document_id: String,
    pub ord: i32,
    pub collection: String,
    pub text: String,
}

/// Up to `limit` of the client's chunks without a vector of `model` (after a switch of
/// embedding model: every chunk, a page at a time).
pub async fn unembedded(
    tx: &mut TenantTx,
    model: &str,
    limit: i64,
) -> Result<Vec<Unembedded>, sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query_as!(
        Unembedded,
        r#"SELECT c.document_id, c.ord, c.collection, c.text
           FROM knowledge_chunks c
           WHERE c.client_id = $1
             AND NOT EXISTS (SELECT 1 FROM knowledge_vectors v
                             WHERE v.client_id = c.client_id AND v.document_id = c.document_id
                               AND v.ord = c.ord AND v.model = $2)
           ORDER BY c.document_id, c.ord LIMIT $3"#,
        client.as_str(),
        model,
        limit,
    )
    .fetch_all(&mut **tx)
    .await
}

/// `$5` is a `halfvec[]`: a run-time statement. Vectors of chunks of several documents.
const INSERT_MISSING_VECTORS: &str =
    "INSERT INTO knowledge_vectors (client_id, document_id, ord, collection, model, embedding)
     SELECT $1::text, v.document_id, v.ord, v.collection, $2::text, v.embedding
     FROM unnest($3::text[], $4::int4[], $6::text[], $5::halfvec[])
          AS v(document_id, ord, collection, embedding)
     ON CONFLICT DO NOTHING";

pub async fn insert_missing_vectors(
    tx: &mut TenantTx,
    model: &str,
    chunks: &[Unembedded],
    vectors: &[HalfVector],
) -> Result<(), sqlx::Error> {
    let client = tx.client().clone();
    let ids: Vec<&str> = chunks.iter().map(|c| c.document_id.as_str()).collect();
    let ords: Vec<i32> = chunks.iter().map(|c| c.ord).collect();
    let collections: Vec<&str> = chunks.iter().map(|c| c.collection.as_str()).collect();
    sqlx::query(INSERT_MISSING_VECTORS)
        .bind(client.as_str())
        .bind(model)
        .bind(&ids)
        .bind(&ords)
        .bind(vectors)
        .bind(&collections)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The run-time statements, for the test that prepares every one against the schema.
pub fn assembled_statements() -> Vec<&'static str> {
    vec![
        INSERT_VECTORS,
        INSERT_MISSING_VECTORS,
        SEARCH_COMPACT,
        SEARCH_WIDE,
        SEARCH_GRAPH_384,
        SEARCH_GRAPH_1536,
        SEARCH_SETTINGS,
    ]
}

/// Retrieval over the collections `$3` (text[]) of client `$1`, with the memory's hybrid
/// ranking (`platform::ranking`): the chunks whose vectors of model `$2` are closest to `$4`
/// (`$dense`, below: through an HNSW graph for the widths that have one, else exactly), and
/// those sharing words with `$5` (English), each keyed `document:ord`, fused, each winner read
/// with its document's title.
macro_rules! knowledge_sql {
    ($dense:expr) => {
        hybrid_ranking_sql!(
            dense: $dense,
            config: "'english'::regconfig",
            matching: "SELECT c.document_id || ':' || c.ord AS winner, c.search_terms
                 FROM knowledge_chunks c, terms
                 WHERE c.client_id = $1 AND c.collection = ANY($3)
                   AND c.search_terms @@ terms.any_word",
            docs: "coalesce((SELECT sum(chunk_count) FROM knowledge_documents
                             WHERE client_id = $1 AND collection = ANY($3) AND state = 'ready'), 0)",
            // The winners' keys are taken apart in a subquery kept whole (`OFFSET 0`): under
            // RLS a join condition calling split_part (not leakproof) cannot reach the chunks'
            // primary key, and Postgres read every chunk of the client to join 4 (~100 ms at
            // 100k chunks); plain columns compared with `=` can.
            result: "SELECT c.document_id, c.ord, c.text, d.title, d.collection,
                    f.similarity, f.keyword, f.fused AS score
             FROM (SELECT split_part(winner, ':', 1) AS document_id,
                          split_part(winner, ':', 2)::int AS ord, similarity, keyword, fused
                   FROM fused OFFSET 0) f
             JOIN knowledge_chunks c
               ON c.client_id = $1 AND c.document_id = f.document_id AND c.ord = f.ord
             JOIN knowledge_documents d ON d.client_id = $1 AND d.id = c.document_id
             ORDER BY score DESC, c.document_id, c.ord",
        )
    };
}

/// The closest vectors exactly: every vector of the client's collections is compared, through
/// the covering index (up to 1024 dimensions) or the table (wider ones).
macro_rules! exact_dense {
    ($dims_cmp:literal) => {
        concat!(
            "SELECT document_id || ':' || ord AS winner, embedding <=> $4 AS distance
             FROM knowledge_vectors
             WHERE $4::halfvec IS NOT NULL
               AND client_id = $1 AND model = $2 AND collection = ANY($3)
               AND vector_dims(embedding) ",
            $dims_cmp,
            " 1024
             ORDER BY embedding <=> $4 LIMIT $6"
        )
    };
}

/// The closest vectors of one width through its HNSW graph
/// (migration 20261209000001), filtered as the graph is walked.
macro_rules! graph_dense {
    ($dims:literal) => {
        concat!(
            "SELECT document_id || ':' || ord AS winner,
                    embedding::halfvec(",
            $dims,
            ") <=> $4::halfvec(",
            $dims,
            ") AS distance
             FROM knowledge_vectors
             WHERE $4::halfvec IS NOT NULL
               AND client_id = $1 AND model = $2 AND collection = ANY($3)
               AND vector_dims(embedding) = ",
            $dims,
            "
             ORDER BY embedding::halfvec(",
            $dims,
            ") <=> $4::halfvec(",
            $dims,
            ") LIMIT $6"
        )
    };
}

const SEARCH_COMPACT: &str = knowledge_sql!(exact_dense!("<="));
const SEARCH_WIDE: &str = knowledge_sql!(exact_dense!(">"));
const SEARCH_GRAPH_384: &str = knowledge_sql!(graph_dense!("384"));
const SEARCH_GRAPH_1536: &str = knowledge_sql!(graph_dense!("1536"));

/// How a search runs, for this transaction: planned for its own client each time (a generic
/// plan does not see how few rows a small client has, and could walk the graph where the exact
/// scan is exact and faster); walking an HNSW graph, filtering as it goes until it has enough
/// (`relaxed_order`: the ranking orders the candidates again), with a candidate list of `$1`;
/// and, when `$2` is given, ending the search past that statement timeout (an error).
const SEARCH_SETTINGS: &str = "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true),
            set_config('hnsw.ef_search', $1, true),
            set_config('plan_cache_mode', 'force_custom_plan', true),
            set_config('statement_timeout', coalesce($2, current_setting('statement_timeout')), true)";

/// Which of `names` hold a ready document with chunks: one keyed look per name, which a
/// turn pays before it searches (an employee whose sources name nothing searchable pays only
/// this).
pub async fn searchable_collections(
    tx: &mut TenantTx,
    names: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query_scalar!(
        r#"SELECT n AS "name!" FROM unnest($2::text[]) AS n
           WHERE EXISTS (SELECT 1 FROM knowledge_documents d
                         WHERE d.client_id = $1 AND d.collection = n
                           AND d.state = 'ready' AND d.chunk_count > 0)"#,
        client.as_str(),
        names,
    )
    .fetch_all(&mut **tx)
    .await
}

/// A chunk found by retrieval.
#[derive(Debug, Clone)]
pub struct Found {
    pub document_id: String,
    pub ord: i32,
    pub text: String,
    pub title: String,
    pub collection: String,
    /// The reciprocal-rank-fusion score that ordered it.
    pub score: f64,
    pub similarity: Option<f64>,
    pub keyword: Option<f64>,
}

pub use crate::platform::ranking::Fusion;

/// The `limit` chunks of `collections` that best match the query vector (of `model`) and
/// words. Every chunk sharing a word is scored; the vectors are searched through an HNSW graph
/// where their width has one (approximate: BENCHMARKS.md §8 gives its recall), else exactly.
// One argument per thing the statement is given (as memory's recall takes them).
#[allow(clippy::too_many_arguments)]
pub async fn search(
    tx: &mut TenantTx,
    model: &str,
    collections: &[String],
    vector: Option<&HalfVector>,
    words: &str,
    fusion: Fusion,
    limit: u32,
    time_limit_ms: Option<u64>,
) -> Result<Vec<Found>, sqlx::Error> {
    use sqlx::Row;
    let dims = vector.map_or(0, |v| v.as_slice().len());
    let sql = match dims {
        384 => SEARCH_GRAPH_384,
        1536 => SEARCH_GRAPH_1536,
        d if d <= 1024 => SEARCH_COMPACT,
        _ => SEARCH_WIDE,
    };
    // At least the candidates each signal brings, and pgvector's default of 40.
    let ef_search = fusion.per_signal.clamp(40, 1000);
    sqlx::query(SEARCH_SETTINGS)
        .bind(ef_search.to_string())
        .bind(time_limit_ms.map(|ms| format!("{}ms", ms.max(1))))
        .execute(&mut **tx)
        .await?;
    let client = tx.client().clone();
    let rows = sqlx::query(sql)
        .bind(client.as_str())
        .bind(model)
        .bind(collections)
        .bind(vector)
        .bind(words)
        .bind(i64::from(fusion.per_signal))
        .bind(fusion.k)
        .bind(fusion.dense_weight)
        .bind(fusion.keyword_weight)
        .bind(i64::from(limit))
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Found {
                document_id: r.try_get("document_id")?,
                ord: r.try_get("ord")?,
                text: r.try_get("text")?,
                title: r.try_get("title")?,
                collection: r.try_get("collection")?,
                score: r.try_get::<Option<f64>, _>("score")?.unwrap_or(0.0),
                similarity: r.try_get("similarity")?,
                keyword: r.try_get("keyword")?,
            })
        })
        .collect()
}
