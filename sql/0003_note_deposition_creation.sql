-- From this version on, a sync notes `creating_deposition` in sync_steps before it creates a
-- dataset's first Zenodo deposition, and searches Zenodo for a draft it may have created without
-- recording it only when such a note has no `draft_open` after it. Syncs from before that never
-- noted anything: those that may have created a deposition unrecorded (first version, no draft
-- recorded, not done) get the note, so that their dataset's next sync still searches.
INSERT INTO sync_steps (sync_id, step)
SELECT r.id, 'creating_deposition'
FROM sync_runs r
WHERE r.kind = 'first_version' AND r.draft_id IS NULL AND r.state IN ('planned', 'failed');
