import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { lock as precompiledLock, manifest as precompiledManifest } from '../../packages/core/src/generated/contract-validators.mjs';
import { spec as precompiledSpec } from '../../packages/core/src/generated/spec-validator.mjs';
import specSchema from '../../schemas/airgap.schema.json' with { type: 'json' };
import manifestSchema from '../../schemas/bundle-manifest.schema.json' with { type: 'json' };
import lockSchema from '../../schemas/lock.schema.json' with { type: 'json' };
import { baseManifest } from '../bundle/bundle-helpers.ts';

/**
 * The CLIs validate with code ajv generated at build time (scripts/gen-validators.mjs), never
 * compiling a schema at run time. That code must answer exactly as ajv compiling the same schema
 * with the same options would: the same verdict, the same error objects (schema-errors.ts reads
 * their keyword, params, data and parentSchema, x-hint included) and, for the spec, the same
 * defaults filled in. Here ajv compiles the schemas of this checkout, as the code did before.
 */
function compiled(): { spec: ValidateFunction; manifest: ValidateFunction; lock: ValidateFunction } {
  const contract = new Ajv({ allErrors: true, verbose: true, strict: true });
  contract.addKeyword('x-hint');
  contract.addSchema(specSchema);
  contract.addSchema(lockSchema);
  const withDefaults = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true });
  withDefaults.addKeyword('x-hint');
  return { spec: withDefaults.compile(specSchema), manifest: contract.compile(manifestSchema), lock: contract.getSchema(lockSchema.$id)! };
}

/** Each value once as it is and once with each top-level key (and each key one level down) removed or of the wrong type. */
function variants(value: Record<string, unknown>): unknown[] {
  const out: unknown[] = [value, {}, [], 'text', 42, null];
  const clone = () => structuredClone(value);
  for (const key of Object.keys(value)) {
    for (const bad of [undefined, 42, 'x', [], { unknownKey: true }]) {
      const v = clone();
      if (bad === undefined) delete v[key];
      else v[key] = bad;
      out.push(v);
    }
    const inner = value[key];
    const nested = Array.isArray(inner) ? inner[0] : inner;
    if (typeof nested !== 'object' || nested === null) continue;
    for (const k of Object.keys(nested)) {
      for (const bad of [undefined, -1, '--help', ['../x']]) {
        const v = clone();
        const target = (Array.isArray(v[key]) ? (v[key] as unknown[])[0] : v[key]) as Record<string, unknown>;
        if (bad === undefined) delete target[k];
        else target[k] = bad;
        out.push(v);
      }
    }
  }
  return out;
}

/** Runs both validators on copies of `value`: same verdict, same errors, same value afterwards (defaults). */
function same(precompiled: ValidateFunction, reference: ValidateFunction, value: unknown): boolean {
  const a = structuredClone(value);
  const b = structuredClone(value);
  const ok = precompiled(a);
  expect(ok).toBe(reference(b));
  expect(precompiled.errors ?? null).toEqual(reference.errors ?? null);
  expect(a).toEqual(b);
  return ok;
}

describe('the precompiled validators', () => {
  const reference = compiled();

  it('answer every spec of the bad-spec corpus and the examples as ajv compiling the schema does, defaults included', async () => {
    const dir = 'test/hardening/bad-specs';
    const files = [
      ...(await readdir(dir)).filter((f) => f.endsWith('.yaml')).map((f) => path.join(dir, f)),
      'examples/airgap.yaml',
      'examples/workloads/airgap.yaml',
      'examples/quickstart/airgap.yaml',
    ];
    let valid = 0;
    let invalid = 0;
    for (const file of files) {
      let data: unknown;
      try {
        data = parse(await readFile(file, 'utf8'), { maxAliasCount: 100 });
      } catch {
        continue; // not YAML: refused before the schema
      }
      for (const v of typeof data === 'object' && data !== null && !Array.isArray(data) ? variants(data as Record<string, unknown>) : [data]) {
        if (same(precompiledSpec, reference.spec, v)) valid++;
        else invalid++;
      }
    }
    expect(valid).toBeGreaterThanOrEqual(3);
    expect(invalid).toBeGreaterThan(100);
  });

  it('answer manifests and locks, valid and broken, as ajv compiling the schemas does', () => {
    const entry = { path: 'airgap/SHA256SUMS', size: 1, sha256: 'a'.repeat(64), mode: 0o644 };
    const manifest = { ...baseManifest('SHA256:' + 'A'.repeat(43)), entries: [entry] };
    const lock = {
      lockVersion: 1,
      snaps: [{ name: 'k8s', channel: '1.32-classic/stable', revision: 3001, 'sha3-384': 'A'.repeat(64), size: 10 }],
      images: [{ ref: 'docker.io/library/nginx:1.27', digest: `sha256:${'a'.repeat(64)}` }],
      hosts: ['registry-1.docker.io'],
    };
    const verdicts = { manifest: [0, 0], lock: [0, 0] };
    for (const v of variants(manifest)) verdicts.manifest[same(precompiledManifest, reference.manifest, v) ? 0 : 1]!++;
    for (const v of variants(lock)) verdicts.lock[same(precompiledLock, reference.lock, v) ? 0 : 1]!++;
    expect(verdicts.manifest[0]).toBeGreaterThanOrEqual(1);
    expect(verdicts.lock[0]).toBeGreaterThanOrEqual(1);
    expect(verdicts.manifest[1]).toBeGreaterThan(50);
    expect(verdicts.lock[1]).toBeGreaterThan(20);
  });

  it('are what the CLIs run: no source module imports ajv itself, and neither bundle holds its compiler', async () => {
    const sources: string[] = [];
    for (const pkg of ['core', 'applier', 'bundler']) {
      for (const f of await readdir(`packages/${pkg}/src`, { recursive: true })) if (f.endsWith('.ts')) sources.push(path.join('packages', pkg, 'src', f));
    }
    const importers = [];
    for (const f of sources) if (/^import\s+(?!type\s)[^;]*from\s+'ajv(?:\/[^']*)?';/m.test(await readFile(f, 'utf8'))) importers.push(f);
    expect(importers).toEqual([]);
    for (const cli of ['dist/applier.mjs', 'dist/bundler.mjs']) {
      // esbuild names each bundled module in a comment: only ajv's small run-time helpers may be there.
      const ajvModules = [...(await readFile(cli, 'utf8')).matchAll(/^\/\/ node_modules\/\.pnpm\/ajv@[^/]+\/node_modules\/ajv\/(\S+)$/gm)].map((m) => m[1]);
      expect(ajvModules.filter((m) => !m!.startsWith('dist/runtime/'))).toEqual([]);
    }
  });
});
