import { parseAllDocuments } from 'yaml';

/** One image a pod template names, and where. */
export interface FoundImage {
  /** As written in the YAML (`nginx:1.27`, `registry.example.com/app:1`). */
  written: string;
  /** The kind/name of the object and the container, e.g. `Deployment/web containers[0] (web)`. */
  where: string;
  /** helm template's `# Source:` of the document, when it came from a chart. */
  source?: string;
}

/** The kinds whose pod template sits at a known path (Kubernetes API: core/v1 Pod, apps/v1, batch/v1). */
const TEMPLATE_PATHS: Record<string, readonly string[]> = {
  Pod: ['spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  ReplicationController: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};
const CONTAINER_LISTS = ['initContainers', 'containers', 'ephemeralContainers'] as const;

/**
 * Every image of every pod template in a multi-document YAML text (a manifest file, or the output
 * of `helm template`). Documents that are not objects, or of other kinds, are skipped; a
 * `List` is walked. Throws the YAML error of a document that does not parse.
 */
export function podImages(text: string): FoundImage[] {
  const found: FoundImage[] = [];
  for (const doc of parseAllDocuments(text, { prettyErrors: false })) {
    if (doc.errors.length > 0) throw new Error(doc.errors[0]!.message.split('\n')[0]);
    // helm template writes `---\n# Source: CHART/templates/x.yaml` before each document.
    const source = /^# Source: (.+)$/m.exec(text.slice(doc.range[0], doc.range[2]))?.[1]?.trim();
    collect(doc.toJS({ maxAliasCount: 100 }) as unknown, source, found);
  }
  return found;
}

function collect(obj: unknown, source: string | undefined, found: FoundImage[]): void {
  if (!isObject(obj)) return;
  const kind = typeof obj.kind === 'string' ? obj.kind : '';
  if (kind === 'List' && Array.isArray(obj.items)) {
    for (const item of obj.items) collect(item, source, found);
    return;
  }
  const path = TEMPLATE_PATHS[kind];
  if (!path) return;
  let pod: unknown = obj;
  for (const key of path) pod = isObject(pod) ? pod[key] : undefined;
  if (!isObject(pod)) return;
  const name = isObject(obj.metadata) && typeof obj.metadata.name === 'string' ? obj.metadata.name : '?';
  for (const list of CONTAINER_LISTS) {
    const containers = pod[list];
    if (!Array.isArray(containers)) continue;
    containers.forEach((c: unknown, i) => {
      if (!isObject(c)) return;
      const image = typeof c.image === 'string' ? c.image : '';
      const cname = typeof c.name === 'string' ? ` (${c.name})` : '';
      found.push({ written: image, where: `${kind}/${name} ${list}[${i}]${cname}`, ...(source ? { source } : {}) });
    });
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
