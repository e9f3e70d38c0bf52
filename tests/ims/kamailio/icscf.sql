-- The I-CSCF's S-CSCF list (ims_icscf, used when the UAA carries Server-Capabilities).
CREATE TABLE version (table_name VARCHAR(32) NOT NULL PRIMARY KEY, table_version INTEGER DEFAULT 0 NOT NULL);
CREATE TABLE nds_trusted_domains (id INTEGER PRIMARY KEY AUTOINCREMENT, trusted_domain VARCHAR(83) NOT NULL DEFAULT '');
CREATE TABLE s_cscf (id INTEGER PRIMARY KEY AUTOINCREMENT, name VARCHAR(83) NOT NULL DEFAULT '',
                     s_cscf_uri VARCHAR(83) NOT NULL DEFAULT '');
CREATE TABLE s_cscf_capabilities (id INTEGER PRIMARY KEY AUTOINCREMENT, id_s_cscf INTEGER NOT NULL DEFAULT 0,
                                  capability INTEGER NOT NULL DEFAULT 0);
INSERT INTO nds_trusted_domains (trusted_domain) VALUES ('${realm}');
INSERT INTO s_cscf (name, s_cscf_uri) VALUES ('scscf', '${scscf_uri}');
INSERT INTO s_cscf_capabilities (id_s_cscf, capability) VALUES (1, 0);
