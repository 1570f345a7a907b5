/**
 * The relay's connections to Redis, over node-redis (@redis/client: pure TypeScript on node:net, so it runs on
 * Node, Bun and Deno alike): one for commands and publishing, one for subscriptions, and blocking readers on
 * demand. Nothing else in the relay imports the client library.
 */
import { createClient, RESP_TYPES } from '@redis/client';
import { RelayError } from '../../shared/errors.ts';
import type { Logger } from '../ops/logger.ts';

export type RedisValue = string | Uint8Array;
/** A reply with every bulk string as bytes (decode with `text()`); RESP3 maps arrive as objects. */
export type Reply = null | number | Uint8Array | Reply[] | { [key: string]: Reply };

export type MessageListener = (message: Uint8Array) => void;

// Reconnect backoff: quick first retries, then at most every 2 s, forever.
const RECONNECT_BASE_MS = 50;
const RECONNECT_MAX_MS = 2000;
const CONNECT_TIMEOUT_MS = 5000;

type Client = ReturnType<typeof createBinaryClient>;

/** A client that gives up at once if its first connection fails, and reconnects forever once it has had one. */
function createBinaryClient(url: string, name: string) {
  let established = false;
  const client = createClient({
    url,
    name,
    // Commands fail at once while the link is down instead of piling up and replaying stale audio later.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: CONNECT_TIMEOUT_MS,
      reconnectStrategy: (retries: number, cause: Error) => (established ? Math.min(RECONNECT_BASE_MS * 2 ** retries, RECONNECT_MAX_MS) : cause),
    },
  }).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  client.once('ready', () => (established = true));
  return client;
}

export class RedisLink {
  private healthChange: Array<(healthy: boolean) => void> = [];
  private readonly shas = new Map<string, Promise<string>>();
  private wasHealthy = true;

  private constructor(
    readonly url: string,
    private readonly commands: Client,
    private readonly subscriber: Client,
    private readonly logger: Logger,
    private readonly clientName: string,
  ) {
    for (const client of [commands, subscriber]) {
      client.on('error', (error: unknown) => this.logger.debug('redis connection error', { error }));
      client.on('ready', () => this.checkHealth());
      client.on('reconnecting', () => this.checkHealth());
      client.on('end', () => this.checkHealth());
    }
  }

  /**
   * Connects both connections, or throws a RelayError naming REDIS_URL: a relay configured for Redis does not
   * start without it.
   */
  static async connect(url: string, logger: Logger, clientName = 'tts-relay'): Promise<RedisLink> {
    const commands = createBinaryClient(url, clientName);
    const subscriber = createBinaryClient(url, `${clientName}:sub`);
    // Until connected, a failure ends the attempt instead of retrying forever.
    const firstErrors: unknown[] = [];
    const collect = (error: unknown) => firstErrors.push(error);
    commands.on('error', collect);
    subscriber.on('error', collect);
    try {
      await withTimeout(Promise.all([commands.connect(), subscriber.connect()]), CONNECT_TIMEOUT_MS);
    } catch (error) {
      await Promise.allSettled([commands.destroy(), subscriber.destroy()]);
      const cause = firstErrors[0] ?? error;
      throw new RelayError('hub_unavailable', `Cannot reach Redis at REDIS_URL (${redactUrl(url)}): ${describe(cause)}. Start Redis, fix REDIS_URL, or unset HUB/REDIS_URL for a single instance.`, { cause });
    } finally {
      commands.off('error', collect);
      subscriber.off('error', collect);
    }
    return new RedisLink(url, commands, subscriber, logger, clientName);
  }

  get healthy(): boolean {
    return this.commands.isReady && this.subscriber.isReady;
  }

  /** Called with the new state whenever the link goes down or comes back. */
  onHealthChange(listener: (healthy: boolean) => void): void {
    this.healthChange.push(listener);
  }

  /** Runs one command; rejects with `hub_unavailable` while Redis is unreachable. */
  async command(args: RedisValue[]): Promise<Reply> {
    try {
      return (await this.commands.sendCommand(args.map(toArgument))) as Reply;
    } catch (error) {
      throw asBrokerError(error);
    }
  }

  /** Runs a Lua script by its SHA (loaded once, reloaded after a Redis restart), so per-event calls stay small. */
  async script(source: string, keys: string[], args: RedisValue[]): Promise<Reply> {
    const run = async () => this.command(['EVALSHA', await this.load(source), String(keys.length), ...keys, ...args]);
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof RelayError && String((error.cause as Error | undefined)?.message).startsWith('NOSCRIPT'))) throw error;
      this.shas.delete(source);
      return run();
    }
  }

  private load(source: string): Promise<string> {
    let sha = this.shas.get(source);
    if (!sha) {
      sha = this.command(['SCRIPT', 'LOAD', source]).then(text);
      sha.catch(() => this.shas.delete(source));
      this.shas.set(source, sha);
    }
    return sha;
  }

  /** Fire-and-forget commands in order on the command connection; a failure is logged, never thrown. */
  send(args: RedisValue[]): void {
    this.command(args).catch((error: unknown) => this.logger.debug('redis command dropped', { command: String(args[0]), error }));
  }

  async subscribe(channel: string, listener: MessageListener): Promise<void> {
    try {
      await this.subscriber.subscribe(channel, (message: Buffer) => listener(message), true);
    } catch (error) {
      throw asBrokerError(error);
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    await this.subscriber.unsubscribe(channel).catch(() => {});
  }

  /** A separate connection for blocking reads (XREAD BLOCK), which would stall the shared one. */
  async blockingReader(): Promise<BlockingReader> {
    const client = createBinaryClient(this.url, `${this.clientName}:reader`);
    client.on('error', (error: unknown) => this.logger.debug('redis reader error', { error }));
    try {
      await withTimeout(client.connect(), CONNECT_TIMEOUT_MS);
    } catch (error) {
      await client.destroy();
      throw asBrokerError(error);
    }
    return {
      command: async (args) => {
        try {
          return (await client.sendCommand(args.map(toArgument))) as Reply;
        } catch (error) {
          throw asBrokerError(error);
        }
      },
      close: () => client.destroy(),
    };
  }

  async close(): Promise<void> {
    this.healthChange = [];
    await Promise.allSettled([this.subscriber.close(), this.commands.close()]);
    await Promise.allSettled([this.subscriber.destroy(), this.commands.destroy()]);
  }

  private checkHealth(): void {
    const healthy = this.healthy;
    if (healthy === this.wasHealthy) return;
    this.wasHealthy = healthy;
    if (healthy) this.logger.info('redis reachable again', {});
    else this.logger.warn('redis unreachable: serving local listeners only, reconnecting', {});
    for (const listener of this.healthChange) listener(healthy);
  }
}

export interface BlockingReader {
  command(args: RedisValue[]): Promise<Reply>;
  close(): void;
}

/** A bulk string reply as text ('' for null). */
export function text(reply: Reply | undefined): string {
  if (reply instanceof Uint8Array) return decoder.decode(reply);
  if (typeof reply === 'number') return String(reply);
  return '';
}

const decoder = new TextDecoder();

function toArgument(value: RedisValue): string | Buffer {
  return typeof value === 'string' ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function asBrokerError(error: unknown): RelayError {
  if (error instanceof RelayError) return error;
  // Redis answered with an error (a script bug, a wrong type): not an outage.
  if (error instanceof Error && error.constructor.name === 'ErrorReply') return new RelayError('internal_error', undefined, { cause: error });
  return new RelayError('hub_unavailable', undefined, { cause: error });
}

function describe(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describe(error.errors[0]);
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/** The URL without its password, for messages and logs. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'an unparsable URL';
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms))),
  ]);
}
