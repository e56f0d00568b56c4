-- Monthly token budgets: per client and month, the tokens spent and the tokens reserved by turns
-- still running. A turn reserves an upper bound of what it can spend before it calls a model and
-- settles (releases the reservation, adds what it spent) when it is stored, so concurrent turns
-- never spend past the budget.
CREATE TABLE token_budgets (
    client_id VARCHAR(255) NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    period    DATE         NOT NULL,
    reserved  BIGINT       NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    spent     BIGINT       NOT NULL DEFAULT 0 CHECK (spent >= 0),
    PRIMARY KEY (client_id, period)
);
ALTER TABLE token_budgets ENABLE ROW LEVEL SECURITY;
ALTER TABLE token_budgets FORCE ROW LEVEL SECURITY;
CREATE POLICY token_budgets_tenant ON token_budgets
    USING (client_id = NULLIF(current_setting('app.current_client_id', true), ''))
    WITH CHECK (client_id = NULLIF(current_setting('app.current_client_id', true), ''));
GRANT SELECT, INSERT, UPDATE ON token_budgets TO workforce_app;
