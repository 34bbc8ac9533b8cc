-- The audit log: every change made through the API, written in the same transaction as the change.
-- Append-only (the database refuses UPDATE, DELETE and TRUNCATE) and hash-chained: each row's hash
-- covers its content and the previous row's hash, so `portolan audit verify` finds an edited or
-- removed row. `seq` is the position in the chain, assigned under a lock so that concurrent
-- transactions append in a single order.

CREATE TABLE audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    seq         BIGINT NOT NULL CONSTRAINT audit_log_seq_key UNIQUE,
    at          TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    actor_kind  TEXT NOT NULL CONSTRAINT audit_log_actor_kind_value
                CHECK (actor_kind IN ('user', 'token', 'system', 'anonymous')),
    actor_id    TEXT NOT NULL,
    actor_name  TEXT NOT NULL,
    action      TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    before      JSONB,
    after       JSONB,
    request_id  TEXT,
    prev_hash   BYTEA NOT NULL,
    hash        BYTEA NOT NULL
);
CREATE INDEX audit_log_target_idx ON audit_log (target_kind, target_id, seq DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, seq DESC);

-- The hash of a row: SHA-256 over an unambiguous JSON array of its content and the previous hash.
CREATE FUNCTION audit_log_row_hash(r audit_log) RETURNS BYTEA
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN sha256(convert_to(jsonb_build_array(
        r.seq, (extract(epoch FROM r.at) * 1000000)::bigint, r.actor_kind, r.actor_id, r.actor_name,
        r.action, r.target_kind, r.target_id, r.before, r.after, r.request_id, encode(r.prev_hash, 'hex')
    )::text, 'UTF8'));

CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last RECORD;
BEGIN
    -- One appender at a time; held until the transaction ends.
    PERFORM pg_advisory_xact_lock(7372697065);
    SELECT seq, hash INTO last FROM audit_log ORDER BY seq DESC LIMIT 1;
    NEW.seq := coalesce(last.seq, 0) + 1;
    NEW.prev_hash := coalesce(last.hash, '\x'::bytea);
    NEW.at := clock_timestamp();
    NEW.hash := audit_log_row_hash(NEW);
    RETURN NEW;
END
$$;

CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_chain();

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
