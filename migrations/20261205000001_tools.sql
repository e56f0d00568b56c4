-- Clients' tools (issue #13): the catalogue of HTTP tools a client defines, and the tool calls
-- of each stored turn.
--
-- * `tools`: one row per client-defined tool. Built-in tools (current_time, memory_search, …)
--   are not rows: every client has them. `parameters` is the JSON Schema of the arguments the
--   model must send; `headers` holds each header's name and its value sealed by the server
--   (XChaCha20-Poly1305 under a key derived from WORKFORCE_SECRET_KEY, bound to the client, the
--   tool and the header name): the database never holds a header value in clear.
-- * `employee_interactions.tool_calls`: what the turn's tools were asked and answered (tool,
--   arguments, status, duration, result size, the start of the result), written with the turn
--   (the table is insert-only); `tool_rounds` counts the model calls that asked for tools.
CREATE TABLE tools (
    client_id          VARCHAR(255) NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    name               VARCHAR(64)  NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{0,63}$'),
    kind               VARCHAR(16)  NOT NULL DEFAULT 'http' CHECK (kind IN ('http')),
    description        TEXT         NOT NULL,
    parameters         JSONB        NOT NULL CHECK (jsonb_typeof(parameters) = 'object'),
    method             VARCHAR(8)   NOT NULL CHECK (method IN ('GET', 'POST', 'PUT', 'PATCH', 'DELETE')),
    url_template       TEXT         NOT NULL,
    headers            JSONB        NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(headers) = 'array'),
    timeout_ms         INTEGER      NOT NULL CHECK (timeout_ms BETWEEN 100 AND 120000),
    max_response_bytes INTEGER      NOT NULL CHECK (max_response_bytes BETWEEN 1 AND 1048576),
    created_at         TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT tools_pkey PRIMARY KEY (client_id, name)
);

ALTER TABLE tools ENABLE ROW LEVEL SECURITY;
ALTER TABLE tools FORCE ROW LEVEL SECURITY;
CREATE POLICY tools_tenant ON tools
    USING (client_id = NULLIF(current_setting('app.current_client_id', true), ''))
    WITH CHECK (client_id = NULLIF(current_setting('app.current_client_id', true), ''));
GRANT SELECT, INSERT, UPDATE, DELETE ON tools TO workforce_app;

ALTER TABLE employee_interactions
    ADD COLUMN tool_calls JSONB NOT NULL DEFAULT '[]'::jsonb
        CHECK (jsonb_typeof(tool_calls) = 'array'),
    ADD COLUMN tool_rounds SMALLINT NOT NULL DEFAULT 0 CHECK (tool_rounds >= 0);
