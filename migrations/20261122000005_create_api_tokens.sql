-- API tokens for pipelines. Only a hash of the secret is stored; `prefix` (its first characters)
-- lets people recognise a token in lists and logs. A token acts with its scopes, never with more
-- than its owner holds at the time of use.

CREATE TABLE api_tokens (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id),
    name         TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    prefix       TEXT NOT NULL,
    token_hash   BYTEA NOT NULL,
    scopes       TEXT[] NOT NULL CHECK (cardinality(scopes) > 0),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    CONSTRAINT api_tokens_hash_key UNIQUE (token_hash),
    CONSTRAINT api_tokens_expiry_after_creation CHECK (expires_at > created_at)
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id, id DESC);
