-- Semantic memory. `embedding` has no fixed dimension, so vectors of several embedding models
-- (384-d MiniLM, 1536-d OpenAI, ...) live in one column; `embedding_model` says which model made
-- each one, and a search only ever compares vectors of one model.
--
-- Recall is per employee and exact: this employee's vectors of one model are ranked by cosine
-- distance, so its recall is 1.0 by construction. Indexes per model:
-- * For the in-process model (all-minilm-l6-v2, 384-d) a partial index carries the vectors
--   themselves (INCLUDE), so ranking is an index-only scan over one contiguous range of the
--   index instead of one heap page per row (an employee's rows are spread over the whole
--   table). This stores those vectors twice.
-- * Any other model: a plain index on (client, employee, model). A B-tree entry holds at most
--   ~2.7 kB, so 1536-d or 3072-d vectors could not be carried in an index entry.
-- A global ANN index (HNSW) would rank the whole table and then drop the other employees' rows,
-- returning too few of this employee's memories; it is not used.
CREATE INDEX idx_interactions_recall_minilm
    ON employee_interactions (client_id, employee_id)
    INCLUDE (interaction_id, embedding)
    WHERE embedding IS NOT NULL AND embedding_model = 'all-minilm-l6-v2';
CREATE INDEX idx_interactions_recall
    ON employee_interactions (client_id, employee_id, embedding_model)
    WHERE embedding IS NOT NULL;

-- Rows still waiting for their embedding (the background indexer's backlog after a restart).
CREATE INDEX idx_interactions_unembedded
    ON employee_interactions (client_id, timestamp)
    WHERE embedding IS NULL AND status = 'completed';
