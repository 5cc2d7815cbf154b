/** One challenge of a `WWW-Authenticate` header, e.g. Bearer with realm, service and scope. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * RFC 7235 challenges: `Bearer realm="https://auth.docker.io/token",service="registry.docker.io"`.
 * Registries send one challenge; several (comma-separated) are read in order.
 */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  const re = /\s*([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)(?:\s+|$)/y;
  let i = 0;
  while (i < header.length) {
    re.lastIndex = i;
    const m = re.exec(header);
    if (!m) break;
    const challenge: Challenge = { scheme: m[1]!.toLowerCase(), params: {} };
    i = re.lastIndex;
    for (;;) {
      const param = /\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*(,?)/y;
      param.lastIndex = i;
      const p = param.exec(header);
      if (!p) break;
      challenge.params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
      i = param.lastIndex;
      if (p[4] !== ',') break;
      // A comma may end this challenge and start the next one: a name with no `=` after it.
      if (/^\s*[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*(\s+[^=\s]|\s*$)/.test(header.slice(i))) break;
    }
    out.push(challenge);
  }
  return out;
}
