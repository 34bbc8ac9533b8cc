-- Incidents: declared by people or opened by alerts, moved through a fixed lifecycle (the server
-- enforces the moves; the database keeps the values and the shape honest), with the services they
-- hurt, a timeline of everything that happened, and the deployments a person linked as a cause or
-- a fix.

CREATE TABLE incidents (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title         TEXT NOT NULL,
    severity      SMALLINT NOT NULL CONSTRAINT incidents_severity_value CHECK (severity BETWEEN 1 AND 4),
    state         TEXT NOT NULL DEFAULT 'triage'
                  CONSTRAINT incidents_state_value CHECK (state IN
                      ('triage', 'investigating', 'identified', 'monitoring', 'resolved', 'closed',
                       'declined', 'merged')),
    summary       TEXT NOT NULL DEFAULT '',
    commander_id  BIGINT REFERENCES users (id),
    merged_into   BIGINT REFERENCES incidents (id),
    source        TEXT NOT NULL DEFAULT 'manual'
                  CONSTRAINT incidents_source_value CHECK (source IN ('manual', 'alertmanager', 'pagerduty')),
    -- The alert's identity at its source (Alertmanager group key, PagerDuty incident id): one
    -- incident per alert, however often it is delivered.
    external_key  TEXT,
    started_at    TIMESTAMPTZ,
    detected_at   TIMESTAMPTZ,
    mitigated_at  TIMESTAMPTZ,
    resolved_at   TIMESTAMPTZ,
    declared_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    declared_by   TEXT NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    version       INTEGER NOT NULL DEFAULT 1,
    CONSTRAINT incidents_title_length CHECK (length(title) BETWEEN 1 AND 200),
    CONSTRAINT incidents_merged_has_target CHECK ((state = 'merged') = (merged_into IS NOT NULL)),
    CONSTRAINT incidents_not_merged_into_itself CHECK (merged_into <> id),
    CONSTRAINT incidents_source_external_key UNIQUE (source, external_key),
    CONSTRAINT incidents_resolved_has_time CHECK (state NOT IN ('resolved', 'closed') OR resolved_at IS NOT NULL)
);
-- The list, newest first; open ones first for the "what is on fire" views.
CREATE INDEX incidents_list_idx ON incidents (id DESC);
CREATE INDEX incidents_open_idx ON incidents (id DESC)
    WHERE state IN ('triage', 'investigating', 'identified', 'monitoring');

CREATE TABLE incident_services (
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    service_id  BIGINT NOT NULL REFERENCES services (id),
    PRIMARY KEY (incident_id, service_id)
);
CREATE INDEX incident_services_service_idx ON incident_services (service_id, incident_id DESC);

-- Everything that happened, in order: written by the server with each change, and notes by people.
CREATE TABLE incident_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    kind        TEXT NOT NULL
                CONSTRAINT incident_events_kind_value CHECK (kind IN
                    ('declared', 'state', 'severity', 'change', 'note', 'link', 'unlink', 'alert')),
    actor_id    TEXT NOT NULL,
    actor_name  TEXT NOT NULL,
    text        TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX incident_events_timeline_idx ON incident_events (incident_id, at, id);

-- A person's statement that a deployment caused, or fixed, an incident. Never made by Portolan.
CREATE TABLE incident_deployments (
    incident_id   BIGINT NOT NULL REFERENCES incidents (id),
    deployment_id BIGINT NOT NULL REFERENCES deployments (id),
    relation      TEXT NOT NULL CONSTRAINT incident_deployments_relation_value
                  CHECK (relation IN ('caused_by', 'fixed_by')),
    note          TEXT NOT NULL DEFAULT '',
    linked_by     TEXT NOT NULL,
    linked_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (incident_id, deployment_id, relation)
);
CREATE INDEX incident_deployments_deployment_idx ON incident_deployments (deployment_id);
