-- ckan-zenodo-sync: initial schema.
--
-- Two kinds of state live here, and keeping them apart is what makes the system correct
-- (DESIGN.md glossary, "seen vs archived"):
--   * what the scanner last SAW in CKAN (scan_state, datasets, dataset_resources), used only to
--     decide whether to enqueue a sync, so a dataset that keeps failing is not retried (and
--     mailed about) on every scan;
--   * what is ARCHIVED on Zenodo (links, archived_files), the truth the sync plans against.
-- Between them sit the syncs (sync_runs, sync_steps, sync_files): a crash-safe state machine
-- whose every step is committed before the next starts, and the mail outbox written in the
-- same transaction as the DOI it announces.
--
-- Ids of Zenodo records and depositions are bigint; the pool parses int8 to JS numbers (they are
-- far below 2^53). CKAN ids and names are text: CKAN uses UUIDs but forks do not all agree.
-- pg-boss keeps its own schema (`pgboss`), created by pg-boss itself.

-- ---------------------------------------------------------------------------------------------
-- Scanning

-- One row per CKAN source. The watermark is CKAN's own `metadata_modified` string of the last
-- fully processed page, kept verbatim: re-formatting it through a timestamp type would change
-- its precision and time zone and make the next `fq` range subtly wrong (reference/ckan-api.md).
-- It moves in the same transaction as the snapshots and jobs of its page, so a crash never
-- skips a change.
CREATE TABLE scan_state (
  source        text PRIMARY KEY,
  watermark     text,
  -- Id of the last dataset at `watermark`: the scan sorts by (metadata_modified, id), so ties
  -- at the watermark are resolved without re-reading them forever.
  watermark_id  text,
  reconciled_at timestamptz,
  updated_at    timestamptz NOT NULL DEFAULT now()
);

-- History of scans and reconciliations, for `status`, /metrics and post-mortems. Mutual
-- exclusion of scans is NOT done here (a row left `running` by a killed process would block
-- every future scan); it is the queue's singleton policy or an advisory lock.
CREATE TABLE scan_runs (
  id                bigserial PRIMARY KEY,
  source            text NOT NULL,
  kind              text NOT NULL CHECK (kind IN ('scan', 'reconcile')),
  status            text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
  started_at        timestamptz NOT NULL DEFAULT now(),
  finished_at       timestamptz,
  datasets_seen     integer NOT NULL DEFAULT 0 CHECK (datasets_seen >= 0),
  datasets_selected integer NOT NULL DEFAULT 0 CHECK (datasets_selected >= 0),
  jobs_enqueued     integer NOT NULL DEFAULT 0 CHECK (jobs_enqueued >= 0),
  requests          integer NOT NULL DEFAULT 0 CHECK (requests >= 0),
  -- Datasets that could not be parsed: [{id?, name?, problem}], recorded and skipped, never fatal.
  malformed         jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(malformed) = 'array'),
  error             text,
  -- A finished run says when it finished; a failed one says why.
  CHECK ((status = 'running') = (finished_at IS NULL)),
  CHECK (status <> 'failed' OR error IS NOT NULL)
);
CREATE INDEX scan_runs_recent ON scan_runs (source, kind, started_at DESC);

-- What the scanner last saw of each dataset it looked at. `rule` is NULL when no rule selects
-- the dataset any more (untagged): the row stays so that the link can be marked inactive.
-- `name` is not unique: two datasets can swap names between scans, and a unique constraint would
-- then fail a whole page.
CREATE TABLE datasets (
  dataset_id           text PRIMARY KEY,
  name                 text NOT NULL,
  title                text,
  organization         text,
  rule                 text,
  private              boolean NOT NULL DEFAULT false,
  metadata_modified    text,
  -- Fingerprint of the MAPPED Zenodo metadata, not of CKAN's raw dict, so that our own DOI
  -- write-back into the extras never looks like a change.
  metadata_fingerprint text,
  seen_at              timestamptz NOT NULL DEFAULT now(),
  -- Set by reconciliation when CKAN no longer returns the dataset (deleted or hidden from us).
  gone_at              timestamptz,
  snapshot             jsonb
);
CREATE INDEX datasets_name ON datasets (name);

-- Resources as last seen. `zenodo_filename` is assigned once and kept across versions, so a
-- changed resource replaces its own file instead of adding a second one; it is NULL until the
-- sync first names it. Zenodo compares file names case-insensitively on some storage back ends,
-- and downloaders on case-insensitive file systems do: two names differing only in case would
-- overwrite each other, so uniqueness is on lower().
CREATE TABLE dataset_resources (
  dataset_id      text NOT NULL REFERENCES datasets (dataset_id) ON DELETE CASCADE,
  resource_id     text NOT NULL,
  fingerprint     text NOT NULL,
  position        integer NOT NULL CHECK (position >= 0),
  zenodo_filename text CHECK (zenodo_filename IS NULL OR (zenodo_filename <> '' AND zenodo_filename !~ '[/\\[:cntrl:]]')),
  seen_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (dataset_id, resource_id)
);
CREATE UNIQUE INDEX dataset_resources_filename ON dataset_resources (dataset_id, lower(zenodo_filename));

-- ---------------------------------------------------------------------------------------------
-- Archive state

-- The binding of one CKAN dataset to one Zenodo concept. No foreign key to `datasets`: an
-- operator can `link` a dataset the scanner has not seen yet. A concept belongs to at most one
-- dataset, or two datasets would publish versions over each other.
CREATE TABLE links (
  dataset_id                    text PRIMARY KEY,
  concept_recid                 text UNIQUE,
  concept_doi                   text,
  latest_record_id              bigint,
  latest_doi                    text,
  latest_version_label          text,
  archived_metadata_fingerprint text,
  state                         text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'inactive')),
  -- Records are never deleted on Zenodo; an untagged, deleted or now-private dataset only
  -- deactivates its link, and the reason is shown to the operator.
  inactive_reason               text,
  created_at                    timestamptz NOT NULL DEFAULT now(),
  updated_at                    timestamptz NOT NULL DEFAULT now(),
  CHECK (state = 'active' OR inactive_reason IS NOT NULL)
);

-- The file set of the latest PUBLISHED version: what the planner compares the fresh
-- package_show with. `resource_id` is NULL for files that predate the link (a record made by
-- hand and linked later).
CREATE TABLE archived_files (
  dataset_id  text NOT NULL REFERENCES links (dataset_id) ON DELETE CASCADE,
  resource_id text,
  filename    text NOT NULL,
  size        bigint NOT NULL CHECK (size >= 0),
  md5         text NOT NULL CHECK (md5 ~ '^[0-9a-f]{32}$'),
  fingerprint text,
  record_id   bigint NOT NULL,
  PRIMARY KEY (dataset_id, filename)
);
-- One CKAN resource is one file in a version.
CREATE UNIQUE INDEX archived_files_resource ON archived_files (dataset_id, resource_id) WHERE resource_id IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- Syncs

-- One attempt to bring one dataset's Zenodo concept up to date. The state machine is in
-- DESIGN.md; the database enforces the parts whose violation would publish twice or lose work:
--   * at most one OPEN sync per dataset (partial unique index below): two workers can never
--     both open a draft for the same dataset, whatever the queue does;
--   * states only move forward, terminal states are final (trigger below): a worker whose lease
--     expired and that wakes up late cannot drag a sync back to a step already done;
--   * a state past draft_open carries its draft id, a published one its record id, a failed one
--     its error code — so resuming never has to guess.
-- `plan` and `kind` are NULL only for syncs that failed before planning (e.g. unmapped dataset).
CREATE TABLE sync_runs (
  id            bigserial PRIMARY KEY,
  dataset_id    text NOT NULL,
  trigger       text NOT NULL CHECK (trigger <> ''),
  state         text NOT NULL DEFAULT 'planned'
                CHECK (state IN ('planned', 'draft_open', 'files_synced', 'metadata_set', 'published', 'written_back', 'done', 'unchanged', 'failed')),
  kind          text CHECK (kind IN ('first_version', 'new_version', 'metadata_edit', 'nothing')),
  plan          jsonb,
  draft_id      bigint,
  record_id     bigint,
  doi           text,
  concept_doi   text,
  error_code    text,
  error_message text,
  attempts      integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  started_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz,
  CHECK ((state IN ('done', 'unchanged', 'failed')) = (finished_at IS NOT NULL)),
  CHECK (state = 'failed' OR (kind IS NOT NULL AND plan IS NOT NULL)),
  CHECK (state NOT IN ('draft_open', 'files_synced', 'metadata_set') OR draft_id IS NOT NULL),
  CHECK (state NOT IN ('published', 'written_back', 'done') OR record_id IS NOT NULL OR kind = 'nothing'),
  CHECK (state <> 'failed' OR error_code IS NOT NULL)
);
CREATE UNIQUE INDEX sync_runs_one_open_per_dataset ON sync_runs (dataset_id)
  WHERE state NOT IN ('done', 'unchanged', 'failed');
CREATE INDEX sync_runs_dataset_recent ON sync_runs (dataset_id, started_at DESC);
CREATE INDEX sync_runs_recent ON sync_runs (started_at DESC);

CREATE FUNCTION sync_state_rank(state text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT CASE state
    WHEN 'planned' THEN 0 WHEN 'draft_open' THEN 1 WHEN 'files_synced' THEN 2
    WHEN 'metadata_set' THEN 3 WHEN 'published' THEN 4 WHEN 'written_back' THEN 5
    WHEN 'done' THEN 6 ELSE NULL END
$$;

CREATE FUNCTION sync_runs_guard_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.state = OLD.state THEN
    -- Re-recording the same step (a retry, a reopened draft) is fine while the sync is open.
    IF OLD.state IN ('done', 'unchanged', 'failed') AND NEW IS DISTINCT FROM OLD THEN
      RAISE EXCEPTION 'sync % is % and can no longer change', OLD.id, OLD.state USING ERRCODE = 'check_violation';
    END IF;
  ELSIF OLD.state IN ('done', 'unchanged', 'failed') THEN
    RAISE EXCEPTION 'sync % is % and cannot move to %', OLD.id, OLD.state, NEW.state USING ERRCODE = 'check_violation';
  ELSIF NEW.state = 'unchanged' AND sync_state_rank(OLD.state) >= sync_state_rank('published') THEN
    -- Once a version is published it exists; calling the sync "unchanged" would hide its DOI.
    RAISE EXCEPTION 'sync % is % and cannot become unchanged', OLD.id, OLD.state USING ERRCODE = 'check_violation';
  ELSIF sync_state_rank(NEW.state) < sync_state_rank(OLD.state) THEN
    RAISE EXCEPTION 'sync % cannot move back from % to %', OLD.id, OLD.state, NEW.state USING ERRCODE = 'check_violation';
  END IF;
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

CREATE TRIGGER sync_runs_guard_transition BEFORE UPDATE ON sync_runs
  FOR EACH ROW EXECUTE FUNCTION sync_runs_guard_transition();

-- The audit trail of a sync, one row per recorded step (shown by `status <dataset>`). A serial
-- id orders the steps without a read-modify-write of a per-sync counter.
CREATE TABLE sync_steps (
  id      bigserial PRIMARY KEY,
  sync_id bigint NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
  step    text NOT NULL,
  detail  jsonb,
  at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sync_steps_by_sync ON sync_steps (sync_id, id);

-- Files a sync has finished uploading (with Zenodo's verified md5), so that a sync interrupted
-- in the middle of a 50 GB transfer set resumes without re-sending what already arrived.
CREATE TABLE sync_files (
  sync_id     bigint NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
  resource_id text,
  filename    text NOT NULL,
  action      text NOT NULL CHECK (action IN ('add', 'replace', 'delete', 'keep')),
  size        bigint CHECK (size IS NULL OR size >= 0),
  md5         text CHECK (md5 IS NULL OR md5 ~ '^[0-9a-f]{32}$'),
  done_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (sync_id, filename)
);

-- ---------------------------------------------------------------------------------------------
-- Mail

-- The outbox: rows are inserted in the same transaction that records what they announce (a
-- published DOI, a failure), so a crash can neither lose the mail nor send it for something
-- that was rolled back. The unique key makes a re-recorded step insert no second copy
-- (ON CONFLICT (sync_id, lower(recipient), kind) DO NOTHING); lower() because CKAN's
-- maintainer and author addresses are often the same person spelled differently.
-- `sending` + `locked_until` is the sender's lease: a sender that dies mid-send leaves a row
-- that becomes due again when the lease ends, instead of one stuck forever.
CREATE TABLE mail_outbox (
  id              bigserial PRIMARY KEY,
  sync_id         bigint REFERENCES sync_runs (id) ON DELETE CASCADE,
  dataset_id      text,
  -- Header values are never built from raw text; refusing line breaks here is defence in depth.
  recipient       text NOT NULL CHECK (recipient <> '' AND recipient !~ '[\r\n]'),
  kind            text NOT NULL,
  payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
  attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  message_id      text,
  last_error      text,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  locked_until    timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  sent_at         timestamptz,
  CHECK ((status = 'sent') = (sent_at IS NOT NULL)),
  CHECK (status <> 'failed' OR last_error IS NOT NULL)
);
CREATE UNIQUE INDEX mail_outbox_once ON mail_outbox (sync_id, lower(recipient), kind);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE status IN ('pending', 'sending');
