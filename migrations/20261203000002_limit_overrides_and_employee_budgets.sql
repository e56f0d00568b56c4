-- Limits beyond the tier's. The operator may override any of a client's tier limits
-- (requests_per_second, burst, key_requests_per_second, key_burst, max_concurrent_turns,
-- monthly_tokens, monthly_cost_usd); `{}` keeps the tier's. A client's owner or admin may give
-- an employee a monthly budget of its own (tokens, cost or both), inside the client's: a turn
-- then reserves against both. Costs are kept in millionths of a US dollar.
ALTER TABLE clients ADD COLUMN limit_overrides JSONB NOT NULL DEFAULT '{}'::jsonb
    CHECK (jsonb_typeof(limit_overrides) = 'object');
GRANT UPDATE (limit_overrides, updated_at) ON clients TO workforce_app;

-- The client's monthly cost, beside its tokens.
ALTER TABLE token_budgets
    ADD COLUMN reserved_cost BIGINT NOT NULL DEFAULT 0 CHECK (reserved_cost >= 0),
    ADD COLUMN spent_cost    BIGINT NOT NULL DEFAULT 0 CHECK (spent_cost >= 0);

CREATE TABLE employee_budgets (
    client_id      VARCHAR(255) NOT NULL,
    employee_id    VARCHAR(255) NOT NULL,
    monthly_tokens BIGINT       CHECK (monthly_tokens > 0),
    monthly_cost   BIGINT       CHECK (monthly_cost > 0),
    updated_at     TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CHECK (monthly_tokens IS NOT NULL OR monthly_cost IS NOT NULL),
    PRIMARY KEY (client_id, employee_id),
    FOREIGN KEY (client_id, employee_id) REFERENCES employees (client_id, id) ON DELETE CASCADE
);

-- Per employee and month: the tokens its turns spent and the tokens running turns hold.
CREATE TABLE employee_token_budgets (
    client_id   VARCHAR(255) NOT NULL,
    employee_id VARCHAR(255) NOT NULL,
    period      DATE         NOT NULL,
    reserved    BIGINT       NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    spent       BIGINT       NOT NULL DEFAULT 0 CHECK (spent >= 0),
    reserved_cost BIGINT     NOT NULL DEFAULT 0 CHECK (reserved_cost >= 0),
    spent_cost  BIGINT       NOT NULL DEFAULT 0 CHECK (spent_cost >= 0),
    PRIMARY KEY (client_id, employee_id, period),
    FOREIGN KEY (client_id, employee_id) REFERENCES employees (client_id, id) ON DELETE CASCADE
);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['employee_budgets', 'employee_token_budgets'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY %I ON %I USING (client_id = NULLIF(current_setting(''app.current_client_id'', true), '''')) '
      'WITH CHECK (client_id = NULLIF(current_setting(''app.current_client_id'', true), ''''))',
      t || '_tenant', t);
  END LOOP;
END $$;

GRANT SELECT, INSERT, UPDATE, DELETE ON employee_budgets TO workforce_app;
GRANT SELECT, INSERT, UPDATE ON employee_token_budgets TO workforce_app;
