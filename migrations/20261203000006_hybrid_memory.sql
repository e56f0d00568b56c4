-- Memory that finds what matters (issue #12).
--
-- * A memory unit is what recall compares a new turn with: the user's message together with the
--   assistant's turn just before it (a reply loses its question otherwise: "Any plans for the
--   summer?" → "Researching adoption agencies"), not the answer's full text. `prior_reply` keeps
--   the start (600 characters) of that previous answer with each exchange; the exchange (message and answer)
--   stays what is shown.
-- * Keyword recall: `search_terms`, the unit's words as an English full-text vector (stemmed, no
--   stop words; the message's words weighted A, the reply's B), kept by Postgres itself, and a GIN index led by the client and employee (the
--   `btree_gin` operator classes), so a keyword search reads one employee's postings only.
-- * An exchange's time may be the conversation's own (`occurred_at` on interact and on import),
--   so the answered count no longer implies time order; nothing here depends on it.
CREATE EXTENSION IF NOT EXISTS btree_gin;

ALTER TABLE employee_interactions ADD COLUMN prior_reply TEXT NOT NULL DEFAULT '';

-- Existing exchanges get the answer before each of them, as a new one will.
ALTER TABLE employee_interactions NO FORCE ROW LEVEL SECURITY;
UPDATE employee_interactions i
SET prior_reply = p.prior
FROM (SELECT id,
             left(coalesce(lag(response) OVER (PARTITION BY client_id, employee_id
                                               ORDER BY timestamp, id), ''), 600) AS prior
      FROM employee_interactions
      WHERE status = 'completed') p
WHERE i.id = p.id AND p.prior <> '';
ALTER TABLE employee_interactions FORCE ROW LEVEL SECURITY;

ALTER TABLE employee_interactions
    ADD COLUMN search_terms tsvector
        GENERATED ALWAYS AS (
            setweight(to_tsvector('english'::regconfig, message), 'A')
            || setweight(to_tsvector('english'::regconfig, prior_reply), 'B')) STORED;

CREATE INDEX idx_interactions_search_terms
    ON employee_interactions USING gin (client_id, employee_id, search_terms);

-- `source` tells imported exchanges from answered ones.
ALTER TABLE employee_interactions ADD COLUMN source VARCHAR(16) NOT NULL DEFAULT 'turn'
    CHECK (source IN ('turn', 'import'));

-- Imports are idempotent per line: each imported line's id, with the exchange that holds it. A
-- line sent again (a file sent twice, or again after an interrupted import) is skipped; the
-- lines of an exchange cut in two by an interruption are stored once, the late ones as an
-- exchange of their own. Erasing the exchange erases its lines' record too.
CREATE TABLE memory_import_lines (
    client_id      VARCHAR(255) NOT NULL,
    employee_id    VARCHAR(255) NOT NULL,
    line_id        VARCHAR(255) NOT NULL,
    interaction_id VARCHAR(255) NOT NULL,
    PRIMARY KEY (client_id, employee_id, line_id),
    FOREIGN KEY (client_id, employee_id, interaction_id)
        REFERENCES employee_interactions (client_id, employee_id, interaction_id) ON DELETE CASCADE
);
CREATE INDEX idx_import_lines_interaction
    ON memory_import_lines (client_id, employee_id, interaction_id);
ALTER TABLE memory_import_lines ENABLE ROW LEVEL SECURITY;
ALTER TABLE memory_import_lines FORCE ROW LEVEL SECURITY;
CREATE POLICY memory_import_lines_tenant ON memory_import_lines
    USING (client_id = NULLIF(current_setting('app.current_client_id', true), ''))
    WITH CHECK (client_id = NULLIF(current_setting('app.current_client_id', true), ''));
GRANT SELECT, INSERT ON memory_import_lines TO workforce_app;

-- Usage counts what the models did: an imported exchange called no model and is not counted.
DROP TRIGGER trg_count_usage ON employee_interactions;
CREATE TRIGGER trg_count_usage AFTER INSERT ON employee_interactions
    FOR EACH ROW WHEN (NEW.source = 'turn') EXECUTE FUNCTION wf_count_usage();
