-- Alerts open incidents: the deliveries of the alert senders already processed (a retried
-- delivery changes nothing twice), the alerts seen on each incident (so that only news reaches the
-- timeline), and at most one open incident per alert at a time.

CREATE TABLE alert_deliveries (
    source      TEXT NOT NULL
                CONSTRAINT alert_deliveries_source_value CHECK (source IN ('alertmanager', 'pagerduty')),
    -- PagerDuty's event id; for Alertmanager, which sends none, the hex SHA-256 of the raw body.
    delivery_id TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    incident_id BIGINT REFERENCES incidents (id),
    action      TEXT NOT NULL
                CONSTRAINT alert_deliveries_action_value CHECK (action IN
                    ('opened', 'updated', 'resolved', 'duplicate', 'ignored')),
    reason      TEXT NOT NULL,
    PRIMARY KEY (source, delivery_id)
);
CREATE INDEX alert_deliveries_incident_idx ON alert_deliveries (incident_id) WHERE incident_id IS NOT NULL;

-- One alert of an Alertmanager group, each time it starts firing (a new starts_at is news again).
CREATE TABLE incident_alerts (
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    fingerprint TEXT NOT NULL,
    starts_at   TIMESTAMPTZ NOT NULL,
    name        TEXT NOT NULL,
    -- When it stopped firing, once Portolan was told.
    ends_at     TIMESTAMPTZ,
    PRIMARY KEY (incident_id, fingerprint, starts_at)
);

-- An alert that fires again after its incident was resolved or closed opens a new incident, so
-- an alert's identity is unique among the open incidents only.
ALTER TABLE incidents DROP CONSTRAINT incidents_source_external_key;
CREATE UNIQUE INDEX incidents_live_external_key ON incidents (source, external_key)
    WHERE state IN ('triage', 'investigating', 'identified', 'monitoring');
CREATE INDEX incidents_external_key_idx ON incidents (source, external_key, id DESC)
    WHERE external_key IS NOT NULL;
