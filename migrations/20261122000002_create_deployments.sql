-- The ordered pipeline of environments, and the deployments recorded into them.
-- A service's current version in an environment is derived from deployments, never stored.

CREATE TABLE environments (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug          TEXT NOT NULL CONSTRAINT environments_slug_key UNIQUE,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    position      INTEGER NOT NULL,
    is_production BOOLEAN NOT NULL DEFAULT false,
    archived_at   TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT environments_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    CONSTRAINT environments_position_positive CHECK (position > 0),
    -- Deferred so that a reorder can shift every position inside one transaction.
    CONSTRAINT environments_position_key UNIQUE (position) DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE deployments (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service_id     BIGINT NOT NULL REFERENCES services (id),
    environment_id BIGINT NOT NULL REFERENCES environments (id),
    version        TEXT NOT NULL,
    commit_sha     TEXT,
    status         TEXT NOT NULL
                   CONSTRAINT deployments_status_value
                   CHECK (status IN ('queued', 'in_progress', 'succeeded', 'failed', 'rolled_back')),
    kind           TEXT NOT NULL DEFAULT 'normal'
                   CONSTRAINT deployments_kind_value CHECK (kind IN ('normal', 'hotfix', 'rollback')),
    started_at     TIMESTAMPTZ,
    finished_at    TIMESTAMPTZ,
    deployed_by    TEXT,
    pipeline_url   TEXT,
    source         TEXT NOT NULL DEFAULT 'api',
    external_id    TEXT,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT deployments_source_external_id_key UNIQUE (source, external_id),
    CONSTRAINT deployments_finished_after_started CHECK (finished_at IS NULL OR started_at IS NULL OR finished_at >= started_at),
    -- A deployment that has ended says when: "what runs where" orders by it.
    CONSTRAINT deployments_ended_has_finished_at CHECK (status IN ('queued', 'in_progress') OR finished_at IS NOT NULL)
);
-- The feed, newest first, optionally for one service or environment.
CREATE INDEX deployments_feed_idx ON deployments (id DESC);
CREATE INDEX deployments_service_idx ON deployments (service_id, id DESC);
CREATE INDEX deployments_environment_idx ON deployments (environment_id, id DESC);
-- "What runs where": the latest succeeded deployment per service and environment.
CREATE INDEX deployments_current_idx ON deployments (service_id, environment_id, finished_at DESC, id DESC)
    WHERE status = 'succeeded';

CREATE TABLE deployment_changes (
    deployment_id BIGINT NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    sha           TEXT NOT NULL,
    author        TEXT NOT NULL,
    message       TEXT NOT NULL DEFAULT '',
    committed_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (deployment_id, sha)
);
