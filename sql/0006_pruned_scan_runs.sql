-- Retention ([retention] days) deletes old finished scan_runs; /metrics' scans_total counts the
-- rows. What was deleted is tallied here, in the same statement, so that the counter never goes
-- down (Prometheus would read a drop as a restart and rate() would be wrong for a day).
CREATE TABLE pruned_scan_runs (
  kind   text NOT NULL,
  status text NOT NULL,
  count  bigint NOT NULL CHECK (count >= 0),
  PRIMARY KEY (kind, status)
);
