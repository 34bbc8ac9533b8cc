-- Action items: what an incident's postmortem commits to doing. A team is accountable for each
-- (a person may pick it up), it is due by a date, and it ends done or consciously dropped.

CREATE TABLE action_items (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    title       TEXT NOT NULL,
    details     TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL
                CONSTRAINT action_items_kind_value CHECK (kind IN ('prevent', 'mitigate', 'detect', 'process')),
    priority    SMALLINT NOT NULL CONSTRAINT action_items_priority_value CHECK (priority BETWEEN 1 AND 3),
    state       TEXT NOT NULL DEFAULT 'open'
                CONSTRAINT action_items_state_value CHECK (state IN ('open', 'in_progress', 'done', 'wont_do')),
    state_note  TEXT NOT NULL DEFAULT '',
    team_id     BIGINT NOT NULL REFERENCES teams (id),
    assignee_id BIGINT REFERENCES users (id),
    due_on      DATE NOT NULL,
    ticket_url  TEXT,
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    closed_at   TIMESTAMPTZ,
    version     INTEGER NOT NULL DEFAULT 1,
    CONSTRAINT action_items_title_length CHECK (length(title) BETWEEN 1 AND 200),
    CONSTRAINT action_items_closed_has_time CHECK ((state IN ('done', 'wont_do')) = (closed_at IS NOT NULL)),
    CONSTRAINT action_items_wont_do_has_reason CHECK (state <> 'wont_do' OR length(state_note) > 0)
);
CREATE INDEX action_items_incident_idx ON action_items (incident_id, id);
CREATE INDEX action_items_team_idx ON action_items (team_id, state);
CREATE INDEX action_items_open_due_idx ON action_items (due_on) WHERE state IN ('open', 'in_progress');
