import { closest } from '@airgap/core';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair } from 'yaml';
import type { K8sDatastore, K8sRelease, SourceIssue } from '@airgap/core';
import table from './bootstrap-config-keys.json' with { type: 'json' };

type Leaf = 'string' | 'bool' | 'int' | 'list' | 'map';
interface KeyTree {
  [key: string]: KeyTree | Leaf;
}
interface ReleaseKeys {
  source: string;
  keys: KeyTree;
  values?: Record<string, string[]>;
}

const RELEASES = table.releases as Record<string, ReleaseKeys>;
/** More nodes than any real config has: a guard against alias bombs. */
const MAX_NODES = 100_000;

export interface BootstrapConfigFacts {
  datastore: K8sDatastore;
  /** `containerd-base-dir` as written (absolute). */
  containerdBaseDir?: string;
}

export interface BootstrapConfigCheck {
  facts?: BootstrapConfigFacts;
  issues: SourceIssue[];
  /** Where the accepted keys come from, for the message. */
  source: string;
}

/**
 * Check a bootstrap config the way the node's `k8s bootstrap --file` reads it: gopkg.in/yaml.v2
 * `UnmarshalStrict` into k8s-snap-api's BootstrapConfig (canonical/k8s-snap
 * src/k8s/cmd/k8s/k8s_bootstrap.go:202 on release-1.32…1.35, canonical/k8sd cmd/k8s/k8s_bootstrap.go
 * on main for 1.36). So: YAML 1.1 scalars (`yes` is a bool), unknown keys refused, a string
 * field takes any scalar, a bool only a bool, an int only a number. Pure: no file access.
 */
export function checkBootstrapConfig(o: { text: string; file: string; release: K8sRelease }): BootstrapConfigCheck {
  const rel = RELEASES[o.release];
  if (!rel) throw new Error(`no bootstrap config keys for k8s ${o.release}`);
  const lines = new LineCounter();
  const doc = parseDocument(o.text, { version: '1.1', lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const issues: SourceIssue[] = [];
  const at = (node: Node | null | undefined, path: string, message: string) => {
    const pos = lines.linePos(node?.range?.[0] ?? 0);
    issues.push({ file: o.file, line: pos.line, column: pos.col, path, message });
  };
  for (const e of doc.errors) {
    const pos = lines.linePos(e.pos[0]);
    issues.push({ file: o.file, line: pos.line, column: pos.col, path: '', message: `not valid YAML: ${e.message.split('\n')[0] ?? ''}` });
  }
  if (issues.length > 0) return { issues, source: rel.source };

  const walk: Walk = { doc, rel, release: o.release, at, seen: 0 };
  const root = deref(walk, doc.contents);
  if (root === null || (isScalar(root) && root.value === null)) return { facts: { datastore: 'etcd' }, issues, source: rel.source };
  if (!isMap(root)) {
    at(root, '', 'the bootstrap config must be a mapping of keys');
    return { issues, source: rel.source };
  }
  checkMapping(walk, root, rel.keys, []);
  if (walk.seen > MAX_NODES) at(root, '', `more than ${MAX_NODES} nodes (aliases included); refused`);
  if (issues.length > 0) return { issues, source: rel.source };
  // Only two scalars are needed; reading them from the tree never expands an alias elsewhere.
  const scalarAt = (key: string) => {
    const n = deref(walk, valueNode(root, key));
    return isScalar(n) && n.value !== null && n.value !== '' ? { node: n, text: typeof n.value === 'string' ? n.value : JSON.stringify(n.value) } : undefined;
  };
  const datastore = (scalarAt('datastore-type')?.text ?? 'etcd') as K8sDatastore;
  const dir = scalarAt('containerd-base-dir');
  if (dir && !dir.text.startsWith('/')) {
    at(dir.node, 'containerd-base-dir', `must be an absolute path, got ${JSON.stringify(dir.text)}`);
    return { issues, source: rel.source };
  }
  return { facts: { datastore, ...(dir ? { containerdBaseDir: dir.text } : {}) }, issues, source: rel.source };
}

interface Walk {
  doc: Document;
  rel: ReleaseKeys;
  release: K8sRelease;
  at: (node: Node | null | undefined, path: string, message: string) => void;
  seen: number;
}

/** The node an alias stands for. Past MAX_NODES every node reads as null, which ends the walk. */
function deref(w: Walk, node: unknown): Node | null {
  if (++w.seen > MAX_NODES) return null;
  if (isAlias(node)) return (node.resolve(w.doc) as Node | undefined) ?? null;
  return (node as Node | null | undefined) ?? null;
}

/** The key as yaml.v2 reads it into a struct field name: the scalar's text, not its YAML 1.1 value (`on`, `y`). */
function keyName(pair: Pair): string {
  const k = pair.key;
  if (isScalar(k)) return typeof k.value === 'string' ? k.value : (k.source ?? String(k.value));
  return String(k);
}

function valueNode(map: Node, key: string): unknown {
  return isMap(map) ? map.items.find((p) => keyName(p) === key)?.value : undefined;
}

function checkMapping(w: Walk, map: Node, tree: KeyTree, path: string[]): void {
  if (!isMap(map)) return;
  for (const pair of map.items) {
    const name = keyName(pair);
    const keyNode = pair.key as Node;
    if (name === '<<') {
      // A YAML merge: its mappings' keys count as this mapping's (yaml.v2 decoder.merge).
      const v = deref(w, pair.value);
      for (const m of isSeq(v) ? v.items.map((i) => deref(w, i)) : [v]) if (isMap(m)) checkMapping(w, m, tree, path);
      continue;
    }
    const dotted = [...path, name].join('.');
    const expected = tree[name];
    if (expected === undefined) {
      w.at(keyNode, dotted, unknownKeyMessage(w, name, tree, path));
      continue;
    }
    const value = deref(w, pair.value);
    // Problems with an alias's value are shown where the alias is used.
    const shown = isAlias(pair.value) ? pair.value : value;
    if (value === null || (isScalar(value) && value.value === null)) continue; // null leaves a pointer field nil
    if (typeof expected === 'object') {
      if (isMap(value)) checkMapping(w, value, expected, [...path, name]);
      else w.at(shown, dotted, `must be a mapping, got ${kindOf(value)}`);
      continue;
    }
    const problem = leafProblem(w, expected, value);
    if (problem) {
      w.at(shown, dotted, problem);
      continue;
    }
    const allowed = w.rel.values?.[dotted];
    if (allowed && isScalar(value) && !allowed.includes(String(value.value))) {
      const elsewhere = releasesWith((r) => r.values?.[dotted]?.includes(String(value.value)) ?? false);
      const was = elsewhere.length > 0 ? ` (it is accepted by k8s ${elsewhere.join(', ')})` : '';
      w.at(
        shown,
        dotted,
        `${JSON.stringify(String(value.value))} is not accepted by k8s ${w.release}; one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}${was}`,
      );
    }
  }
}

function leafProblem(w: Walk, expected: Leaf, value: Node): string | undefined {
  switch (expected) {
    case 'string':
      return isScalar(value) ? undefined : `must be a string, got ${kindOf(value)}`;
    case 'bool':
      return isScalar(value) && typeof value.value === 'boolean' ? undefined : `must be true or false, got ${kindOf(value)}`;
    case 'int':
      // yaml.v2 would truncate 6443.5 into an int field; a fraction here can only be a mistake.
      return isScalar(value) && typeof value.value === 'number' && Number.isInteger(value.value) ? undefined : `must be an integer, got ${kindOf(value)}`;
    case 'list': {
      if (!isSeq(value)) return `must be a list, got ${kindOf(value)}`;
      const bad = value.items.map((i) => deref(w, i)).find((i) => i !== null && !isScalar(i));
      return bad ? `must be a list of strings, got an item that is ${kindOf(bad)}` : undefined;
    }
    case 'map':
      return isMap(value) ? undefined : `must be a mapping, got ${kindOf(value)}`;
    default:
      return assertNever(expected);
  }
}

function unknownKeyMessage(w: Walk, name: string, tree: KeyTree, path: string[]): string {
  const where = path.length > 0 ? ` under ${path.join('.')}` : '';
  const other = releasesWith((r) => lookup(r.keys, [...path, name]) !== undefined);
  if (other.length > 0) return `"${name}" is not accepted by k8s ${w.release} (it is by k8s ${other.join(', ')}); remove it`;
  const guess = closest(name, Object.keys(tree));
  return `unknown key "${name}"${where}${guess ? `; did you mean "${guess}"?` : ''} (k8s ${w.release} refuses unknown keys)`;
}

function releasesWith(test: (r: ReleaseKeys) => boolean): string[] {
  return Object.entries(RELEASES)
    .filter(([, r]) => test(r))
    .map(([name]) => name);
}

function lookup(tree: KeyTree, path: string[]): KeyTree | Leaf | undefined {
  let node: KeyTree | Leaf | undefined = tree;
  for (const p of path) node = typeof node === 'object' ? node[p] : undefined;
  return node;
}

function kindOf(node: Node): string {
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return `${typeof node.value === 'string' ? 'the string' : typeof node.value} ${JSON.stringify(node.value)}`;
  return 'something else';
}

function assertNever(x: never): never {
  throw new Error(`unexpected leaf type ${String(x)}`);
}

/** The releases the table knows, for messages. */
export const KNOWN_BOOTSTRAP_RELEASES = Object.keys(RELEASES);
