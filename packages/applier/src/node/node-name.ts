import { domainToASCII } from 'node:url';
import { AirgapError } from '@airgap/core';

/**
 * The node name k8s gives this host: `utils.CleanHostname` (IDNA Lookup.ToASCII, which lowercases;
 * a trailing dot is refused), k8s-snap `src/k8s/pkg/utils/hostname.go`, used for kubelet's
 * --hostname-override (k8s-cli-contract.md, "Names, tokens, addresses"). `CP-Node1` → `cp-node1`.
 */
export function cleanHostname(hostname: string): string {
  const clean = domainToASCII(hostname);
  if (clean === '' || hostname.endsWith('.')) {
    throw new AirgapError('NODE_INVALID', `the hostname ${JSON.stringify(hostname)} is not one k8s accepts as a node name`, {
      hint: 'give the node a DNS-safe hostname (hostnamectl set-hostname NAME), then run the applier again',
    });
  }
  return clean;
}
