export interface Assertion {
  type: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * Parse a snapd assertion stream (`snap download` writes one as NAME_REV.assert): assertions are
 * `HEADERS "\n\n" [BODY "\n\n"] SIGNATURE`, one after another, separated by a blank line. The
 * store signatures are not checked here: `snap ack` on the node does that against snapd's
 * trusted root. Returns undefined for text that is not such a stream.
 */
export function parseAssertions(text: string): Assertion[] | undefined {
  const out: Assertion[] = [];
  let pos = 0;
  const src = text.replace(/\r\n/g, '\n');
  while (pos < src.length) {
    while (src[pos] === '\n') pos++;
    if (pos >= src.length) break;
    const headerEnd = src.indexOf('\n\n', pos);
    if (headerEnd < 0) return undefined;
    const headers = parseHeaders(src.slice(pos, headerEnd));
    if (!headers || !headers.type) return undefined;
    pos = headerEnd + 2;
    let body = '';
    const bodyLength = Number(headers['body-length'] ?? '0');
    if (!Number.isSafeInteger(bodyLength) || bodyLength < 0) return undefined;
    if (bodyLength > 0) {
      body = src.slice(pos, pos + bodyLength);
      if (body.length !== bodyLength || src.slice(pos + bodyLength, pos + bodyLength + 2) !== '\n\n') return undefined;
      pos += bodyLength + 2;
    }
    const sigEnd = src.indexOf('\n\n', pos);
    const signature = (sigEnd < 0 ? src.slice(pos) : src.slice(pos, sigEnd)).trim();
    if (signature === '') return undefined;
    pos = sigEnd < 0 ? src.length : sigEnd + 2;
    out.push({ type: headers.type, headers, body });
  }
  return out;
}

function parseHeaders(block: string): Record<string, string> | undefined {
  const headers: Record<string, string> = {};
  let current: string | undefined;
  for (const line of block.split('\n')) {
    if (line.startsWith('  ') && current !== undefined) {
      // Multi-line value: indented continuation lines.
      headers[current] = headers[current] === '' ? line.slice(2) : `${headers[current]}\n${line.slice(2)}`;
      continue;
    }
    const m = /^([a-z][a-z0-9-]*):(?: (.*))?$/.exec(line);
    if (!m) return undefined;
    current = m[1]!;
    headers[current] = m[2] ?? '';
  }
  return headers;
}
