import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAirgapError } from '@airgap/core';
import { pullImages } from '../../packages/bundler/src/oci/pull-images.ts';
import { makeImage, type MadeImage } from '../support/oci-images.ts';
import { pushLayout, startRegistry, type TestRegistry } from '../support/registry.ts';
import { startTokenServer, type TokenServer } from '../support/token-server.ts';
import { testdir } from '../support/tmpdir.ts';

describe('Bearer token auth (the realm/service/scope dance of Docker Hub, ghcr.io, quay.io)', () => {
  let reg: TestRegistry;
  let tokens: TokenServer;
  let pub: MadeImage;
  let priv: MadeImage;
  const user = { name: 'robot', password: `tok-${Math.random().toString(36).slice(2)}` };
  beforeAll(async () => {
    tokens = await startTokenServer(await testdir(), user);
    reg = await startRegistry({ token: tokens });
    const layout = await testdir();
    pub = await makeImage({ layoutDir: layout, tag: 'pub', platforms: ['linux/amd64'] });
    priv = await makeImage({ layoutDir: layout, tag: 'priv', platforms: ['linux/amd64'] });
    const creds = { ...reg, user: { name: user.name, password: user.password } };
    await pushLayout(creds, layout, 'pub', 'public/app:1');
    await pushLayout(creds, layout, 'priv', 'private/app:1');
  }, 60_000);
  afterAll(async () => {
    await reg?.stop();
    await tokens?.stop();
  });

  const pull = async (ref: string, auth?: { name: string; password: string }) => {
    const dir = await testdir();
    const authFile = path.join(dir, 'auth.json');
    if (auth) await writeFile(authFile, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`${auth.name}:${auth.password}`).toString('base64') } } }));
    const from = tokens.requests.length;
    const result = await pullImages({
      refs: [`${reg.host}/${ref}`],
      platforms: ['linux/amd64'],
      registries: { [reg.host]: { endpoint: reg.url, plainHttp: true } },
      specDir: dir,
      cacheDir: dir,
      authFiles: [authFile],
    }).catch((e: unknown) => e);
    return { result, tokenRequests: tokens.requests.slice(from) };
  };

  it('pulls a public image anonymously with one token for its scope', async () => {
    const { result, tokenRequests } = await pull('public/app:1');
    expect(result).toMatchObject({ images: [{ digest: pub.digest }] });
    expect(tokenRequests).toEqual([{ scope: ['repository:public/app:pull'] }]);
  });

  it('sends the auth file credentials to the token realm for a private image', async () => {
    const { result, tokenRequests } = await pull('private/app:1', user);
    expect(result).toMatchObject({ images: [{ digest: priv.digest }] });
    expect(tokenRequests).toEqual([{ scope: ['repository:private/app:pull'], user: 'robot' }]);
  });

  it('refuses a private image without credentials, naming where it looked', async () => {
    const { result } = await pull('private/app:1');
    expect(isAirgapError(result, 'REGISTRY_AUTH')).toBe(true);
    expect((result as { hint: string }).hint).toMatch(/no credentials for 127\.0\.0\.1:\d+ in .*auth\.json/);
  });

  it('refuses wrong credentials at the token realm, naming the file and not the password', async () => {
    const { result } = await pull('private/app:1', { name: 'robot', password: 'not-the-password' });
    expect(isAirgapError(result, 'REGISTRY_AUTH')).toBe(true);
    const text = `${(result as Error).message} ${(result as { hint: string }).hint}`;
    expect(text).toMatch(/token service 127\.0\.0\.1:\d+ refused us \(HTTP 401\)/);
    expect(text).toContain('auth.json');
    expect(text).not.toContain('not-the-password');
  });
});
