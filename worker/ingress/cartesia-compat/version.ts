/**
 * `Cartesia-Version`: every Cartesia request names the API version it was written against, as a header or (the
 * WebSocket's way, which takes precedence) `?cartesia_version=`. A missing or unknown one is refused with 400.
 */
import { RelayError } from '../../../shared/errors.ts';

/**
 * The versions of Cartesia's API reference (2024-06-10, 2024-11-13, 2025-04-16, 2026-03-01) and those the official
 * SDKs have sent by default since (2025-11-04, 2026-08-14 in @cartesia/cartesia-js 4.x).
 */
export const CARTESIA_VERSIONS = ['2024-06-10', '2024-11-13', '2025-04-16', '2025-11-04', '2026-03-01', '2026-08-14'] as const;

/** The version a request names; throws 400 `bad_request` when it names none or one the relay does not know. */
export function cartesiaVersionOf(request: Request): string {
  const version = new URL(request.url).searchParams.get('cartesia_version') ?? request.headers.get('cartesia-version');
  if (version === null || version.trim() === '') {
    throw new RelayError('bad_request', 'The Cartesia-Version header (or the cartesia_version query parameter) is required, e.g. Cartesia-Version: 2026-03-01.');
  }
  if (!(CARTESIA_VERSIONS as readonly string[]).includes(version)) {
    // The value is the client's own input and may be anything: it is not echoed.
    throw new RelayError('bad_request', `Unknown Cartesia-Version: the supported versions are ${CARTESIA_VERSIONS.join(', ')}.`);
  }
  return version;
}
