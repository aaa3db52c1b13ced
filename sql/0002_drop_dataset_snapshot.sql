-- The scanner stored each dataset's whole CKAN dict in datasets.snapshot, and nothing ever read
-- it: a sync always reads the dataset fresh with package_show (the truth at sync time), and the
-- status pages use the columns above. Writing it was about half of a first scan's database time
-- (bench/run.mjs) and kept a second copy of every dataset, hostile strings included.
ALTER TABLE datasets DROP COLUMN snapshot;
