-- The audit trail becomes a hash chain per client. Each new row carries the request it came from
-- (request id, caller's address), the hash of the previous row of its client (`prev_hash`, empty
-- for the first) and its own `hash`: SHA-256 over `prev_hash`, a newline and the row's canonical
-- JSON (see audit::chain, and docs/audit.md for the algorithm). Rows written before this
-- migration carry no hash; verification accepts them only before the first chained row.
-- Writers of one client serialise on a transaction-scoped advisory lock, so the chain has one
-- order. The runtime role keeps SELECT and INSERT only: no row can be changed or removed by it.
ALTER TABLE audit_events
    ADD COLUMN request_id VARCHAR(128),
    ADD COLUMN ip         VARCHAR(64),
    ADD COLUMN prev_hash  VARCHAR(64),
    ADD COLUMN hash       VARCHAR(64);
-- Each client's newest chained row, found without a scan.
CREATE INDEX idx_audit_chain ON audit_events (client_id, id DESC) WHERE hash IS NOT NULL;
