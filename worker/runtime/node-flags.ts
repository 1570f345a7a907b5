/**
 * The V8 flags the Node relay runs with: package.json's start:node and worker/bin.mjs's shebang pass them, and the
 * bench starts its Node relay with them. They must be given at start: V8 sizes the young generation once.
 *
 * The young generation capped at 8 MiB a semi-space (V8's default on 64-bit Node is 16). V8 starts marking the old
 * generation as soon as the room left below its next limit is less than the young generation's capacity. Streaming
 * grows the young generation to its cap (32 MiB in both halves), and the relay's ~20 MB of live old generation gets
 * a limit only ~23 MB above it, so every check found the limit "reached": back-to-back mark-compacts, about one a
 * second at 100 streams, with nothing old to free. At 8 MiB (16 in both) the room stays larger than the young
 * generation until the old one really grows.
 */
export const NODE_RELAY_FLAGS: readonly string[] = ['--max-semi-space-size=8'];
