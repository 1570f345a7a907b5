/**
 * The binary envelope a broker event travels in between instances: a fixed 24-byte header, then the raw audio
 * bytes (never base64) or, for control events, their JSON.
 *
 *   offset 0  u8   envelope version (1)
 *   offset 1  u8   kind: 1 = control (JSON payload), 2 = audio (raw source-format samples),
 *                  3 = marker (no payload; the number rides in the sequence field; see RedisBroker.replay)
 *   offset 2  u16  reserved, zero
 *   offset 4  u32  utterance number
 *   offset 8  u32  sequence number of the event within its utterance (the start is 0)
 *   offset 12 u32  audio: index of the payload's first byte within the utterance's audio; control: zero
 *   offset 16 8 B  id of the publishing instance, so it can skip its own events
 *   offset 24 ...  payload
 */
import type { BrokerEvent } from './broker.ts';

export const ENVELOPE_VERSION = 1;
export const ENVELOPE_HEADER_BYTES = 24;
export const INSTANCE_ID_BYTES = 8;
/** The sequence number of an end published by an instance that took a stream over: it follows anything. */
export const SEQ_TAKEOVER = 0xffffffff;

const KIND_CONTROL = 1;
const KIND_AUDIO = 2;
const KIND_MARKER = 3;

export type Envelope =
  | {
      event: BrokerEvent;
      seq: number;
      /** Audio: index of the first byte within the utterance's audio. */
      offset: number;
      /** The publisher's instance id, hex. */
      sender: string;
      marker?: undefined;
    }
  | { marker: number; sender: string; event?: undefined };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeEnvelope(event: BrokerEvent, seq: number, offset: number, sender: Uint8Array): Uint8Array {
  let payload: Uint8Array;
  if (event.type === 'audio') {
    payload = event.data;
  } else {
    const { utterance: _utterance, ...rest } = event;
    payload = encoder.encode(JSON.stringify(rest));
  }
  const out = new Uint8Array(ENVELOPE_HEADER_BYTES + payload.byteLength);
  const view = new DataView(out.buffer);
  view.setUint8(0, ENVELOPE_VERSION);
  view.setUint8(1, event.type === 'audio' ? KIND_AUDIO : KIND_CONTROL);
  view.setUint32(4, event.utterance >>> 0, true);
  view.setUint32(8, seq >>> 0, true);
  view.setUint32(12, event.type === 'audio' ? offset >>> 0 : 0, true);
  out.set(sender.subarray(0, INSTANCE_ID_BYTES), 16);
  out.set(payload, ENVELOPE_HEADER_BYTES);
  return out;
}

/** A marker an instance publishes to itself, to learn when earlier messages on a channel have all arrived. */
export function encodeMarker(marker: number, sender: Uint8Array): Uint8Array {
  const out = new Uint8Array(ENVELOPE_HEADER_BYTES);
  const view = new DataView(out.buffer);
  view.setUint8(0, ENVELOPE_VERSION);
  view.setUint8(1, KIND_MARKER);
  view.setUint32(8, marker >>> 0, true);
  out.set(sender.subarray(0, INSTANCE_ID_BYTES), 16);
  return out;
}

/** Parses an envelope; null for anything malformed or of another version (logged and skipped by the caller). */
export function decodeEnvelope(data: Uint8Array): Envelope | null {
  if (data.byteLength < ENVELOPE_HEADER_BYTES) return null;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (view.getUint8(0) !== ENVELOPE_VERSION) return null;
  const kind = view.getUint8(1);
  const utterance = view.getUint32(4, true);
  const seq = view.getUint32(8, true);
  const offset = view.getUint32(12, true);
  const sender = toHex(data.subarray(16, 16 + INSTANCE_ID_BYTES));
  // A plain Uint8Array view, never a Node Buffer (whose slice() shares memory): the codecs rely on slice() copying.
  const payload = new Uint8Array(data.buffer, data.byteOffset + ENVELOPE_HEADER_BYTES, data.byteLength - ENVELOPE_HEADER_BYTES);
  if (kind === KIND_MARKER) return { marker: seq, sender };
  if (kind === KIND_AUDIO) return { event: { type: 'audio', utterance, data: payload }, seq, offset, sender };
  if (kind !== KIND_CONTROL) return null;
  try {
    const rest = JSON.parse(decoder.decode(payload)) as Record<string, unknown>;
    if (typeof rest.type !== 'string' || rest.type === 'audio') return null;
    return { event: { ...rest, utterance } as BrokerEvent, seq, offset, sender };
  } catch {
    return null;
  }
}

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0');
  return out;
}

export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}
