import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AirgapError, loadTrustedKeys, verifyBundle } from '@airgap/core';
import { formatLogEntry } from './access-log.ts';
import { bundleRegistry } from './bundle-registry.ts';
import { DEFAULT_MAX_CONNECTIONS, serveBundle } from './serve.ts';

export interface ServeCommandResult {
  server: Server;
  url: string;
  images: number;
}

const usage = (message: string) => new AirgapError('USAGE', message);

async function readPem(file: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new AirgapError('FILE_UNREADABLE', `cannot read ${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      hint: `give ${flag} a PEM file this user can read`,
      cause: err,
    });
  }
}

/** The options of `applier serve`, as the CLI declares them. */
export interface ServeOptions {
  bundle: string;
  pub?: string[];
  listen?: string;
  quiet?: boolean;
  json?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  maxConnections?: string;
}

/**
 * `applier serve`: verify the bundle, then answer pulls from it until stopped. `log` gets one
 * access-log line per request (text, or JSON with --json); --quiet turns it off.
 */
export async function serveCommand(values: ServeOptions, log: (line: string) => void): Promise<ServeCommandResult> {
  const file = values.bundle;
  const m = /^(\[[0-9a-f:]+\]|[^:]+):(\d{1,5})$/i.exec(values.listen ?? '127.0.0.1:5000');
  if (!m) throw usage(`--listen ${values.listen ?? ''} is not HOST:PORT`);
  const certFile = values.tlsCert;
  const keyFile = values.tlsKey;
  if ((certFile === undefined) !== (keyFile === undefined)) throw usage('--tls-cert and --tls-key go together');
  const maxRaw = values.maxConnections;
  const maxConnections = maxRaw === undefined ? DEFAULT_MAX_CONNECTIONS : Number(maxRaw);
  if (!Number.isSafeInteger(maxConnections) || maxConnections < 1) throw usage(`--max-connections ${maxRaw ?? ''} is not a whole number of at least 1`);
  const tls = certFile && keyFile ? { cert: await readPem(certFile, '--tls-cert'), key: await readPem(keyFile, '--tls-key') } : undefined;
  const bundle = await verifyBundle(file, { keys: await loadTrustedKeys(values.pub ?? []) });
  const registry = await bundleRegistry(bundle);
  const json = values.json === true;
  const server = await serveBundle({
    registry,
    host: m[1]!.replace(/^\[|\]$/g, ''),
    port: Number(m[2]),
    maxConnections,
    ...(tls ? { tls } : {}),
    ...(values.quiet ? {} : { log: (e) => log(formatLogEntry(e, json)) }),
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { server, url: `${tls ? 'https' : 'http'}://${host}:${address.port}`, images: registry.imageCount };
}
