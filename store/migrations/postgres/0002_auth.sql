-- API tokens and the audit log (issue 7). A token is stored only as the
-- SHA-256 of its secret; the secret itself is shown once, when created.

CREATE TABLE api_tokens (
    id      TEXT COLLATE "C" PRIMARY KEY,
    name    TEXT NOT NULL,
    role    TEXT NOT NULL,
    hash    TEXT COLLATE "C" NOT NULL UNIQUE, -- hex SHA-256 of the secret
    created TIMESTAMPTZ NOT NULL,
    revoked TIMESTAMPTZ                     -- NULL while the token is valid
);

-- The audit log is append-only: the code has no UPDATE or DELETE path, and
-- this trigger refuses them (and TRUNCATE) from anywhere else too.
CREATE TABLE audit_log (
    seq    BIGSERIAL PRIMARY KEY,
    at     TIMESTAMPTZ NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
