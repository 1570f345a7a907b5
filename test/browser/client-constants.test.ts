/** The browser client cannot import shared/protocol.ts (it pulls in zod): its copies of the wire constants must match. */
import { describe, expect, it } from 'vitest';
import { SAMPLE_RATES } from '../../shared/audio-format.ts';
import { AUDIO_HEADER_BYTES, PLAYED_REPORT_INTERVAL_MS, RELAY_SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX } from '../../shared/protocol.ts';
import * as client from '../../worker/player/public/client.js';

describe('the browser client', () => {
  it('speaks the wire constants of shared/', () => {
    expect(client.RELAY_SUBPROTOCOL).toBe(RELAY_SUBPROTOCOL);
    expect(client.TOKEN_SUBPROTOCOL_PREFIX).toBe(TOKEN_SUBPROTOCOL_PREFIX);
    expect(client.AUDIO_HEADER_BYTES).toBe(AUDIO_HEADER_BYTES);
    expect(client.SAMPLE_RATES).toEqual([...SAMPLE_RATES]);
    expect(client.PLAYED_REPORT_INTERVAL_MS).toBe(PLAYED_REPORT_INTERVAL_MS);
  });
});
