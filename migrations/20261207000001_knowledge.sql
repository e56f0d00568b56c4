-- Knowledge sources (issue #13): a client's collections of documents, the documents as uploaded
-- and their ingestion state, and the chunks they are split into, with a full-text vector and an
-- embedding per model. Every table is a tenant table (RLS forced, keys led by client_id).
--
-- * `knowledge_documents.content`: the upload itself, kept until it is ingested (then
--   dropped), so a restart loses nothing: a document `queued`, or `processing` under a lease that
--   ran out (`lease_until`), is taken up again.
-- * `knowledge_chunks.search_terms`: the chunk's words (English full-text configuration),
--   indexed under the client for keyword retrieval.
-- * `knowledge_vectors`: one row per chunk and embedding model (insert-only, like
--   interaction_vectors): after a switch of model the chunks are embedded again beside the old.
CREATE TABLE knowledge_collections (
    client_id   VARCHAR(255) NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    name        VARCHAR(64)  NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    description TEXT         NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT knowledge_collections_pkey PRIMARY KEY (client_id, name)
);

CREATE TABLE knowledge_documents (
    client_id   VARCHAR(255) NOT NULL,
    id          VARCHAR(64)  NOT NULL,
    collection  VARCHAR(64)  NOT NULL,
    title       TEXT         NOT NULL,
    media_type  VARCHAR(64)  NOT NULL,
    bytes       INTEGER      NOT NULL CHECK (bytes >= 0),
    content     BYTEA,
    state       VARCHAR(16)  NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'processing', 'ready', 'failed')),
    progress    REAL         NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    chunk_count INTEGER      NOT NULL DEFAULT 0,
    error       TEXT,
    lease_until TIMESTAMPTZ,
    created_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT knowledge_documents_pkey PRIMARY KEY (client_id, id),
    FOREIGN KEY (client_id, collection)
        REFERENCES knowledge_collections (client_id, name) ON DELETE CASCADE
);
CREATE INDEX idx_knowledge_documents_collection
    ON knowledge_documents (client_id, collection, created_at);
-- What the ingester looks for: documents not yet done.
CREATE INDEX idx_knowledge_documents_pending
    ON knowledge_documents (created_at) WHERE state IN ('queued', 'processing');

CREATE TABLE knowledge_chunks (
    client_id    VARCHAR(255) NOT NULL,
    document_id  VARCHAR(64)  NOT NULL,
    ord          INTEGER      NOT NULL,
    collection   VARCHAR(64)  NOT NULL,
    text         TEXT         NOT NULL,
    search_terms tsvector     NOT NULL GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    CONSTRAINT knowledge_chunks_pkey PRIMARY KEY (client_id, document_id, ord),
    FOREIGN KEY (client_id, document_id)
        REFERENCES knowledge_documents (client_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_knowledge_chunks_search
    ON knowledge_chunks USING gin (client_id, collection, search_terms);

CREATE TABLE knowledge_vectors (
    client_id   VARCHAR(255) NOT NULL,
    document_id VARCHAR(64)  NOT NULL,
    ord         INTEGER      NOT NULL,
    collection  VARCHAR(64)  NOT NULL,
    model       VARCHAR(100) NOT NULL,
    embedding   halfvec      NOT NULL,
    CONSTRAINT knowledge_vectors_pkey PRIMARY KEY (client_id, document_id, ord, model),
    FOREIGN KEY (client_id, document_id, ord)
        REFERENCES knowledge_chunks (client_id, document_id, ord) ON DELETE CASCADE
);
CREATE INDEX idx_knowledge_vectors_ranking
    ON knowledge_vectors (client_id, model, collection)
    INCLUDE (document_id, ord, embedding)
    WHERE vector_dims(embedding) <= 1024;
ALTER TABLE knowledge_vectors ALTER COLUMN embedding SET STATISTICS 0;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['knowledge_collections', 'knowledge_documents', 'knowledge_chunks',
                             'knowledge_vectors'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY %I ON %I
                          USING (client_id = NULLIF(current_setting(''app.current_client_id'', true), ''''))
                          WITH CHECK (client_id = NULLIF(current_setting(''app.current_client_id'', true), ''''))',
                       t || '_tenant', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO workforce_app', t);
    END LOOP;
END $$;

-- The ingester's one read across clients: which documents wait (queued, or processing under a
-- lease that ran out — an instance stopped mid-way), oldest first; ids only. It runs as
-- workforce_operator, which may read these two columns' rows for this and nothing else.
GRANT SELECT ON knowledge_documents TO workforce_operator;
CREATE POLICY knowledge_documents_operator_read ON knowledge_documents FOR SELECT
    TO workforce_operator USING (true);
CREATE FUNCTION wf_knowledge_pending(max_rows integer)
RETURNS TABLE (client_id text, document_id text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  SELECT d.client_id::text, d.id::text
  FROM knowledge_documents d
  WHERE d.state = 'queued' OR (d.state = 'processing' AND d.lease_until < now())
  ORDER BY d.created_at
  LIMIT max_rows
$$;
ALTER FUNCTION wf_knowledge_pending(integer) OWNER TO workforce_operator;
REVOKE ALL ON FUNCTION wf_knowledge_pending(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION wf_knowledge_pending(integer) TO workforce_app;
