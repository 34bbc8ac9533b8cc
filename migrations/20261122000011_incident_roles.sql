-- The roles people take while an incident runs, besides its commander: one person per role.

CREATE TABLE incident_roles (
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    role        TEXT NOT NULL
                CONSTRAINT incident_roles_role_value CHECK (role IN ('operations_lead', 'communications_lead', 'scribe')),
    user_id     BIGINT NOT NULL REFERENCES users (id),
    assigned_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (incident_id, role)
);
