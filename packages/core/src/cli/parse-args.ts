import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AirgapError } from '../errors.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs, with unknown flags turned into a USAGE error instead of a stack trace. */
export function parseCommandArgs<O extends Options>(args: string[], options: O, usage: string) {
  try {
    return parseArgs({ args, options: { ...options, verbose: { type: 'boolean' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new AirgapError('USAGE', (err as Error).message, { hint: `usage: ${usage}` });
  }
}
