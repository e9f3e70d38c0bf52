"""One key-encryption key for the tests that open a database from several places: the store records which
key sealed its secrets and refuses any other (``sigcore.store.keycheck``), so a fresh random key per
connection would be refused from the second one on."""

TEST_KEK = bytes(range(32))
