/** `tts-agent` for runtimes that run TypeScript themselves: `bun agent/main.ts`, `deno run agent/main.ts`, and `bun build --compile`. */
import { run } from './cli.ts';

await run();
