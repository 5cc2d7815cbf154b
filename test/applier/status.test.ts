import { describe, expect, test } from 'vitest';
import { makeBundle } from '../support/bundle-fixture.ts';
import { makeNode } from './node-env.ts';

describe('applier status', () => {
  test('reports what was applied and whether the node is converged to a bundle', async () => {
    const node = await makeNode();
    const b = await makeBundle({ dir: node.work, hosts: { 'docker.io/hosts.toml': 'server = "x"\n' } });
    const fresh = await node.applier(['status']);
    expect(fresh.exitCode).toBe(0);
    expect(fresh.stdout).toContain('last applied  nothing yet');
    const pending = await node.applier(['status', b.file, '--pub', b.pubFile]);
    expect(pending.stdout).toContain('NOT converged to fixture');
    expect((await node.applier(['apply', b.file, '--pub', b.pubFile])).exitCode).toBe(0);
    const done = await node.applier(['status', b.file, '--pub', b.pubFile, '--json']);
    const report = JSON.parse(done.stdout) as {
      converged: boolean;
      state: { bundle: { digest: string }; snaps: Record<string, number>; files: Record<string, unknown> };
    };
    expect(report.converged).toBe(true);
    expect(report.state.snaps.k8s).toBe(3001);
    expect(Object.keys(report.state.files)).toEqual(['/etc/containerd/hosts.d/docker.io/hosts.toml']);
  });

  test('usage errors exit 2', async () => {
    const node = await makeNode();
    expect((await node.applier(['apply'])).exitCode).toBe(2);
    expect((await node.applier(['apply', 'x.tar', '--bogus'])).exitCode).toBe(2);
    expect((await node.applier(['frobnicate'])).exitCode).toBe(2);
  });
});
