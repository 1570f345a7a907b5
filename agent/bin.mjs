#!/usr/bin/env node
// Launcher for `tts-agent`: Node needs tsx to load the TypeScript sources; Bun runs them natively.
if (!process.versions.bun) {
  const { register } = await import('tsx/esm/api');
  register();
}
const { run } = await import('./cli.ts');
await run();
