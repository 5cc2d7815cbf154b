import { request } from 'node:http';

/** kubelet's health endpoint; it answers on every node (k8s-cli-contract.md, "Services"). */
export const KUBELET_HEALTHZ = 'http://127.0.0.1:10248/healthz';

/** `ok` when kubelet answers 200, else what went wrong, in a few words. */
export function kubeletHealthz(timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const req = request(KUBELET_HEALTHZ, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body = (body + c).slice(0, 200)));
      res.on('end', () => resolve(res.statusCode === 200 ? 'ok' : `HTTP ${res.statusCode ?? '?'} ${body.trim()}`));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs / 1000}s`)));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}
