import { readFile } from 'node:fs/promises';
import { AirgapError, authFiles, createRegistryClient, lookupCredentials, type Credentials } from '@airgap/core';
import { verifyFor } from '../commands/options.ts';
import { checkOmittedBlobs } from '../delta/push-check.ts';
import { explainPushError, type ErrorContext } from './push-errors.ts';
import type { PushListener, PushSummary } from './push-events.ts';
import { pushEvidence } from './push-evidence.ts';
import { pushImages } from './push-images.ts';
import { createPushProgress, pushPrinter } from './push-output.ts';
import { planPush } from './push-plan.ts';
import { normalizePrefix } from './push-target.ts';

const DEFAULT_CHUNK = 64 * 1024 * 1024;

export interface PushCommandIo {
  /** Reads the password when --password-stdin is given (the CLI reads all of stdin). */
  readPassword: () => Promise<string>;
  /** Progress: plain lines, or one JSON event per line with --json. */
  write: (line: string) => void;
  /** Raw text to a terminal: when set (and without --json), progress is a redrawn block there. */
  terminal?: (text: string) => void;
}

/** The options of `applier push`, as the CLI declares them. */
export interface PushOptions {
  bundle: string;
  registry?: string;
  plainHttp?: boolean;
  ca?: string;
  user?: string;
  passwordStdin?: boolean;
  prefix?: string;
  pub?: string[];
  chunkSize?: string;
  strict?: boolean;
  json?: boolean;
  /** A delta's base bundle: the blobs the delta leaves out are read from it. */
  base?: string;
}

/** `applier push`: verify the bundle as apply does, then push its images to a registry. */
export async function pushCommand(values: PushOptions, io: PushCommandIo): Promise<PushSummary> {
  const file = values.bundle;
  const registry = values.registry ?? '';
  if (!/^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::\d{1,5})?$/.test(registry)) {
    throw new AirgapError('USAGE', registry ? `--registry ${registry} is not HOST[:PORT]` : 'push needs --registry HOST[:PORT]', {
      hint: 'write the registry without a scheme, like 10.0.0.5:5000 (add --plain-http for http://)',
    });
  }
  if (values.plainHttp && values.ca) throw new AirgapError('USAGE', '--ca and --plain-http do not go together');
  if (Boolean(values.passwordStdin) !== Boolean(values.user))
    throw new AirgapError('USAGE', '--user and --password-stdin go together', { hint: 'the password is read from stdin only, never from the command line' });
  const prefix = normalizePrefix(values.prefix);
  const chunkSize = parseSize(values.chunkSize);

  const password = values.user ? (await io.readPassword()).replace(/\r?\n$/, '') : undefined;
  if (values.user && !password)
    throw new AirgapError('USAGE', '--password-stdin read an empty password', { hint: 'pipe the password in: printf %s "$PASSWORD" | applier push …' });
  const ca = values.ca
    ? await readFile(values.ca).catch((err: unknown) => {
        throw new AirgapError('FILE_UNREADABLE', `--ca ${values.ca}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`, {
          hint: "give --ca the PEM file of the CA that signed the registry's certificate",
          cause: err,
        });
      })
    : undefined;

  // Nothing goes to the registry before the signature and every digest hold.
  const bundle = await verifyFor({ bundle: file, pubs: values.pub ?? [], root: '/', base: values.base });
  const plans = await planPush(bundle, prefix);
  const progress =
    io.terminal && !values.json
      ? createPushProgress({ mode: 'tty', write: io.terminal, images: plans.length, bytes: plans.reduce((n, p) => n + p.bytes, 0) })
      : undefined;
  const onEvent: PushListener = progress?.listener ?? pushPrinter(values.json ?? false, io.write);

  const lookup = values.user ? undefined : await lookupCredentials(registry, authFiles());
  const credentials: Credentials | undefined = values.user ? { username: values.user, password: password!, file: 'stdin' } : lookup?.credentials;
  const ctx: ErrorContext = {
    registry,
    credentials: credentials ? { user: credentials.username, from: values.user ? '--user and --password-stdin' : credentials.file } : undefined,
    tried: lookup?.tried ?? [],
    plainHttp: values.plainHttp ?? false,
  };
  const client = createRegistryClient({
    endpoint: { registry, url: `${values.plainHttp ? 'http' : 'https'}://${registry}`, ...(ca ? { ca } : {}) },
    ...(credentials ? { credentials } : {}),
    credentialsTried: ctx.tried,
    onRetry: (what, attempt, reason) => onEvent({ type: 'retry', what, attempt, reason }),
  });
  let current: string | undefined;
  let summary: PushSummary;
  try {
    // A delta without --base: what it leaves out must be on the registry already, or nothing goes.
    await checkOmittedBlobs({ client, bundle, plans });
    summary = await pushImages({
      client,
      bundle,
      plans,
      chunkSize,
      onEvent: (e) => {
        if (e.type === 'image-start') current = e.image;
        onEvent(e);
      },
    });
    // After the images, so a tag never names a signature before the mirror has the image it signs.
    const evidence = await pushEvidence({ client, bundle, prefix, chunkSize, skip: new Set(summary.failed.map((f) => f.image)), onEvent });
    if (evidence.pushed + evidence.present > 0) summary.evidence = evidence;
    onEvent({ type: 'done', ...summary });
  } catch (err) {
    throw explainPushError(err, ctx, current);
  } finally {
    progress?.finish();
    await client.close();
  }
  if (summary.failed.length > 0) {
    throw new AirgapError(
      'REGISTRY_FAILED',
      `${registry} refused ${summary.failed.length} image(s): ${summary.failed.map((f) => f.image).join(', ')}; every other image was pushed`,
      { hint: 'see the errors above; re-run `applier push` once fixed: it sends only what is missing' },
    );
  }
  if (values.strict && summary.unheld.length > 0) {
    throw new AirgapError(
      'REGISTRY_FAILED',
      `--strict: ${registry} cannot hold ${summary.unheld.map((u) => u.image).join(', ')} (partial indexes by digest); every other image was pushed`,
      { hint: summary.unheld[0]!.hint },
    );
  }
  return summary;
}

/** `--chunk-size 64M` → bytes (K, M, G: powers of 1024). */
function parseSize(text: string | undefined): number {
  if (text === undefined) return DEFAULT_CHUNK;
  const m = /^(\d+)([KMG]?)i?B?$/i.exec(text.trim());
  const n = m ? Number(m[1]) * 1024 ** ' KMG'.indexOf((m[2] || ' ').toUpperCase()) : NaN;
  if (!Number.isSafeInteger(n) || n < 1024)
    throw new AirgapError('USAGE', `--chunk-size ${text} is not a size of at least 1K`, { hint: 'write bytes or with K, M or G, like 64M' });
  return n;
}
