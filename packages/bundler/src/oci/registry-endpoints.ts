import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { AirgapError, defaultEndpoint, type RegistryEndpoint, type RegistrySource } from '@airgap/core';

/**
 * Where each registry is really pulled from: `sources.registries` (a pull-through mirror, images
 * keep their upstream names), else the registry itself (Docker Hub's API host for docker.io).
 */
export async function endpointFor(registry: string, sources: Readonly<Record<string, RegistrySource>> | undefined, specDir: string): Promise<RegistryEndpoint> {
  const source = sources?.[registry];
  if (!source) return { registry, url: defaultEndpoint(registry) };
  const url = new URL(source.endpoint);
  if (url.protocol === 'http:' && !source.plainHttp) {
    throw new AirgapError('SPEC_INVALID', `sources.registries.${registry}.endpoint is http:// but plainHttp is not set`, {
      hint: 'set plainHttp: true to allow unencrypted pulls, or use https://',
    });
  }
  if (url.protocol === 'https:' && source.plainHttp) {
    throw new AirgapError('SPEC_INVALID', `sources.registries.${registry}: plainHttp is true but the endpoint is https://`, {
      hint: 'write the endpoint as http://… or drop plainHttp',
    });
  }
  let ca: Buffer | undefined;
  if (source.ca) {
    const file = path.resolve(specDir, source.ca);
    ca = await readFile(file).catch((err: unknown) => {
      throw new AirgapError('SPEC_INVALID', `sources.registries.${registry}.ca: cannot read ${file}`, {
        hint: 'the path is relative to airgap.yaml',
        cause: err,
      });
    });
  }
  return { registry, url: source.endpoint.replace(/\/$/, ''), ...(ca ? { ca } : {}) };
}
