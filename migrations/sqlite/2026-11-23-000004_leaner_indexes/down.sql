CREATE INDEX resource_version_by_instance ON resource_version (res_type, res_id, seq);
DROP INDEX idx_reference_by_url;
CREATE INDEX idx_reference_by_url ON idx_reference (param, url);
DROP INDEX idx_token_by_value;
CREATE INDEX idx_token_by_value ON idx_token (param, code, system);
CREATE INDEX idx_token_by_compartment ON idx_token (param, compartment, code);
