import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AirgapError, loadTrustedKeys, parseCommandArgs, verifyBundle } from '@airgap/core';
import { bundleRegistry } from './bundle-registry.ts';
import { serveBundle } from './serve.ts';

export const SERVE_USAGE = 'applier serve bundle.tar --pub KEY.pub --listen 127.0.0.1:5000';

export interface ServeCommandResult {
  server: Server;
  url: string;
  images: number;
}

/** `applier serve`: verify the bundle, then answer pulls from it until stopped. */
export async function serveCommand(args: string[], log: (line: string) => void): Promise<ServeCommandResult> {
  const { values, positionals } = parseCommandArgs(args, { pub: { type: 'string', multiple: true }, listen: { type: 'string' }, quiet: { type: 'boolean' } }, SERVE_USAGE);
  const file = positionals[0];
  if (!file) throw new AirgapError('USAGE', 'serve needs the bundle path', { hint: `usage: ${SERVE_USAGE}` });
  const m = /^(\[[0-9a-f:]+\]|[^:]+):(\d{1,5})$/i.exec(values.listen ?? '127.0.0.1:5000');
  if (!m) throw new AirgapError('USAGE', `--listen ${values.listen ?? ''} is not HOST:PORT`, { hint: `usage: ${SERVE_USAGE}` });
  const bundle = await verifyBundle(file, { keys: await loadTrustedKeys(values.pub ?? []) });
  const registry = await bundleRegistry(bundle);
  const server = await serveBundle({ registry, host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]), log: values.quiet ? undefined : log });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { server, url: `http://${host}:${address.port}`, images: registry.imageCount };
}
