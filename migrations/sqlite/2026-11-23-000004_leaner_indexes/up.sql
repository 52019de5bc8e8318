-- Fewer b-trees per index row, for write speed (README, "Performance").
-- One token index serves both plain and patient-pinned seeks: (param, code) for a code,
-- (param, code, compartment) when the search is pinned to a patient.
DROP INDEX idx_token_by_value;
DROP INDEX idx_token_by_compartment;
CREATE INDEX idx_token_by_value ON idx_token (param, code, compartment, system);
-- Most references have no absolute url: index only those that do.
DROP INDEX idx_reference_by_url;
CREATE INDEX idx_reference_by_url ON idx_reference (param, url) WHERE url IS NOT NULL;
-- Instance history finds its versions by resource key (UNIQUE (res_pk, version_id)).
DROP INDEX resource_version_by_instance;
