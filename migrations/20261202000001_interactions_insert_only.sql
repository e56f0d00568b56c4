-- A stored exchange is never changed: the runtime role keeps SELECT, INSERT and DELETE (an
-- employee's deletion takes its exchanges along) and loses UPDATE, which nothing has used since
-- the vectors moved to interaction_vectors.
REVOKE UPDATE ON employee_interactions FROM workforce_app;
