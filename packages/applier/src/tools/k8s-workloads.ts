import { AirgapError } from '@airgap/core';
import { probe, QUICK, SLOW } from './exec-tool.ts';

/** One release as `helm list -o json` prints it (helm v3 pkg/cli/output: name, namespace, revision, status, chart). */
export interface HelmRelease {
  name: string;
  namespace: string;
  status: string;
  chart: string;
}

// k8s-cli-contract.md "Who may run what", `k8s helm …` row: runs helm on control planes, refused
// on workers on every release (cmd/k8s/k8s_helm.go:35-38). Callers check the role first.

/** `k8s helm list -A -a -o json`: every release in every namespace, whatever its status. */
export async function helmReleases(k8s: string): Promise<HelmRelease[]> {
  const r = await probe(k8s, ['helm', 'list', '--all-namespaces', '--all', '--output', 'json'], QUICK);
  if (!r.ok)
    throw new AirgapError('TOOL_FAILED', `${k8s} helm list failed (exit ${r.exitCode}): ${lastLines(r.stderr || r.stdout)}`, {
      hint: 'is the API server up? `k8s status` on this control plane tells',
    });
  let list: unknown;
  try {
    list = JSON.parse(r.stdout || '[]');
  } catch {
    throw new AirgapError('TOOL_FAILED', `${k8s} helm list printed no JSON: ${r.stdout.slice(0, 200)}`, { hint: 'is this the k8s snap’s helm?' });
  }
  return (Array.isArray(list) ? (list as Partial<HelmRelease>[]) : []).flatMap((x) =>
    typeof x.name === 'string' && typeof x.namespace === 'string'
      ? [{ name: x.name, namespace: x.namespace, status: String(x.status ?? ''), chart: String(x.chart ?? '') }]
      : [],
  );
}

export interface HelmInstall {
  k8s: string;
  release: string;
  chartFile: string;
  values: readonly string[];
  namespace: string;
  createNamespace: boolean;
  timeoutMs: number;
}

/** `k8s helm upgrade --install NAME CHART.tgz -f … --namespace NS [--create-namespace]`; a failure names the chart and helm's own message. */
export async function helmUpgradeInstall(o: HelmInstall): Promise<void> {
  const args = [
    'helm',
    'upgrade',
    '--install',
    o.release,
    o.chartFile,
    ...o.values.flatMap((v) => ['-f', v]),
    '--namespace',
    o.namespace,
    ...(o.createNamespace ? ['--create-namespace'] : []),
  ];
  const r = await probe(o.k8s, args, Math.max(o.timeoutMs, SLOW));
  if (!r.ok)
    throw new AirgapError('STEP_FAILED', `chart ${o.release}: helm upgrade --install failed (exit ${r.exitCode}): ${lastLines(r.stderr || r.stdout)}`, {
      hint: `look at \`k8s helm status ${o.release} -n ${o.namespace}\` and the chart's values; re-run the applier to try again`,
    });
}

/** `k8s kubectl apply --server-side -f F …`, the manifests in order. */
export async function kubectlApply(k8s: string, files: readonly string[]): Promise<void> {
  const r = await probe(k8s, ['kubectl', 'apply', '--server-side', ...files.flatMap((f) => ['-f', f])], SLOW);
  if (!r.ok)
    throw new AirgapError(
      'STEP_FAILED',
      `kubectl apply --server-side of the bundle's manifests failed (exit ${r.exitCode}): ${lastLines(r.stderr || r.stdout)}`,
      {
        hint: 'fix the manifests in workloads.manifests and build the bundle again; re-run the applier to retry',
      },
    );
}

function lastLines(text: string): string {
  return text.trim().split('\n').filter(Boolean).slice(-3).join(' / ');
}
