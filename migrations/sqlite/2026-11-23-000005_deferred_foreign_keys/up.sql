-- Index rows and versions check their resource at COMMIT instead of at each statement.
-- SQLite gives a multi-row INSERT a statement journal (a temporary file of the pages it
-- changes, to undo it alone) when an immediate foreign key or an ABORT constraint could
-- stop it half-way; the writer's INSERTs say OR FAIL (store/sql.rs) and these keys are
-- deferred, so none is kept: the group commit's SAVEPOINT undoes a failed write whole.
-- SQLite cannot alter a constraint, so each table is rebuilt with its indexes.

CREATE TABLE resource_version_rebuilt (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    res_pk BIGINT NOT NULL REFERENCES resource (pk) DEFERRABLE INITIALLY DEFERRED,
    res_type TEXT NOT NULL,
    res_id TEXT NOT NULL,
    version_id BIGINT NOT NULL,
    last_updated BIGINT NOT NULL,
    method TEXT NOT NULL,
    content TEXT,
    UNIQUE (res_pk, version_id)
);
INSERT INTO resource_version_rebuilt (seq, res_pk, res_type, res_id, version_id, last_updated, method, content) SELECT seq, res_pk, res_type, res_id, version_id, last_updated, method, content FROM resource_version;
DELETE FROM sqlite_sequence WHERE name = 'resource_version_rebuilt';
INSERT INTO sqlite_sequence (name, seq) SELECT 'resource_version_rebuilt', seq FROM sqlite_sequence WHERE name = 'resource_version';
DROP TABLE resource_version;
ALTER TABLE resource_version_rebuilt RENAME TO resource_version;
CREATE INDEX resource_version_by_time ON resource_version (last_updated);
CREATE INDEX resource_version_by_type ON resource_version (res_type, seq);

CREATE TABLE idx_token_rebuilt (
    res_pk BIGINT NOT NULL REFERENCES resource (pk) DEFERRABLE INITIALLY DEFERRED,
    param BIGINT NOT NULL,
    system TEXT,
    code TEXT,
    compartment TEXT,
    text_norm TEXT
);
INSERT INTO idx_token_rebuilt (res_pk, param, system, code, compartment, text_norm) SELECT res_pk, param, system, code, compartment, text_norm FROM idx_token;
DROP TABLE idx_token;
ALTER TABLE idx_token_rebuilt RENAME TO idx_token;
CREATE INDEX idx_token_by_resource ON idx_token (res_pk);
CREATE INDEX idx_token_by_value ON idx_token (param, code, compartment, system);

CREATE TABLE idx_string_rebuilt (
    res_pk BIGINT NOT NULL REFERENCES resource (pk) DEFERRABLE INITIALLY DEFERRED,
    param BIGINT NOT NULL,
    compartment TEXT,
    value_norm TEXT NOT NULL,
    value_exact TEXT NOT NULL
);
INSERT INTO idx_string_rebuilt (res_pk, param, compartment, value_norm, value_exact) SELECT res_pk, param, compartment, value_norm, value_exact FROM idx_string;
DROP TABLE idx_string;
ALTER TABLE idx_string_rebuilt RENAME TO idx_string;
CREATE INDEX idx_string_by_resource ON idx_string (res_pk);
CREATE INDEX idx_string_by_value ON idx_string (param, value_norm);

CREATE TABLE idx_date_rebuilt (
    res_pk BIGINT NOT NULL REFERENCES resource (pk) DEFERRABLE INITIALLY DEFERRED,
    param BIGINT NOT NULL,
    compartment TEXT,
    low BIGINT NOT NULL,
    high BIGINT NOT NULL
);
INSERT INTO idx_date_rebuilt (res_pk, param, compartment, low, high) SELECT res_pk, param, compartment, low, high FROM idx_date;
DROP TABLE idx_date;
ALTER TABLE idx_date_rebuilt RENAME TO idx_date;
CREATE INDEX idx_date_by_compartment ON idx_date (param, compartment, low, high);
CREATE INDEX idx_date_by_resource ON idx_date (res_pk);
CREATE INDEX idx_date_by_value ON idx_date (param, low, high);

CREATE TABLE idx_number_rebuilt (
    res_pk BIGINT NOT NULL REFERENCES resource (pk) DEFERRABLE INITIALLY DEFERRED,
    param BIGINT NOT NULL,
    compartment TEXT,
    value DOUBLE PRECISION NOT NULL
);
INSERT INTO idx_number_rebuilt (res_pk, param, compartment, value) SELECT res_pk, param, compartment, value FROM idx_number;
DROP TABLE idx_number;
ALTER TABLE idx_number_rebuilt RENAME TO idx_number;
CREATE INDEX idx_number_by_resource ON idx_number (res_pk);
CREATE INDEX idx_number_by_value ON idx_number (param, value);

CREATE TABLE idx_quantity_rebuilt (
    res_pk BIGINT NOT NULL REFERENCES resource (pk) DEFERRABLE INITIALLY DEFERRED,
    param BIGINT NOT NULL,
    compartment TEXT,
    system TEXT,
    code TEXT,
    unit TEXT,
    value DOUBLE PRECISION NOT NULL
);
INSERT INTO idx_quantity_rebuilt (res_pk, param, compartment, system, code, unit, value) SELECT res_pk, param, compartment, system, code, unit, value FROM idx_quantity;
DROP TABLE idx_quantity;
ALTER TABLE idx_quantity_rebuilt RENAME TO idx_quantity;
CREATE INDEX idx_quantity_by_resource ON idx_quantity (res_pk);
CREATE INDEX idx_quantity_by_value ON idx_quantity (param, code, value);

CREATE TABLE idx_reference_rebuilt (
    res_pk BIGINT NOT NULL REFERENCES resource (pk) DEFERRABLE INITIALLY DEFERRED,
    param BIGINT NOT NULL,
    compartment TEXT,
    target_type TEXT,
    target_id TEXT,
    url TEXT
);
INSERT INTO idx_reference_rebuilt (res_pk, param, compartment, target_type, target_id, url) SELECT res_pk, param, compartment, target_type, target_id, url FROM idx_reference;
DROP TABLE idx_reference;
ALTER TABLE idx_reference_rebuilt RENAME TO idx_reference;
CREATE INDEX idx_reference_by_resource ON idx_reference (res_pk);
CREATE INDEX idx_reference_by_target ON idx_reference (param, target_id, target_type);
CREATE INDEX idx_reference_by_url ON idx_reference (param, url) WHERE url IS NOT NULL;

CREATE TABLE idx_uri_rebuilt (
    res_pk BIGINT NOT NULL REFERENCES resource (pk) DEFERRABLE INITIALLY DEFERRED,
    param BIGINT NOT NULL,
    compartment TEXT,
    value TEXT NOT NULL
);
INSERT INTO idx_uri_rebuilt (res_pk, param, compartment, value) SELECT res_pk, param, compartment, value FROM idx_uri;
DROP TABLE idx_uri;
ALTER TABLE idx_uri_rebuilt RENAME TO idx_uri;
CREATE INDEX idx_uri_by_resource ON idx_uri (res_pk);
CREATE INDEX idx_uri_by_value ON idx_uri (param, value);

CREATE TABLE idx_composite_rebuilt (
    res_pk BIGINT NOT NULL REFERENCES resource (pk) DEFERRABLE INITIALLY DEFERRED,
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
INSERT INTO idx_composite_rebuilt (res_pk, param, compartment, code_system, code, value_system, value_code, number, date_low, date_high, text_norm) SELECT res_pk, param, compartment, code_system, code, value_system, value_code, number, date_low, date_high, text_norm FROM idx_composite;
DROP TABLE idx_composite;
ALTER TABLE idx_composite_rebuilt RENAME TO idx_composite;
CREATE INDEX idx_composite_by_code ON idx_composite (param, code, value_code);
CREATE INDEX idx_composite_by_resource ON idx_composite (res_pk);

CREATE TABLE compartment_member_rebuilt (
    res_pk BIGINT NOT NULL REFERENCES resource (pk) DEFERRABLE INITIALLY DEFERRED,
    compartment TEXT NOT NULL
);
INSERT INTO compartment_member_rebuilt (res_pk, compartment) SELECT res_pk, compartment FROM compartment_member;
DROP TABLE compartment_member;
ALTER TABLE compartment_member_rebuilt RENAME TO compartment_member;
CREATE INDEX compartment_member_by_patient ON compartment_member (compartment, res_pk);
CREATE INDEX compartment_member_by_resource ON compartment_member (res_pk);
