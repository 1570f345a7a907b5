/** What the Bun, Deno and Node entries share around start and stop; each passes in its own process APIs. */
import { ConfigError } from '../ops/config.ts';
import type { RelayInstance } from '../create-relay.ts';
import { CLOSE_GRACE_MS, type ShutdownReport } from '../ops/shutdown.ts';

/** Past the drain and closing grace, a shutdown that still has not finished is abandoned with exit 1. */
const SHUTDOWN_SLACK_MS = 2000;

/** One line for a relay that could not start: a configuration error names its variable, no stack trace. */
export function describeStartFailure(error: unknown): string {
  if (error instanceof ConfigError) return `tts-relay: configuration error: ${error.message}\n`;
  return `tts-relay: could not start: ${error instanceof Error ? error.message : String(error)}\n`;
}

/** Logs where the relay listens, and prints a generated admin key where an operator will see it. */
export function announceStart(instance: RelayInstance, url: string, runtime: string, writeStderr: (text: string) => void): void {
  instance.logger.info('relay listening', { url, provider: instance.relay.provider.name, runtime, drain_ms: instance.config.drainMs });
  if (instance.config.adminKeyGenerated) {
    writeStderr(`\nNo RELAY_ADMIN_KEY set; generated one for this process:\n\n  RELAY_ADMIN_KEY=${instance.config.adminKeys[0]}\n\n`);
  }
}

/**
 * A signal handler: the first signal drains and exits 0; a second one, or a shutdown that overruns its
 * bound, exits 1 at once.
 */
export function exitOnSignal(
  instance: RelayInstance,
  shutdown: (signal: string) => Promise<ShutdownReport>,
  exit: (code: number) => void,
): (signal: string) => void {
  let signalled = false;
  return (signal) => {
    if (signalled) {
      instance.logger.warn('second signal: exiting without finishing the drain', { signal });
      exit(1);
      return;
    }
    signalled = true;
    const bound = instance.config.drainMs + CLOSE_GRACE_MS + SHUTDOWN_SLACK_MS;
    const overrun = setTimeout(() => {
      instance.logger.error('shutdown overran its bound; exiting', { bound_ms: bound });
      exit(1);
    }, bound);
    shutdown(signal).then(
      () => {
        clearTimeout(overrun);
        exit(0);
      },
      (error: unknown) => {
        instance.logger.error('shutdown failed', { error });
        exit(1);
      },
    );
  };
}

/** The URL to reach a server bound to `host`: a wildcard bind is reached on loopback. */
export function localUrl(host: string, port: number, secure = false): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `${secure ? 'https' : 'http'}://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}

/** Reads a PEM file named by a variable; a file that cannot be read is a configuration error naming it. */
export function readPem(variable: string, path: string, read: (path: string) => string): string {
  try {
    return read(path);
  } catch (error) {
    throw new ConfigError(variable, `cannot read ${path} (${error instanceof Error ? error.message : String(error)})`);
  }
}
