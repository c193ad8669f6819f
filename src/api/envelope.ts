/** Mage's success envelopes (mage-api.md §1.5). */
export function listEnvelope<T>(key: string, items: T[], metadata: Record<string, unknown> = {}) {
  return { [key]: items, metadata };
}

export function itemEnvelope<T>(key: string, item: T) {
  return { [key]: item, metadata: null };
}
