/** Stable codes: scripts and tests match on these, never on message text. */
export type ErrorCode =
  | 'SPEC_INVALID'
  | 'SPEC_NOT_FOUND'
  | 'LOCK_INVALID'
  | 'LOCK_STALE'
  | 'SNAP_NOT_FOUND'
  | 'SNAP_INVALID'
  | 'ASSERT_INVALID'
  | 'DIGEST_MISMATCH'
  | 'SIZE_MISMATCH'
  | 'SIGNATURE_INVALID'
  | 'KEY_INVALID'
  | 'BUNDLE_INVALID'
  | 'PATH_TRAVERSAL'
  | 'TOOL_FAILED'
  | 'IO_FAILED'
  | 'USAGE'
  | 'REGISTRY_AUTH'
  | 'REGISTRY_FAILED'
  | 'IMAGE_NOT_FOUND'
  | 'PLATFORM_NOT_FOUND'
  | 'STEP_FAILED'
  | 'PREFLIGHT_FAILED';

export interface AirgapErrorOptions {
  /** What the user can do about it, e.g. "run `bundler lock airgap.yaml`". */
  hint?: string;
  cause?: unknown;
}

/** A user-reachable failure. Programmer bugs stay plain `Error`. */
export class AirgapError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: AirgapErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AirgapError';
    this.code = code;
    this.hint = options.hint;
  }
}

export function isAirgapError(err: unknown, code?: ErrorCode): err is AirgapError {
  return err instanceof AirgapError && (code === undefined || err.code === code);
}

/** Exit codes shared by both CLIs: 2 is bad input (spec, bundle, usage), 1 a failed run. */
export function exitCodeFor(err: AirgapError): 1 | 2 {
  switch (err.code) {
    case 'TOOL_FAILED':
    case 'IO_FAILED':
    case 'STEP_FAILED':
    case 'REGISTRY_FAILED':
    case 'PREFLIGHT_FAILED':
      return 1;
    default:
      return 2;
  }
}
