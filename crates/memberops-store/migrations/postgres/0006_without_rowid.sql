-- SQLite-only storage change (member-keyed tables WITHOUT ROWID); PostgreSQL tables are
-- heaps with a primary-key index either way. Kept so both backends share version numbers.
SELECT 1;
