-- The audit log is filtered by time (since/until); `at` grows with `seq`, so this index also
-- serves those filters when the newest-first walk would otherwise scan far back.
CREATE INDEX audit_log_at_idx ON audit_log (at);
