// How the UI words and times things. Every state is given a word and a symbol, never colour alone.
import { RunState, RunStatus, TaskRunState, TaskRunStatus, type Run, type TaskRun } from '@gofer/proto/es';

export interface Badge {
  label: string;
  icon: string;
  tone: 'ok' | 'failed' | 'running' | 'cancelled' | 'pending' | 'skipped';
}

export function runBadge(run: Pick<Run, 'state' | 'status'>): Badge {
  if (run.state !== RunState.COMPLETE) {
    return run.state === RunState.RUNNING ? { label: 'running', icon: '▶', tone: 'running' } : { label: 'pending', icon: '…', tone: 'pending' };
  }
  switch (run.status) {
    case RunStatus.SUCCESSFUL:
      return { label: 'successful', icon: '✓', tone: 'ok' };
    case RunStatus.FAILED:
      return { label: 'failed', icon: '✗', tone: 'failed' };
    case RunStatus.CANCELLED:
      return { label: 'cancelled', icon: '⊘', tone: 'cancelled' };
    default:
      return { label: 'unknown', icon: '?', tone: 'pending' };
  }
}

export function taskBadge(task: Pick<TaskRun, 'state' | 'status'> | undefined): Badge {
  if (!task || task.state === TaskRunState.WAITING || task.state === TaskRunState.PROCESSING || task.state === TaskRunState.UNSPECIFIED) {
    return { label: 'waiting', icon: '…', tone: 'pending' };
  }
  if (task.state === TaskRunState.RUNNING) return { label: 'running', icon: '▶', tone: 'running' };
  switch (task.status) {
    case TaskRunStatus.SUCCESSFUL:
      return { label: 'successful', icon: '✓', tone: 'ok' };
    case TaskRunStatus.FAILED:
      return { label: 'failed', icon: '✗', tone: 'failed' };
    case TaskRunStatus.CANCELLED:
      return { label: 'cancelled', icon: '⊘', tone: 'cancelled' };
    case TaskRunStatus.SKIPPED:
      return { label: 'skipped', icon: '↷', tone: 'skipped' };
    default:
      return { label: 'unknown', icon: '?', tone: 'pending' };
  }
}

/** `1.2 s`, `3 m 04 s`, `1 h 02 m`: from `started` to `ended` (or now, while running); '' if not started. */
export function duration(started: bigint, ended: bigint, now = Date.now()): string {
  if (started === 0n) return '';
  const ms = Math.max(0, (ended === 0n ? now : Number(ended)) - Number(started));
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} m ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} m`;
}

export function when(ms: bigint): string {
  return ms === 0n ? '' : new Date(Number(ms)).toLocaleString();
}

/** `512 B`, `1.5 KiB`, `50.0 MiB`: a size in bytes, as people read it. */
export function byteSize(bytes: number | bigint): string {
  const n = Number(bytes);
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}
