-- What a duplicate report changes and its answer needs, as columns, so that
-- joining an incident is one UPDATE ... RETURNING, without reading, decoding
-- and rewriting the JSON body (a third of the single writer's time per
-- report, `perf`, ingest benchmark). `reports` is the authoritative count
-- (the body's copy may be older); `category` and `outside_badung` copy the
-- body. Rows from before this migration are filled from their bodies when
-- the store opens (`Store::connect`), which SQL alone cannot do portably.
ALTER TABLE incidents ADD COLUMN reports BIGINT;
ALTER TABLE incidents ADD COLUMN category TEXT;
ALTER TABLE incidents ADD COLUMN outside_badung BOOLEAN;
-- The rows still to fill: empty once they are, so the check at every start
-- is one index lookup, not a scan of every incident ever stored.
CREATE INDEX incidents_unfilled ON incidents (id) WHERE reports IS NULL;
