/** Cartesia's voice list (REST `GET /voices`, paged by cursor), fetched on first use and kept for a while. */
import { z } from 'zod';
import type { Voice } from '../../../shared/api.ts';
import { RelayError } from '../../../shared/errors.ts';
import { getCartesiaJSON, type RestOptions } from './sdk.ts';

/** Voices change when someone clones or shares one; ten minutes keeps a list fresh without a call per request. */
const VOICES_TTL_MS = 10 * 60_000;
/** Cartesia's largest page. */
const PAGE_SIZE = 100;
/** A bound on the walk: the public library plus an account's own voices fit well within it. */
const MAX_PAGES = 20;

const pageSchema = z.object({
  data: z.array(z.object({ id: z.string(), name: z.string(), language: z.string().optional().default('') }).loose()),
  has_more: z.boolean().optional().default(false),
});

export class CartesiaVoices {
  private cached: { at: number; voices: Promise<Voice[]> } | null = null;

  constructor(
    private readonly baseUrl: string,
    private readonly rest: RestOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** The voices this key can use; a failed fetch is not kept, so the next call asks again. */
  list(): Promise<Voice[]> {
    if (this.cached && this.now() - this.cached.at < VOICES_TTL_MS) return this.cached.voices;
    const voices = this.fetchAll();
    const entry = { at: this.now(), voices };
    this.cached = entry;
    voices.catch(() => {
      if (this.cached === entry) this.cached = null;
    });
    return voices;
  }

  private async fetchAll(): Promise<Voice[]> {
    const voices: Voice[] = [];
    let after: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const url = new URL('/voices', this.baseUrl);
      url.searchParams.set('limit', String(PAGE_SIZE));
      if (after) url.searchParams.set('starting_after', after);
      const { data, has_more } = await this.fetchPage(url);
      voices.push(...data.map(({ id, name, language }) => ({ id, name, language })));
      after = data.at(-1)?.id;
      if (!has_more || !after) break;
    }
    return voices;
  }

  private async fetchPage(url: URL): Promise<z.infer<typeof pageSchema>> {
    let answer: { status: number; body: unknown };
    try {
      answer = await getCartesiaJSON(url, this.rest);
    } catch (cause) {
      throw new RelayError('upstream_unavailable', `Cartesia's voice list could not be fetched: ${(cause as Error).message}.`, { cause });
    }
    if (answer.status === 429) throw new RelayError('upstream_rate_limited', "Cartesia refused the voice list request (429).");
    if (answer.status !== 200) throw new RelayError('upstream_error', `Cartesia answered ${answer.status} for its voice list.`);
    const page = pageSchema.safeParse(answer.body);
    if (!page.success) throw new RelayError('upstream_error', "Cartesia's voice list was not in the expected form.");
    return page.data;
  }
}
