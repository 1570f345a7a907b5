#!/usr/bin/env node
// Starts the relay on Node, running its TypeScript through tsx.
import { register } from 'tsx/esm/api';

register();
const { runNodeRelay } = await import('./runtime/node.ts');
await runNodeRelay();
