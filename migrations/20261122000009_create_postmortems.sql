-- Postmortems: one per incident, its sections as Markdown, reviewed by named people and published;
-- every published revision is kept, so a published postmortem changes only visibly.

CREATE TABLE postmortems (
    incident_id  BIGINT PRIMARY KEY REFERENCES incidents (id),
    state        TEXT NOT NULL DEFAULT 'draft'
                 CONSTRAINT postmortems_state_value CHECK (state IN ('draft', 'in_review', 'published')),
    sections     JSONB NOT NULL DEFAULT '{}',
    review_note  TEXT NOT NULL DEFAULT '',
    author       TEXT NOT NULL,
    version      INTEGER NOT NULL DEFAULT 1,
    revision     INTEGER NOT NULL DEFAULT 0,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at TIMESTAMPTZ,
    CONSTRAINT postmortems_sections_object CHECK (jsonb_typeof(sections) = 'object'),
    CONSTRAINT postmortems_published_has_revision CHECK (state <> 'published' OR revision > 0)
);

CREATE TABLE postmortem_reviewers (
    incident_id BIGINT NOT NULL REFERENCES postmortems (incident_id),
    user_id     BIGINT NOT NULL REFERENCES users (id),
    approved_at TIMESTAMPTZ,
    PRIMARY KEY (incident_id, user_id)
);

CREATE TABLE postmortem_revisions (
    incident_id  BIGINT NOT NULL REFERENCES postmortems (incident_id),
    revision     INTEGER NOT NULL,
    reason       TEXT NOT NULL,
    sections     JSONB NOT NULL,
    published_by TEXT NOT NULL,
    published_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (incident_id, revision)
);

-- Revisions are history: never changed, never removed.
CREATE FUNCTION postmortem_revisions_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'postmortem_revisions are kept as published: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER postmortem_revisions_keep BEFORE UPDATE OR DELETE ON postmortem_revisions
    FOR EACH ROW EXECUTE FUNCTION postmortem_revisions_refuse_change();
