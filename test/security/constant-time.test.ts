import { describe, expect, it } from 'vitest';
import { constantTimeEqual } from '../../worker/security/constant-time.ts';

describe('constantTimeEqual', () => {
  const secret = 'admin-key-0123456789abcdef';

  it('accepts only the very string', () => {
    expect(constantTimeEqual(secret, secret)).toBe(true);
    expect(constantTimeEqual(secret.replace('f', 'e'), secret)).toBe(false);
    expect(constantTimeEqual(secret.replace('a', 'b'), secret)).toBe(false);
  });

  it('refuses prefixes, extensions and repetitions of the secret', () => {
    expect(constantTimeEqual(secret.slice(0, -1), secret)).toBe(false);
    expect(constantTimeEqual(`${secret}0`, secret)).toBe(false);
    expect(constantTimeEqual(secret + secret, secret)).toBe(false);
    expect(constantTimeEqual('', secret)).toBe(false);
  });

  it('treats an empty secret as matching only an empty credential', () => {
    expect(constantTimeEqual('', '')).toBe(true);
    expect(constantTimeEqual('x', '')).toBe(false);
  });

  it('compares UTF-16 code units, so look-alike characters differ', () => {
    expect(constantTimeEqual('kéy', 'kéy')).toBe(true);
    expect(constantTimeEqual('ke\u0301y', 'kéy')).toBe(false);
  });
});
