/**
 * Scoped API keys: long-lived server credentials that are safe in a URL (`?api_key=`, pipecat's way), configured in
 * RELAY_API_KEYS or minted by an admin, each revocable at once. Only their SHA-256 digests are kept in memory.
 */
import { isValidStreamScope, TOKEN_ACTIONS, type TokenAction } from '../../shared/api.ts';
import { encodeBase64Url } from '../../shared/base64.ts';
import { RelayError } from '../../shared/errors.ts';
import { ConfigError } from '../ops/config-error.ts';
import type { Rate, VerifiedToken } from './principal.ts';

/** Every API key starts so: it tells a key from a token at a glance, and lets logs redact any key they meet. */
export const API_KEY_PREFIX = 'trk_';
export const API_KEY_PATTERN = /trk_[A-Za-z0-9_-]{32,128}/g;
const WHOLE_KEY = /^trk_[A-Za-z0-9_-]{32,128}$/;
const LABEL = /^[\w.@/-]{1,64}$/;

/** A key as configured or minted; `key` itself is dropped once digested. */
export interface ApiKeySpec {
  label?: string;
  streams: string[];
  actions: TokenAction[];
  rate?: number;
  burst?: number;
}

export interface ConfiguredApiKey extends ApiKeySpec {
  key: string;
}

/** What the relay keeps and lists of a key: never the key. */
export interface ApiKeyRecord extends ApiKeySpec {
  id: string;
  source: 'configured' | 'minted';
  created_at: string;
}

/**
 * RELAY_API_KEYS: entries `label:key:actions:streams`, separated by commas or white space; actions and streams
 * joined with `+`, e.g. `pipecat:trk_…:speak+cancel:bots/*`. Throws a ConfigError naming the entry (never the key).
 */
export function parseApiKeyList(value: string | undefined): ConfiguredApiKey[] {
  const entries = (value ?? '').split(/[\s,]+/).filter(Boolean);
  return entries.map((entry, index) => {
    const [label, key, actions, streams, ...rest] = entry.split(':');
    const bad = (why: string) => new ConfigError('RELAY_API_KEYS', `entry ${index + 1}: ${why}; expected label:key:actions:streams, e.g. bot:trk_<32+ characters>:speak:bots/*`);
    if (rest.length > 0 || streams === undefined) throw bad('it does not have four parts');
    if (!LABEL.test(label!)) throw bad('the label is 1-64 letters, digits and _ . @ / -');
    if (!WHOLE_KEY.test(key!)) throw bad('the key is trk_ followed by 32-128 letters, digits, _ or -');
    const actionList = actions!.split('+');
    if (!actionList.every((a) => (TOKEN_ACTIONS as readonly string[]).includes(a))) throw bad(`actions are ${TOKEN_ACTIONS.join(', ')}`);
    const streamList = streams.split('+');
    if (!streamList.every(isValidStreamScope)) throw bad('each stream is a stream name, prefix/* or *');
    return { label: label!, key: key!, actions: actionList as TokenAction[], streams: streamList };
  });
}

export class ApiKeys {
  private readonly byDigest = new Map<string, ApiKeyRecord>();
  private readonly watchers = new Map<string, Set<() => void>>();
  private loaded: Promise<void> | null = null;

  constructor(
    private readonly configured: readonly ConfiguredApiKey[],
    private readonly defaultRate: Rate,
  ) {}

  /** Mints a key for `spec`: the key is in the answer only, the relay keeps its digest. */
  async mint(spec: ApiKeySpec): Promise<{ key: string; record: ApiKeyRecord }> {
    await this.load();
    const key = `${API_KEY_PREFIX}${encodeBase64Url(crypto.getRandomValues(new Uint8Array(24)))}`;
    const record = await this.add(key, spec, 'minted');
    return { key, record };
  }

  async list(): Promise<ApiKeyRecord[]> {
    await this.load();
    return [...this.byDigest.values()];
  }

  /** Revokes a key by id: refused from now on, and every socket it opened is told (watch). False when unknown. */
  async revoke(id: string): Promise<ApiKeyRecord | null> {
    await this.load();
    for (const [digest, record] of this.byDigest) {
      if (record.id !== id) continue;
      this.byDigest.delete(digest);
      for (const revoked of this.watchers.get(id) ?? []) revoked();
      this.watchers.delete(id);
      return record;
    }
    return null;
  }

  /** The key's grant; throws 401 `unauthorized` for a key the relay does not hold (unknown or revoked). */
  async verify(value: string): Promise<VerifiedToken> {
    await this.load();
    const record = WHOLE_KEY.test(value) ? this.byDigest.get(await digestOf(value)) : undefined;
    if (!record) throw new RelayError('unauthorized', 'The API key is not valid (unknown or revoked).');
    return {
      id: record.id,
      streams: record.streams,
      actions: record.actions,
      rate: { perSecond: record.rate ?? this.defaultRate.perSecond, burst: record.burst ?? this.defaultRate.burst },
      expiresAt: Number.POSITIVE_INFINITY,
      ...(record.label !== undefined ? { subject: record.label } : {}),
    };
  }

  /** Calls `onRevoked` once if key `id` is revoked; returns the way to stop watching. */
  watch(id: string, onRevoked: () => void): () => void {
    let set = this.watchers.get(id);
    if (!set) this.watchers.set(id, (set = new Set()));
    set.add(onRevoked);
    return () => {
      set.delete(onRevoked);
      if (set.size === 0 && this.watchers.get(id) === set) this.watchers.delete(id);
    };
  }

  private load(): Promise<void> {
    this.loaded ??= (async () => {
      for (const { key, ...spec } of this.configured) await this.add(key, spec, 'configured');
    })();
    return this.loaded;
  }

  private async add(key: string, spec: ApiKeySpec, source: ApiKeyRecord['source']): Promise<ApiKeyRecord> {
    const digest = await digestOf(key);
    // The id is public (listed, logged, used to revoke): a prefix of the digest, which does not give the key away.
    const record: ApiKeyRecord = { id: `key_${digest.slice(0, 16)}`, source, created_at: new Date().toISOString(), ...spec };
    this.byDigest.set(digest, record);
    return record;
  }
}

async function digestOf(key: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(key)));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('');
}
