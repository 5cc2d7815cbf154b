import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { AirgapError } from '../errors.ts';

export interface Credentials {
  username: string;
  password: string;
  /** The file they came from, for error messages (never the secret itself). */
  file: string;
}

export interface CredentialLookup {
  credentials?: Credentials;
  /** Every file looked at, in order, so a 401 can say where airgap searched. */
  tried: string[];
}

/**
 * The auth files podman, skopeo and docker write, in the order podman reads them. Credentials come
 * only from here (or the command line): never from airgap.yaml, never into a bundle.
 */
export function authFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  const files: string[] = [];
  if (env.REGISTRY_AUTH_FILE) files.push(env.REGISTRY_AUTH_FILE);
  if (env.XDG_RUNTIME_DIR) files.push(path.join(env.XDG_RUNTIME_DIR, 'containers/auth.json'));
  files.push(path.join(env.DOCKER_CONFIG ?? path.join(env.HOME ?? homedir(), '.docker'), 'config.json'));
  return files;
}

/** The keys an auth file may use for `registry` (docker login writes Docker Hub under its v1 URL). */
function keysFor(registry: string): string[] {
  const keys = [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v2/`, `https://${registry}/v1/`];
  if (registry === 'docker.io' || registry === 'index.docker.io' || registry === 'registry-1.docker.io') {
    keys.push('https://index.docker.io/v1/', 'index.docker.io', 'registry-1.docker.io');
  }
  return keys;
}

export async function lookupCredentials(registry: string, files: readonly string[] = authFiles()): Promise<CredentialLookup> {
  const tried: string[] = [];
  for (const file of files) {
    const { auths, helper } = await readAuths(file, registry);
    // A credential helper (docker's credsStore/credHelpers) is a program airgap does not run: say so.
    tried.push(helper ? `${file} (credential helper ${helper}, not run by airgap: use \`skopeo login --authfile FILE\` and REGISTRY_AUTH_FILE)` : file);
    if (!auths) continue;
    for (const key of keysFor(registry)) {
      const entry = auths[key];
      if (!entry) continue;
      const decoded = decodeEntry(entry, file, key);
      if (decoded) return { credentials: { ...decoded, file }, tried };
    }
  }
  return { tried };
}

type AuthEntry = { auth?: unknown; username?: unknown; password?: unknown };

async function readAuths(file: string, registry: string): Promise<{ auths?: Record<string, AuthEntry>; helper?: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new AirgapError('REGISTRY_AUTH', `cannot read the credentials file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, {
      hint: 'fix its permissions, or point REGISTRY_AUTH_FILE at another file',
    });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // JSON.parse quotes the text around the error: that text may be a password, so it is dropped.
    throw new AirgapError('REGISTRY_AUTH', `the credentials file ${file} is not valid JSON`, { hint: 'rewrite it with `skopeo login` or `docker login`' });
  }
  const d = doc as { auths?: unknown; credsStore?: unknown; credHelpers?: Record<string, unknown> } | null;
  const helper = d?.credHelpers?.[registry] ?? d?.credsStore;
  return {
    ...(d?.auths && typeof d.auths === 'object' ? { auths: d.auths as Record<string, AuthEntry> } : {}),
    ...(typeof helper === 'string' && helper !== '' ? { helper: `docker-credential-${helper}` } : {}),
  };
}

function decodeEntry(entry: AuthEntry, file: string, key: string): { username: string; password: string } | undefined {
  if (typeof entry.username === 'string' && typeof entry.password === 'string') return { username: entry.username, password: entry.password };
  if (typeof entry.auth !== 'string' || entry.auth === '') return undefined;
  const plain = Buffer.from(entry.auth, 'base64').toString('utf8');
  const colon = plain.indexOf(':');
  if (colon <= 0)
    throw new AirgapError('REGISTRY_AUTH', `the entry for ${key} in ${file} is not base64 of user:password`, {
      hint: 'log in again with `skopeo login` or `docker login`',
    });
  return { username: plain.slice(0, colon), password: plain.slice(colon + 1) };
}
