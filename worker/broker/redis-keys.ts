/**
 * Every Redis key and channel the relay uses, in one place. A stream's keys share the hash tag `{stream}`
 * (stream names are `[A-Za-z0-9._/-]`, safe in keys), so one stream's state stays on one node.
 */
export interface RedisKeys {
  /** Pub/sub channel carrying a stream's broker events (binary envelopes). */
  events(stream: string): string;
  /** Pub/sub channel carrying listeners' playback summaries to the stream's speaking instance (JSON). */
  played(stream: string): string;
  /** The current utterance's start envelope, for replays. */
  replayStart(stream: string): string;
  /** The current utterance's later envelopes (a list, trimmed from the head to the replay bound). */
  replayEvents(stream: string): string;
  /** Instance id of the owner of a stream's queue (the lease: SET NX PX, renewed). */
  owner(stream: string): string;
  /** Utterance numbers (INCR). */
  sequence(stream: string): string;
  /** Ids of waiting utterances, oldest first. */
  queue(stream: string): string;
  /** Hash id → "number|metadata JSON" of every utterance queued or speaking. */
  utterances(stream: string): string;
  /** JSON of the utterance being spoken: id, number, origin, owner, started_at. */
  current(stream: string): string;
  /** A Redis Stream with the text input of one utterance, as its origin instance receives it. */
  input(stream: string, utteranceId: string): string;
  /** `input(stream, id)` without the id, for scripts that name several inputs. */
  inputPrefix(stream: string): string;
  /** Sorted set stream → lease expiry (ms): lets any instance find streams whose owner died. */
  readonly leases: string;
  /** An instance's command channel, and the key whose expiry says the instance is gone. */
  instance(id: string): string;
  readonly prefix: string;
}

export function redisKeys(prefix: string): RedisKeys {
  const key = (stream: string, part: string) => `${prefix}{${stream}}:${part}`;
  return {
    prefix,
    events: (stream) => key(stream, 'events'),
    played: (stream) => key(stream, 'played'),
    replayStart: (stream) => key(stream, 'replay:start'),
    replayEvents: (stream) => key(stream, 'replay:events'),
    owner: (stream) => key(stream, 'owner'),
    sequence: (stream) => key(stream, 'seq'),
    queue: (stream) => key(stream, 'queue'),
    utterances: (stream) => key(stream, 'utterances'),
    current: (stream) => key(stream, 'current'),
    input: (stream, utteranceId) => key(stream, `input:${utteranceId}`),
    inputPrefix: (stream) => key(stream, 'input:'),
    leases: `${prefix}leases`,
    instance: (id) => `${prefix}instance:${id}`,
  };
}
