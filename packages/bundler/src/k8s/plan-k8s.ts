import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { AirgapError, formatIssues, type BundleK8s, type Spec } from '@airgap/core';
import { checkBootstrapConfig, KNOWN_BOOTSTRAP_RELEASES } from './check-bootstrap-config.ts';
import { containerdBaseFor, isKnownRelease, releaseOf } from './k8s-release.ts';

export interface K8sPlan {
  /** manifest.k8s; absent for a release outside 1.32–1.36 (then there is no bootstrap config). */
  k8s?: BundleK8s;
  /** The bootstrap config's bytes, checked, when the spec names one. */
  bootstrapConfig?: Buffer;
}

/**
 * What the node's k8s will be: the release from the snap, and from the bootstrap config the
 * datastore and containerd's base dir. The config is checked here, strictly, because the node's
 * `k8s bootstrap --file` refuses what it does not know, at the very last step of every node.
 */
export async function planK8s(o: { spec: Spec; specDir: string; snapVersion: string | undefined }): Promise<K8sPlan> {
  const release = releaseOf({ version: o.snapVersion, channel: o.spec.k8s.channel });
  const configPath = o.spec.cluster?.bootstrap?.config;
  if (!configPath) return isKnownRelease(release) ? { k8s: { release, datastore: 'etcd' } } : {};

  const file = path.resolve(o.specDir, configPath);
  const shown = path.relative(process.cwd(), file) || file;
  if (!isKnownRelease(release)) {
    const from = o.snapVersion ? `snap version ${o.snapVersion}, channel ${o.spec.k8s.channel}` : `channel ${o.spec.k8s.channel}`;
    throw new AirgapError(
      'SPEC_INVALID',
      `cannot check ${shown} for k8s ${release ?? '(unknown release)'} (${from}): the bootstrap config keys are known for k8s ${KNOWN_BOOTSTRAP_RELEASES.join(', ')}`,
      {
        hint: 'use a k8s channel of one of those releases, or drop cluster.bootstrap.config',
      },
    );
  }
  const data = await readFile(file);
  const check = checkBootstrapConfig({ text: data.toString('utf8'), file: shown, release });
  if (!check.facts || check.issues.length > 0) {
    throw Object.assign(
      new AirgapError('SPEC_INVALID', `${shown} is not a bootstrap config k8s ${release} accepts:\n${formatIssues(check.issues)}`, {
        hint: `the node reads it strictly (k8s bootstrap --file refuses unknown keys); the keys k8s ${release} accepts are in ${check.source}`,
      }),
      { issues: check.issues },
    );
  }
  const { datastore, containerdBaseDir } = check.facts;
  return {
    k8s: { release, datastore, ...(containerdBaseDir ? { containerdBaseDir: containerdBaseFor(release, containerdBaseDir) } : {}) },
    bootstrapConfig: data,
  };
}
