/** Ids the relay hands out (`utt_…`, `lst_…`, `pub_…`): a prefix naming the kind, then 20 random hex digits. */
export function newId(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replace(/-/g, '').slice(0, 20)}`;
}
