import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { AirgapError } from '@airgap/core';
import type { BundleRegistry } from './bundle-registry.ts';
import { route } from './routes.ts';

export interface ServeOptions {
  registry: BundleRegistry;
  host: string;
  port: number;
  /** One line per request, for the operator. */
  log?: (line: string) => void;
}

/** A read-only OCI registry (distribution API v2: GET and HEAD) answering from the bundle. */
export async function serveBundle(o: ServeOptions): Promise<Server> {
  const server = createServer((req, res) => {
    handle(o.registry, req, res).catch((err: unknown) => {
      if (!res.headersSent) error(res, 500, 'UNKNOWN', String(err));
      else res.destroy(err as Error);
    });
    res.on('finish', () => o.log?.(`${req.method ?? '?'} ${req.url ?? '?'} ${res.statusCode}`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new AirgapError('IO_FAILED', `cannot listen on ${o.host}:${o.port}: ${err.code ?? err.message}`, { hint: 'choose a free --listen address', cause: err })),
    );
    server.listen(o.port, o.host, resolve);
  });
  return server;
}

async function handle(registry: BundleRegistry, req: IncomingMessage, res: ServerResponse): Promise<void> {
  res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
  if (req.method !== 'GET' && req.method !== 'HEAD') return error(res, 405, 'UNSUPPORTED', 'this registry is read-only');
  const url = new URL(req.url ?? '/', 'http://bundle');
  const r = route(url.pathname);
  if (!r) return error(res, 404, 'NAME_UNKNOWN', 'not found');
  if (r.kind === 'base') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    return void res.end('{}');
  }
  if (r.kind === 'manifest') {
    const m = await registry.manifest(r.repo, r.reference, url.searchParams.get('ns') ?? undefined);
    if (!m) return error(res, 404, 'MANIFEST_UNKNOWN', `manifest ${r.repo}:${r.reference} is not in the bundle`);
    res.writeHead(200, { 'Content-Type': m.mediaType, 'Content-Length': m.body.length, 'Docker-Content-Digest': m.digest });
    return void res.end(req.method === 'HEAD' ? undefined : m.body);
  }
  const blob = registry.blob(r.digest);
  if (!blob) return error(res, 404, 'BLOB_UNKNOWN', `blob ${r.digest} is not in the bundle`);
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': blob.size, 'Docker-Content-Digest': r.digest });
  if (req.method === 'HEAD') return void res.end();
  const stream = blob.open();
  // A digest mismatch surfaces as a stream error: cut the connection so the client never gets a clean end.
  stream.on('error', (err) => res.destroy(err));
  stream.pipe(res);
}

function error(res: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify({ errors: [{ code, message }] });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
