DROP TABLE search_snapshot; DROP TABLE compartment_member; DROP TABLE idx_composite; DROP TABLE idx_uri; DROP TABLE idx_reference; DROP TABLE idx_quantity;
DROP TABLE idx_number; DROP TABLE idx_date; DROP TABLE idx_string;
DROP INDEX idx_token_by_compartment;
ALTER TABLE idx_token DROP COLUMN text_norm;
