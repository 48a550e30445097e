// CPU accounting from /proc, to say where a benchmark's CPU time went: the Gofer process, Postgres,
// Redis, Docker (dockerd, containerd, shims, runc), the benchmark driver itself, and everything else.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used so far; undefined once it has ended. */
export function processCpuSeconds(pid) {
  const ticks = processTicks(pid);
  return ticks === undefined ? undefined : ticks / TICKS_PER_SECOND;
}

function processTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat (11 and 12 after the comm).
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined; // the process ended meanwhile
  }
}

function groupOf(pid, goferPid) {
  if (pid === String(goferPid)) return 'gofer';
  if (pid === String(process.pid)) return 'driver';
  let comm;
  try {
    comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
  if (comm === 'postgres') return 'postgres';
  if (comm === 'redis-server') return 'redis';
  if (comm === 'dockerd' || comm.startsWith('containerd') || comm === 'runc' || comm === 'docker-init') return 'docker';
  return undefined;
}

/** CPU ticks per process of interest, and of the whole machine; subtract two with {@link cpuDelta}. */
export function cpuSnapshot(goferPid) {
  const processes = new Map();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const group = groupOf(pid, goferPid);
    if (!group) continue;
    const ticks = processTicks(pid);
    if (ticks !== undefined) processes.set(pid, { group, ticks });
  }
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
  const machineBusy = cpu.reduce((a, b) => a + b, 0) - cpu[3] - cpu[4]; // all but idle and iowait
  return { at: performance.now(), processes, machineBusy };
}

/**
 * CPU seconds each group used between two snapshots, and the wall seconds between them. Processes are
 * matched by pid: one that started meanwhile counts whole, one that ended meanwhile is lost (short-lived
 * Postgres backends of other clients, mostly), and it is then counted under `others`.
 */
export function cpuDelta(before, after) {
  const seconds = { gofer: 0, driver: 0, postgres: 0, redis: 0, docker: 0 };
  for (const [pid, { group, ticks }] of after.processes) {
    const earlier = before.processes.get(pid);
    seconds[group] += (ticks - (earlier && earlier.group === group ? earlier.ticks : 0)) / TICKS_PER_SECOND;
  }
  seconds.machineBusy = (after.machineBusy - before.machineBusy) / TICKS_PER_SECOND;
  // Whatever else ran on the machine meanwhile (other jobs sharing it make every number slower).
  seconds.others = Math.max(0, seconds.machineBusy - seconds.gofer - seconds.driver - seconds.postgres - seconds.redis - seconds.docker);
  return { wallSeconds: (after.at - before.at) / 1000, cpuSeconds: seconds };
}
