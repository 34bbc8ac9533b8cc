-- Promotion gates: each environment's gate policy, kept as numbered versions that never change
-- (a decision names the version it was judged under), promotion requests and the one approval or
-- rejection each person may give on each.

-- The Entra group of a team: its members count as "the owning team" in approval rules.
ALTER TABLE teams ADD COLUMN entra_group_id TEXT;

CREATE TABLE gate_policies (
    environment_id BIGINT NOT NULL REFERENCES environments (id),
    version        INTEGER NOT NULL CONSTRAINT gate_policies_version_positive CHECK (version > 0),
    policy         JSONB NOT NULL CONSTRAINT gate_policies_policy_object CHECK (jsonb_typeof(policy) = 'object'),
    reason         TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (environment_id, version)
);

-- Policy versions are history: never changed, never removed.
CREATE FUNCTION gate_policies_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'gate_policies are kept as written: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER gate_policies_keep BEFORE UPDATE OR DELETE ON gate_policies
    FOR EACH ROW EXECUTE FUNCTION gate_policies_refuse_change();

CREATE TABLE promotions (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service_id          BIGINT NOT NULL REFERENCES services (id),
    version             TEXT NOT NULL,
    from_environment_id BIGINT NOT NULL REFERENCES environments (id),
    to_environment_id   BIGINT NOT NULL REFERENCES environments (id),
    hotfix              BOOLEAN NOT NULL DEFAULT false,
    state               TEXT NOT NULL DEFAULT 'pending'
                        CONSTRAINT promotions_state_value CHECK (state IN
                            ('pending', 'approved', 'rejected', 'expired', 'cancelled', 'deployed')),
    reason              TEXT NOT NULL DEFAULT '',
    -- Who asked: a person, or a token (then `requester_user_id` is its owner, who never approves).
    requester_id        TEXT NOT NULL,
    requester_name      TEXT NOT NULL,
    requester_user_id   BIGINT REFERENCES users (id),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at          TIMESTAMPTZ NOT NULL,
    decided_at          TIMESTAMPTZ,
    decided_by          TEXT,
    decision_note       TEXT NOT NULL DEFAULT '',
    -- The gate policy version in force when it was decided.
    policy_version      INTEGER,
    break_glass_by      TEXT,
    break_glass_reason  TEXT,
    deployment_id       BIGINT REFERENCES deployments (id),
    row_version         INTEGER NOT NULL DEFAULT 1,
    CONSTRAINT promotions_two_environments CHECK (from_environment_id <> to_environment_id),
    CONSTRAINT promotions_decided_has_time CHECK ((state = 'pending') = (decided_at IS NULL)),
    CONSTRAINT promotions_break_glass_has_reason CHECK ((break_glass_by IS NULL) = (break_glass_reason IS NULL)),
    CONSTRAINT promotions_deployed_has_deployment CHECK (state <> 'deployed' OR deployment_id IS NOT NULL)
);
-- One open request per version and target.
CREATE UNIQUE INDEX promotions_one_pending ON promotions (service_id, to_environment_id, version)
    WHERE state = 'pending';
CREATE INDEX promotions_pending_idx ON promotions (to_environment_id, id DESC) WHERE state = 'pending';
CREATE INDEX promotions_service_idx ON promotions (service_id, id DESC);

-- One decision per person per request.
CREATE TABLE promotion_approvals (
    promotion_id BIGINT NOT NULL REFERENCES promotions (id),
    user_id      BIGINT NOT NULL REFERENCES users (id),
    decision     TEXT NOT NULL CONSTRAINT promotion_approvals_decision_value CHECK (decision IN ('approve', 'reject')),
    comment      TEXT NOT NULL DEFAULT '',
    at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (promotion_id, user_id),
    CONSTRAINT promotion_approvals_reject_has_reason CHECK (decision <> 'reject' OR length(comment) > 0)
);
