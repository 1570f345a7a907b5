/** What every measurement gets from the bench: the mode, a log, the time budget and the relay settings. */

export type BenchMode = 'full' | 'smoke';

export interface BenchContext {
  mode: BenchMode;
  log(line: string): void;
  /** True once the run is past its time budget: ramps stop early rather than overrun. */
  outOfTime(): boolean;
  /** Admin key every relay child is started with. */
  adminKey: string;
  /** Environment every relay child gets on top of its source's. */
  relayEnv: Record<string, string>;
  /** The relay's release lead, mirrored by the baseline broadcaster. */
  playoutLeadMs: number;
  /** --profile: where measures that profile the relay write their .cpuprofile files. */
  profileDir?: string;
}

export const BENCH_ADMIN_KEY = 'bench-admin-key-0123456789abcdef';
export const PLAYOUT_LEAD_MS = 1500;

export function createContext(mode: BenchMode, budgetMs: number, log: (line: string) => void): BenchContext {
  const deadline = performance.now() + budgetMs;
  return {
    mode,
    log,
    outOfTime: () => performance.now() > deadline,
    adminKey: BENCH_ADMIN_KEY,
    relayEnv: {
      LOG_LEVEL: 'error',
      RELAY_PLAYOUT_LEAD_MS: String(PLAYOUT_LEAD_MS),
      RELAY_MAX_LISTENERS_PER_STREAM: '1000000',
      RELAY_MAX_STREAMS: '1000000',
      RELAY_MAX_QUEUE: '1000',
      // Every bench listener comes from 127.0.0.1: lift the per-address and total connection caps.
      RELAY_MAX_CONNECTIONS: '1000000',
      RELAY_MAX_CONNECTIONS_PER_IP: '1000000',
    },
    playoutLeadMs: PLAYOUT_LEAD_MS,
  };
}
