// CPU accounting from /proc, to say where a benchmark's CPU time went: the Gofer process, Postgres,
// Redis, dockerd (and containerd), and the benchmark driver itself.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function processTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime, stime, cutime, cstime are fields 14–17 of stat (11–14 after the comm).
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0; // the process ended meanwhile
  }
}

function commOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** CPU ticks by group now; subtract two snapshots with {@link cpuDelta}. */
export function cpuSnapshot(goferPid) {
  const groups = { gofer: 0, driver: processTicks(process.pid), postgres: 0, redis: 0, docker: 0 };
  groups.gofer = processTicks(goferPid);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const comm = commOf(entry);
    if (comm === 'postgres') groups.postgres += processTicks(entry);
    else if (comm === 'redis-server') groups.redis += processTicks(entry);
    else if (comm === 'dockerd' || comm.startsWith('containerd') || comm === 'runc' || comm === 'docker-init') groups.docker += processTicks(entry);
  }
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
  groups.machineBusy = cpu.reduce((a, b) => a + b, 0) - cpu[3] - cpu[4]; // all but idle and iowait
  return { at: performance.now(), groups };
}

/** CPU seconds each group used between two snapshots, and the wall seconds between them. */
export function cpuDelta(before, after) {
  const seconds = {};
  for (const [name, ticks] of Object.entries(after.groups)) seconds[name] = (ticks - before.groups[name]) / TICKS_PER_SECOND;
  // Whatever else ran on the machine meanwhile (other jobs sharing it make every number slower).
  seconds.others = Math.max(0, seconds.machineBusy - seconds.gofer - seconds.driver - seconds.postgres - seconds.redis - seconds.docker);
  return { wallSeconds: (after.at - before.at) / 1000, cpuSeconds: seconds };
}
