DROP TABLE idx_token; DROP TABLE resource_version; DROP TABLE resource;
