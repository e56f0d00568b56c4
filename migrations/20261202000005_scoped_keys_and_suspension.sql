-- Scoped API keys, optionally bound to one employee, with their last use; the client's tier and
-- status with every key lookup (its rate limits apply to the request); client suspension by
-- the operator. Keys made before this carry every scope (`admin`), as they could do everything.
ALTER TABLE api_keys
    ADD COLUMN scopes       TEXT[]       NOT NULL DEFAULT '{admin}',
    ADD COLUMN employee_id  VARCHAR(255),
    ADD COLUMN last_used_at TIMESTAMPTZ;
ALTER TABLE api_keys
    ADD CONSTRAINT api_keys_scopes_known CHECK (
        scopes <@ ARRAY['employees:read', 'employees:write', 'interact', 'memory:read',
                        'memory:write', 'admin']::TEXT[]);
-- A bound key names an employee of its own client, and goes with it (never left unbound, which
-- would widen it to the whole client).
ALTER TABLE api_keys
    ADD CONSTRAINT api_keys_employee_fk FOREIGN KEY (client_id, employee_id)
        REFERENCES employees (client_id, id) ON DELETE CASCADE;
CREATE INDEX idx_api_keys_client_created ON api_keys (client_id, created_at DESC);

-- The key's scopes and binding travel with its lookup.
DROP FUNCTION wf_lookup_api_key(text);
CREATE FUNCTION wf_lookup_api_key(p_key_id text)
RETURNS TABLE (client_id text, key_hash text, client_status text, client_tier text,
               scopes text[], employee_id text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  SELECT k.client_id::text, k.key_hash, c.status::text, c.tier::text, k.scopes,
         k.employee_id::text
  FROM api_keys k JOIN clients c ON c.id = k.client_id
  WHERE k.id = p_key_id AND k.revoked_at IS NULL
$$;
ALTER FUNCTION wf_lookup_api_key(text) OWNER TO workforce_operator;
REVOKE ALL ON FUNCTION wf_lookup_api_key(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION wf_lookup_api_key(text) TO workforce_app;

-- Suspension: the runtime role may change a client's status (in that client's tenant
-- transaction, as RLS requires), nothing else of the row.
GRANT UPDATE (status, updated_at) ON clients TO workforce_app;
