import { RegistryError, type RegistryResponse } from '@airgap/core';

/** The `{"errors":[{"code","message"}]}` body of a distribution API error, read and summed up. */
export async function replyErrors(res: RegistryResponse): Promise<{ codes: string[]; text: string }> {
  // A HEAD answer has no body, and one already dumped cannot be read again (undici throws).
  const raw = res.body.bodyUsed || res.body.destroyed ? '' : await res.body.text().catch(() => '');
  try {
    const errors = (JSON.parse(raw) as { errors?: { code?: unknown; message?: unknown }[] }).errors ?? [];
    const codes = errors.map((e) => String(e.code));
    return { codes, text: errors.map((e) => `${String(e.code)}: ${String(e.message)}`).join('; ') };
  } catch {
    return { codes: [], text: raw.slice(0, 200).replace(/\s+/g, ' ').trim() };
  }
}

/** What went wrong, for an answer that is not one of `expected`: names the image and the registry. */
export async function unexpected(res: RegistryResponse, what: string, o: { image: string; registry: string }): Promise<RegistryError> {
  const { text } = await replyErrors(res);
  return new RegistryError('REGISTRY_FAILED', `${o.image}: ${o.registry} answered HTTP ${res.status} to ${what}${text ? ` (${text})` : ''}`, {
    hint:
      res.status === 404 || res.status === 405
        ? 'the registry does not accept pushes there: check --registry and --prefix, and that it is not a read-only mirror'
        : 're-run `applier push`: it sends only what is missing',
    registry: o.registry,
    phase: res.phase,
    method: res.method,
    status: res.status,
    // The client already retried what a retry can fix (5xx, 429): this answer is final for this request.
    retryable: false,
  });
}
