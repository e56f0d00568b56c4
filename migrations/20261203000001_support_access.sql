-- Support access. The platform's operator sees every client, never its conversations — unless the
-- client's owner or admin grants support access: for a bounded time the operator may then read
-- the client's employees, their memory and their usage (never change anything, never talk to an
-- employee). Each grant, revocation and use is in the client's audit trail.
CREATE TABLE support_grants (
    client_id  VARCHAR(255) NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    id         VARCHAR(64)  NOT NULL,
    granted_by VARCHAR(255) NOT NULL,
    reason     TEXT         NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ  NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ  NOT NULL,
    revoked_at TIMESTAMPTZ,
    revoked_by VARCHAR(255),
    PRIMARY KEY (client_id, id),
    CHECK (expires_at > created_at)
);
CREATE INDEX idx_support_grants_live ON support_grants (client_id, expires_at)
    WHERE revoked_at IS NULL;

ALTER TABLE support_grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE support_grants FORCE ROW LEVEL SECURITY;
CREATE POLICY support_grants_tenant ON support_grants
    USING (client_id = NULLIF(current_setting('app.current_client_id', true), ''))
    WITH CHECK (client_id = NULLIF(current_setting('app.current_client_id', true), ''));

GRANT SELECT, INSERT ON support_grants TO workforce_app;
GRANT UPDATE (revoked_at, revoked_by) ON support_grants TO workforce_app;
