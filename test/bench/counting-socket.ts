/**
 * A bare-bones WebSocket client over a TCP socket that only counts what it receives: no payload copies,
 * no UTF-8 decoding, no events per frame. Thousands of them fit in one process, so the listener side of a
 * fan-out measurement costs as little as possible and the server stays the bottleneck.
 */
import { connect, type Socket } from 'node:net';

// Any 16 bytes, base64: the server's accept hash is not checked (a 101 status is proof enough here).
const KEY = 'dHRzLXJlbGF5LWJlbmNoIQ==';

export interface CountingSocketOptions {
  host: string;
  port: number;
  path: string;
  headers?: Record<string, string>;
  /**
   * Called after each read once the socket is open, instead of reading on: the socket stops reading until
   * `resume()`. Reading every socket a few times a second rather than once per frame lets the kernel
   * coalesce frames, so one process can keep up with many thousands of listeners.
   */
  onRead?: (socket: CountingSocket) => void;
}

export class CountingSocket {
  /** Bytes of binary-frame payloads received (audio frames, header included). */
  binaryBytes = 0;
  binaryFrames = 0;
  /**
   * Payload bytes of the binary frames whose header has been read, as the headers declare them: with `binaryFrames`
   * (also counted at the header) an exact mean frame size, where `binaryBytes` counts a frame's bytes as they arrive.
   */
  binaryDeclaredBytes = 0;
  textFrames = 0;
  /** performance.now() at the first binary frame's first byte, or 0. */
  firstBinaryAt = 0;
  closed = false;
  closeCode = 0;
  private readonly socket: Socket;
  private handshaken = false;
  private pendingHead = '';
  private readonly header = new Uint8Array(14);
  private headerLength = 0;
  private remaining = 0;
  private opcode = 0;
  private messageOpcode = 0;

  constructor(options: CountingSocketOptions, onOpen: (error?: Error) => void) {
    const headers = Object.entries(options.headers ?? {}).map(([name, value]) => `${name}: ${value}\r\n`).join('');
    this.socket = connect({ host: options.host, port: options.port, noDelay: true });
    this.socket.once('connect', () => {
      this.socket.write(
        `GET ${options.path} HTTP/1.1\r\nHost: ${options.host}:${options.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${headers}\r\n`,
      );
    });
    this.socket.on('data', (chunk: Buffer) => {
      if (this.handshaken) {
        this.feed(chunk, 0);
        if (options.onRead) {
          this.socket.pause();
          options.onRead(this);
        }
        return;
      }
      this.pendingHead += chunk.toString('latin1');
      const end = this.pendingHead.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = this.pendingHead.slice(0, this.pendingHead.indexOf('\r\n'));
      if (!/^HTTP\/1\.1 101/.test(status)) {
        this.closed = true;
        onOpen(new Error(`upgrade refused: ${status}`));
        this.socket.destroy();
        return;
      }
      this.handshaken = true;
      // latin1 keeps one character per byte: the frames start where the head ends within this chunk.
      const framesFrom = end + 4 - (this.pendingHead.length - chunk.length);
      this.pendingHead = '';
      onOpen();
      if (framesFrom < chunk.length) this.feed(chunk, framesFrom);
    });
    this.socket.on('error', (error) => {
      if (!this.handshaken) onOpen(error);
      this.closed = true;
    });
    this.socket.on('close', () => {
      this.closed = true;
    });
  }

  /**
   * Reads on after `onRead` paused the socket. A paused socket still reads ahead from the kernel into its
   * buffer, a chunk per arrival: that comes out first, all at once (`read()` emits it as one 'data'), so a
   * format of small frames is not taken one frame per resume (it was: 5 frames a second of 20).
   */
  resume(): void {
    if (this.closed) return;
    if (this.socket.readableLength > 0) this.socket.read();
    else this.socket.resume();
  }

  close(): void {
    this.socket.destroy();
    this.closed = true;
  }

  /** Walks frame headers and skips payloads; a header may straddle chunks. */
  private feed(chunk: Buffer, from: number): void {
    let i = from;
    const length = chunk.length;
    while (i < length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, length - i);
        if (this.messageOpcode === 2) this.binaryBytes += take;
        this.remaining -= take;
        i += take;
        continue;
      }
      this.header[this.headerLength++] = chunk[i++]!;
      if (this.headerLength < 2) continue;
      const short = this.header[1]! & 0x7f;
      const masked = (this.header[1]! & 0x80) !== 0;
      const needed = 2 + (short === 126 ? 2 : short === 127 ? 8 : 0) + (masked ? 4 : 0);
      if (this.headerLength < needed) continue;
      let payload = short;
      if (short === 126) payload = (this.header[2]! << 8) | this.header[3]!;
      else if (short === 127) payload = Number(new DataView(this.header.buffer).getBigUint64(2));
      this.opcode = this.header[0]! & 0x0f;
      this.headerLength = 0;
      this.remaining = payload;
      if (this.opcode !== 0) this.messageOpcode = this.opcode;
      const fin = (this.header[0]! & 0x80) !== 0;
      if (this.opcode === 2 || (this.opcode === 0 && this.messageOpcode === 2)) {
        if (this.firstBinaryAt === 0) this.firstBinaryAt = performance.now();
        this.binaryDeclaredBytes += payload;
        if (fin) this.binaryFrames++;
      } else if (this.opcode === 1 || (this.opcode === 0 && this.messageOpcode === 1)) {
        if (fin) this.textFrames++;
      } else if (this.opcode === 8) {
        this.closeCode = payload >= 2 && i + 1 < length ? (chunk[i]! << 8) | chunk[i + 1]! : 1005;
        this.closed = true;
      }
      if (this.opcode >= 8) this.messageOpcode = 0;
    }
  }
}
