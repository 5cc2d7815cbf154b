import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { cli } from '../support/cli.ts';

/**
 * `--version` and `--help` load nothing a command needs (issue 16, start-up): each CLI entry
 * imports at its top only the light core entry and the applier's defaults (plus types, which
 * compile to nothing); every command's modules come in through `await import()` in its action,
 * which esbuild turns into lazily initialised modules of the one-file bundle.
 */
const LIGHT = new Set(['../../core/src/cli/index.ts', './defaults.ts']);

function staticImports(source: string): string[] {
  return [...source.matchAll(/^import\s+(?!type\s)[^;]*?from\s+'([^']+)';/gms)].map((m) => m[1]!);
}

describe('start-up', () => {
  for (const entry of ['packages/applier/src/cli.ts', 'packages/bundler/src/cli.ts']) {
    it(`${entry} imports only the light modules statically`, async () => {
      const imports = staticImports(await readFile(entry, 'utf8'));
      expect(imports.length).toBeGreaterThan(0);
      expect(imports.filter((i) => !LIGHT.has(i))).toEqual([]);
    });
  }

  it('the light core entry reaches neither the core barrel nor a third-party package but commander', async () => {
    for (const file of ['packages/core/src/cli/index.ts', 'packages/core/src/cli/program.ts', 'packages/core/src/cli/run-main.ts']) {
      const from = [...(await readFile(file, 'utf8')).matchAll(/from\s+'([^']+)'/g)].map((m) => m[1]!);
      expect(from.filter((f) => !f.startsWith('.') && f !== 'commander')).toEqual([]);
    }
  });

  it('--version of both CLIs still prints the version, and a command still runs (its modules load on demand)', async () => {
    for (const name of ['applier', 'bundler'] as const) {
      const r = await cli(name, ['--version']);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^${name} \\d+\\.\\d+\\.\\d+`));
    }
    const missing = await cli('applier', ['verify', '/nonexistent/bundle.tar', '--pub', '/nonexistent/key.pub']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/^error\[/);
  });
});
