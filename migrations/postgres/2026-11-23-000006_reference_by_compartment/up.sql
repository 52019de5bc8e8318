-- Patient/[id]/$everything reads the references of a whole compartment as one range
-- (search/everything.rs). PostgreSQL only: SQLite answers within issue #4's goal without it,
-- and its single writer is the bound of ingest, where each index costs.
CREATE INDEX idx_reference_by_compartment ON idx_reference (compartment, target_type, target_id)
    WHERE compartment IS NOT NULL;
