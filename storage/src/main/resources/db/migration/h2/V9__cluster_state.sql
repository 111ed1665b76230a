-- State that every node of a cluster must agree on (several servers on one database).

-- The keys that sign access tokens: every node signs with the newest and verifies with any, so that
-- a token issued by one node is accepted by all. A key is retired when a newer one replaces it and
-- deleted once no token it signed can still be valid.
CREATE TABLE bf_signing_key (
    kid         VARCHAR(128)             NOT NULL PRIMARY KEY, -- the key's JWK thumbprint
    private_jwk TEXT                     NOT NULL,             -- the private key, as a JWK
    created_at  TIMESTAMP WITH TIME ZONE NOT NULL,
    retired_at  TIMESTAMP WITH TIME ZONE                       -- when a newer key took over signing
);

-- Client assertions already used (client_id + jti), until they expire: a replay is refused whichever
-- node it reaches, because the second insert of the same pair fails.
CREATE TABLE bf_used_assertion (
    client_id  VARCHAR(255)             NOT NULL,
    jti        VARCHAR(255)             NOT NULL,
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX ix_bf_used_assertion_expires ON bf_used_assertion (expires_at);

-- One row, locked (SELECT ... FOR UPDATE) by a kickoff while it counts the active jobs and inserts its
-- own: the export limits then hold across nodes.
CREATE TABLE bf_export_admission (
    id INTEGER NOT NULL PRIMARY KEY
);
INSERT INTO bf_export_admission (id) VALUES (1);
