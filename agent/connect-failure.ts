/**
 * Why the relay could not be reached, said so that the next step is clear: nothing listening, a host that
 * does not resolve, a certificate this machine does not trust, or a plain-HTTP URL for a relay that serves TLS.
 */
import { isIP } from 'node:net';
import { connect as connectTLS } from 'node:tls';

/** Node's (and Bun's) codes for a certificate chain that does not verify. */
const UNTRUSTED_CERTIFICATE = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
/** What a TLS server does to a plain HTTP request: it hangs up. */
const HUNG_UP = new Set(['ECONNRESET', 'UND_ERR_SOCKET', 'HPE_INVALID_CONSTANT', 'EPIPE']);
const TLS_PROBE_TIMEOUT_MS = 2000;

export interface ConnectFailure {
  /** Retrying the same URL cannot help (the listener stops instead of reconnecting). */
  fatal: boolean;
  message: string;
}

/** Explains a failed fetch or WebSocket connection to `baseURL`. */
export async function explainConnectFailure(baseURL: string, error: unknown): Promise<ConnectFailure> {
  const url = new URL(baseURL);
  const { code, detail } = errorCode(error);
  if (code && UNTRUSTED_CERTIFICATE.has(code)) {
    return {
      fatal: true,
      message: `the relay at ${url.origin} presents a TLS certificate this machine does not trust (${code}: ${detail}): to trust your own certificate, run with NODE_EXTRA_CA_CERTS=/path/to/cert.pem`,
    };
  }
  if (code === 'ECONNREFUSED') {
    return { fatal: false, message: `nothing is listening at ${url.origin} (connection refused): start the relay with npm start, or pass --url / set TTS_RELAY_URL` };
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return { fatal: false, message: `the host ${url.hostname} was not found (${code}): check --url / TTS_RELAY_URL` };
  }
  if (url.protocol === 'http:' && code && HUNG_UP.has(code) && (await speaksTLS(url))) {
    const https = new URL(url.href);
    https.protocol = 'https:';
    return { fatal: true, message: `the relay at ${url.origin} serves HTTPS, not plain HTTP: use --url ${https.href.replace(/\/$/, '')}` };
  }
  return { fatal: false, message: `cannot reach the relay at ${url.origin} (${code ?? detail})` };
}

function errorCode(error: unknown): { code: string | undefined; detail: string } {
  const outer = error as { code?: string; message?: string; cause?: { code?: string; message?: string } } | null;
  const code = outer?.cause?.code ?? outer?.code;
  const detail = outer?.cause?.message ?? outer?.message ?? String(error);
  return { code, detail };
}

/** Whether a TLS handshake succeeds at the URL's host and port (the certificate not checked: only the protocol). */
function speaksTLS(url: URL): Promise<boolean> {
  return new Promise((resolve) => {
    const port = Number(url.port || 80);
    const socket = connectTLS({ host: url.hostname, port, ...(isIP(url.hostname) ? {} : { servername: url.hostname }), rejectUnauthorized: false });
    const done = (result: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done(false), TLS_PROBE_TIMEOUT_MS);
    socket.once('secureConnect', () => done(true));
    socket.once('error', () => done(false));
  });
}
