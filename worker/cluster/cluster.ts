/**
 * Streams across relay instances through Redis. Each stream has one FIFO queue in Redis and, while it has
 * work, one owner instance (a lease: SET NX PX, renewed) that speaks it; a speak request on any instance joins
 * the queue, its text following through Redis; cancel and status work from any instance. When an owner dies
 * its lease runs out, another instance's sweep takes the stream over, ends the utterance that was speaking
 * with `instance_lost`, and goes on with the queue, whose text is all in Redis.
 */
import { errorInfo, RelayError } from '../../shared/errors.ts';
import { unrefTimer } from '../../shared/timers.ts';
import type { RedisKeys } from '../broker/redis-keys.ts';
import { type Reply, type RedisLink, text } from '../broker/redis-link.ts';
import type { Logger } from '../ops/logger.ts';
import type { Broker } from '../broker/broker.ts';
import { newId } from '../core/ids.ts';
import type { LocalStreams } from '../core/local-streams.ts';
import type { Placement, QueueStatus, StreamDirectory, UtteranceHandle } from '../core/stream-directory.ts';
import type { RelayLimits } from '../ops/config.ts';
import type { UtteranceOptions, UtteranceResult } from '../core/utterance.ts';
import { type InputRecord, RemoteUtterance, toRemoteResult } from './remote-utterance.ts';
import { CANCEL, CANCEL_ONE, ENQUEUE, FORGET, RENEW, STATUS, SWEEP } from './scripts.ts';
import { InstanceChannel } from './instance-channel.ts';
import { type CurrentRecord, encodeInput, parseCurrent, parseRecord } from './records.ts';
import { StreamOwner } from './stream-owner.ts';

// Input streams of utterances nobody finished (an origin and an owner both gone) leave Redis after this.
const INPUT_TTL_MS = 60 * 60_000;
// Streams one sweep may take over; the rest wait for the next sweep.
const SWEEP_LIMIT = 32;

export interface ClusterOptions {
  link: RedisLink;
  keys: RedisKeys;
  instanceId: string;
  /** How long a stream's owner may go silent before another instance takes the stream over. */
  leaseMs: number;
  /** Where a stream's end of a lost utterance is published, for every instance's listeners. */
  broker: Pick<Broker, 'publish'>;
  limits: Pick<RelayLimits, 'maxQueue' | 'maxUtteranceChars' | 'uploadIdleMs'>;
  now: () => number;
  logger: Logger;
}

export class ClusterDirectory implements StreamDirectory {
  private readonly owners = new Map<string, StreamOwner>();
  /** Utterances whose speak request came to this instance, until they end. */
  private readonly origins = new Map<string, RemoteUtterance>();
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private sweeper: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private readonly channel: InstanceChannel;

  constructor(
    /** This instance's streams: an owned stream's utterances speak through them. */
    private readonly streams: LocalStreams,
    private readonly options: ClusterOptions,
  ) {
    this.channel = new InstanceChannel(options.link, options.keys, options.instanceId, options.logger, options.leaseMs);
  }

  /** Joins the cluster: listens on this instance's command channel and starts the lease heartbeat and sweep. */
  async start(): Promise<void> {
    const { link, keys, instanceId, leaseMs } = this.options;
    await this.channel.listen({
      cancel: (stream, id) => this.owners.get(stream)?.cancel(id),
      result: (id, result) => this.origins.get(id)?.settleRemote(result),
      lost: () => {
        for (const handle of this.origins.values()) handle.settleLocally('error', new RelayError('hub_unavailable', 'Redis was unreachable too long to learn how this utterance ended.'));
      },
    });
    await link.command(['SET', keys.instance(instanceId), '1', 'PX', String(leaseMs)]);
    this.heartbeat = setInterval(() => this.beat(), Math.max(50, Math.floor(leaseMs / 3)));
    unrefTimer(this.heartbeat);
    this.scheduleSweep();
  }

  async open(stream: string): Promise<void> {
    if (this.closed) throw new RelayError('shutting_down');
    this.streams.open(stream);
  }

  async enqueue(stream: string, options: UtteranceOptions, placement: Placement = {}): Promise<UtteranceHandle> {
    if (!this.streams.isAccepting || this.closed) throw new RelayError('shutting_down');
    if (placement.interrupt) await this.cancel(stream, true);
    const { link, keys, instanceId, leaseMs } = this.options;
    const id = newId('utt');
    const { limits, now } = this.options;
    const handle = new RemoteUtterance(id, stream, options, limits.maxUtteranceChars, now, (record) => this.sendInput(stream, id, record));
    // Registered before the queue sees it, so an owner here finds it the moment it is claimed.
    this.origins.set(id, handle);
    void handle.result.then(() => this.origins.delete(id));
    const { receivedAt: _receivedAt, ...rest } = options;
    let reply: Reply;
    try {
      reply = await link.script(ENQUEUE, [keys.queue(stream), keys.utterances(stream), keys.sequence(stream), keys.owner(stream), keys.leases], [
        id,
        JSON.stringify({ origin: instanceId, options: rest }),
        instanceId,
        String(leaseMs),
        String(limits.maxQueue),
        stream,
      ]);
    } catch (error) {
      this.origins.delete(id);
      throw error;
    }
    const [number, acquired] = Array.isArray(reply) ? reply : [];
    if (typeof number !== 'number' || number < 0) {
      this.origins.delete(id);
      throw new RelayError('queue_full', `Stream ${stream} already has ${limits.maxQueue} utterances queued.`);
    }
    handle.number = number;
    if (acquired === 1) this.own(stream);
    return handle;
  }

  async cancel(stream: string, all: boolean): Promise<string[]> {
    const { link, keys } = this.options;
    const reply = await link.script(CANCEL, [keys.current(stream), keys.queue(stream), keys.utterances(stream)], [all ? '1' : '0', keys.inputPrefix(stream)]);
    const [currentReply, ...queued] = Array.isArray(reply) ? reply : [];
    const stopped: string[] = [];
    const current = parseCurrent(text(currentReply));
    if (current) {
      stopped.push(current.id);
      this.cancelSpeaking(stream, current);
    }
    for (let i = 0; i + 1 < queued.length; i += 2) {
      const id = text(queued[i]);
      stopped.push(id);
      const record = parseRecord(text(queued[i + 1]));
      if (record) this.report(record.origin, id, unspoken('cancelled'));
    }
    return stopped;
  }

  async cancelUtterance(stream: string, id: string): Promise<boolean> {
    const { link, keys } = this.options;
    const reply = await link.script(CANCEL_ONE, [keys.current(stream), keys.queue(stream), keys.utterances(stream)], [id, keys.inputPrefix(stream)]);
    const [verdict, detail] = Array.isArray(reply) ? reply : [];
    if (text(verdict) === 'current') {
      const current = parseCurrent(text(detail));
      if (current) this.cancelSpeaking(stream, current);
      return current !== null;
    }
    if (text(verdict) !== 'queued') return false;
    // Out of the queue before any owner took it: nobody else will report it, so its origin hears from here.
    const record = parseRecord(text(detail));
    if (record) this.report(record.origin, id, unspoken('cancelled'));
    return true;
  }

  /** The streams known on this instance (a stream only queued in Redis, spoken and heard elsewhere, is not among them). */
  async names(): Promise<string[]> {
    return this.streams.names();
  }

  async status(stream: string): Promise<QueueStatus | null> {
    const { link, keys } = this.options;
    const reply = await link.script(STATUS, [keys.current(stream), keys.queue(stream), keys.utterances(stream)], []);
    const [currentReply, ...queued] = Array.isArray(reply) ? reply : [];
    const current = parseCurrent(text(currentReply));
    const queue: QueueStatus['queue'] = [];
    for (let i = 0; i + 1 < queued.length; i += 2) {
      queue.push({ utterance_id: text(queued[i]), utterance: parseRecord(text(queued[i + 1]))?.number ?? 0 });
    }
    if (!current && queue.length === 0 && !this.streams.get(stream)) return null;
    return {
      current: current ? { utterance_id: current.id, utterance: current.number, started_at: current.startedAt } : null,
      queue,
    };
  }

  /** Hands every owned stream on (after its current utterance when the relay drains) and leaves the cluster. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.sweeper) clearTimeout(this.sweeper);
    // Owners stop taking work, what they still speak is cancelled (the relay is closing), and each gives its
    // stream up so another instance's sweep takes the queue at once.
    const stopped = [...this.owners.values()].map((owner) => owner.stop());
    for (const stream of this.owners.keys()) this.streams.get(stream)?.cancel(false);
    await Promise.all(stopped);
    const { link, keys, instanceId } = this.options;
    await link.command(['DEL', keys.instance(instanceId)]).catch(() => {});
    await this.channel.leave();
    for (const handle of this.origins.values()) handle.settleLocally('error', new RelayError('shutting_down'));
  }

  /** Cancels the utterance a stream's owner is speaking: here, or through the owner's command channel. */
  private cancelSpeaking(stream: string, current: CurrentRecord): void {
    if (current.owner === this.options.instanceId) this.owners.get(stream)?.cancel(current.id);
    else this.channel.cancel(current.owner, stream, current.id);
  }

  private own(stream: string): void {
    // An owner whose loop just gave the stream up may still be in the map for a moment: replace it.
    if (this.owners.get(stream)?.finished === false) return;
    const owner = new StreamOwner(stream, {
      streams: this.streams,
      link: this.options.link,
      keys: this.options.keys,
      instanceId: this.options.instanceId,
      leaseMs: this.options.leaseMs,
      uploadIdleMs: this.options.limits.uploadIdleMs,
      now: this.options.now,
      logger: this.options.logger,
      origin: (id) => this.origins.get(id),
      report: (origin, id, result) => this.report(origin, id, result),
      isAlive: async (instance) => (await this.options.link.command(['EXISTS', this.options.keys.instance(instance)])) === 1,
    });
    this.owners.set(stream, owner);
    void owner.done.then(() => {
      if (this.owners.get(stream) === owner) this.owners.delete(stream);
    });
  }

  private sendInput(stream: string, id: string, record: InputRecord): Promise<void> {
    const { link, keys } = this.options;
    const key = keys.input(stream, id);
    const added = link.command(['XADD', key, '*', ...encodeInput(record)]);
    link.send(['PEXPIRE', key, String(INPUT_TTL_MS)]);
    return added.then(() => {});
  }

  /** Tells an utterance's origin how it ended: directly when it is this instance, else on its channel. */
  private report(origin: string, id: string, result: UtteranceResult): void {
    if (origin === this.options.instanceId) this.origins.get(id)?.settleRemote(toRemoteResult(result));
    else this.channel.result(origin, id, toRemoteResult(result));
  }

  /** Keeps this instance's presence key and its streams' leases alive; a lease found lost stops its owner. */
  private beat(): void {
    const { link, keys, instanceId, leaseMs } = this.options;
    link.send(['SET', keys.instance(instanceId), '1', 'PX', String(leaseMs)]);
    for (const [stream, owner] of this.owners) {
      if (owner.finished) continue;
      link
        .script(RENEW, [keys.owner(stream), keys.leases, keys.current(stream)], [instanceId, String(leaseMs), stream])
        .then((held) => {
          if (held === 0) owner.leaseLost();
        })
        .catch(() => {
          // Redis is away: keep speaking for local listeners; the lease decides when it is back.
        });
    }
  }

  private scheduleSweep(): void {
    if (this.closed) return;
    // Jittered, so instances do not sweep in lockstep.
    const delay = this.options.leaseMs / 2 + Math.random() * (this.options.leaseMs / 4);
    this.sweeper = setTimeout(() => {
      this.sweep()
        .catch((error: unknown) => this.options.logger.debug('sweep failed', { error }))
        .finally(() => this.scheduleSweep());
    }, delay);
    unrefTimer(this.sweeper);
  }

  private async sweep(): Promise<void> {
    if (!this.streams.isAccepting) return;
    const { link, keys, instanceId, leaseMs } = this.options;
    const reply = await link.script(SWEEP, [keys.leases], [instanceId, String(leaseMs), keys.prefix, String(SWEEP_LIMIT)]);
    const taken = Array.isArray(reply) ? reply : [];
    for (let i = 0; i + 1 < taken.length; i += 2) this.takeOver(text(taken[i]), text(taken[i + 1]));
  }

  /** This instance took a stream whose owner died: end what the owner was speaking, then go on with the queue. */
  private takeOver(stream: string, currentJson: string): void {
    const current = parseCurrent(currentJson);
    this.options.logger.warn('took over a stream whose owner stopped', { stream, lost_utterance: current?.id ?? null });
    if (this.owners.get(stream)?.finished === false) {
      // Our own lease had lapsed (Redis was away) and we took it back: nothing was lost.
      if (currentJson) this.options.link.send(['SET', this.options.keys.current(stream), currentJson]);
      return;
    }
    if (current) {
      const error = new RelayError('instance_lost', 'The relay instance speaking this utterance stopped; the queue goes on from another instance.');
      this.options.broker.publish(stream, {
        type: 'utterance_end',
        utterance: current.number,
        utterance_id: current.id,
        reason: 'error',
        error: errorInfo(error),
      });
      this.options.link.script(FORGET, [this.options.keys.utterances(stream), this.options.keys.input(stream, current.id)], [current.id]).catch(() => {});
      if (current.origin) this.report(current.origin, current.id, unspoken('error', error));
    }
    this.own(stream);
  }
}

/** The result of an utterance that ended before any of it was spoken here. */
function unspoken(reason: UtteranceResult['reason'], error?: RelayError): UtteranceResult {
  return { reason, ...(error ? { error } : {}), characters: 0, audioSeconds: 0, firstAudioMs: null, totalMs: 0 };
}
