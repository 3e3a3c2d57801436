//! Unit tests of the diff: small states built from YAML, compared.
