-- Typed search index tables (DESIGN.md, "Storage"). Every row: the resource (res_pk), the
-- parameter (64-bit hash of type and code), the patient compartment (NULL when none), values.
ALTER TABLE idx_token ADD COLUMN text_norm TEXT;
CREATE INDEX idx_token_by_compartment ON idx_token (param, compartment, code);

CREATE TABLE idx_string (
    res_pk BIGINT NOT NULL REFERENCES resource (pk),
    param BIGINT NOT NULL,
    compartment TEXT,
    value_norm TEXT NOT NULL,
    value_exact TEXT NOT NULL
);
CREATE INDEX idx_string_by_value ON idx_string (param, value_norm);
CREATE INDEX idx_string_by_resource ON idx_string (res_pk);

CREATE TABLE idx_date (
    res_pk BIGINT NOT NULL REFERENCES resource (pk),
    param BIGINT NOT NULL,
    compartment TEXT,
    low BIGINT NOT NULL,
    high BIGINT NOT NULL
);
CREATE INDEX idx_date_by_value ON idx_date (param, low, high);
CREATE INDEX idx_date_by_compartment ON idx_date (param, compartment, low, high);
CREATE INDEX idx_date_by_resource ON idx_date (res_pk);

CREATE TABLE idx_number (
    res_pk BIGINT NOT NULL REFERENCES resource (pk),
    param BIGINT NOT NULL,
    compartment TEXT,
    value DOUBLE PRECISION NOT NULL
);
CREATE INDEX idx_number_by_value ON idx_number (param, value);
CREATE INDEX idx_number_by_resource ON idx_number (res_pk);

CREATE TABLE idx_quantity (
    res_pk BIGINT NOT NULL REFERENCES resource (pk),
    param BIGINT NOT NULL,
    compartment TEXT,
    system TEXT,
    code TEXT,
    unit TEXT,
    value DOUBLE PRECISION NOT NULL
);
CREATE INDEX idx_quantity_by_value ON idx_quantity (param, code, value);
CREATE INDEX idx_quantity_by_resource ON idx_quantity (res_pk);

CREATE TABLE idx_reference (
    res_pk BIGINT NOT NULL REFERENCES resource (pk),
    param BIGINT NOT NULL,
    compartment TEXT,
    target_type TEXT,
    target_id TEXT,
    url TEXT
);
CREATE INDEX idx_reference_by_target ON idx_reference (param, target_id, target_type);
CREATE INDEX idx_reference_by_url ON idx_reference (param, url);
CREATE INDEX idx_reference_by_resource ON idx_reference (res_pk);

CREATE TABLE idx_uri (
    res_pk BIGINT NOT NULL REFERENCES resource (pk),
    param BIGINT NOT NULL,
    compartment TEXT,
    value TEXT NOT NULL
);
CREATE INDEX idx_uri_by_value ON idx_uri (param, value);
CREATE INDEX idx_uri_by_resource ON idx_uri (res_pk);

CREATE TABLE idx_composite (
    res_pk BIGINT NOT NULL REFERENCES resource (pk),
    param BIGINT NOT NULL,
    compartment TEXT,
    code_system TEXT,
    code TEXT,
    value_system TEXT,
    value_code TEXT,
    number DOUBLE PRECISION,
    date_low BIGINT,
    date_high BIGINT,
    text_norm TEXT
);
CREATE INDEX idx_composite_by_code ON idx_composite (param, code, value_code);
CREATE INDEX idx_composite_by_resource ON idx_composite (res_pk);

-- Patient compartment membership, for compartment searches (Patient/[id]/[type]).
CREATE TABLE compartment_member (
    res_pk BIGINT NOT NULL REFERENCES resource (pk),
    compartment TEXT NOT NULL
);
CREATE INDEX compartment_member_by_patient ON compartment_member (compartment, res_pk);
CREATE INDEX compartment_member_by_resource ON compartment_member (res_pk);

-- Ordered result snapshots, so the pages of a sorted search stay put while others write.
CREATE TABLE search_snapshot (
    id TEXT NOT NULL,
    pos BIGINT NOT NULL,
    res_pk BIGINT NOT NULL,
    created BIGINT NOT NULL,
    PRIMARY KEY (id, pos)
);
CREATE INDEX search_snapshot_by_age ON search_snapshot (created);
