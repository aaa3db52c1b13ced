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
  | 'DB_SCHEMA_OUTDATED'
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

/**
 * SQLSTATEs that mean "this connection is gone, the server may be back soon": 57P01 admin
 * shutdown (a restart), 57P02 crash shutdown, 57P03 cannot connect now (starting up or shutting
 * down), 57P05 idle_session_timeout; class 08 is connection exceptions.
 */
const CONNECTION_LOSS_SQLSTATES = new Set(['57P01', '57P02', '57P03', '57P05']);
const CONNECTION_LOSS_SYSCODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE']);

/**
 * True for a raw error that says the database connection was lost or could not be made: a
 * restart, a failover or an idle timeout, all of which heal by reconnecting. Bare socket errors
 * count too: the HTTP clients and the mailer wrap theirs in AppErrors at their boundary, so an
 * unwrapped ECONNRESET comes from the database driver.
 */
export function isConnectionLoss(error: unknown): boolean {
  if (typeof error !== 'object' || error === null || error instanceof AppError) return false;
  const code = 'code' in error && typeof error.code === 'string' ? error.code : '';
  if (CONNECTION_LOSS_SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code) || CONNECTION_LOSS_SYSCODES.has(code)) return true;
  // pg's own wording when the socket closes under a client ("Connection terminated unexpectedly",
  // "Connection terminated due to connection timeout"); it sets no code.
  return 'message' in error && typeof error.message === 'string' && /^Connection terminated\b/.test(error.message);
}

/**
 * Wraps anything thrown into an AppError, keeping it as `cause`. Unknown errors are not retryable;
 * a lost database connection is (`DB_UNAVAILABLE`): the step it interrupted runs again later.
 */
export function toAppError(error: unknown, fallback: ErrorCode = 'INTERNAL'): AppError {
  if (error instanceof AppError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (isConnectionLoss(error)) return new AppError('DB_UNAVAILABLE', `the database connection was lost: ${message}`, { retryable: true, cause: error });
  return new AppError(fallback, message, { cause: error });
}
