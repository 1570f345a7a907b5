/**
 * The relay's one configuration story on every runtime: variables from the environment, then any missing
 * ones from `.env` in the working directory (parsed by node:util's `parseEnv`, which Bun and Deno have too).
 * Bun's own .env loading is off (bunfig.toml `env = false`), so Bun reads exactly what Node and Deno read.
 */
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

export const DOTENV_FILE = '.env';

export interface DotEnv {
  env: Record<string, string | undefined>;
  /** The names taken from the file (never the values); null when there is no file. */
  loaded: { path: string; names: string[] } | null;
}

/** `env` with what `.env` adds; a variable already set, even to "", wins over the file. */
export function withDotEnv(env: Record<string, string | undefined>, path = DOTENV_FILE): DotEnv {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return { env, loaded: null };
    throw new Error(`cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const merged = { ...env };
  const names: string[] = [];
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (merged[name] !== undefined) continue;
    merged[name] = value;
    names.push(name);
  }
  return { env: merged, loaded: { path, names } };
}
