-- Memory vectors get a table of their own, written only by INSERT.
--
-- Until now the indexer stored an exchange's vector with an UPDATE of the exchange's row. As the
-- vector is in an index, that UPDATE cannot be HOT: it writes a whole new copy of the row
-- (message, answer, context and all), an entry in each of the table's four indexes, and leaves a
-- dead row behind that clears the page's all-visible bit until vacuum comes by. Here a vector is
-- one narrow row and two index entries, and nothing is ever rewritten.
--
-- An exchange may now hold vectors of several embedding models, one each: after the server
-- switches to another model (memory.embedding_model) it embeds the history again with the new
-- one in the background, and the old vectors stay for a switch back.
CREATE TABLE interaction_vectors (
    client_id      VARCHAR(255) NOT NULL,
    employee_id    VARCHAR(255) NOT NULL,
    interaction_id VARCHAR(255) NOT NULL,
    model          VARCHAR(100) NOT NULL,
    embedding      halfvec      NOT NULL,
    -- Leads with the exchange's key, so deleting an exchange finds its vectors through it.
    PRIMARY KEY (client_id, employee_id, interaction_id, model),
    FOREIGN KEY (client_id, employee_id, interaction_id)
        REFERENCES employee_interactions (client_id, employee_id, interaction_id) ON DELETE CASCADE
);

-- Existing vectors move over. Row-level security is forced on the exchanges, also for their
-- owner, so it is lifted for the copy (inside this migration's transaction) and put back.
ALTER TABLE employee_interactions NO FORCE ROW LEVEL SECURITY;
INSERT INTO interaction_vectors (client_id, employee_id, interaction_id, model, embedding)
SELECT client_id, employee_id, interaction_id, embedding_model, embedding
FROM employee_interactions
WHERE embedding IS NOT NULL AND embedding_model IS NOT NULL;
ALTER TABLE employee_interactions FORCE ROW LEVEL SECURITY;

-- Ranking one employee's vectors of one model, as in 20261125000001_halfvec_recall.sql: up to
-- 1024 dimensions the index carries the vectors and recall is an index-only scan of one range;
-- wider vectors do not fit a B-tree entry and are ranked through the primary key.
CREATE INDEX idx_vectors_recall_compact
    ON interaction_vectors (client_id, employee_id, model)
    INCLUDE (interaction_id, embedding)
    WHERE vector_dims(embedding) <= 1024;

DROP INDEX idx_interactions_recall_compact;
DROP INDEX idx_interactions_recall_wide;
DROP INDEX idx_interactions_unembedded;
ALTER TABLE employee_interactions DROP COLUMN embedding, DROP COLUMN embedding_model;

-- No query filters on a vector's value, so ANALYZE need not sample and sort the vectors.
ALTER TABLE interaction_vectors ALTER COLUMN embedding SET STATISTICS 0;
-- Insert-only: autovacuum's visits are what mark pages all-visible for index-only scans.
ALTER TABLE interaction_vectors SET (
    autovacuum_vacuum_insert_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.05
);
-- Exchanges are no longer updated at all; their vacuum settings can be the defaults again.
ALTER TABLE employee_interactions RESET (
    autovacuum_vacuum_scale_factor,
    autovacuum_vacuum_insert_scale_factor,
    autovacuum_analyze_scale_factor
);

ALTER TABLE interaction_vectors ENABLE ROW LEVEL SECURITY;
ALTER TABLE interaction_vectors FORCE ROW LEVEL SECURITY;
CREATE POLICY interaction_vectors_tenant ON interaction_vectors
    USING (client_id = NULLIF(current_setting('app.current_client_id', true), ''))
    WITH CHECK (client_id = NULLIF(current_setting('app.current_client_id', true), ''));
GRANT SELECT, INSERT ON interaction_vectors TO workforce_app;
