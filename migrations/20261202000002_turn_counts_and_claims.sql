-- How many exchanges each employee has answered (status 'completed'), counted in the same
-- transaction that stores one. Redis's recent list carries each entry's number, so a list that
-- is behind, ahead or has a hole (Redis restored from a snapshot, a push lost while Redis was
-- down) is told from the truth with one keyed read, and rebuilt from Postgres.
CREATE TABLE employee_turn_counts (
    client_id   VARCHAR(255) NOT NULL,
    employee_id VARCHAR(255) NOT NULL,
    answered    BIGINT       NOT NULL,
    PRIMARY KEY (client_id, employee_id),
    FOREIGN KEY (client_id, employee_id) REFERENCES employees (client_id, id) ON DELETE CASCADE
);

INSERT INTO employee_turn_counts (client_id, employee_id, answered)
SELECT client_id, employee_id, count(*)
FROM employee_interactions
WHERE status = 'completed'
GROUP BY client_id, employee_id;

-- A turn being answered under an Idempotency-Key: a second request with the key waits for the
-- first (and replays its stored answer) instead of generating another. A claim is released when
-- the turn is stored; one left by a crashed instance lapses at `expires_at`.
CREATE TABLE turn_claims (
    client_id       VARCHAR(255) NOT NULL,
    employee_id     VARCHAR(255) NOT NULL,
    idempotency_key VARCHAR(255) NOT NULL,
    expires_at      TIMESTAMPTZ  NOT NULL,
    PRIMARY KEY (client_id, employee_id, idempotency_key),
    FOREIGN KEY (client_id, employee_id) REFERENCES employees (client_id, id) ON DELETE CASCADE
);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['employee_turn_counts', 'turn_claims'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY %I ON %I USING (client_id = NULLIF(current_setting(''app.current_client_id'', true), '''')) '
      'WITH CHECK (client_id = NULLIF(current_setting(''app.current_client_id'', true), ''''))',
      t || '_tenant', t);
  END LOOP;
END $$;

GRANT SELECT, INSERT, UPDATE ON employee_turn_counts TO workforce_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON turn_claims TO workforce_app;
