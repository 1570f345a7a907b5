/** Comparing a presented credential with a secret in time that depends on neither the secret nor where they differ. */

/**
 * Whether `given` equals `secret`. The loop runs over the presented string's length, which its sender knows
 * already, and always to the end; the secret's length enters only the final check. Synchronous on purpose: hono's
 * `timingSafeEqual` hashes both sides through `crypto.subtle`, a thread-pool round trip per key on every request.
 */
export function constantTimeEqual(given: string, secret: string): boolean {
  if (secret.length === 0) return given.length === 0;
  let difference = given.length ^ secret.length;
  for (let i = 0; i < given.length; i++) difference |= given.charCodeAt(i) ^ secret.charCodeAt(i % secret.length);
  return difference === 0;
}
