import { AirgapError, describeNetworkError, isRegistryError, RegistryError } from '@airgap/core';

export interface ErrorContext {
  registry: string;
  /** Where the credentials came from, for a refusal's hint (never the secret). */
  credentials: { user: string; from: string } | undefined;
  tried: readonly string[];
  plainHttp: boolean;
}

/**
 * Say what to do about a failed push in `applier push` terms (--ca, --plain-http, --user), since
 * the shared registry client's hints speak of the bundler's spec. Names the image when known.
 */
export function explainPushError(err: unknown, ctx: ErrorContext, image?: string): unknown {
  if (!(err instanceof AirgapError)) return err;
  const message = image && !err.message.startsWith(image) ? `${image}: ${err.message}` : err.message;
  let hint = err.hint;
  if (err.code === 'REGISTRY_AUTH') {
    hint = ctx.credentials
      ? `${ctx.registry} refused user ${ctx.credentials.user} (from ${ctx.credentials.from}): check the user, the password and that the user may push there`
      : `no credentials for ${ctx.registry} in ${ctx.tried.join(', ') || 'any auth file'}: pass --user USER --password-stdin, or log in with \`skopeo login ${ctx.registry}\``;
  } else if (isRegistryError(err, 'REGISTRY_FAILED') && ctx.plainHttp && err.status === 400 && err.method === 'HEAD') {
    // Go's TLS server answers a plain request with 400 "Client sent an HTTP request to an HTTPS server".
    hint = `${ctx.registry} may only speak HTTPS: drop --plain-http (and give its CA with --ca FILE)`;
  } else if (err.code === 'REGISTRY_FAILED' && err.cause !== undefined) {
    const reason = describeNetworkError(err.cause);
    if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(reason)) hint = `give the CA that signed ${ctx.registry}'s certificate with --ca FILE`;
    else if (/EPROTO|wrong version|ERR_SSL/i.test(reason) && !ctx.plainHttp) hint = `${ctx.registry} may speak plain HTTP: add --plain-http`;
    else if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ETIMEDOUT/.test(reason))
      hint = `check --registry ${ctx.registry} (host and port) and that the registry is running and reachable from here`;
    else hint = 're-run `applier push`: it sends only what is missing';
  }
  if (message === err.message && hint === err.hint) return err;
  const options = { ...(hint ? { hint } : {}), cause: err };
  if (!isRegistryError(err)) return new AirgapError(err.code, message, options);
  const { registry, phase, method, status, retryable, retryAfterMs } = err;
  return new RegistryError(err.code, message, {
    ...options,
    registry,
    phase,
    retryable,
    ...(method ? { method } : {}),
    ...(status === undefined ? {} : { status }),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}
