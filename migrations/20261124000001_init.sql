-- Schema for clients, employees, their interactions, API keys and the audit trail.
-- Runs as the owner (DATABASE_URL). The server's tenant queries run as `workforce_app`, which is
-- NOSUPERUSER, NOBYPASSRLS and owns nothing; every tenant table forces row-level security on
-- `app.current_client_id`, set per transaction with set_config(..., true).

CREATE EXTENSION IF NOT EXISTS vector;

-- Roles are cluster-wide: create them once, tolerating a concurrent migration of another database.
DO $$ BEGIN
  CREATE ROLE workforce_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
-- Owns the SECURITY DEFINER functions of the operator path; cannot log in.
DO $$ BEGIN
  CREATE ROLE workforce_operator NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;

CREATE TABLE clients (
    id            VARCHAR(255) PRIMARY KEY,
    name          VARCHAR(255) NOT NULL,
    industry      VARCHAR(100),
    tier          VARCHAR(50)  NOT NULL,
    configuration JSONB        NOT NULL,
    created_at    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    status        VARCHAR(20)  NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended'))
);

CREATE TABLE employees (
    client_id         VARCHAR(255) NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    id                VARCHAR(255) NOT NULL,
    name              VARCHAR(255) NOT NULL,
    role              VARCHAR(255) NOT NULL,
    industry          VARCHAR(100) NOT NULL,
    expertise_areas   TEXT[]       NOT NULL DEFAULT '{}',
    personality       JSONB        NOT NULL,
    model_preferences JSONB        NOT NULL,
    tool_access       TEXT[]       NOT NULL,
    knowledge_sources TEXT[]       NOT NULL,
    created_at        TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ  NOT NULL DEFAULT now(),
    archived_at       TIMESTAMPTZ,
    status            VARCHAR(20)  NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'archived')),
    PRIMARY KEY (client_id, id)
);
CREATE INDEX idx_employees_client_status ON employees (client_id, status);
CREATE INDEX idx_employees_client_created ON employees (client_id, created_at DESC);

CREATE TABLE employee_status_history (
    client_id   VARCHAR(255) NOT NULL,
    employee_id VARCHAR(255) NOT NULL,
    id          BIGINT GENERATED ALWAYS AS IDENTITY,
    from_status VARCHAR(20),
    to_status   VARCHAR(20)  NOT NULL,
    actor       VARCHAR(255) NOT NULL,
    changed_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, id),
    FOREIGN KEY (client_id, employee_id) REFERENCES employees (client_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_status_history_employee ON employee_status_history (client_id, employee_id, changed_at);

-- One row per exchange with an employee. The embedding column has no fixed dimension so that
-- 384-d local and 1536-d OpenAI embeddings can live side by side, indexed per model.
CREATE TABLE employee_interactions (
    id              UUID         PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id       VARCHAR(255) NOT NULL,
    employee_id     VARCHAR(255) NOT NULL,
    interaction_id  VARCHAR(255) NOT NULL,
    message         TEXT         NOT NULL,
    response        TEXT         NOT NULL,
    context         JSONB        NOT NULL DEFAULT '{}',
    timestamp       TIMESTAMPTZ  NOT NULL DEFAULT now(),
    embedding       vector,
    embedding_model VARCHAR(100),
    FOREIGN KEY (client_id, employee_id) REFERENCES employees (client_id, id) ON DELETE CASCADE,
    UNIQUE (client_id, employee_id, interaction_id)
);
CREATE INDEX idx_interactions_client_employee_time ON employee_interactions (client_id, employee_id, timestamp DESC);

CREATE TABLE api_keys (
    client_id    VARCHAR(255) NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    id           VARCHAR(64)  NOT NULL,   -- public part of the key, `wfk_<id>_<secret>`
    key_hash     TEXT         NOT NULL,   -- argon2id PHC string of the secret
    label        VARCHAR(100) NOT NULL DEFAULT 'default',
    created_at   TIMESTAMPTZ  NOT NULL DEFAULT now(),
    revoked_at   TIMESTAMPTZ,
    PRIMARY KEY (client_id, id)
);
CREATE INDEX idx_api_keys_id ON api_keys (id);

CREATE TABLE audit_events (
    client_id   VARCHAR(255) NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    id          BIGINT GENERATED ALWAYS AS IDENTITY,
    actor       VARCHAR(255) NOT NULL,
    action      VARCHAR(64)  NOT NULL,
    entity_type VARCHAR(32)  NOT NULL,
    entity_id   VARCHAR(255) NOT NULL,
    before      JSONB,
    after       JSONB,
    created_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, id)
);
CREATE INDEX idx_audit_entity ON audit_events (client_id, entity_type, entity_id, created_at);

-- Row-level security: every tenant table, enabled and forced, USING and WITH CHECK.
ALTER TABLE clients ENABLE ROW LEVEL SECURITY;
ALTER TABLE clients FORCE ROW LEVEL SECURITY;
CREATE POLICY clients_tenant ON clients
    USING (id = NULLIF(current_setting('app.current_client_id', true), ''))
    WITH CHECK (id = NULLIF(current_setting('app.current_client_id', true), ''));

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['employees', 'employee_status_history', 'employee_interactions', 'api_keys', 'audit_events'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY %I ON %I USING (client_id = NULLIF(current_setting(''app.current_client_id'', true), '''')) '
      'WITH CHECK (client_id = NULLIF(current_setting(''app.current_client_id'', true), ''''))',
      t || '_tenant', t);
  END LOOP;
END $$;

-- Runtime grants: only what the server does. The audit trail is append-only.
GRANT SELECT, INSERT ON clients TO workforce_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON employees TO workforce_app;
GRANT SELECT, INSERT ON employee_status_history TO workforce_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON employee_interactions TO workforce_app;
GRANT SELECT, INSERT, UPDATE ON api_keys TO workforce_app;
GRANT SELECT, INSERT ON audit_events TO workforce_app;

-- The operator path. Listing every client and resolving an API key to its client are the only
-- reads that span tenants; they go through these two functions, which run as
-- workforce_operator. That role can read clients and api_keys (nothing else) through its own
-- policies, and workforce_app may call the functions but not become the role.
GRANT SELECT ON clients, api_keys TO workforce_operator;
CREATE POLICY clients_operator_read ON clients FOR SELECT TO workforce_operator USING (true);
CREATE POLICY api_keys_operator_read ON api_keys FOR SELECT TO workforce_operator USING (true);

CREATE FUNCTION wf_list_clients()
RETURNS SETOF clients
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$ SELECT * FROM clients ORDER BY created_at DESC, id $$;

CREATE FUNCTION wf_lookup_api_key(p_key_id text)
RETURNS TABLE (client_id text, key_hash text, client_status text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  SELECT k.client_id::text, k.key_hash, c.status::text
  FROM api_keys k JOIN clients c ON c.id = k.client_id
  WHERE k.id = p_key_id AND k.revoked_at IS NULL
$$;

GRANT workforce_operator TO CURRENT_USER;
ALTER FUNCTION wf_list_clients() OWNER TO workforce_operator;
ALTER FUNCTION wf_lookup_api_key(text) OWNER TO workforce_operator;
REVOKE ALL ON FUNCTION wf_list_clients() FROM PUBLIC;
REVOKE ALL ON FUNCTION wf_lookup_api_key(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION wf_list_clients() TO workforce_app;
GRANT EXECUTE ON FUNCTION wf_lookup_api_key(text) TO workforce_app;
