/** Who a request comes from, once authenticated: an admin, or a verified token and what it allows. Types only. */
import type { TokenAction } from '../../shared/api.ts';

export interface Rate {
  /** Units added per second. */
  perSecond: number;
  /** Bucket size: how many requests may come at once after a quiet spell. */
  burst: number;
}

/** What a verified token allows. */
export interface VerifiedToken {
  id: string;
  streams: string[];
  actions: TokenAction[];
  rate: Rate;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  subject?: string;
}

/** A token, or an API key (RELAY_API_KEYS or minted at /v1/keys), which grants the same but never expires. */
export type Principal = { kind: 'admin' } | ({ kind: 'token' | 'key' } & VerifiedToken);
