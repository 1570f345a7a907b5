import { describe, expect, it } from 'vitest';
import { chunkMessageSchema, parseLenientMessage } from '../../worker/providers/cartesia/schema.ts';

const chunk = { type: 'chunk', context_id: 'ctx-1', data: 'AAAA', done: false, status_code: 206, step_time: 12.5, flush_id: 0 };

describe('parseLenientMessage on chunks (checked by hand, not through zod)', () => {
  const variants: Array<[string, Record<string, unknown>]> = [
    ['a full chunk', chunk],
    ['a bare chunk', { type: 'chunk', context_id: 'ctx-1', data: '' }],
    ['a null flush_id', { ...chunk, flush_id: null }],
    ['an unknown field', { ...chunk, audio: new Uint8Array(3), extra: 'x' }],
    ['no data', { ...chunk, data: undefined }],
    ['data not a string', { ...chunk, data: 42 }],
    ['an empty context_id', { ...chunk, context_id: '' }],
    ['no context_id', { ...chunk, context_id: undefined }],
    ['a fractional status_code', { ...chunk, status_code: 206.5 }],
    ['a string done', { ...chunk, done: 'no' }],
    ['a negative flush_id', { ...chunk, flush_id: -1 }],
    ['a fractional flush_id', { ...chunk, flush_id: 1.5 }],
    ['a string step_time', { ...chunk, step_time: '12' }],
  ];

  it.each(variants)('agrees with the chunk schema on %s', (_name, value) => {
    expect(parseLenientMessage(value).ok).toBe(chunkMessageSchema.safeParse(value).success);
  });

  it('says what was wrong with a chunk it refuses', () => {
    expect(parseLenientMessage({ ...chunk, data: 42 })).toMatchObject({ ok: false, type: 'chunk', contextId: 'ctx-1', reason: expect.stringContaining('data') });
  });

  it('hands a good chunk on with its fields', () => {
    const parsed = parseLenientMessage(chunk);
    expect(parsed.ok && parsed.message).toMatchObject({ type: 'chunk', context_id: 'ctx-1', data: 'AAAA', flush_id: 0 });
  });
});
