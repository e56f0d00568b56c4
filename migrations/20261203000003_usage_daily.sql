-- Usage per employee, model and UTC day, kept by the insert of every exchange (in the same
-- transaction), so the dashboard's counts and charts read a few rows per day instead of every
-- exchange the client ever had. Usage outlives what it counts: erasing memory or deleting an
-- employee leaves its usage (no personal data is here, only counts), and the client's deletion
-- takes it along.
CREATE TABLE usage_daily (
    client_id         VARCHAR(255) NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    employee_id       VARCHAR(255) NOT NULL,
    day               DATE         NOT NULL,
    model             VARCHAR(100) NOT NULL,
    completed         BIGINT       NOT NULL DEFAULT 0,
    failed            BIGINT       NOT NULL DEFAULT 0,
    prompt_tokens     BIGINT       NOT NULL DEFAULT 0,
    completion_tokens BIGINT       NOT NULL DEFAULT 0,
    last_at           TIMESTAMPTZ  NOT NULL,
    PRIMARY KEY (client_id, day, employee_id, model)
);
CREATE INDEX idx_usage_daily_employee ON usage_daily (client_id, employee_id, day);

ALTER TABLE usage_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage_daily FORCE ROW LEVEL SECURITY;
CREATE POLICY usage_daily_tenant ON usage_daily
    USING (client_id = NULLIF(current_setting('app.current_client_id', true), ''))
    WITH CHECK (client_id = NULLIF(current_setting('app.current_client_id', true), ''));
GRANT SELECT, INSERT, UPDATE ON usage_daily TO workforce_app;

-- Runs as the inserting role, inside its tenant transaction: RLS applies to the upsert too.
CREATE FUNCTION wf_count_usage() RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO usage_daily AS u (client_id, employee_id, day, model, completed, failed,
                                  prompt_tokens, completion_tokens, last_at)
    VALUES (NEW.client_id, NEW.employee_id, (NEW."timestamp" AT TIME ZONE 'UTC')::date,
            coalesce(NEW.model, ''),
            (NEW.status = 'completed')::int, (NEW.status = 'failed')::int,
            NEW.prompt_tokens, NEW.completion_tokens, NEW."timestamp")
    ON CONFLICT (client_id, day, employee_id, model) DO UPDATE
    SET completed = u.completed + EXCLUDED.completed,
        failed = u.failed + EXCLUDED.failed,
        prompt_tokens = u.prompt_tokens + EXCLUDED.prompt_tokens,
        completion_tokens = u.completion_tokens + EXCLUDED.completion_tokens,
        last_at = greatest(u.last_at, EXCLUDED.last_at);
    RETURN NULL;
END $$;

CREATE TRIGGER trg_count_usage AFTER INSERT ON employee_interactions
    FOR EACH ROW EXECUTE FUNCTION wf_count_usage();

INSERT INTO usage_daily (client_id, employee_id, day, model, completed, failed,
                         prompt_tokens, completion_tokens, last_at)
SELECT client_id, employee_id, ("timestamp" AT TIME ZONE 'UTC')::date, coalesce(model, ''),
       count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status = 'failed'),
       sum(prompt_tokens), sum(completion_tokens), max("timestamp")
FROM employee_interactions
GROUP BY 1, 2, 3, 4;
