const UNIT_BYTES = {
  '': 1,
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
} as const;
type Unit = keyof typeof UNIT_BYTES;

const QUANTITY = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|K|M|G|T)?$/;

/**
 * Parses a memory size the way Kubernetes writes quantities: plain bytes (`268435456`, as a number
 * or a string), binary units `Ki` `Mi` `Gi` `Ti` (`256Mi`, `1.5Gi`) or decimal units `k`/`K` `M` `G`
 * `T` (`512M`). Docker's lower-case `m`/`g` are rejected rather than guessed at: in Kubernetes `m`
 * means thousandths, so `512m` is ambiguous.
 *
 * @returns whole bytes (fractions of a unit rounded down), or `undefined` when the value is not a memory size.
 */
export function parseMemorySize(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string' || value.length > 32) return undefined;
  const match = QUANTITY.exec(value);
  // Fractions need a unit: "1.5Gi" is a size, "1.5" bytes is a mistake.
  if (match === null || (match[2] === undefined && match[1]!.includes('.'))) return undefined;
  const bytes = Math.floor(Number(match[1]) * UNIT_BYTES[(match[2] ?? '') as Unit]);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** Formats bytes with the largest binary unit that divides them exactly: `268435456` → `256Mi`. */
export function formatMemorySize(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`cannot format ${bytes} as a memory size`);
  for (const unit of ['Ti', 'Gi', 'Mi', 'Ki'] as const) {
    const size = UNIT_BYTES[unit];
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}
