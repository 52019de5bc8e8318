DROP INDEX idx_token_by_value;
CREATE INDEX idx_token_by_value ON idx_token (param, code, compartment, system);
