import { isMap, isPair, isScalar, isSeq, LineCounter, type Document, type Node } from 'yaml';

export interface Position {
  line: number;
  column: number;
}

/**
 * Where a path points in the YAML source. With `key`, the position of that key inside the map
 * at `path` (for unknown keys); otherwise the value at `path`, or the deepest existing parent.
 */
export function locate(doc: Document, lines: LineCounter, path: readonly (string | number)[], key?: string): Position {
  let node: unknown = doc.contents;
  let found: Node | undefined = isNode(node) ? node : undefined;
  for (const segment of path) {
    const next = child(node, segment);
    if (next === undefined) break;
    node = next;
    if (isNode(next)) found = next;
  }
  if (key !== undefined && isMap(node)) {
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
    if (pair && isNode(pair.key)) found = pair.key;
  }
  const offset = found?.range?.[0] ?? 0;
  const pos = lines.linePos(offset);
  return { line: pos.line, column: pos.col };
}

function child(node: unknown, segment: string | number): unknown {
  if (isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
    return pair?.value ?? undefined;
  }
  if (isSeq(node) && typeof segment === 'number') return node.items[segment];
  return undefined;
}

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && 'range' in value;
}

/** `containerd.mirrors[0].endpoint` from ['containerd', 'mirrors', 0, 'endpoint']. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out;
}
