/** The airgap.yaml document after validation and defaults (schemas/airgap.schema.json is the source of truth). */
export interface Spec {
  apiVersion: 'airgap/v1alpha1';
  kind: 'Bundle';
  /** `expires`: how long a bundle stays valid after createdAt, like `90d` (h, d or w). */
  metadata: { name: string; expires?: string };
  k8s: { channel: string; revision?: number; snapd: boolean };
  snaps?: ExtraSnap[];
  sources?: {
    snapsDir?: string;
    registries?: Record<string, RegistrySource>;
  };
  images?: {
    /** `os/arch[/variant]` entries, or `['all']`: every platform each image has (its index carried exact). */
    platforms: string[];
    /** BuildKit attestation manifests of the carried platforms: carried (`keep`, default) or left out. */
    attestations: 'keep' | 'drop';
    /** Carry each image's signatures, attestations and SBOMs (cosign tags, OCI referrers). The schema defaults it to true; absent in older bundles. */
    evidence?: boolean;
    k8sFeatures: boolean;
    refs: ImageRefSpec[];
    /** Upstream signatures each matching image must carry (cosign key rules); none: nothing is checked. */
    verify?: SpecVerifyRule[];
  };
  containerd?: {
    hostsDir?: string;
    mirrors: Mirror[];
  };
  proxy?: { http?: string; https?: string; noProxy: string[] };
  network?: { defaultRoute?: { interface: string } };
  cluster?: { bootstrap?: { config?: string }; address?: ClusterAddress };
  workloads?: { charts: ChartSpec[]; manifests: string[] };
}

/**
 * The address each node advertises to the cluster (`k8s bootstrap|join-cluster --address`),
 * resolved on the node: its global address on an interface, or its address inside a network.
 */
export type ClusterAddress = { fromInterface: string } | { cidr: string };

/**
 * One entry of `images.refs`: a reference, or a reference with its own platforms (the odd
 * amd64-only image in a two-platform bundle).
 * @example { ref: 'docker.io/library/tool:1', platforms: ['linux/amd64'] }
 */
/**
 * One `images.verify` rule: images whose reference matches `match` must have a cosign signature
 * (`sha256-<digest>.sig`, or a Sigstore bundle among the image's referrers as cosign v3 writes it)
 * by `key`, or (keyless) by a Fulcio certificate of `trustedRoot` naming `identity`, logged in its
 * Rekor and with SCTs of its CT logs unless opted out. Paths are relative to the spec's folder.
 * @example { match: 'ghcr.io/canonical/*', key: 'keys/canonical-cosign.pub', mode: 'enforce' }
 * @example { match: 'ghcr.io/org/*', identity: { issuer: 'https://accounts.example.com', subject: 'ci@example.com' }, trustedRoot: 'trusted_root.json' }
 */
export interface SpecVerifyRule {
  match: string;
  /** A cosign.pub; or identity + trustedRoot. */
  key?: string;
  /** The signer's OIDC issuer and SAN (`subject` exactly, or `subjectRegExp` as a whole). */
  identity?: { issuer: string; subject?: string; subjectRegExp?: string };
  /** A Sigstore trusted_root.json holding the Fulcio CAs, Rekor (tlogs) and CT log (ctlogs) keys. */
  trustedRoot?: string;
  /** Keyless: accept signatures without a verified Rekor entry (cosign's --insecure-ignore-tlog). */
  insecureIgnoreTlog?: boolean;
  /** Keyless: accept certificates without SCTs (cosign's --insecure-ignore-sct). */
  insecureIgnoreSct?: boolean;
  /** Default `enforce`: a failure stops the build; `warn` prints it and goes on. */
  mode?: 'enforce' | 'warn';
}

export type ImageRefSpec = string | { ref: string; platforms: string[] };

/**
 * One Helm chart of `workloads.charts`, installed as release `name`.
 * @example { name: 'web', chart: 'oci://registry.example.com/charts/web', version: '1.2.3', values: ['web.yaml'], namespace: 'web', createNamespace: true }
 * @example { name: 'db', repo: 'https://charts.example.com', chart: 'db', version: '0.4.0', values: [], namespace: 'default', createNamespace: false }
 */
export interface ChartSpec {
  name: string;
  /** `oci://REGISTRY/REPO/CHART`, or with `repo` the chart's name in that repository's index.yaml. */
  chart: string;
  repo?: string;
  version: string;
  /** Values files relative to airgap.yaml, passed to helm as `-f` in this order. */
  values: string[];
  namespace: string;
  createNamespace: boolean;
  /** The chart's images, given by hand: lets a chart be carried when no helm can render it at build time. */
  images?: string[];
}

export interface ExtraSnap {
  name: string;
  channel: string;
  revision?: number;
  classic: boolean;
}

export interface RegistrySource {
  endpoint: string;
  ca?: string;
  plainHttp: boolean;
}

export type Capability = 'pull' | 'resolve' | 'push';

export interface Mirror {
  registries: string[];
  endpoint: string;
  ca?: string;
  capabilities: Capability[];
  skipVerify: boolean;
  overridePath: boolean;
  /**
   * False: hosts.toml's `server` is this mirror, so the node never reaches for the upstream
   * registry. The schema defaults it to true; absent (true) in bundles built before it existed.
   */
  fallback?: boolean;
}

/** A problem found in a source file, pointing at the exact place. */
export interface SourceIssue {
  file: string;
  line: number;
  column: number;
  /** Dotted path of the field, e.g. `containerd.mirrors[0].endpoint`; empty for the document. */
  path: string;
  message: string;
}

export interface LoadedSpec {
  file: string;
  dir: string;
  /** Exact bytes of the file, embedded in the bundle manifest. */
  text: string;
  spec: Spec;
}
