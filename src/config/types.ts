/**
 * The typed configuration every component receives (built from settings.ini + environment by
 * src/config/settings.ts). Durations are milliseconds, sizes bytes, lists already split.
 * Secrets (`*.apiToken`, `zenodo.token`, `http.token`, `mail.smtpUrl`) are resolved from the
 * value, the environment or the `<key>_file` and must never be logged.
 */
export interface Config {
  /** Absolute path of the settings file read, or undefined when only env/defaults were used. */
  settingsPath: string | undefined;
  ckan: {
    url: string; // origin + optional path prefix, no trailing slash
    apiToken: string | undefined;
    pageSize: number; // 1..1000, default 100
    scanOverlapMs: number; // default 5 minutes ([ckan] scan_overlap_seconds)
    timeoutMs: number; // default 30 s
  };
  zenodo: {
    url: string; // default https://zenodo.org; sandbox and emulator allowed
    token: string | undefined;
    timeoutMs: number; // default 60 s (per request, not per upload)
  };
  database: {
    url: string | undefined; // empty → embedded PostgreSQL in dataDir
    dataDir: string; // default ./data/pg (resolved against the settings file's folder)
    embeddedPort: number; // default 5433
  };
  schedule: {
    scan: string; // cron, default "*/15 * * * *"
    reconcile: string; // cron, default "17 3 * * *"
    timezone: string; // IANA zone, default "UTC"
  };
  sync: {
    concurrency: number; // default 2
    writeBack: boolean; // default false
    spoolDir: string; // default ./data/spool
    allowedHosts: string[]; // hosts allowed although loopback/private (SSRF allow-list)
    linkExtra: string; // CKAN extra naming the Zenodo record, default "zenodo_doi"
    metadataExtra: string; // CKAN extra with the owner's Zenodo metadata overrides (JSON), default "zenodo_metadata"
    maxAttempts: number; // default 8
    drainTimeoutMs: number; // default 60 s
    downloadTimeoutMs: number; // one download, start to last byte; default 24 h
    downloadMinRate: number; // bytes/s averaged over downloadMinRateWindowMs, 0 = none; default 10 kB/s
    downloadMinRateWindowMs: number; // default 60 s
    spoolMaxBytes: number; // all spool files of this process together; default 20 GB
  };
  mail: {
    smtpUrl: string | undefined; // undefined → mails logged, not sent
    from: string; // default "ckan-zenodo-sync <noreply@localhost>"
    admin: string | undefined;
    templatesDir: string | undefined;
    connections: number; // SMTP connections kept open and sent over at once, default 4
    allowPlaintextAuth: boolean; // send SMTP credentials over smtp:// without STARTTLS (trusted local relay only), default false
  };
  http: {
    listen: string; // host:port, default 127.0.0.1:8080
    token: string | undefined;
    publicStatus: boolean; // default false
    trustProxy: boolean; // client address and scheme from X-Forwarded-For/-Proto, default false
  };
  retention: {
    days: number; // finished scans, sync steps and sent mails older than this are deleted daily; 0 = keep forever; default 90
  };
  log: {
    level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  };
}

/** One problem found in settings.ini or rules.yaml: printed as `FILE:LINE path: message`. */
export interface ConfigProblem {
  file: string;
  line: number | undefined;
  /** `section.key` for settings, the YAML path (`rules[2].when.tags`) for rules. */
  path: string;
  message: string;
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.file}${p.line === undefined ? '' : `:${p.line}`} ${p.path}: ${p.message}`;
}
