import { access } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AirgapError, runTool } from '@airgap/core';

/** Bundle platform → the standalone applier's file name under dist/. */
const EXECUTABLES: Readonly<Record<string, string>> = {
  'linux/amd64': 'applier-linux-amd64',
  'linux/arm64': 'applier-linux-arm64',
};

export interface ApplierBinary {
  platform: string;
  /** The executable on this machine, e.g. `<repo>/dist/applier-linux-amd64`. */
  file: string;
  /** Its entry in the bundle, e.g. `applier/linux-amd64/applier`. */
  path: string;
  mode: 0o755;
}

export interface ApplierBinariesOptions {
  /** The airgap checkout holding scripts/build-sea.mjs; found from this file's place when left out. */
  root?: string;
}

/** The fixed place of a platform's standalone applier in every bundle: `applier/linux-amd64/applier`. */
export function applierEntryPath(platform: string): string {
  return `applier/${platform.replace('/', '-')}/applier`;
}

/** The platform of a standalone applier entry (`applier/linux-amd64/applier` → `linux/amd64`), else undefined. */
export function applierEntryPlatform(entryPath: string): string | undefined {
  const m = /^applier\/([a-z0-9]+)-([a-z0-9]+)\/applier$/.exec(entryPath);
  return m ? `${m[1]}/${m[2]}` : undefined;
}

/**
 * The standalone applier executables for `platforms`, as bundle sources (mode 0755). In a
 * checkout, runs scripts/build-sea.mjs, which rebuilds only what is missing or stale; a bundler
 * shipped without the checkout uses the executables that sit next to it.
 *
 * @example sources.push(...(await applierBinaries(manifest.platforms)))
 */
export async function applierBinaries(platforms: string[], options: ApplierBinariesOptions = {}): Promise<ApplierBinary[]> {
  const wanted = [...new Set(platforms)];
  for (const platform of wanted) {
    if (!EXECUTABLES[platform]) {
      throw new AirgapError('PLATFORM_NOT_FOUND', `no standalone applier for platform ${platform}`, {
        hint: `the applier is built for ${Object.keys(EXECUTABLES).join(' and ')}; use --no-applier to leave it out`,
      });
    }
  }
  if (wanted.length === 0) return [];
  const here = path.dirname(fileURLToPath(import.meta.url));
  const root = options.root ?? (await findCheckout(here));
  const dir = root ? path.join(root, 'dist') : here;
  if (root) {
    const args = [path.join(root, 'scripts/build-sea.mjs'), ...wanted.flatMap((p) => ['--platform', p])];
    await runTool(process.execPath, args, { cwd: root, timeout: 10 * 60_000 });
  }
  const out: ApplierBinary[] = [];
  for (const platform of wanted) {
    const file = path.join(dir, EXECUTABLES[platform]!);
    if (!(await exists(file))) {
      throw new AirgapError('PLATFORM_NOT_FOUND', `the standalone applier for ${platform} is missing: ${file}`, {
        hint: 'run `node scripts/build-sea.mjs` in an airgap checkout, or use --no-applier',
      });
    }
    out.push({ platform, file, path: applierEntryPath(platform), mode: 0o755 });
  }
  return out;
}

/** The nearest folder above `from` that holds scripts/build-sea.mjs (dist/ and packages/bundler/src both sit in one). */
async function findCheckout(from: string): Promise<string | undefined> {
  for (let dir = from, i = 0; i < 4; dir = path.dirname(dir), i++) {
    if (await exists(path.join(dir, 'scripts/build-sea.mjs'))) return dir;
    if (path.dirname(dir) === dir) break;
  }
  return undefined;
}

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );
