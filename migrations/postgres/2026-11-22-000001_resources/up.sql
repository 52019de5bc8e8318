-- Current head of every resource, and its immutable version history (DESIGN.md, "Storage").
-- Times are microseconds since the Unix epoch, UTC.
CREATE TABLE resource (
    pk BIGSERIAL PRIMARY KEY,
    res_type TEXT NOT NULL,
    res_id TEXT NOT NULL,
    version_id BIGINT NOT NULL,
    last_updated BIGINT NOT NULL,
    deleted BOOLEAN NOT NULL,
    UNIQUE (res_type, res_id)
);

-- seq orders the whole-system history; content is the stored JSON, NULL for a delete.
CREATE TABLE resource_version (
    seq BIGSERIAL PRIMARY KEY,
    res_pk BIGINT NOT NULL REFERENCES resource (pk),
    res_type TEXT NOT NULL,
    res_id TEXT NOT NULL,
    version_id BIGINT NOT NULL,
    last_updated BIGINT NOT NULL,
    method TEXT NOT NULL,
    content TEXT,
    UNIQUE (res_pk, version_id)
);
CREATE INDEX resource_version_by_type ON resource_version (res_type, seq);
CREATE INDEX resource_version_by_instance ON resource_version (res_type, res_id, seq);
CREATE INDEX resource_version_by_time ON resource_version (last_updated);

-- Token search index: one row per coded value; param is a 64-bit hash of (type, parameter).
-- compartment is the patient compartment the resource belongs to, for patient-scoped seeks.
CREATE TABLE idx_token (
    res_pk BIGINT NOT NULL REFERENCES resource (pk),
    param BIGINT NOT NULL,
    system TEXT,
    code TEXT,
    compartment TEXT
);
CREATE INDEX idx_token_by_value ON idx_token (param, code, system);
CREATE INDEX idx_token_by_resource ON idx_token (res_pk);
