import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { cli } from '../support/cli.ts';

/**
 * `--version` and `--help` load nothing a command needs (issue 16, start-up): each CLI entry
 * imports at its top only the light core entry and the applier's defaults (plus types, which
 * compile to nothing); every command's modules come in through `await import()` in its action,
 * which esbuild turns into lazily initialised modules of the one-file bundle.
 */
const LIGHT = new Set([
  '../../core/src/cli/index.ts',
  './defaults.ts',
  // The bundler sets a V8 flag before any command loads undici (its llhttp WebAssembly; 3e56522).
  'node:v8',
]);

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

  it('the built CLIs import only node:module at their top: every other built-in loads with the command that needs it', async () => {
    // An ES module's imports all load before its code runs; scripts/build.mjs turns each
    // `import … from 'node:…'` of the bundle into a require() inside the lazily initialised module.
    for (const file of ['dist/applier.mjs', 'dist/bundler.mjs']) {
      const imports = [...(await readFile(file, 'utf8')).matchAll(/^import\s[^;]*?from\s+(['"])([^'"]+)\1/gm)].map((m) => m[2]);
      expect(imports, file).toEqual(['node:module']);
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
