-- Bulk Data export jobs (Hibernate entities in dev.bulkfhir.storage.export; Flyway owns the schema and
-- Hibernate only validates it). A job survives restarts; the lease lets several nodes share the table:
-- a node works on a job only while its lease holds, and a job whose lease ran out is resumed elsewhere.
CREATE TABLE bf_export_job (
    id               VARCHAR(64)              NOT NULL PRIMARY KEY, -- 128 random bits, hex
    owner_id         VARCHAR(255)             NOT NULL,             -- the client that started it
    request_url      CHARACTER VARYING        NOT NULL,             -- the kickoff URL as sent
    parameters       CHARACTER VARYING        NOT NULL,             -- the validated request, JSON
    state            VARCHAR(16)              NOT NULL,
    transaction_time TIMESTAMP WITH TIME ZONE NOT NULL,
    created_at       TIMESTAMP WITH TIME ZONE NOT NULL,
    started_at       TIMESTAMP WITH TIME ZONE,
    finished_at      TIMESTAMP WITH TIME ZONE,
    expires_at       TIMESTAMP WITH TIME ZONE,                      -- when the files go away
    types_total      INTEGER                  NOT NULL,
    types_done       INTEGER                  NOT NULL,
    done_types       CHARACTER VARYING        NOT NULL,             -- comma list: resume skips these
    current_type     VARCHAR(64),
    resources_done   BIGINT                   NOT NULL,
    resources_total  BIGINT                   NOT NULL,             -- an estimate; -1 when unknown
    error_text       VARCHAR(4000),
    lease_owner      VARCHAR(64),
    lease_expires_at TIMESTAMP WITH TIME ZONE
);
CREATE INDEX ix_bf_export_job_state ON bf_export_job (state, lease_expires_at);
CREATE INDEX ix_bf_export_job_owner ON bf_export_job (owner_id, state);

-- One row per finished NDJSON file, written when its resource type is complete. The id is the
-- file's Binary id; location is relative to the export file store and never built from client input.
CREATE TABLE bf_export_file (
    id             VARCHAR(64)              NOT NULL PRIMARY KEY,
    job_id         VARCHAR(64)              NOT NULL REFERENCES bf_export_job (id) ON DELETE CASCADE,
    res_type       VARCHAR(64)              NOT NULL,
    seq            INTEGER                  NOT NULL,
    resource_count BIGINT                   NOT NULL,
    byte_count     BIGINT                   NOT NULL,
    location       VARCHAR(255)             NOT NULL,
    error_file     BOOLEAN                  NOT NULL,
    created_at     TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE INDEX ix_bf_export_file_job ON bf_export_file (job_id);
