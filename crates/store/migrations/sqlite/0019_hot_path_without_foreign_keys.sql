-- Nothing to do on SQLite: it keeps the foreign keys PostgreSQL's migration 0019 drops from the
-- payout path (here a check is an index probe inside the process, not a trigger taking a row
-- lock). The version exists so that both backends carry the same list.
SELECT 1;
