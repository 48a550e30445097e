// Summarises a V8 CPU profile (.cpuprofile) of the Gofer process: sampled time by package, and native
// I/O (socket and file writes) by the JavaScript that caused it.
import { readFileSync } from 'node:fs';

function bucket(url) {
  let match = /node_modules\/(@[^/]+\/[^/]+|[^/]+)/.exec(url);
  if (match) return match[1];
  match = /\/(libs|apps)\/([^/]+)/.exec(url);
  if (match) return `gofer ${match[1]}/${match[2]}`;
  if (/\/bench\//.test(url)) return 'bench instruments';
  return url.startsWith('node:') ? 'node core (JS)' : url;
}

const NATIVE_IO = new Set(['writev', 'writeBuffer', 'writeString', 'writeUtf8String', 'open', 'close', 'mkdir', 'rename']);

/** @returns {{ sampledSeconds: number, byPackage: Array<[string, number]>, nativeIoByCaller: Array<[string, number]> }} shares in % */
export function summarizeProfile(file, top = 12) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const selfTime = new Map();
  profile.samples.forEach((id, i) => selfTime.set(id, (selfTime.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...selfTime.values()].reduce((a, b) => a + b, 0);
  const byPackage = new Map();
  const nativeIo = new Map();
  for (const [id, time] of selfTime) {
    const frame = nodes.get(id).callFrame;
    const name = frame.url ? bucket(frame.url) : `(${frame.functionName.replace(/[()]/g, '') || 'native'})`;
    byPackage.set(name, (byPackage.get(name) ?? 0) + time);
    if (!frame.url && NATIVE_IO.has(frame.functionName)) {
      let up = parent.get(id);
      let caller = 'unknown';
      while (up !== undefined) {
        const f = nodes.get(up).callFrame;
        if (f.url && !f.url.startsWith('node:') && !/\/bench\//.test(f.url)) {
          caller = `${bucket(f.url)} ${f.functionName || '(anonymous)'}`;
          break;
        }
        up = parent.get(up);
      }
      const key = `${frame.functionName} ← ${caller}`;
      nativeIo.set(key, (nativeIo.get(key) ?? 0) + time);
    }
  }
  const shares = (map) =>
    [...map].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => [k, Number(((100 * v) / total).toFixed(1))]);
  return { sampledSeconds: total / 1e6, byPackage: shares(byPackage), nativeIoByCaller: shares(nativeIo) };
}
