import { Command, CommanderError, Option } from 'commander';
import { AirgapError, isAirgapError } from '../errors.ts';

export { Command, Option };

export interface ProgramOptions {
  name: string;
  /** What --version prints, e.g. `bundler 0.1.0 (abc123)`. */
  version: string;
  description: string;
  /** Text after the command list of the top-level --help (exit codes, environment). */
  epilog?: string;
}

/**
 * One commander program per CLI. Every command gets --help (exit 0) and takes --verbose; a
 * command's usage line is made from its own declarations, so each option is declared once.
 * Commander prints help and version; its errors are thrown, never printed, and run-main prints them.
 */
export function createProgram(o: ProgramOptions): Command {
  const program = new Command(o.name)
    .description(o.description)
    .version(o.version, '--version', 'print version and commit')
    .option('--verbose', 'stack traces on errors')
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({ writeOut: (s) => void process.stdout.write(s), writeErr: (s) => void process.stderr.write(s), outputError: () => undefined })
    .exitOverride();
  if (o.epilog) program.addHelpText('after', `\n${o.epilog}`);
  return program;
}

/** `applier push <bundle.tar> --registry <host[:port]> [--plain-http] …`, from the command's declarations. */
export function synopsis(cmd: Command): string {
  const args = cmd.registeredArguments.map((a) => (a.required ? `<${a.name()}>` : `[${a.name()}]`));
  const options = cmd.options
    .filter((opt) => !opt.hidden)
    .map((opt) => {
      const value = /[<[].*$/.exec(opt.flags)?.[0];
      const term = [opt.long ?? opt.short, value].filter(Boolean).join(' ');
      return opt.mandatory ? term : `[${term}]`;
    });
  return [commandPath(cmd), ...args, ...options].join(' ');
}

function commandPath(cmd: Command): string {
  return cmd.parent ? `${commandPath(cmd.parent)} ${cmd.name()}` : cmd.name();
}

function usageHint(cmd: Command): string {
  if (!cmd.parent) return `usage: ${cmd.name()} <command> [options]; \`${cmd.name()} --help\` lists the commands`;
  return `usage: ${synopsis(cmd)}\n(\`${commandPath(cmd)} --help\` says what each option does)`;
}

/**
 * Parse `argv` and run the chosen command's action. Resolves to 0 when the action returns (or
 * after --help and --version); an unknown command or option, a missing argument or a USAGE error
 * from the action rejects as a USAGE error (exit 2) carrying the command's usage.
 */
export async function runProgram(program: Command, argv: string[]): Promise<number> {
  if (argv.length === 0) {
    process.stdout.write(program.helpInformation());
    return 2;
  }
  let active: Command = program;
  for (const cmd of [program, ...program.commands]) {
    // The usage of the command whose parsing failed, not the program's.
    cmd.exitOverride((err) => {
      throw err.exitCode === 0 ? err : usageError(err, cmd);
    });
    if (cmd !== program) cmd.usage(synopsis(cmd).slice(commandPath(cmd).length + 1) || '[options]');
  }
  program.hook('preAction', (_program, action) => {
    active = action;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError && err.exitCode === 0) return 0;
    if (isAirgapError(err, 'USAGE') && !(err.hint ?? '').includes('usage: ')) {
      throw new AirgapError('USAGE', err.message, { hint: [err.hint, usageHint(active)].filter(Boolean).join('\n'), cause: err });
    }
    throw err;
  }
}

function usageError(err: CommanderError, cmd: Command): AirgapError {
  if (err.code === 'commander.help') return new AirgapError('USAGE', 'no command given', { hint: usageHint(cmd) });
  return new AirgapError('USAGE', err.message.replace(/^error: /, ''), { hint: usageHint(cmd) });
}
