/**
 * Largest status message the API sends, counted as sent: grpc-js percent-encodes it into the
 * `grpc-message` header, and common clients refuse response headers over 8 KiB in all (grpcio:
 * "received initial metadata size exceeds limit"), so a longer message would hide the status itself.
 */
export const MAX_STATUS_MESSAGE_BYTES = 4096;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
// A list that ends by counting what it left out itself, as config validation does
// ("(root): 120 more errors not shown; …"): that count is added to the problems left out here.
const COUNTED_REST = /^(?:\(root\): )?(\d+) more errors not shown\b/;

/** Bytes a text takes in the `grpc-message` header (grpc-js sends `encodeURI(message)`). */
function sentBytes(text: string): number {
  return encodeURI(text).length;
}

/**
 * A status message fit to send: lone UTF-16 surrogates become U+FFFD (`encodeURI` throws on them),
 * and a message over `maxBytes` as sent keeps its first lines (one problem each, for INVALID_ARGUMENT)
 * while they fit, then ends with a line saying what was left out:
 * `… and 37 more problems (5120 bytes left out)`. A first line too long by itself is cut short.
 */
export function boundedStatusMessage(message: string, maxBytes = MAX_STATUS_MESSAGE_BYTES): string {
  const text = message.replace(LONE_SURROGATE, '\uFFFD');
  if (sentBytes(text) <= maxBytes) return text;

  const lines = text.split('\n');
  const totalBytes = Buffer.byteLength(text);
  const countedRest = Number(COUNTED_REST.exec(lines.at(-1)!)?.[1] ?? 0);
  const summary = (linesLeft: number, keptBytes: number) => {
    const problems = countedRest > 0 && linesLeft > 0 ? linesLeft - 1 + countedRest : linesLeft;
    const left = `(${totalBytes - keptBytes} bytes left out)`;
    return problems === 0 ? `… ${left}` : `… and ${problems} more problem${problems === 1 ? '' : 's'} ${left}`;
  };
  // Room for the summary line, with its numbers at their largest.
  const budget = maxBytes - sentBytes(`\n${summary(lines.length, 0)}`);

  let kept = 0;
  let used = 0;
  while (kept < lines.length) {
    const cost = sentBytes(lines[kept]!) + (kept > 0 ? sentBytes('\n') : 0);
    if (used + cost > budget) break;
    used += cost;
    kept++;
  }
  if (kept > 0) {
    const shown = lines.slice(0, kept).join('\n');
    return `${shown}\n${summary(lines.length - kept, Buffer.byteLength(shown))}`;
  }
  // Not even the first line fits: as much of it as does, whole characters only.
  let cut = '';
  let cutBytes = sentBytes('…');
  for (const character of lines[0]!) {
    cutBytes += sentBytes(character);
    if (cutBytes > budget) break;
    cut += character;
  }
  return `${cut}…\n${summary(lines.length - 1, Buffer.byteLength(cut))}`;
}
