import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { AirgapError, OCI_INDEX } from '@airgap/core';
import { referrersIndex } from '../images/referrers-index.ts';
import type { ServeLogEntry } from './access-log.ts';
import type { BundleRegistry } from './bundle-registry.ts';
import { parseRange } from './byte-range.ts';
import { route } from './routes.ts';
import { sliceStream } from './slice-stream.ts';
import { parsePageSize, tagsPage } from './tags-list.ts';
import { DEFAULT_MAX_CONNECTIONS } from '../defaults.ts';

export { DEFAULT_MAX_CONNECTIONS };

export interface ServeOptions {
  registry: BundleRegistry;
  host: string;
  port: number;
  /** PEM certificate chain and key: HTTPS instead of plain HTTP. */
  tls?: { cert: Buffer; key: Buffer };
  /** Connections beyond this are closed as they arrive (default DEFAULT_MAX_CONNECTIONS). */
  maxConnections?: number;
  /** One entry per request, and per connection turned away. */
  log?: (entry: ServeLogEntry) => void;
}

/** A read-only OCI registry (distribution API v2: GET and HEAD) answering from the bundle. */
export async function serveBundle(o: ServeOptions): Promise<Server> {
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const started = Date.now();
    const sent = { bytes: 0 };
    handle(o.registry, req, res, sent).catch((err: unknown) => {
      if (!res.headersSent) error(res, 500, 'UNKNOWN', String(err));
      else res.destroy(err as Error);
    });
    res.on('close', () =>
      o.log?.({
        time: new Date().toISOString(),
        remote: req.socket.remoteAddress ?? '?',
        method: req.method ?? '?',
        url: req.url ?? '?',
        status: res.statusCode,
        bytes: sent.bytes,
        ms: Date.now() - started,
        completed: res.writableFinished,
        ...(res.statusCode === 206 && typeof req.headers.range === 'string' ? { range: req.headers.range } : {}),
      }),
    );
  };
  let server: Server;
  try {
    server = o.tls ? createHttpsServer({ cert: o.tls.cert, key: o.tls.key }, onRequest) : createHttpServer(onRequest);
  } catch (err) {
    throw new AirgapError('TLS_INVALID', `cannot use the TLS certificate and key: ${(err as Error).message}`, {
      hint: 'give a PEM certificate (chain) with --tls-cert and its private key with --tls-key',
      cause: err,
    });
  }
  const max = o.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  server.maxConnections = max;
  server.on('drop', (d?: { remoteAddress?: string }) =>
    o.log?.({ time: new Date().toISOString(), remote: d?.remoteAddress ?? '?', dropped: 'max-connections', maxConnections: max }),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new AirgapError('IO_FAILED', `cannot listen on ${o.host}:${o.port}: ${err.code ?? err.message}`, {
          hint: 'choose a free --listen address',
          cause: err,
        }),
      ),
    );
    server.listen(o.port, o.host, resolve);
  });
  return server;
}

async function handle(registry: BundleRegistry, req: IncomingMessage, res: ServerResponse, sent: { bytes: number }): Promise<void> {
  res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
  if (req.method !== 'GET' && req.method !== 'HEAD') return error(res, 405, 'UNSUPPORTED', 'this registry is read-only');
  const url = new URL(req.url ?? '/', 'http://bundle');
  const ns = url.searchParams.get('ns') ?? undefined;
  const r = route(url.pathname);
  if (!r) return error(res, 404, 'NAME_UNKNOWN', 'not found');
  const body = (status: number, headers: Record<string, string | number>, data: Buffer) => {
    res.writeHead(status, { ...headers, 'Content-Length': data.length });
    if (req.method !== 'HEAD') sent.bytes += data.length;
    res.end(req.method === 'HEAD' ? undefined : data);
  };
  switch (r.kind) {
    case 'base':
      return body(200, { 'Content-Type': 'application/json' }, Buffer.from('{}'));
    case 'tags': {
      const all = registry.tags(r.repo, ns);
      if (!all) return error(res, 404, 'NAME_UNKNOWN', `repository ${r.repo} is not in the bundle`);
      const n = parsePageSize(url.searchParams.get('n'));
      if (Number.isNaN(n)) return error(res, 400, 'PAGINATION_NUMBER_INVALID', 'n must be a non-negative integer');
      const page = tagsPage(all, n, url.searchParams.get('last') ?? undefined);
      const headers: Record<string, string> = { 'Content-Type': 'application/json' };
      if (page.next !== undefined) {
        const next = new URLSearchParams({ ...(ns ? { ns } : {}), n: String(n), last: page.next });
        headers.Link = `</v2/${r.repo}/tags/list?${next.toString()}>; rel="next"`;
      }
      return body(200, headers, Buffer.from(JSON.stringify({ name: r.repo, tags: page.tags })));
    }
    case 'manifest': {
      const m = await registry.manifest(r.repo, r.reference, ns);
      if (!m) return error(res, 404, 'MANIFEST_UNKNOWN', `manifest ${r.repo}:${r.reference} is not in the bundle`);
      return body(200, { 'Content-Type': m.mediaType, 'Docker-Content-Digest': m.digest }, m.body);
    }
    case 'blob':
      return sendBlob(registry, r.digest, req, res, sent);
    case 'referrers': {
      // distribution-spec v1.1.0 "Listing Referrers": an image index, 200 even when empty; a filter applied is named in OCI-Filters-Applied.
      const artifactType = url.searchParams.get('artifactType') ?? undefined;
      const listed = await registry.referrers(r.repo, r.digest, ns, artifactType);
      if (!listed) return error(res, 404, 'NAME_UNKNOWN', `repository ${r.repo} is not in the bundle`);
      const headers: Record<string, string> = { 'Content-Type': OCI_INDEX };
      if (artifactType !== undefined) headers['OCI-Filters-Applied'] = 'artifactType';
      return body(200, headers, referrersIndex(listed));
    }
  }
}

function sendBlob(registry: BundleRegistry, digest: string, req: IncomingMessage, res: ServerResponse, sent: { bytes: number }): void {
  const blob = registry.blob(digest);
  if (!blob) return error(res, 404, 'BLOB_UNKNOWN', `blob ${digest} is not in the bundle`);
  const common = { 'Content-Type': 'application/octet-stream', 'Docker-Content-Digest': digest, 'Accept-Ranges': 'bytes' };
  // Range applies to GET only (RFC 9110 §14.2); a HEAD is answered as for the whole blob.
  const range = req.method === 'GET' ? parseRange(req.headers.range, blob.size) : { kind: 'whole' as const };
  if (range.kind === 'unsatisfiable') {
    res.writeHead(416, { ...common, 'Content-Range': `bytes */${blob.size}`, 'Content-Length': 0 });
    return void res.end();
  }
  if (range.kind === 'partial')
    res.writeHead(206, { ...common, 'Content-Range': `bytes ${range.start}-${range.end}/${blob.size}`, 'Content-Length': range.end - range.start + 1 });
  else res.writeHead(200, { ...common, 'Content-Length': blob.size });
  if (req.method === 'HEAD') return void res.end();
  const stream = blob.open();
  // A digest mismatch surfaces as a stream error: cut the connection so the client never gets a clean end.
  stream.on('error', (err) => res.destroy(err));
  // A client that goes away mid-blob: stop reading the bundle for it.
  res.on('close', () => stream.destroy());
  const out = range.kind === 'partial' ? stream.pipe(sliceStream(range.start, range.end)) : stream;
  out.on('data', (chunk: Buffer) => (sent.bytes += chunk.length));
  out.pipe(res);
}

function error(res: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify({ errors: [{ code, message }] });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
