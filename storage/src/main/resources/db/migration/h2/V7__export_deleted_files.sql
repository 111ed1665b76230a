-- Files of the manifest's "deleted" array (Bulk Data IG): with _since, one transaction Bundle per
-- resource deleted since then, each with a DELETE entry. Existing rows are data or error files.
ALTER TABLE bf_export_file ADD COLUMN deleted_file BOOLEAN DEFAULT FALSE NOT NULL;
