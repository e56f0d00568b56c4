-- The operator console's figures per client: live employees and this calendar month's (UTC)
-- answered turns and tokens. Aggregates only, through a function that runs as
-- workforce_operator, which may read usage_daily (as it reads employees) and nothing it returns
-- is more than a count.
GRANT SELECT ON usage_daily TO workforce_operator;
CREATE POLICY usage_daily_operator_read ON usage_daily FOR SELECT TO workforce_operator USING (true);

CREATE FUNCTION wf_client_overview()
RETURNS TABLE (client_id text, employees bigint, turns_this_month bigint, tokens_this_month bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  SELECT c.id::text,
         (SELECT count(*) FROM employees e WHERE e.client_id = c.id AND e.status <> 'archived'),
         coalesce(u.turns, 0)::bigint,
         coalesce(u.tokens, 0)::bigint
  FROM clients c
  LEFT JOIN (SELECT client_id, sum(completed) AS turns, sum(prompt_tokens + completion_tokens) AS tokens
             FROM usage_daily
             WHERE day >= date_trunc('month', now() AT TIME ZONE 'UTC')::date
             GROUP BY client_id) u ON u.client_id = c.id
$$;
ALTER FUNCTION wf_client_overview() OWNER TO workforce_operator;
REVOKE ALL ON FUNCTION wf_client_overview() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION wf_client_overview() TO workforce_app;
