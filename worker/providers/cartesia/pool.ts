/**
 * Cartesia connections: a small pool of SDK sockets that contexts are multiplexed over, recycled before
 * Cartesia's idle close, reconnected with exponential backoff and jitter after a drop, and held back (not
 * retried in a storm) while Cartesia answers 429.
 */
import { RelayError } from '../../../shared/errors.ts';
import { sleep, unrefTimer } from '../../../shared/timers.ts';
import type { Logger } from '../../ops/logger.ts';
import { type BackoffSettings, rateLimitError, UpstreamBackoff } from './backoff.ts';
import { CartesiaConnection, CLOSE_GRACE_MS, type ConnectionOwner } from './connection.ts';
import type { SocketClosed } from './sdk.ts';

export interface PoolSettings extends BackoffSettings {
  apiKey: string;
  baseUrl: string;
  ca?: string;
  /** Sockets at most; another opens (in the background) when every open one carries a context. */
  size: number;
  /** Contexts on one socket before a new context waits for another socket to open, while the pool has room. */
  contextsPerSocket: number;
  /** A socket with no context for this long is replaced, before Cartesia closes it at 5 minutes idle. */
  recycleIdleMs: number;
  connectTimeoutMs: number;
  /** A new context waits this long at most for a connection to come back before failing. */
  maxWaitMs: number;
}

/** The sockets contexts are spread over, and the policy for losing them. */
export class CartesiaPool implements ConnectionOwner {
  private readonly connections: CartesiaConnection[] = [];
  private readonly backoff: UpstreamBackoff;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  constructor(
    readonly settings: PoolSettings,
    private readonly logger: Logger,
    readonly now: () => number = () => performance.now(),
    random: () => number = Math.random,
  ) {
    this.backoff = new UpstreamBackoff(settings, now, random);
  }

  get recycleIdleMs(): number {
    return this.settings.recycleIdleMs;
  }

  /** True while a socket is open or nothing has failed yet. */
  get healthy(): boolean {
    return this.connections.some((c) => c.state === 'open') || this.backoff.clean;
  }

  get openSockets(): number {
    return this.connections.filter((c) => c.state === 'open').length;
  }

  /**
   * An open connection for a new context, opening one if needed. Waits out a backoff or a rate limit that
   * ends within `maxWaitMs`; rejects with a RelayError otherwise, or when its own connect attempt fails.
   * The connection comes with a place reserved: `attach` takes it, `unreserve` gives it back.
   */
  acquire(): Promise<CartesiaConnection> {
    return this.find(true);
  }

  /** `acquire` without waiting: an open connection with a place reserved when one is ready now, else null. */
  acquireNow(): CartesiaConnection | null {
    return this.closed || this.backoff.heldFor() > 0 ? null : this.reserveReady();
  }

  /** Opens the first socket ahead of the first utterance; rejects when Cartesia cannot be reached. */
  async warm(): Promise<void> {
    await this.find(false);
  }

  /** With `reserve`, the place is taken in the same turn as the pick, so concurrent acquires spread by load. */
  private async find(reserve: boolean): Promise<CartesiaConnection> {
    const deadline = this.now() + this.settings.maxWaitMs;
    for (;;) {
      if (this.closed) throw new RelayError('shutting_down');
      const held = this.backoff.heldFor();
      if (held > 0) {
        if (this.now() + held > deadline) throw rateLimitError(held);
        await sleep(held);
        continue;
      }
      const ready = reserve ? this.reserveReady() : this.pick();
      if (ready) return ready;
      const connecting = this.connections.find((c) => c.state === 'connecting' && c.closingReason === null);
      if (connecting) {
        await this.awaitOpen(connecting);
        continue;
      }
      const blocked = this.backoff.blockedFor();
      if (blocked > 0) {
        if (this.now() + blocked > deadline) throw this.backoff.blockedError(blocked);
        await sleep(blocked);
        continue;
      }
      await this.awaitOpen(this.connect());
    }
  }

  /** The connection `pick` finds, with a place reserved on it. */
  private reserveReady(): CartesiaConnection | null {
    const ready = this.pick();
    if (!ready) return null;
    // Every open socket is busy: another opens in the background for the contexts to come.
    if (ready.load > 0) this.openAnother();
    ready.reserve();
    return ready;
  }

  /**
   * The open socket carrying the fewest contexts (a context's first chunk queues behind the audio of the others on
   * its socket); null when it carries `contextsPerSocket` and the pool has room for another.
   */
  private pick(): CartesiaConnection | null {
    let least: CartesiaConnection | null = null;
    for (const connection of this.connections) if (connection.usable && (!least || connection.load < least.load)) least = connection;
    if (!least) return null;
    return least.load < this.settings.contextsPerSocket || this.connections.length >= this.settings.size ? least : null;
  }

  /** A socket more, unless the pool is full, one is already coming or the backoff holds new ones back. */
  private openAnother(): void {
    if (this.connections.length >= this.settings.size || this.connections.some((c) => c.state === 'connecting') || this.backoff.blockedFor() > 0) return;
    this.connect();
  }

  /** A 429 error frame: new contexts wait `rateLimitCooldownMs` (the frame has no Retry-After). */
  contextRateLimited(): RelayError {
    return this.backoff.contextRateLimited();
  }

  /** A context heard nothing for its timeout: if the whole socket went quiet, it is dead. */
  reportSilence(connection: CartesiaConnection, silentMs: number): void {
    if (connection.state === 'open' && this.now() - connection.lastMessageAt >= silentMs) connection.terminate(`no frame for ${Math.round(silentMs)} ms`);
  }

  /** Replaces an idle socket before Cartesia's idle close; keeps one warm. */
  recycle(connection: CartesiaConnection): void {
    if (this.closed || connection.load > 0) return;
    this.logger.debug('recycling an idle Cartesia socket', { connection: connection.id });
    this.remove(connection);
    connection.close('recycled');
    this.keepWarm(0);
  }

  /** Called once per socket when it closes; returns the error its contexts end with. */
  connectionClosed(connection: CartesiaConnection, info: SocketClosed, wasOpen: boolean, contexts: number): RelayError {
    this.remove(connection);
    const ours = connection.closingReason !== null;
    const fields = { connection: connection.id, code: info.code, reason: info.reason, status: info.upgradeStatus, error: info.error, contexts };
    if (this.closed || ours) return new RelayError('shutting_down', 'The Cartesia connection was closed by the relay.');

    if (!wasOpen) {
      const error = this.backoff.refused(info);
      this.logger.warn('Cartesia connection failed', { ...fields, code_out: error.code });
      this.keepWarm(this.backoff.blockedFor());
      return error;
    }
    if (contexts === 0 && info.code === 1000) {
      // Cartesia's idle close (or a server restart between utterances): nothing was lost.
      this.logger.info('Cartesia closed an idle socket', fields);
      this.keepWarm(0);
      return new RelayError('upstream_unavailable', 'The Cartesia connection closed.');
    }
    const delay = this.backoff.dropped();
    this.logger.warn('Cartesia connection dropped', { ...fields, reconnect_in_ms: Math.round(delay) });
    this.keepWarm(delay);
    return new RelayError('upstream_unavailable', `The connection to Cartesia dropped (close code ${info.code}).`);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const closing = this.connections.splice(0);
    for (const connection of closing) connection.close('shutting down');
    await Promise.all(closing.map((connection) => Promise.race([connection.ended, sleep(CLOSE_GRACE_MS + 100)])));
  }

  private connect(): CartesiaConnection {
    const { apiKey, baseUrl, ca, connectTimeoutMs } = this.settings;
    const connection = new CartesiaConnection(this, { apiKey, baseUrl, connectTimeoutMs, ...(ca ? { ca } : {}) }, this.logger);
    this.connections.push(connection);
    connection.opened.then(
      () => {
        this.backoff.opened();
        this.logger.debug('Cartesia socket open', { connection: connection.id, sockets: this.openSockets });
      },
      () => {},
    );
    return connection;
  }

  /**
   * Resolves when the socket opens, or when it was refused with 429 (the caller's loop then waits out the
   * Retry-After or gives up); rejects with the error any other failure maps to.
   */
  private async awaitOpen(connection: CartesiaConnection): Promise<void> {
    try {
      await connection.opened;
    } catch {
      // The close handler has classified the failure by now: ws emits `close` right after `error`.
      const error = this.backoff.lastError ?? new RelayError('upstream_unavailable', 'Cannot connect to Cartesia.');
      if (error.code !== 'upstream_rate_limited') throw error;
    }
  }

  /** Keeps one socket open (or coming) so the next utterance does not pay for the handshake. */
  private keepWarm(delayMs: number): void {
    if (this.closed || this.reconnectTimer) return;
    this.reconnectTimer = unrefTimer(setTimeout(() => this.rewarm(), Math.max(0, delayMs)));
  }

  private rewarm(): void {
    this.reconnectTimer = null;
    if (this.closed || this.connections.some((c) => c.live)) return;
    const wait = this.backoff.blockedFor();
    if (wait > 0) this.keepWarm(wait);
    else this.connect();
  }

  private remove(connection: CartesiaConnection): void {
    const index = this.connections.indexOf(connection);
    if (index >= 0) this.connections.splice(index, 1);
  }
}
