-- Usage counts tool rounds (issue #13): the daily roll-up adds, per employee, model and day, the
-- model answers that asked for tools (`tool_rounds`) and the tool calls they made
-- (`tool_calls`), kept by the same trigger as the turns and tokens.
ALTER TABLE usage_daily
    ADD COLUMN tool_rounds BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN tool_calls  BIGINT NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION wf_count_usage() RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO usage_daily AS u (client_id, employee_id, day, model, completed, failed,
                                  prompt_tokens, completion_tokens, last_at, tool_rounds, tool_calls)
    VALUES (NEW.client_id, NEW.employee_id, (NEW."timestamp" AT TIME ZONE 'UTC')::date,
            coalesce(NEW.model, ''),
            (NEW.status = 'completed')::int, (NEW.status = 'failed')::int,
            NEW.prompt_tokens, NEW.completion_tokens, NEW."timestamp",
            NEW.tool_rounds, jsonb_array_length(NEW.tool_calls))
    ON CONFLICT (client_id, day, employee_id, model) DO UPDATE
    SET completed = u.completed + EXCLUDED.completed,
        failed = u.failed + EXCLUDED.failed,
        prompt_tokens = u.prompt_tokens + EXCLUDED.prompt_tokens,
        completion_tokens = u.completion_tokens + EXCLUDED.completion_tokens,
        last_at = greatest(u.last_at, EXCLUDED.last_at),
        tool_rounds = u.tool_rounds + EXCLUDED.tool_rounds,
        tool_calls = u.tool_calls + EXCLUDED.tool_calls;
    RETURN NULL;
END $$;

-- What was stored before this migration.
UPDATE usage_daily u
SET tool_rounds = t.rounds, tool_calls = t.calls
FROM (SELECT client_id, employee_id, ("timestamp" AT TIME ZONE 'UTC')::date AS day,
             coalesce(model, '') AS model, sum(tool_rounds) AS rounds,
             sum(jsonb_array_length(tool_calls)) AS calls
      FROM employee_interactions
      WHERE tool_rounds > 0 OR jsonb_array_length(tool_calls) > 0
      GROUP BY 1, 2, 3, 4) t
WHERE u.client_id = t.client_id AND u.employee_id = t.employee_id AND u.day = t.day
  AND u.model = t.model;
