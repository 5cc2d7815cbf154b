import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { request } from 'undici';

/** What the proxy does to one request it matches. */
export type Fault = 'status500' | 'status429' | 'reset' | 'truncate' | 'corrupt' | 'stall';

export interface FaultRule {
  /** Requests whose path matches; e.g. /\/blobs\// */
  match: RegExp;
  fault: Fault;
  /** How many matching requests get it (default: all). */
  times?: number;
  /** The Retry-After header a `status429` answer carries (default `0`). */
  retryAfter?: string;
}

/** One request the proxy saw: when it arrived (performance.now() ms) and the fault it got, if any. */
export interface ProxiedRequest {
  method: string;
  url: string;
  at: number;
  fault?: Fault;
}

export interface FaultProxy {
  url: string;
  host: string;
  /** Faults injected so far, by kind. */
  injected: Record<string, number>;
  /** Every request so far, in arrival order. */
  log: ProxiedRequest[];
  setRules(rules: FaultRule[]): void;
  stop(): Promise<void>;
}

/**
 * A small HTTP proxy in front of a real registry that breaks chosen requests the way networks and
 * overloaded registries do: 500 and 429 answers, connection resets and truncation mid-body, a flipped
 * byte, a stall. Everything else passes through unchanged.
 */
export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  let rules: (FaultRule & { left: number })[] = [];
  const injected: Record<string, number> = {};
  const log: ProxiedRequest[] = [];
  const stalled = new Set<ServerResponse>();
  const server = createServer((req, res) => void handle(req, res));

  async function handle(req: IncomingMessage, res: ServerResponse) {
    // The client may give up first (that is the point of some faults): writes after that are moot.
    res.on('error', () => undefined);
    req.on('error', () => undefined);
    const rule = rules.find((r) => r.left > 0 && r.match.test(req.url ?? ''));
    if (rule) {
      rule.left--;
      injected[rule.fault] = (injected[rule.fault] ?? 0) + 1;
    }
    const fault = rule?.fault;
    log.push({ method: req.method ?? 'GET', url: req.url ?? '/', at: performance.now(), ...(fault ? { fault } : {}) });
    if (fault === 'status500' || fault === 'status429') {
      res.writeHead(fault === 'status500' ? 500 : 429, {
        'content-type': 'application/json',
        ...(fault === 'status429' ? { 'retry-after': rule?.retryAfter ?? '0' } : {}),
      });
      res.end('{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}');
      return;
    }
    if (fault === 'stall') {
      stalled.add(res);
      return;
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'connection') headers[k] = v;
    const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : req;
    const up = await request(`${upstream}${req.url ?? '/'}`, { method: req.method as 'GET', headers, ...(body ? { body } : {}) }).catch(() => undefined);
    if (!up) {
      res.destroy();
      return;
    }
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && k !== 'connection' && k !== 'transfer-encoding' && k !== 'keep-alive') out[k] = v;
    if (up.headers.location && typeof up.headers.location === 'string') out.location = up.headers.location.replace(upstream, `http://${hostOf()}`);
    res.writeHead(up.statusCode, out);
    let sent = 0;
    const length = Number(up.headers['content-length'] ?? 0);
    for await (const chunk of up.body as AsyncIterable<Buffer>) {
      let data = chunk;
      if ((fault === 'reset' || fault === 'truncate') && sent + data.length >= length / 2) {
        await new Promise<void>((resolve) => res.write(data.subarray(0, Math.max(0, Math.floor(length / 2) - sent)), () => resolve()));
        // reset: the socket dies with an RST; truncate: the response stops short on a clean FIN.
        if (fault === 'reset') res.socket?.resetAndDestroy();
        else res.socket?.destroy();
        up.body.destroy();
        return;
      }
      if (fault === 'corrupt' && sent === 0 && data.length > 0) {
        data = Buffer.from(data);
        data[0] = data[0]! ^ 0xff;
      }
      sent += data.length;
      if (res.destroyed) {
        up.body.destroy();
        return;
      }
      res.write(data);
    }
    res.end();
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const hostOf = () => `127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url: `http://${hostOf()}`,
    host: hostOf(),
    injected,
    log,
    setRules(r) {
      rules = r.map((x) => ({ ...x, left: x.times ?? Number.POSITIVE_INFINITY }));
    },
    async stop() {
      for (const res of stalled) res.destroy();
      server.closeAllConnections();
      server.close();
      await once(server, 'close').catch(() => undefined);
    },
  };
}
