-- What a source adapter keeps from one batch for later ones (EMIS code tables, say):
-- a later batch may use codes delivered only in an earlier one.
CREATE TABLE adapter_memory (
    adapter TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (adapter, kind, key)
);
