-- The patient compartments of each resource's current version also on its own row: the ids,
-- separated by spaces, or NULL if none. A row then says whether (and whose) compartment holds it
-- without a join, and an update removes exactly the compartment rows it replaces.
-- bf_resource_patient keeps only its primary key (patient_id first: patient searches and
-- exports): every write stores one index entry less per compartment row and skips a foreign-key
-- lookup. (bf_resource rows are never deleted, only marked deleted, so the cascade never ran.)
ALTER TABLE bf_resource ADD COLUMN patients TEXT;
UPDATE bf_resource r SET patients = (
    SELECT string_agg(p.patient_id, ' ' ORDER BY p.patient_id)
    FROM bf_resource_patient p WHERE p.resource_pk = r.pk);

CREATE TABLE bf_resource_patient_v5 (
    patient_id  VARCHAR(64) NOT NULL,
    resource_pk BIGINT      NOT NULL,
    CONSTRAINT pk_bf_resource_patient PRIMARY KEY (patient_id, resource_pk)
);
INSERT INTO bf_resource_patient_v5 (patient_id, resource_pk) SELECT patient_id, resource_pk FROM bf_resource_patient;
DROP TABLE bf_resource_patient;
ALTER TABLE bf_resource_patient_v5 RENAME TO bf_resource_patient;
