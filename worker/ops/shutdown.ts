/**
 * Graceful shutdown, the same on every runtime: refuse new work, let utterances in flight finish within
 * the drain time, cancel the rest, close listeners with 1001 (so agents reconnect elsewhere), then the server.
 */
import { sleep } from '../../shared/timers.ts';
import type { Relay } from '../core/relay.ts';

/** What each runtime's entry does to its server. */
export interface ServerControl {
  /** Stops accepting connections; requests and sockets already open go on. */
  stopListening(): void;
  /** Resolves when the remaining connections are gone, forcing them closed after `graceMs`. */
  closeConnections(graceMs: number): Promise<void>;
}

export interface ShutdownReport {
  signal: string;
  /** True when every utterance finished on its own; false when the drain time ran out and the rest were cancelled. */
  drained: boolean;
  ms: number;
}

/** After the drain, how long listeners have to answer the 1001 close before their connections are cut. */
export const CLOSE_GRACE_MS = 1000;
const DRAIN_POLL_MS = 25;

/**
 * Runs the shutdown once; a second call (a second signal) gets the same promise.
 * Finishes within `relay.config.drainMs + CLOSE_GRACE_MS`.
 */
export function createShutdown(relay: Relay, server: ServerControl, now: () => number = () => performance.now()): (signal: string) => Promise<ShutdownReport> {
  let running: Promise<ShutdownReport> | null = null;
  return (signal) => {
    running ??= (async () => {
      const started = now();
      const { drainMs } = relay.config;
      relay.logger.info('shutting down', { signal, drain_ms: drainMs, busy: relay.busy, listeners: relay.listenerCount });
      relay.stopAccepting();
      server.stopListening();
      while (relay.busy && now() - started < drainMs) await sleep(Math.min(DRAIN_POLL_MS, Math.max(1, drainMs - (now() - started))));
      const drained = !relay.busy;
      // Cancels whatever is still speaking or queued, then closes every listener with 1001.
      await relay.close(1001, 'shutting_down');
      await server.closeConnections(CLOSE_GRACE_MS);
      const report = { signal, drained, ms: Math.round(now() - started) };
      relay.logger.info('shut down', { ...report });
      return report;
    })();
    return running;
  };
}
