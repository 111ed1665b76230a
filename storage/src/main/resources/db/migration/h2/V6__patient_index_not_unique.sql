-- bf_resource_patient: its primary key becomes a plain index on the same columns. H2 checks a
-- unique index with two extra lookups for every row it adds, about 8% of the writer's time in a bulk
-- load. The key guarded nothing: the store never writes a membership twice (a resource's patients
-- are a set, and an update writes only the memberships that change). PostgreSQL keeps its key, which
-- costs it no extra lookup and which logical replication needs.
ALTER TABLE bf_resource_patient DROP CONSTRAINT pk_bf_resource_patient;
CREATE INDEX ix_bf_resource_patient ON bf_resource_patient (patient_id, resource_pk);
