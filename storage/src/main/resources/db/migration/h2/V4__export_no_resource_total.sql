-- V3 kept an estimated resource total per export job; counting a type costs nearly as much as
-- exporting it (H2 walks the index), so progress reports resources done and types done of total.
ALTER TABLE bf_export_job DROP COLUMN resources_total;
