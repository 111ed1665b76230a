-- Parallel work across nodes: once a node has prepared a by-type job, it hands the job's parts (a
-- resource type, or a key range of one) to this table and drops its own lease on the job (spread).
-- Any node's idle worker then claims a part with a guarded UPDATE (OPEN, or RUNNING with a lapsed
-- lease), renews the part's lease while it writes, cuts it (the rest becomes a new OPEN part), and
-- records it DONE together with its files; the node that records the last part completes the job.
-- lease_owner stays on a DONE part: it names the node that wrote it.
ALTER TABLE bf_export_job ADD COLUMN spread BOOLEAN NOT NULL DEFAULT FALSE;
CREATE TABLE bf_export_part (
    id               VARCHAR(64)              NOT NULL PRIMARY KEY,
    job_id           VARCHAR(64)              NOT NULL REFERENCES bf_export_job (id) ON DELETE CASCADE,
    res_type         VARCHAR(64)              NOT NULL,
    range_after      BIGINT,                                        -- keys after this (null: from the start)
    range_up_to      BIGINT,                                        -- up to this key (null: to the end)
    state            VARCHAR(16)              NOT NULL,             -- OPEN, RUNNING, DONE
    lease_owner      VARCHAR(64),
    lease_expires_at TIMESTAMP WITH TIME ZONE,
    resource_count   BIGINT                   NOT NULL,
    created_at       TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE INDEX ix_bf_export_part_job ON bf_export_part (job_id, state);
CREATE INDEX ix_bf_export_part_state ON bf_export_part (state, lease_expires_at);
