-- Vectors are stored in half precision (`halfvec`). The server scales every vector to unit length
-- before storing it (cosine similarity is unchanged and every component fits half precision), and
-- recall reads half the bytes; pgvector compares halfvec with F16C/FMA instructions picked at run
-- time. Measured on the same 2,431 vectors of 256 dimensions, interleaved: 2.27 ms with f32
-- vectors and the plain index, 1.49-1.57 ms with halfvec and the covering index below.
--
-- The recall indexes no longer name a model; they split by the vector's dimension instead:
-- * up to 1024 dimensions (MiniLM's 384, or an OpenAI model asked for 256/512/1024) a covering
--   index carries the vectors (INCLUDE), so ranking one employee's vectors is an index-only scan
--   of one contiguous range. A 1024-d halfvec takes 2 kB, inside a B-tree entry's ~2.7 kB;
-- * wider vectors (1536-d, 3072-d) a plain index, and each vector is read from the table.
-- The queries carry the same constant condition on vector_dims, so any plan can use them.
DROP INDEX idx_interactions_recall_minilm;
DROP INDEX idx_interactions_recall;

ALTER TABLE employee_interactions
    ALTER COLUMN embedding TYPE halfvec USING l2_normalize(embedding)::halfvec;

CREATE INDEX idx_interactions_recall_compact
    ON employee_interactions (client_id, employee_id, embedding_model)
    INCLUDE (interaction_id, embedding)
    WHERE embedding IS NOT NULL AND vector_dims(embedding) <= 1024;
CREATE INDEX idx_interactions_recall_wide
    ON employee_interactions (client_id, employee_id, embedding_model)
    WHERE embedding IS NOT NULL AND vector_dims(embedding) > 1024;

-- An index-only scan reads a row's vector from the index only on pages the visibility map marks
-- all-visible; elsewhere it also visits the table. Pages become all-visible when vacuumed, and
-- this table takes a write per exchange and one per vector, so autovacuum visits it after 2% of
-- its rows changed (the default, 20%, would leave a large table's newest fifth unvisited).
ALTER TABLE employee_interactions SET (
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_insert_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.05
);
