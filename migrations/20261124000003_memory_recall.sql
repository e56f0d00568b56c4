-- Semantic memory. `embedding` has no fixed dimension, so vectors of several embedding models
-- (384-d MiniLM, 1536-d OpenAI, ...) live in one column; `embedding_model` says which model made
-- each one, and a search only ever compares vectors of one model.
--
-- Recall is per employee and exact: the rows of one employee and one model are found through
-- this index and ranked by cosine distance, so its recall is 1.0 by construction. A global ANN
-- index (HNSW) would rank the whole table and then drop the other employees' rows, returning
-- too few of this employee's memories; it is not used.
CREATE INDEX idx_interactions_recall
    ON employee_interactions (client_id, employee_id, embedding_model)
    WHERE embedding IS NOT NULL;

-- Rows still waiting for their embedding (the background indexer's backlog after a restart).
CREATE INDEX idx_interactions_unembedded
    ON employee_interactions (client_id, timestamp)
    WHERE embedding IS NULL AND status = 'completed';
