/** The Node relay's V8 flags reach every way it is started: npm run start:node, the bin's shebang and README. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NODE_RELAY_FLAGS } from '../../worker/runtime/node-flags.ts';
import { ROOT } from './relay-process.ts';

const read = (path: string) => readFileSync(`${ROOT}${path}`, 'utf8');

describe('the Node relay flags', () => {
  it('are passed by start:node', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    expect(scripts['start:node']).toBe(`node ${NODE_RELAY_FLAGS.join(' ')} worker/bin.mjs`);
  });

  it("are in the bin's shebang", () => {
    expect(read('worker/bin.mjs').split('\n')[0]).toBe(`#!/usr/bin/env -S node ${NODE_RELAY_FLAGS.join(' ')}`);
  });

  it('are in the command README gives', () => {
    expect(read('README.md')).toContain(`node ${NODE_RELAY_FLAGS.join(' ')} worker/bin.mjs`);
  });

  it('are ones V8 knows', () => {
    for (const flag of NODE_RELAY_FLAGS) expect(process.allowedNodeEnvironmentFlags.has(flag.split('=')[0]!)).toBe(true);
  });
});
