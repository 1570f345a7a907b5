/** Parsing one command's arguments with node:util parseArgs, with messages that say what to type instead. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { editDistance } from '../shared/edit-distance.ts';
import { usageError } from './agent-error.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses `args` for `tts-agent <command>`; an unknown option names the nearest known one. */
export function parseCommandArgs<T extends Options>(command: string, args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageError(explain(command, error, options));
  }
}

function explain(command: string, error: unknown, options: Options): string {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const given = /Unknown option '([^']+)'/.exec(message)?.[1] ?? '';
    const near = nearestOption(given, options);
    return `unknown option ${given} for "tts-agent ${command}"${near ? ` (did you mean ${near}?)` : ''}`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const flag = /Option '(-\w, )?(--[\w-]+)/.exec(message)?.[2];
    if (flag && options[flag.slice(2)]?.type === 'string') return `${flag} needs a value, e.g. ${flag} ${example(flag)}`;
    if (flag) return `${flag} takes no value`;
  }
  return message;
}

function nearestOption(given: string, options: Options): string | null {
  const name = given.replace(/^-+/, '').split('=')[0]!;
  let best: { flag: string; distance: number } | null = null;
  for (const option of Object.keys(options)) {
    const distance = option.startsWith(name) || name.startsWith(option) ? 0 : editDistance(name, option);
    if (distance <= Math.max(2, Math.floor(option.length / 3)) && (!best || distance < best.distance)) best = { flag: `--${option}`, distance };
  }
  return best?.flag ?? null;
}

function example(flag: string): string {
  return { '--url': 'http://localhost:8787', '--token-file': 'relay.key', '--voice': 'en-gb' }[flag] ?? '…';
}
