-- People who sign in through the organisation's identity provider, and their browser sessions.
-- A person is their tenant id + object id (`tid` + `oid`), never their e-mail or name: those change.

CREATE TABLE users (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    object_id       TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    email           TEXT,
    -- As of the last sign-in: app roles, group object ids, and whether the groups were cut off
    -- (the token's groups-overage marker).
    roles           TEXT[] NOT NULL DEFAULT '{}',
    groups          TEXT[] NOT NULL DEFAULT '{}',
    groups_overage  BOOLEAN NOT NULL DEFAULT false,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_sign_in_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT users_identity_key UNIQUE (tenant_id, object_id)
);

-- Only a hash of the session token is stored: a copy of this table signs nobody in.
CREATE TABLE sessions (
    token_hash   BYTEA PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

-- A sign-in between the redirect to the provider and its answer: `state` finds it once.
CREATE TABLE sign_in_attempts (
    state         TEXT PRIMARY KEY,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    return_to     TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
