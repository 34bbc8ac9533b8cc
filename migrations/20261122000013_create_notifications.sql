-- Notifications out: an outbox of messages about promotion requests for the Microsoft Teams and
-- Slack incoming webhooks. A row is written in the same transaction as the change it tells of (a
-- change that rolls back sends nothing; a committed one is never lost), and a delivery worker
-- posts it, retrying with growing pauses until it is sent or given up (`failed`). The webhook URLs
-- are configuration secrets and never stored here.

CREATE TABLE notifications (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel         TEXT NOT NULL
                    CONSTRAINT notifications_channel_value CHECK (channel IN ('teams', 'slack')),
    event           TEXT NOT NULL
                    CONSTRAINT notifications_event_value CHECK (event IN
                        ('promotion.requested', 'promotion.approved', 'promotion.rejected',
                         'promotion.expired', 'promotion.cancelled', 'promotion.break_glass')),
    promotion_id    BIGINT NOT NULL REFERENCES promotions (id),
    -- The message as posted: the channel's own JSON format, rendered when the change was made.
    payload         JSONB NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CONSTRAINT notifications_state_value CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0 CONSTRAINT notifications_attempts_counted CHECK (attempts >= 0),
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The last failure: HTTP status and a short reason, never the URL.
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at         TIMESTAMPTZ,
    CONSTRAINT notifications_sent_has_time CHECK ((state = 'sent') = (sent_at IS NOT NULL))
);
-- What the worker picks: due pending rows, oldest first.
CREATE INDEX notifications_due_idx ON notifications (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX notifications_promotion_idx ON notifications (promotion_id, id DESC);
CREATE INDEX notifications_state_idx ON notifications (state, id DESC);
