-- A version's deployments of one service: how it did in each environment, when it first
-- succeeded in a promotion's source, and the commits between two versions (promotion requests
-- and the approver's page ask for these by version).
CREATE INDEX deployments_service_version_idx ON deployments (service_id, version, environment_id);
