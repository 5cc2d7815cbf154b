import { AirgapError, exitCodeFor, INTERNAL_ERROR_EXIT } from '../errors.ts';

/**
 * The only place that prints errors and sets exit codes. User errors print code, message and
 * hint (exit 1 or 2), with a stack trace only with --verbose. Anything else is a bug: exit 70
 * with the stack, so it is reported rather than mistaken for the user's fault.
 */
export async function runMain(main: (argv: string[]) => Promise<number | void>, argv = process.argv.slice(2)): Promise<void> {
  const verbose = argv.includes('--verbose');
  try {
    const code = await main(argv);
    process.exitCode = code ?? 0;
  } catch (err) {
    if (err instanceof AirgapError) {
      process.stderr.write(`error[${err.code}]: ${err.message}\n`);
      if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
      if (verbose && err.stack) process.stderr.write(`${err.stack}\n`);
      process.exitCode = exitCodeFor(err);
    } else {
      process.stderr.write(`internal error: this is a bug: please report it, with the output below\n${describeBug(err)}\n`);
      process.exitCode = INTERNAL_ERROR_EXIT;
    }
  }
}

function describeBug(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause === undefined ? '' : `\ncaused by: ${describeBug(err.cause)}`;
  return `${err.stack ?? `${err.name}: ${err.message}`}${cause}`;
}
