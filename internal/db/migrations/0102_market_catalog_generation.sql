-- The catalog's generation: every transaction that changes an offering or
-- its tiers adds one, so the storefront's in-memory index knows, with one
-- cheap read, whether it is still current.
INSERT INTO market_counters (name, value) VALUES ('catalog_generation', 0);
