-- Resolving an API key also names its client's tier, whose rate limits apply to the request.
DROP FUNCTION wf_lookup_api_key(text);
CREATE FUNCTION wf_lookup_api_key(p_key_id text)
RETURNS TABLE (client_id text, key_hash text, client_status text, client_tier text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  SELECT k.client_id::text, k.key_hash, c.status::text, c.tier::text
  FROM api_keys k JOIN clients c ON c.id = k.client_id
  WHERE k.id = p_key_id AND k.revoked_at IS NULL
$$;
ALTER FUNCTION wf_lookup_api_key(text) OWNER TO workforce_operator;
REVOKE ALL ON FUNCTION wf_lookup_api_key(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION wf_lookup_api_key(text) TO workforce_app;
