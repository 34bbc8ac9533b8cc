-- Teams, systems, services and the dependency graph between services.
-- Slugs are the public identifiers (URLs, API); ids stay internal.

CREATE TABLE teams (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug        TEXT NOT NULL CONSTRAINT teams_slug_key UNIQUE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    archived_at TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT teams_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$')
);

CREATE TABLE systems (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug          TEXT NOT NULL CONSTRAINT systems_slug_key UNIQUE,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    owner_team_id BIGINT REFERENCES teams (id),
    archived_at   TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT systems_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$')
);

-- array_to_string is only STABLE in general; for text[] it cannot change, which a generated
-- column needs to be told.
CREATE FUNCTION portolan_join_tags(tags TEXT[]) RETURNS TEXT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN array_to_string(tags, ' ');

CREATE TABLE services (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug           TEXT NOT NULL CONSTRAINT services_slug_key UNIQUE,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    owner_team_id  BIGINT NOT NULL REFERENCES teams (id),
    system_id      BIGINT REFERENCES systems (id),
    tier           SMALLINT NOT NULL CONSTRAINT services_tier_range CHECK (tier BETWEEN 1 AND 4),
    lifecycle      TEXT NOT NULL
                   CONSTRAINT services_lifecycle_value CHECK (lifecycle IN ('experimental', 'production', 'deprecated')),
    repository_url TEXT,
    runbook_url    TEXT,
    tags           TEXT[] NOT NULL DEFAULT '{}',
    archived_at    TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- What catalog search matches against, kept in step by Postgres itself.
    search_text    TEXT GENERATED ALWAYS AS (
                       lower(slug || ' ' || name || ' ' || description || ' ' || portolan_join_tags(tags))
                   ) STORED,
    CONSTRAINT services_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$')
);
CREATE INDEX services_owner_team_idx ON services (owner_team_id, slug);
CREATE INDEX services_system_idx ON services (system_id, slug);

CREATE TABLE service_dependencies (
    from_service_id BIGINT NOT NULL REFERENCES services (id),
    to_service_id   BIGINT NOT NULL REFERENCES services (id),
    kind            TEXT NOT NULL
                    CONSTRAINT service_dependencies_kind_value CHECK (kind IN ('sync', 'async', 'data')),
    source          TEXT NOT NULL DEFAULT 'declared'
                    CONSTRAINT service_dependencies_source_value CHECK (source IN ('declared', 'imported', 'observed')),
    description     TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (from_service_id, to_service_id),
    CONSTRAINT service_dependencies_no_self_loop CHECK (from_service_id <> to_service_id)
);
CREATE INDEX service_dependencies_to_idx ON service_dependencies (to_service_id);
