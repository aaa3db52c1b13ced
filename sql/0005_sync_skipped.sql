-- A sync can end `skipped`: the dataset stopped being selected (made private, deleted, untagged,
-- still a draft in CKAN) after its sync was planned, so nothing was published and the draft, if
-- any, was discarded. Like `unchanged` it is terminal and publishes nothing; unlike it, it says
-- that the archive is NOT up to date and why (the reason is in sync_steps).
DO $$
DECLARE c record;
BEGIN
  FOR c IN
    SELECT conname FROM pg_constraint
    WHERE conrelid = 'sync_runs'::regclass AND contype = 'c'
      AND pg_get_constraintdef(oid) LIKE '%unchanged%'
  LOOP
    EXECUTE format('ALTER TABLE sync_runs DROP CONSTRAINT %I', c.conname);
  END LOOP;
END
$$;

ALTER TABLE sync_runs
  ADD CONSTRAINT sync_runs_state_known
    CHECK (state IN ('planned', 'draft_open', 'files_synced', 'metadata_set', 'published', 'written_back', 'done', 'unchanged', 'skipped', 'failed')),
  ADD CONSTRAINT sync_runs_finished_when_terminal
    CHECK ((state IN ('done', 'unchanged', 'skipped', 'failed')) = (finished_at IS NOT NULL));

DROP INDEX sync_runs_one_open_per_dataset;
CREATE UNIQUE INDEX sync_runs_one_open_per_dataset ON sync_runs (dataset_id)
  WHERE state NOT IN ('done', 'unchanged', 'skipped', 'failed');

CREATE OR REPLACE FUNCTION sync_runs_guard_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.state = OLD.state THEN
    -- Re-recording the same step (a retry, a reopened draft) is fine while the sync is open.
    IF OLD.state IN ('done', 'unchanged', 'skipped', 'failed') AND NEW IS DISTINCT FROM OLD THEN
      RAISE EXCEPTION 'sync % is % and can no longer change', OLD.id, OLD.state USING ERRCODE = 'check_violation';
    END IF;
  ELSIF OLD.state IN ('done', 'unchanged', 'skipped', 'failed') THEN
    RAISE EXCEPTION 'sync % is % and cannot move to %', OLD.id, OLD.state, NEW.state USING ERRCODE = 'check_violation';
  ELSIF NEW.state IN ('unchanged', 'skipped') AND sync_state_rank(OLD.state) >= sync_state_rank('published') THEN
    -- Once a version is published it exists; calling the sync "unchanged" or "skipped" would hide its DOI.
    RAISE EXCEPTION 'sync % is % and cannot become %', OLD.id, OLD.state, NEW.state USING ERRCODE = 'check_violation';
  ELSIF sync_state_rank(NEW.state) < sync_state_rank(OLD.state) THEN
    RAISE EXCEPTION 'sync % cannot move back from % to %', OLD.id, OLD.state, NEW.state USING ERRCODE = 'check_violation';
  END IF;
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

-- A resource that turned out empty (0 bytes) when downloaded is not uploaded (Zenodo refuses
-- empty files); the sync records it so that a resumed sync does not download it again and the
-- owner's mail can say so.
ALTER TABLE sync_files DROP CONSTRAINT sync_files_action_check;
ALTER TABLE sync_files ADD CONSTRAINT sync_files_action_check
  CHECK (action IN ('add', 'replace', 'delete', 'keep', 'empty'));
