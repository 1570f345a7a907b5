/**
 * Cartesia connections: a small pool of SDK sockets that contexts are multiplexed over, recycled before
 * Cartesia's idle close, reconnected with exponential backoff and jitter after a drop, and held back (not
 * retried in a storm) while Cartesia answers 429.
 */
import { RelayError } from '../../../shared/errors.ts';
import type { Logger } from '../../ops/logger.ts';
import { type CartesiaServerMessage, parseServerMessage } from './schema.ts';
import { CartesiaSocket, type SDKContextOptions, type SocketClosed, type TTSWSContext } from './sdk.ts';

export interface PoolSettings {
  apiKey: string;
  baseUrl: string;
  ca?: string;
  /** Sockets at most; the second opens only when the first carries `contextsPerSocket` contexts. */
  size: number;
  contextsPerSocket: number;
  /** A socket with no context for this long is replaced, before Cartesia closes it at 5 minutes idle. */
  recycleIdleMs: number;
  connectTimeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** A new context waits this long at most for a connection to come back before failing. */
  maxWaitMs: number;
  /** Hold-off after a 429 error frame, which has no Retry-After. */
  rateLimitCooldownMs: number;
}

/** Where a connection delivers one context's messages. */
export interface ContextRoute {
  /** A validated message; `audio` is the chunk's payload already decoded by the SDK. */
  message(message: CartesiaServerMessage, audio: Uint8Array | null): void;
  /** The socket closed under the context. */
  lost(error: RelayError): void;
}

// Late frames of a cancelled context are recognised (and dropped quietly) for this long.
const RETIRED_TTL_MS = 60_000;
// A recycled socket that does not finish its closing handshake is cut after this long.
const CLOSE_GRACE_MS = 2_000;

let connectionIds = 0;

/** One SDK socket and the contexts it carries. */
export class CartesiaConnection {
  readonly id = ++connectionIds;
  readonly opened: Promise<void>;
  /** Resolves once the socket has closed, whoever closed it. */
  readonly ended: Promise<void>;
  private markEnded!: () => void;
  private readonly socket: CartesiaSocket;
  private readonly routes = new Map<string, ContextRoute>();
  private readonly retired = new Map<string, number>();
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private reserved = 0;
  state: 'connecting' | 'open' | 'closed' = 'connecting';
  /** Set when we close the socket ourselves, so its close is not taken for a drop. */
  closingReason: string | null = null;
  lastMessageAt = 0;

  constructor(
    private readonly pool: CartesiaPool,
    settings: PoolSettings,
    private readonly logger: Logger,
  ) {
    this.socket = new CartesiaSocket(
      { apiKey: settings.apiKey, baseUrl: settings.baseUrl, connectTimeoutMs: settings.connectTimeoutMs, ...(settings.ca ? { ca: settings.ca } : {}) },
      {
        message: (value) => this.receive(value),
        malformed: (reason) => this.logger.warn('skipped a malformed Cartesia frame', { connection: this.id, reason }),
        closed: (info) => this.closed(info),
      },
    );
    this.opened = this.socket.opened.then(() => {
      if (this.state === 'connecting') this.state = 'open';
      this.lastMessageAt = this.pool.now();
      if (this.load === 0) this.startIdleTimer();
    });
    this.opened.catch(() => {});
    this.ended = new Promise((resolve) => (this.markEnded = resolve));
  }

  /** Contexts on this socket, counting those between `acquire` and `attach`. */
  get load(): number {
    return this.routes.size + this.reserved;
  }

  /** Holds a place for a context about to attach, so concurrent acquires spread by load. */
  reserve(): void {
    this.reserved += 1;
    this.stopIdleTimer();
  }

  /** Gives back a place that was reserved and never attached. */
  unreserve(): void {
    this.reserved = Math.max(0, this.reserved - 1);
    if (this.load === 0 && this.state === 'open') this.startIdleTimer();
  }

  get usable(): boolean {
    return this.state === 'open' && this.closingReason === null && this.socket.isOpen();
  }

  /** Routes a context's messages here; the caller sends through the returned SDK context. */
  attach(contextId: string, route: ContextRoute, options: Omit<SDKContextOptions, 'contextId'>): TTSWSContext {
    this.routes.set(contextId, route);
    this.reserved = Math.max(0, this.reserved - 1);
    this.stopIdleTimer();
    return this.socket.context({ ...options, contextId });
  }

  /** Stops routing a context; frames still arriving for it are dropped as late frames. */
  detach(contextId: string): void {
    if (!this.routes.delete(contextId)) return;
    const now = this.pool.now();
    this.retired.set(contextId, now);
    for (const [id, at] of this.retired) {
      if (now - at < RETIRED_TTL_MS) break;
      this.retired.delete(id);
    }
    if (this.load === 0) this.startIdleTimer();
  }

  /** Runs an SDK send only while the socket is open: the SDK would otherwise reconnect silently behind our back. */
  send(operation: () => Promise<void>): Promise<boolean> {
    if (!this.usable) return Promise.resolve(false);
    return operation().then(
      () => true,
      (error: unknown) => {
        this.logger.warn('Cartesia send failed', { connection: this.id, error });
        return false;
      },
    );
  }

  close(reason: string): void {
    if (this.state === 'closed' || this.closingReason !== null) return;
    this.closingReason = reason;
    this.stopIdleTimer();
    this.socket.close(1000, reason);
    const cut = setTimeout(() => this.socket.terminate(), CLOSE_GRACE_MS);
    (cut as { unref?: () => void }).unref?.();
  }

  /** Cuts a socket that stopped answering. */
  terminate(reason: string): void {
    if (this.state === 'closed') return;
    this.logger.warn('terminating a Cartesia socket', { connection: this.id, reason });
    this.socket.terminate();
  }

  private receive(value: unknown): void {
    this.lastMessageAt = this.pool.now();
    const parsed = parseServerMessage(value);
    if (!parsed.ok) {
      this.logger.warn('skipped an unrecognised Cartesia message', { connection: this.id, type: parsed.type, context_id: parsed.contextId, reason: parsed.reason });
      return;
    }
    const message = parsed.message;
    const contextId = message.context_id ?? null;
    const route = contextId === null ? undefined : this.routes.get(contextId);
    if (route) {
      const audio = message.type === 'chunk' ? decodedAudio(value) : null;
      route.message(message, audio);
      return;
    }
    if (contextId !== null && this.retired.has(contextId)) {
      this.logger.debug('dropped a late Cartesia frame', { connection: this.id, context_id: contextId, type: message.type });
      return;
    }
    if (message.type === 'error') {
      this.logger.warn('Cartesia reported an error outside any context', {
        connection: this.id,
        status: message.status_code,
        error_code: message.error_code,
        title: message.title,
        message: message.message ?? message.error,
      });
      return;
    }
    this.logger.warn('skipped a Cartesia message for an unknown context', { connection: this.id, context_id: contextId, type: message.type });
  }

  private closed(info: SocketClosed): void {
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    this.markEnded();
    this.stopIdleTimer();
    const routes = [...this.routes.values()];
    this.routes.clear();
    const error = this.pool.connectionClosed(this, info, wasOpen, routes.length);
    for (const route of routes) route.lost(error);
  }

  private startIdleTimer(): void {
    this.stopIdleTimer();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.load === 0) this.pool.recycle(this);
    }, this.pool.settings.recycleIdleMs);
    (this.idleTimer as { unref?: () => void }).unref?.();
  }

  private stopIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }
}

/** The sockets contexts are spread over, and the policy for losing them. */
export class CartesiaPool {
  private readonly connections: CartesiaConnection[] = [];
  /** Consecutive failed connects or drops; reset by a socket that opens. */
  private failures = 0;
  /** No new socket before this clock reading (backoff or Retry-After), failing contexts with `blockedBy`. */
  private blockedUntil = 0;
  private blockedBy: RelayError | null = null;
  /** No new context before this clock reading: Cartesia answered a context with 429. */
  private heldUntil = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  constructor(
    readonly settings: PoolSettings,
    private readonly logger: Logger,
    readonly now: () => number = () => performance.now(),
    private readonly random: () => number = Math.random,
  ) {}

  /** True while a socket is open or nothing has failed yet. */
  get healthy(): boolean {
    return this.connections.some((c) => c.state === 'open') || (this.failures === 0 && this.blockedBy === null);
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

  /** Opens the first socket ahead of the first utterance; rejects when Cartesia cannot be reached. */
  async warm(): Promise<void> {
    await this.find(false);
  }

  private async find(reserve: boolean): Promise<CartesiaConnection> {
    const pick = (connection: CartesiaConnection) => {
      if (reserve) connection.reserve();
      return connection;
    };
    const deadline = this.now() + this.settings.maxWaitMs;
    for (;;) {
      if (this.closed) throw new RelayError('shutting_down');
      const held = this.heldUntil - this.now();
      if (held > 0) {
        if (this.now() + held > deadline) throw this.rateLimitError(held);
        await sleep(held);
        continue;
      }
      const open = this.connections.filter((c) => c.usable);
      const roomy = open.find((c) => c.load < this.settings.contextsPerSocket);
      if (roomy) return pick(roomy);
      if (open.length > 0 && this.connections.length >= this.settings.size) {
        return pick(open.reduce((a, b) => (b.load < a.load ? b : a)));
      }
      const connecting = this.connections.find((c) => c.state === 'connecting' && c.closingReason === null);
      if (connecting) {
        await this.awaitOpen(connecting);
        continue;
      }
      const blocked = this.blockedUntil - this.now();
      if (blocked > 0) {
        if (this.now() + blocked > deadline) throw this.blockedError(blocked);
        await sleep(blocked);
        continue;
      }
      await this.awaitOpen(this.connect());
    }
  }

  /** A 429 error frame: new contexts wait `rateLimitCooldownMs` (the frame has no Retry-After). */
  contextRateLimited(): RelayError {
    const waitMs = this.settings.rateLimitCooldownMs;
    this.heldUntil = Math.max(this.heldUntil, this.now() + waitMs);
    return this.rateLimitError(waitMs);
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
      const error = this.connectFailed(info);
      this.logger.warn('Cartesia connection failed', { ...fields, code_out: error.code });
      this.keepWarm(this.blockedUntil - this.now());
      return error;
    }
    if (contexts === 0 && info.code === 1000) {
      // Cartesia's idle close (or a server restart between utterances): nothing was lost.
      this.logger.info('Cartesia closed an idle socket', fields);
      this.keepWarm(0);
      return new RelayError('upstream_unavailable', 'The Cartesia connection closed.');
    }
    this.failures += 1;
    const delay = this.backoff();
    this.logger.warn('Cartesia connection dropped', { ...fields, reconnect_in_ms: Math.round(delay) });
    const error = new RelayError('upstream_unavailable', `The connection to Cartesia dropped (close code ${info.code}).`);
    this.block(delay, new RelayError('upstream_unavailable', 'The connection to Cartesia dropped; reconnecting.'));
    this.keepWarm(delay);
    return error;
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
    const connection = new CartesiaConnection(this, this.settings, this.logger);
    this.connections.push(connection);
    connection.opened.then(
      () => {
        this.failures = 0;
        this.unblock();
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
      const error = this.blockedBy ?? new RelayError('upstream_unavailable', 'Cannot connect to Cartesia.');
      if (error.code !== 'upstream_rate_limited') throw error;
    }
  }

  private connectFailed(info: SocketClosed): RelayError {
    this.failures += 1;
    const status = info.upgradeStatus;
    if (status === 429) {
      const waitMs = info.retryAfterSeconds !== undefined ? info.retryAfterSeconds * 1000 : this.backoff();
      const error = this.rateLimitError(waitMs);
      this.block(waitMs, error);
      return error;
    }
    const delay = this.backoff();
    let error: RelayError;
    if (status === 401 || status === 403) {
      error = new RelayError('upstream_error', `Cartesia refused the credentials (HTTP ${status}); check CARTESIA_API_KEY.`);
    } else if (status !== undefined) {
      error = new RelayError(status >= 500 ? 'upstream_unavailable' : 'upstream_error', `Cartesia refused the connection (HTTP ${status}).`);
    } else {
      error = new RelayError('upstream_unavailable', `Cannot connect to Cartesia${info.error ? `: ${info.error}` : ''}.`);
    }
    this.block(info.retryAfterSeconds !== undefined ? info.retryAfterSeconds * 1000 : delay, error);
    return error;
  }

  /** Exponential backoff with full jitter on the upper half: base·2^(n-1), capped, times 0.5–1. */
  private backoff(): number {
    const exponent = Math.max(0, this.failures - 1);
    const ceiling = Math.min(this.settings.backoffMaxMs, this.settings.backoffBaseMs * 2 ** exponent);
    return ceiling * (0.5 + this.random() / 2);
  }

  private block(waitMs: number, error: RelayError): void {
    const until = this.now() + waitMs;
    if (until > this.blockedUntil || this.blockedBy === null) {
      this.blockedUntil = until;
      this.blockedBy = error;
    }
  }

  private unblock(): void {
    this.blockedUntil = 0;
    this.blockedBy = null;
  }

  private blockedError(waitMs: number): RelayError {
    const blocked = this.blockedBy ?? new RelayError('upstream_unavailable', 'Cartesia cannot be reached right now.');
    return blocked.code === 'upstream_rate_limited' ? this.rateLimitError(waitMs) : blocked;
  }

  private rateLimitError(waitMs: number): RelayError {
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    return new RelayError('upstream_rate_limited', `Cartesia is rate limiting; retry in ${seconds} s.`, { retryAfter: seconds });
  }

  /** Keeps one socket open (or coming) so the next utterance does not pay for the handshake. */
  private keepWarm(delayMs: number): void {
    if (this.closed || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(
      () => {
        this.reconnectTimer = null;
        if (this.closed || this.connections.some((c) => c.state !== 'closed' && c.closingReason === null)) return;
        const wait = this.blockedUntil - this.now();
        if (wait > 0) {
          this.keepWarm(wait);
          return;
        }
        this.connect();
      },
      Math.max(0, delayMs),
    );
    (this.reconnectTimer as { unref?: () => void }).unref?.();
  }

  private remove(connection: CartesiaConnection): void {
    const index = this.connections.indexOf(connection);
    if (index >= 0) this.connections.splice(index, 1);
  }
}

function decodedAudio(value: unknown): Uint8Array | null {
  const audio = (value as { audio?: unknown }).audio;
  return audio instanceof Uint8Array ? audio : null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
