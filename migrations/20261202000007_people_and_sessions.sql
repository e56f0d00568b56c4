-- People and their sessions. A person is the platform's operator (no client) or one client's
-- owner, admin or member; a member chats with the employees given to them. Sessions are kept
-- here (Redis only caches them), so a Redis restart signs nobody out. Invites are one-time
-- links an owner or admin hands to a new person.
--
-- Every table here carries its client and the tenant policy, like every tenant table. Signing in
-- (a lookup by email before any client is known), resolving a session cookie and accepting an
-- invite span tenants: they go through the SECURITY DEFINER functions below, which run as
-- workforce_operator, as resolving an API key does.

CREATE TABLE users (
    id            VARCHAR(64)  PRIMARY KEY,
    client_id     VARCHAR(255) REFERENCES clients (id) ON DELETE CASCADE,
    email         VARCHAR(320) NOT NULL,
    password_hash TEXT         NOT NULL,
    role          VARCHAR(16)  NOT NULL CHECK (role IN ('operator', 'owner', 'admin', 'member')),
    created_at    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    last_sign_in_at TIMESTAMPTZ,
    CHECK ((client_id IS NULL) = (role = 'operator')),
    UNIQUE (client_id, id)
);
CREATE UNIQUE INDEX users_email ON users (lower(email));
CREATE INDEX idx_users_client ON users (client_id, created_at);

-- The employees a member may chat with.
CREATE TABLE member_employees (
    client_id   VARCHAR(255) NOT NULL,
    user_id     VARCHAR(64)  NOT NULL,
    employee_id VARCHAR(255) NOT NULL,
    PRIMARY KEY (user_id, employee_id),
    FOREIGN KEY (client_id, user_id) REFERENCES users (client_id, id) ON DELETE CASCADE,
    FOREIGN KEY (client_id, employee_id) REFERENCES employees (client_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_member_employees_employee ON member_employees (client_id, employee_id);

-- A session is known by a keyed digest of its cookie, never by the cookie itself.
CREATE TABLE sessions (
    id_digest    TEXT         PRIMARY KEY,
    user_id      VARCHAR(64)  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id    VARCHAR(255) REFERENCES clients (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ  NOT NULL DEFAULT now(),
    last_seen_at TIMESTAMPTZ  NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ  NOT NULL,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX idx_sessions_user ON sessions (user_id) WHERE revoked_at IS NULL;
CREATE INDEX idx_sessions_client ON sessions (client_id) WHERE revoked_at IS NULL;

CREATE TABLE invites (
    client_id    VARCHAR(255) NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    id           VARCHAR(64)  NOT NULL,
    token_digest TEXT         NOT NULL UNIQUE,
    role         VARCHAR(16)  NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    employee_ids TEXT[]       NOT NULL DEFAULT '{}',
    created_by   VARCHAR(255) NOT NULL,
    created_at   TIMESTAMPTZ  NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ  NOT NULL,
    accepted_at  TIMESTAMPTZ,
    accepted_by  VARCHAR(64),
    PRIMARY KEY (client_id, id)
);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['users', 'member_employees', 'sessions', 'invites'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY %I ON %I USING (client_id = NULLIF(current_setting(''app.current_client_id'', true), '''')) '
      'WITH CHECK (client_id = NULLIF(current_setting(''app.current_client_id'', true), ''''))',
      t || '_tenant', t);
    EXECUTE format('CREATE POLICY %I ON %I TO workforce_operator USING (true) WITH CHECK (true)',
      t || '_operator', t);
  END LOOP;
END $$;

-- Runtime grants: a client's owners and admins list, change and remove its people, give members
-- employees, issue invites; sign-out everywhere and suspension revoke a client's sessions.
GRANT SELECT, DELETE ON users TO workforce_app;
GRANT UPDATE (role) ON users TO workforce_app;
GRANT SELECT, INSERT, DELETE ON member_employees TO workforce_app;
GRANT SELECT ON sessions TO workforce_app;
GRANT UPDATE (revoked_at) ON sessions TO workforce_app;
GRANT SELECT, INSERT ON invites TO workforce_app;
GRANT SELECT, INSERT, UPDATE ON users, sessions, invites, member_employees TO workforce_operator;
GRANT SELECT ON employees TO workforce_operator;
CREATE POLICY employees_operator_read ON employees FOR SELECT TO workforce_operator USING (true);

-- Signing in: the account an email names, with its client's status and tier.
CREATE FUNCTION wf_sign_in_lookup(p_email text)
RETURNS TABLE (user_id text, client_id text, role text, password_hash text,
               client_status text, client_tier text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  SELECT u.id::text, u.client_id::text, u.role::text, u.password_hash, c.status::text,
         c.tier::text
  FROM users u LEFT JOIN clients c ON c.id = u.client_id
  WHERE lower(u.email) = lower(p_email)
$$;

-- A new session for a person who has just proved who they are.
CREATE FUNCTION wf_session_open(p_digest text, p_user_id text, p_absolute_seconds int)
RETURNS timestamptz
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  UPDATE users SET last_sign_in_at = now() WHERE id = p_user_id;
  INSERT INTO sessions (id_digest, user_id, client_id, expires_at)
  SELECT p_digest, u.id, u.client_id, now() + make_interval(secs => p_absolute_seconds)
  FROM users u WHERE u.id = p_user_id
  RETURNING expires_at
$$;

-- The person behind a live session (neither revoked, past its absolute expiry, nor idle longer
-- than p_idle_seconds), noting that it was seen. Members come with their employees.
CREATE FUNCTION wf_session_resolve(p_digest text, p_idle_seconds int)
RETURNS TABLE (user_id text, email text, client_id text, role text, client_status text,
               client_tier text, employee_ids text[], expires_at timestamptz)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  WITH s AS (
    UPDATE sessions SET last_seen_at = now()
    WHERE id_digest = p_digest AND revoked_at IS NULL AND expires_at > now()
      AND last_seen_at > now() - make_interval(secs => p_idle_seconds)
    RETURNING sessions.user_id, sessions.expires_at
  )
  SELECT u.id::text, u.email::text, u.client_id::text, u.role::text, c.status::text,
         c.tier::text,
         ARRAY(SELECT m.employee_id::text FROM member_employees m WHERE m.user_id = u.id
               ORDER BY 1),
         s.expires_at
  FROM s JOIN users u ON u.id = s.user_id LEFT JOIN clients c ON c.id = u.client_id
$$;

-- Ends one session; or, with p_all, every session of its person. Returns the digests ended.
CREATE FUNCTION wf_session_close(p_digest text, p_all boolean)
RETURNS SETOF text
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  UPDATE sessions SET revoked_at = now()
  WHERE revoked_at IS NULL
    AND (id_digest = p_digest
         OR (p_all AND user_id = (SELECT user_id FROM sessions WHERE id_digest = p_digest)))
  RETURNING id_digest
$$;

-- The client of a live invite, so its acceptance runs in that client's transaction.
CREATE FUNCTION wf_invite_client(p_token_digest text)
RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  SELECT i.client_id::text FROM invites i
  WHERE i.token_digest = p_token_digest AND i.accepted_at IS NULL AND i.expires_at > now()
$$;

-- Accepting an invite: the person's account, made once from a live invite. Answers the new
-- account's client and role, or 'invalid' (no such live invite) or 'email_taken'.
CREATE FUNCTION wf_invite_accept(p_token_digest text, p_user_id text, p_email text,
                                 p_password_hash text)
RETURNS TABLE (outcome text, client_id text, role text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE inv invites%ROWTYPE;
BEGIN
  SELECT * INTO inv FROM invites i
  WHERE i.token_digest = p_token_digest AND i.accepted_at IS NULL AND i.expires_at > now()
  FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'invalid'::text, NULL::text, NULL::text;
    RETURN;
  END IF;
  IF EXISTS (SELECT 1 FROM users u WHERE lower(u.email) = lower(p_email)) THEN
    RETURN QUERY SELECT 'email_taken'::text, NULL::text, NULL::text;
    RETURN;
  END IF;
  INSERT INTO users (id, client_id, email, password_hash, role)
  VALUES (p_user_id, inv.client_id, p_email, p_password_hash, inv.role);
  INSERT INTO member_employees (client_id, user_id, employee_id)
  SELECT inv.client_id, p_user_id, e.id FROM employees e
  WHERE e.client_id = inv.client_id AND e.id = ANY (inv.employee_ids);
  UPDATE invites SET accepted_at = now(), accepted_by = p_user_id
  WHERE invites.client_id = inv.client_id AND invites.id = inv.id;
  RETURN QUERY SELECT 'ok'::text, inv.client_id::text, inv.role::text;
END
$$;

-- The first operator: made only while there is none. Answers whether it was made.
CREATE FUNCTION wf_operator_ensure(p_user_id text, p_email text, p_password_hash text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('wf_operator_ensure'));
  IF EXISTS (SELECT 1 FROM users WHERE role = 'operator') THEN
    RETURN false;
  END IF;
  INSERT INTO users (id, client_id, email, password_hash, role)
  VALUES (p_user_id, NULL, p_email, p_password_hash, 'operator');
  RETURN true;
END
$$;

DO $$
DECLARE f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['wf_sign_in_lookup(text)', 'wf_session_open(text, text, int)',
                           'wf_session_resolve(text, int)', 'wf_session_close(text, boolean)',
                           'wf_invite_client(text)', 'wf_invite_accept(text, text, text, text)',
                           'wf_operator_ensure(text, text, text)'] LOOP
    EXECUTE format('ALTER FUNCTION %s OWNER TO workforce_operator', f);
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO workforce_app', f);
  END LOOP;
END $$;
