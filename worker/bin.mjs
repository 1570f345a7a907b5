#!/usr/bin/env -S node --max-semi-space-size=8
// The shebang's flag is NODE_RELAY_FLAGS (runtime/node-flags.ts); `node worker/bin.mjs` needs it given (start:node does).
// Starts the relay on Node, running its TypeScript through tsx.
import { register } from 'tsx/esm/api';

register();
const { runNodeRelay } = await import('./runtime/node.ts');
await runNodeRelay();
