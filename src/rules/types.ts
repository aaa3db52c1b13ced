/**
 * rules.yaml after validation, with `defaults` merged under every rule (src/rules/load.ts builds
 * it; src/rules/evaluate.ts matches datasets against it). Sizes are bytes.
 */
export interface RuleMatch {
  tags?: string[]; // any of
  organization?: string[]; // organization name, any of
  groups?: string[]; // group name, any of
  extras?: Record<string, string>; // all of (value compared as string)
  license_id?: string[]; // any of
  name?: string[]; // glob (`*`, `?`), any of
  private?: boolean;
  not?: RuleMatch; // none of what it names
}

export interface ResourcePolicy {
  formats: string[]; // empty = every format; compared case-insensitively
  maxSize: number; // bytes, default 50 GB
  datastore: 'csv' | 'skip'; // datastore tables exported as CSV from /datastore/dump
}

export interface ZenodoPolicy {
  upload_type: string; // default "dataset"
  access_right: 'open' | 'embargoed' | 'restricted' | 'closed';
  communities: string[];
  license?: string; // Zenodo license id used when CKAN's license is unknown or overridden
  /** Zenodo concept record id, DOI or URL to link datasets matched by this rule to (rarely used). */
  concept?: string;
}

/** `maintainer_email`, `author_email`, `creator`, `org_admins`, or a literal e-mail address. */
export type NotifyTarget = string;

export interface Rule {
  name: string;
  /** Line of the rule in rules.yaml, for messages. */
  line: number | undefined;
  when: RuleMatch;
  resources: ResourcePolicy;
  zenodo: ZenodoPolicy;
  on_unmapped: 'create' | 'notify';
  metadata_changes: 'edit' | 'version' | 'ignore';
  notify: NotifyTarget[];
}

export interface Rules {
  /** Absolute path of the file read. */
  file: string;
  rules: Rule[];
}
