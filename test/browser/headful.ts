/**
 * Headful Chromium for the tests that need its real audio output (PulseAudio): a private Xvfb display it draws on,
 * and a launch whose audio goes wherever the given environment (PULSE_SERVER, PULSE_SINK) points.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM_PATH } from './browser.ts';

const STOP_GRACE_MS = 2000;
const START_TIMEOUT_MS = 15_000;

export interface Xvfb {
  /** `:N`, for DISPLAY. */
  display: string;
  close(): Promise<void>;
}

/** Starts Xvfb on a display number it picks itself (-displayfd), so parallel tests never collide. */
export function startXvfb(): Promise<Xvfb> {
  const child: ChildProcess = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1024x768x24', '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const close = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    let number = '';
    const timer = setTimeout(() => {
      void close();
      reject(new Error(`Xvfb did not start within ${START_TIMEOUT_MS} ms: ${stderr}`));
    }, START_TIMEOUT_MS);
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (chunk: Buffer) => {
      number += chunk.toString();
      if (!number.includes('\n')) return;
      clearTimeout(timer);
      resolve({ display: `:${number.trim()}`, close });
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`Xvfb exited: ${stderr}`));
    });
  });
}

/**
 * Chromium with a window on `display` and sound on PulseAudio as `audioEnv` says. No --mute-audio; autoplay needs no
 * gesture (the tests press Play anyway).
 */
export function launchHeadfulChromium(display: string, audioEnv: Record<string, string>): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: false,
    // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--no-first-run', '--disable-gpu'],
    env: { ...process.env, ...audioEnv, DISPLAY: display } as Record<string, string>,
  });
}
