-- organizeOutputBy: a file whose last resource block goes on in another file names that file
-- (the manifest's continuesInFile). allowPartialManifests: files are numbered in the order they
-- were recorded, and a manifest page, once returned, keeps exactly the files it was returned with
-- (bf_export_page: the last file number of each page handed out while the job ran).
ALTER TABLE bf_export_file ADD COLUMN continues_in VARCHAR(64);
ALTER TABLE bf_export_file ADD COLUMN ordinal BIGINT NOT NULL DEFAULT 0;
CREATE TABLE bf_export_page (
    job_id       VARCHAR(64) NOT NULL REFERENCES bf_export_job (id) ON DELETE CASCADE,
    page         INTEGER     NOT NULL,
    last_ordinal BIGINT      NOT NULL,
    CONSTRAINT pk_bf_export_page PRIMARY KEY (job_id, page)
);
