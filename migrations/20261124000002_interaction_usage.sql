-- What each interaction cost and how it went: the model that answered, token usage, latency,
-- and whether it failed (a failed turn keeps the user's message with an empty response).
ALTER TABLE employee_interactions
    ADD COLUMN status            VARCHAR(20)  NOT NULL DEFAULT 'completed' CHECK (status IN ('completed', 'failed')),
    ADD COLUMN model             VARCHAR(100),
    ADD COLUMN task_type         VARCHAR(64),
    ADD COLUMN prompt_tokens     INTEGER      NOT NULL DEFAULT 0,
    ADD COLUMN completion_tokens INTEGER      NOT NULL DEFAULT 0,
    ADD COLUMN latency_ms        INTEGER      NOT NULL DEFAULT 0,
    ADD COLUMN error             TEXT,
    ADD COLUMN idempotency_key   VARCHAR(255),
    ADD COLUMN memories_used     TEXT[]       NOT NULL DEFAULT '{}';

-- A retried request with the same Idempotency-Key finds the first answer.
CREATE UNIQUE INDEX ux_interactions_idempotency
    ON employee_interactions (client_id, employee_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
