import { parseReference } from '@airgap/core';

/**
 * The full name containerd gives an image reference written in a pod spec, as kubelet resolves it
 * (distribution/reference ParseNormalizedNamed): no registry → `docker.io`, one component →
 * `library/`, no tag and no digest → `:latest`. Undefined when it is no reference at all (an
 * empty value, a template left unrendered): the bundle cannot carry that.
 */
export function normalizeImage(written: string): string | undefined {
  const ref = written.trim();
  if (ref === '' || /\s|\{\{|}}/.test(ref)) return undefined;
  const slash = ref.indexOf('/');
  const first = slash >= 0 ? ref.slice(0, slash) : '';
  const hasRegistry = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  let full = hasRegistry ? ref : `docker.io/${slash >= 0 ? ref : `library/${ref}`}`;
  const name = full.split('@')[0]!;
  if (!name.slice(name.indexOf('/') + 1).includes(':') && !full.includes('@')) full = `${full}:latest`;
  if (full.startsWith('docker.io/') && !full.slice('docker.io/'.length).includes('/')) full = `docker.io/library/${full.slice('docker.io/'.length)}`;
  try {
    return parseReference(full).name;
  } catch {
    return undefined;
  }
}
