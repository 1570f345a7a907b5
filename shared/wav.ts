/** WAV (RIFF WAVE) files for mono raw audio: a header to write, patch sizes into, and parse back. */
import { type AudioFormat, bytesPerSample, type Encoding, isSampleRate } from './audio-format.ts';
import { RelayError } from './errors.ts';

/** Offset of the RIFF chunk size (file length − 8, less any pad byte), a little-endian u32, in every header. */
export const WAV_RIFF_SIZE_OFFSET = 4;
/** Size to write while the length is unknown: readers take the samples up to the end of the file. */
export const WAV_UNKNOWN_SIZE = 0xffffffff;

const FORMAT_TAGS: Record<Encoding, number> = { pcm_s16le: 1, pcm_f32le: 3, pcm_alaw: 6, pcm_mulaw: 7 };
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
const PCM_HEADER_BYTES = 44;
// Non-PCM tags take an 18-byte fmt chunk (with cbSize) and a fact chunk, as ffmpeg and sox write them.
const NON_PCM_HEADER_BYTES = 58;
const FACT_COUNT_OFFSET = 46;

function writeTag(view: DataView, offset: number, tag: string): void {
  for (let i = 0; i < 4; i++) view.setUint8(offset + i, tag.charCodeAt(i));
}

function readTag(bytes: Uint8Array, offset: number): string {
  return String.fromCharCode(bytes[offset] ?? 0, bytes[offset + 1] ?? 0, bytes[offset + 2] ?? 0, bytes[offset + 3] ?? 0);
}

/**
 * Bytes of the header `wavHeader` writes for an encoding: 44 for s16 (canonical PCM), 58 for f32, μ-law
 * and A-law (18-byte fmt chunk plus a fact chunk). The data size is the u32 just before the samples.
 */
export function wavHeaderBytes(encoding: Encoding): number {
  return encoding === 'pcm_s16le' ? PCM_HEADER_BYTES : NON_PCM_HEADER_BYTES;
}

/**
 * The zero byte RIFF requires after the samples when their length is odd (μ-law and A-law only).
 * Append it when finalising; the sizes written by `wavHeader` and `patchWavSizes` count it.
 */
export function wavPadding(dataBytes: number): number {
  return dataBytes === WAV_UNKNOWN_SIZE ? 0 : dataBytes & 1;
}

function checkDataBytes(dataBytes: number, headerBytes: number): void {
  const max = 0xffffffff - (headerBytes - 8) - 1;
  if (dataBytes === WAV_UNKNOWN_SIZE) return;
  if (!Number.isInteger(dataBytes) || dataBytes < 0 || dataBytes > max) {
    throw new RangeError(`WAV data size must be a whole number of bytes up to ${max}; got ${dataBytes}.`);
  }
}

/**
 * Writes the sizes for `dataBytes` of samples in place into a header `wavHeader` made (the RIFF size,
 * the fact chunk's sample count and the data size), e.g. when a recording is finalised: patch the
 * header kept from the start and write it again at offset 0. `WAV_UNKNOWN_SIZE` marks a file still growing.
 */
export function patchWavSizes(header: Uint8Array, dataBytes: number): void {
  const headerBytes = header.byteLength;
  if (headerBytes !== PCM_HEADER_BYTES && headerBytes !== NON_PCM_HEADER_BYTES) {
    throw new RangeError(`Not a header from wavHeader: ${headerBytes} bytes.`);
  }
  checkDataBytes(dataBytes, headerBytes);
  const view = new DataView(header.buffer, header.byteOffset, headerBytes);
  const unknown = dataBytes === WAV_UNKNOWN_SIZE;
  view.setUint32(WAV_RIFF_SIZE_OFFSET, unknown ? WAV_UNKNOWN_SIZE : headerBytes - 8 + dataBytes + wavPadding(dataBytes), true);
  view.setUint32(headerBytes - 4, dataBytes, true);
  if (headerBytes === NON_PCM_HEADER_BYTES) {
    const blockAlign = view.getUint16(32, true);
    // An unknown count stays 0: ffmpeg would take 0xFFFFFFFF for the real length of a growing file.
    view.setUint32(FACT_COUNT_OFFSET, unknown ? 0 : Math.floor(dataBytes / blockAlign), true);
  }
}

/**
 * A WAV header for mono samples in `format`: format tag 1 (PCM) for s16, 3 (IEEE float) for f32, 7 for μ-law
 * and 6 for A-law; `wavHeaderBytes(format.encoding)` long. Pass `WAV_UNKNOWN_SIZE` when streaming.
 */
export function wavHeader(format: AudioFormat, dataBytes: number): Uint8Array {
  const headerBytes = wavHeaderBytes(format.encoding);
  checkDataBytes(dataBytes, headerBytes);
  const header = new Uint8Array(headerBytes);
  const view = new DataView(header.buffer);
  const sampleBytes = bytesPerSample(format.encoding);
  writeTag(view, 0, 'RIFF');
  writeTag(view, 8, 'WAVE');
  writeTag(view, 12, 'fmt ');
  view.setUint32(16, headerBytes === PCM_HEADER_BYTES ? 16 : 18, true);
  view.setUint16(20, FORMAT_TAGS[format.encoding], true);
  view.setUint16(22, 1, true);
  view.setUint32(24, format.sampleRate, true);
  view.setUint32(28, format.sampleRate * sampleBytes, true);
  view.setUint16(32, sampleBytes, true);
  view.setUint16(34, sampleBytes * 8, true);
  if (headerBytes === NON_PCM_HEADER_BYTES) {
    // cbSize 0 at offset 36, then the fact chunk.
    writeTag(view, 38, 'fact');
    view.setUint32(42, 4, true);
  }
  writeTag(view, headerBytes - 8, 'data');
  patchWavSizes(header, dataBytes);
  return header;
}

function encodingOf(tag: number, bits: number): Encoding | undefined {
  if (tag === 1 && bits === 16) return 'pcm_s16le';
  if (tag === 3 && bits === 32) return 'pcm_f32le';
  if (tag === 7 && bits === 8) return 'pcm_mulaw';
  if (tag === 6 && bits === 8) return 'pcm_alaw';
  return undefined;
}

function invalid(message: string): RelayError {
  return new RelayError('bad_request', `Not a WAV file the relay can read: ${message}.`);
}

/**
 * Parses a mono WAV file in one of the relay's encodings (plain or WAVE_FORMAT_EXTENSIBLE fmt chunks,
 * any other chunks skipped). A data size of `WAV_UNKNOWN_SIZE` or past the end of the file means
 * "up to the end". `data` is a view of `bytes`, trimmed to whole samples.
 * @throws RelayError `bad_request`, `unsupported_encoding` or `unsupported_sample_rate`.
 */
export function parseWav(bytes: Uint8Array): { format: AudioFormat; data: Uint8Array } {
  if (bytes.byteLength < 12 || readTag(bytes, 0) !== 'RIFF' || readTag(bytes, 8) !== 'WAVE') throw invalid('no RIFF WAVE signature');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let format: AudioFormat | undefined;
  let offset = 12;
  while (offset + 8 <= bytes.byteLength) {
    const id = readTag(bytes, offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + size > bytes.byteLength) throw invalid('truncated fmt chunk');
      let tag = view.getUint16(body, true);
      const channels = view.getUint16(body + 2, true);
      const sampleRate = view.getUint32(body + 4, true);
      const bits = view.getUint16(body + 14, true);
      // WAVE_FORMAT_EXTENSIBLE keeps the real tag in the first two bytes of its SubFormat GUID.
      if (tag === WAVE_FORMAT_EXTENSIBLE && size >= 40) tag = view.getUint16(body + 24, true);
      if (channels !== 1) throw invalid(`${channels} channels; the relay handles mono only`);
      const encoding = encodingOf(tag, bits);
      if (!encoding) throw new RelayError('unsupported_encoding', `WAV format tag ${tag} with ${bits}-bit samples is not one of the relay's encodings.`);
      if (!isSampleRate(sampleRate)) throw new RelayError('unsupported_sample_rate', `WAV sample rate ${sampleRate} Hz is not one the relay supports.`);
      format = { encoding, sampleRate };
    } else if (id === 'data') {
      if (!format) throw invalid('data chunk before fmt chunk');
      const available = bytes.byteLength - body;
      const length = size === WAV_UNKNOWN_SIZE || size > available ? available : size;
      const sampleBytes = bytesPerSample(format.encoding);
      return { format, data: bytes.subarray(body, body + length - (length % sampleBytes)) };
    }
    offset = body + size + (size & 1);
  }
  throw invalid(format ? 'no data chunk' : 'no fmt chunk');
}
