/**
 * The one error type of the project (STYLE.md 5). Callers decide on `code`, never on message
 * text; `retryable` tells the job boundary whether to try again; `cause` keeps the original.
 */
export type ErrorCode =
  // configuration and input
  | 'CONFIG_INVALID'
  | 'RULES_INVALID'
  | 'USAGE'
  // database
  | 'DB_UNAVAILABLE'
  | 'DB_SCHEMA_TOO_NEW'
  | 'DB_MIGRATION_CHANGED'
  | 'DB_MIGRATION_FAILED'
  | 'DB_CONFLICT'
  // CKAN
  | 'CKAN_AUTH'
  | 'CKAN_NOT_FOUND'
  | 'CKAN_VALIDATION'
  | 'CKAN_UNAVAILABLE'
  | 'CKAN_BAD_RESPONSE'
  // Zenodo
  | 'ZENODO_AUTH'
  | 'ZENODO_FORBIDDEN'
  | 'ZENODO_VALIDATION'
  | 'ZENODO_NOT_FOUND'
  | 'ZENODO_RATE_LIMITED'
  | 'ZENODO_UNAVAILABLE'
  | 'ZENODO_CHECKSUM_MISMATCH'
  | 'ZENODO_CONFLICT'
  | 'ZENODO_PUBLISH_UNKNOWN'
  | 'ZENODO_LIMIT_EXCEEDED'
  | 'ZENODO_BAD_RESPONSE'
  | 'ZENODO_EMPTY_FILE'
  // transfers and security
  | 'DOWNLOAD_FAILED'
  | 'DOWNLOAD_REFUSED'
  | 'SSRF_REFUSED'
  // sync
  | 'DATASET_UNMAPPED'
  | 'LINK_CONFLICT'
  | 'FILE_TOO_LARGE'
  | 'TOO_MANY_FILES'
  | 'NO_FILES'
  | 'DATASET_NOT_SELECTED'
  | 'LICENSE_UNKNOWN'
  | 'CREATORS_UNKNOWN'
  | 'METADATA_OVERRIDE_INVALID'
  | 'RESOURCE_EMPTY'
  | 'SYNC_BUSY'
  // mail
  | 'MAIL_INVALID_ADDRESS'
  | 'MAIL_UNAVAILABLE'
  | 'MAIL_REJECTED'
  // anything else
  | 'INTERNAL';

export interface AppErrorOptions {
  retryable?: boolean;
  cause?: unknown;
  /** Milliseconds the remote asked us to wait (e.g. from `Retry-After`). */
  retryAfterMs?: number;
  /** Structured, secret-free details for logs and mails (field messages, limits, ids). */
  details?: Record<string, unknown>;
}

export class AppError extends Error {
  override readonly name = 'AppError';
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.details = options.details;
  }
}

export function isAppError(error: unknown, code?: ErrorCode): error is AppError {
  return error instanceof AppError && (code === undefined || error.code === code);
}

/** Wraps anything thrown into an AppError, keeping it as `cause`. Unknown errors are not retryable. */
export function toAppError(error: unknown, fallback: ErrorCode = 'INTERNAL'): AppError {
  if (error instanceof AppError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new AppError(fallback, message, { cause: error });
}
