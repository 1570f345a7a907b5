/** How the cluster's records are written in Redis: utterance records, the current utterance, input entries. */
import { errorInfo, RelayError } from '../../shared/errors.ts';
import { type Reply, text } from '../broker/redis-link.ts';
import type { UtteranceOptions } from '../core/utterance.ts';
import type { InputRecord } from './remote-utterance.ts';

/** An utterance's record in Redis: "number|JSON" with its origin instance and options. */
export interface UtteranceRecord {
  number: number;
  origin: string;
  options: Omit<UtteranceOptions, 'receivedAt'>;
}

export function parseRecord(meta: string): UtteranceRecord | null {
  const bar = meta.indexOf('|');
  if (bar < 0) return null;
  try {
    const { origin, options } = JSON.parse(meta.slice(bar + 1)) as { origin: string; options: UtteranceRecord['options'] };
    return { number: Number(meta.slice(0, bar)), origin, options: options ?? {} };
  } catch {
    return null;
  }
}

/** The utterance a stream's owner is speaking, as the owner wrote it: its id, record, owner and start. */
export interface CurrentRecord {
  id: string;
  number: number;
  origin: string;
  owner: string;
  startedAt: string;
}

export function parseCurrent(json: string): CurrentRecord | null {
  if (!json) return null;
  try {
    const value = JSON.parse(json) as { id: string; meta: string; owner: string; started_at: string };
    const record = parseRecord(value.meta);
    return { id: value.id, number: record?.number ?? 0, origin: record?.origin ?? '', owner: value.owner, startedAt: value.started_at };
  } catch {
    return null;
  }
}

/** The entries of an XREAD reply (RESP3: a map from key to entries) as input records. */
export function inputRecords(reply: Reply): Array<[string, InputRecord]> {
  const streams = reply && typeof reply === 'object' && !Array.isArray(reply) && !(reply instanceof Uint8Array) ? Object.values(reply) : [];
  const out: Array<[string, InputRecord]> = [];
  for (const entries of streams) {
    for (const entry of Array.isArray(entries) ? entries : []) {
      if (!Array.isArray(entry)) continue;
      const [entryId, fields] = entry;
      const values = Array.isArray(fields) ? fields.map((field) => text(field)) : [];
      const field = (name: string) => values[values.indexOf(name) + 1] ?? '';
      const record = decodeInput(field('k'), field('v'));
      if (record) out.push([text(entryId), record]);
    }
  }
  return out;
}

export function encodeInput(record: InputRecord): string[] {
  switch (record.type) {
    case 'text':
      return ['k', 't', 'v', record.text];
    case 'flush':
      return ['k', 'f'];
    case 'end':
      return ['k', 'e'];
    case 'fail':
      return ['k', 'x', 'v', JSON.stringify(errorInfo(record.error))];
  }
}

function decodeInput(kind: string, value: string): InputRecord | null {
  if (kind === 't') return { type: 'text', text: value };
  if (kind === 'f') return { type: 'flush' };
  if (kind === 'e') return { type: 'end' };
  if (kind !== 'x') return null;
  try {
    const { code, message } = JSON.parse(value) as { code: RelayError['code']; message: string };
    return { type: 'fail', error: new RelayError(code, message) };
  } catch {
    return { type: 'fail', error: new RelayError('bad_request') };
  }
}
