-- MCP servers (issue #13): a client registers a Model Context Protocol server reachable over
-- streamable HTTP; the tools it lists join the client's catalogue as `server/tool`.
--
-- * `bearer_sealed`: the optional bearer token sent to the server, sealed by the server
--   (XChaCha20-Poly1305 under a key derived from WORKFORCE_SECRET_KEY, bound to the client and
--   the server's name), like HTTP tools' header values: never in clear here.
-- * `tools`: what the server listed when it was registered or last refreshed (name,
--   description, input schema); a turn offers these without asking the server again.
CREATE TABLE mcp_servers (
    client_id     VARCHAR(255) NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    name          VARCHAR(32)  NOT NULL CHECK (name ~ '^[a-z][a-z0-9-]{0,31}$'),
    url           TEXT         NOT NULL,
    bearer_sealed TEXT,
    tools         JSONB        NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(tools) = 'array'),
    listed_at     TIMESTAMPTZ  NOT NULL DEFAULT now(),
    created_at    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT mcp_servers_pkey PRIMARY KEY (client_id, name)
);

ALTER TABLE mcp_servers ENABLE ROW LEVEL SECURITY;
ALTER TABLE mcp_servers FORCE ROW LEVEL SECURITY;
CREATE POLICY mcp_servers_tenant ON mcp_servers
    USING (client_id = NULLIF(current_setting('app.current_client_id', true), ''))
    WITH CHECK (client_id = NULLIF(current_setting('app.current_client_id', true), ''));
GRANT SELECT, INSERT, UPDATE, DELETE ON mcp_servers TO workforce_app;
