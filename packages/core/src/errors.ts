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
  /** The command line itself: an unknown command or option, a missing argument, a bad flag value. */
  | 'USAGE'
  /** An environment variable's value (SOURCE_DATE_EPOCH, AIRGAP_JOIN_TOKEN). */
  | 'ENV_INVALID'
  /** A file named on the command line cannot be read (--ca, --tls-cert, --tls-key). */
  | 'FILE_UNREADABLE'
  /** A TLS certificate and key that cannot be used together. */
  | 'TLS_INVALID'
  /** Where a command was told to write cannot take it (a missing folder, a key that exists). */
  | 'OUTPUT_INVALID'
  /** This node cannot take the bundle as it is (e.g. a hostname k8s refuses as a node name). */
  | 'NODE_INVALID'
  /** Two images would land on the same name in the target registry. */
  | 'TARGET_CONFLICT'
  | 'REGISTRY_AUTH'
  | 'REGISTRY_FAILED'
  | 'IMAGE_NOT_FOUND'
  | 'PLATFORM_NOT_FOUND'
  | 'STEP_FAILED'
  /** No helm to render a chart at build time (PATH, --helm, or the k8s snap's bin/helm). */
  | 'HELM_NOT_FOUND'
  /** A chart cannot be pulled or used: not in its repository, a dependency not packaged, a bad .tgz. */
  | 'CHART_INVALID'
  | 'PREFLIGHT_FAILED'
  /** The bundle is older than the one last applied (lower sequence, older createdAt) or would lower a snap revision. */
  | 'BUNDLE_DOWNGRADE'
  /** An image matched an images.verify rule and has no signature that verifies (mode enforce). */
  | 'IMAGE_UNVERIFIED'
  /** An encrypted signing key without the right passphrase (AIRGAP_KEY_PASSPHRASE or the prompt). */
  | 'KEY_PASSPHRASE'
  /** The bundle's expiresAt has passed. */
  | 'BUNDLE_EXPIRED'
  /** A file system of the node has less free space than the apply would write on it (preflight, nothing changed). */
  | 'DISK_SPACE'
  /** A delta bundle leaves out entries that neither the node (it did not apply the base) nor a --base supplies. */
  | 'DELTA_BASE_MISSING'
  /** The --base given is not the delta's base, or lacks an entry the delta leaves out. */
  | 'DELTA_BASE_MISMATCH';

export interface AirgapErrorOptions {
  /** What the user can do about it, e.g. "run `bundler lock airgap.yaml`". */
  hint?: string;
  cause?: unknown;
}

/** A user-reachable failure. Programmer bugs stay plain `Error` (run-main reports them as bugs, exit 70). */
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

/**
 * What a registry exchange was doing when it failed: the token service (`auth`), a manifest or
 * tag (`manifest`), a blob download (`blob`), a blob upload session (`upload`: POST, PATCH, PUT),
 * a manifest push (`push-manifest`), or reaching the host at all (`connect`: DNS, TCP, TLS, proxy).
 */
export type RegistryPhase = 'auth' | 'connect' | 'manifest' | 'blob' | 'upload' | 'push-manifest';

export interface RegistryErrorDetails {
  /** The registry host as named (`docker.io`, `10.0.0.5:5000`). */
  registry: string;
  phase: RegistryPhase;
  /** The HTTP method, when a request was made. */
  method?: string;
  /** The HTTP status, when the registry (or a proxy) answered. */
  status?: number;
  /** Whether the same request may succeed when sent again (5xx, 429, a reset connection, short bytes). */
  retryable: boolean;
  /** The server's Retry-After, in milliseconds, when it sent one. */
  retryAfterMs?: number;
}

/** DIGEST_MISMATCH and SIZE_MISMATCH: the registry (or a proxy on the way) sent wrong or short bytes. */
export type RegistryErrorCode = 'REGISTRY_FAILED' | 'REGISTRY_AUTH' | 'IMAGE_NOT_FOUND' | 'DIGEST_MISMATCH' | 'SIZE_MISMATCH';

/**
 * A failed registry exchange. Status, method, phase and retryability are fields, so retry policy
 * and error wording never parse the message.
 */
export class RegistryError extends AirgapError {
  declare readonly code: RegistryErrorCode;
  readonly registry: string;
  readonly phase: RegistryPhase;
  readonly method: string | undefined;
  readonly status: number | undefined;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(code: RegistryErrorCode, message: string, details: RegistryErrorDetails & AirgapErrorOptions) {
    super(code, message, { hint: details.hint, cause: details.cause });
    this.name = 'RegistryError';
    this.registry = details.registry;
    this.phase = details.phase;
    this.method = details.method;
    this.status = details.status;
    this.retryable = details.retryable;
    this.retryAfterMs = details.retryAfterMs;
  }
}

export function isRegistryError(err: unknown, code?: RegistryErrorCode): err is RegistryError {
  return err instanceof RegistryError && (code === undefined || err.code === code);
}

/** Exit codes shared by both CLIs: 2 is bad input (spec, bundle, usage, node), 1 a failed run; run-main gives bugs 70. */
export function exitCodeFor(err: AirgapError): 1 | 2 {
  switch (err.code) {
    case 'TOOL_FAILED':
    case 'IO_FAILED':
    case 'STEP_FAILED':
    case 'REGISTRY_FAILED':
    case 'PREFLIGHT_FAILED':
    case 'IMAGE_UNVERIFIED':
      return 1;
    default:
      return 2;
  }
}

/** Exit code for a plain Error reaching the entry point: a bug (sysexits EX_SOFTWARE). */
export const INTERNAL_ERROR_EXIT = 70;
