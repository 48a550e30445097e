import { describe, expect, it } from 'vitest';
import {
  attemptLogFields,
  clusterLabels,
  parseTaskAttemptLabels,
  pipelineLogArchivePrefix,
  taskContainerLabels,
  taskContainerName,
  taskJobId,
  taskLiveLogKey,
  taskLogArchiveKey,
  type TaskAttemptKey,
} from './task-attempt-key.js';

// Every expected string below is a wire or storage contract: containers and archives of running
// clusters are found by them. A change here breaks adoption, the reaper or reading old logs.
describe('spellings of a task attempt key', () => {
  const clusterId = '0f3c9a1e-5b7d-4c2a-9e8f-1a2b3c4d5e6f';
  const longTask = `t${'_-x'.repeat(21)}`; // 64 characters, the longest task id
  const tests: Array<{
    why: string;
    key: TaskAttemptKey;
    jobId: string;
    containerName: string;
    liveLogKey: string;
    archiveKey: string;
    archivePrefix: string;
  }> = [
    {
      why: 'a first attempt',
      key: { namespaceId: 'default', pipelineId: 'hello', runId: 1, taskId: 'greet', attempt: 1 },
      jobId: 'default.hello.1.greet.1',
      containerName: 'gofer.0f3c9a1e.default.hello.1.greet.1',
      liveLogKey: 'gofer:logs:default:hello:1:greet:1',
      archiveKey: 'logs/default/hello/1/greet.1.log',
      archivePrefix: 'logs/default/hello/',
    },
    {
      why: 'ids with _ and -, a late retry of a late run',
      key: { namespaceId: 'team_a-1', pipelineId: 'build-and_test', runId: 1234, taskId: 'on_failure', attempt: 3 },
      jobId: 'team_a-1.build-and_test.1234.on_failure.3',
      containerName: 'gofer.0f3c9a1e.team_a-1.build-and_test.1234.on_failure.3',
      liveLogKey: 'gofer:logs:team_a-1:build-and_test:1234:on_failure:3',
      archiveKey: 'logs/team_a-1/build-and_test/1234/on_failure.3.log',
      archivePrefix: 'logs/team_a-1/build-and_test/',
    },
    {
      why: 'the longest task id and the largest numbers',
      key: { namespaceId: '007', pipelineId: 'p-0', runId: 2147483647, taskId: longTask, attempt: 2147483647 },
      jobId: `007.p-0.2147483647.${longTask}.2147483647`,
      containerName: `gofer.0f3c9a1e.007.p-0.2147483647.${longTask}.2147483647`,
      liveLogKey: `gofer:logs:007:p-0:2147483647:${longTask}:2147483647`,
      archiveKey: `logs/007/p-0/2147483647/${longTask}.2147483647.log`,
      archivePrefix: 'logs/007/p-0/',
    },
  ];

  it.each(tests)('job id of $why', ({ key, jobId }) => {
    expect(taskJobId(key)).toBe(jobId);
    expect(taskJobId(key)).not.toContain(':'); // BullMQ reserves it
  });

  it.each(tests)('container name of $why', ({ key, containerName }) => {
    expect(taskContainerName(clusterId, key)).toBe(containerName);
  });

  it.each(tests)('live log key of $why, under the Redis prefix', ({ key, liveLogKey }) => {
    expect(taskLiveLogKey('gofer', key)).toBe(liveLogKey);
  });

  it.each(tests)('archive key of $why, under its pipeline prefix', ({ key, archiveKey, archivePrefix }) => {
    expect(taskLogArchiveKey(key)).toBe(archiveKey);
    expect(pipelineLogArchivePrefix(key.namespaceId, key.pipelineId)).toBe(archivePrefix);
    expect(archiveKey.startsWith(archivePrefix)).toBe(true);
  });

  it.each(tests)('labels of $why, read back by parseTaskAttemptLabels', ({ key }) => {
    const labels = taskContainerLabels(clusterId, key);
    expect(labels).toStrictEqual({
      'gofer.cluster': clusterId,
      'gofer.namespace': key.namespaceId,
      'gofer.pipeline': key.pipelineId,
      'gofer.run': String(key.runId),
      'gofer.task': key.taskId,
      'gofer.attempt': String(key.attempt),
    });
    expect(parseTaskAttemptLabels(labels)).toStrictEqual(key);
  });

  it('the live log key takes the Redis prefix as given', () => {
    expect(taskLiveLogKey('gofer-test_1', tests[0].key)).toBe('gofer-test_1:logs:default:hello:1:greet:1');
  });

  it('clusterLabels is the cluster part of a task container\'s labels', () => {
    expect(clusterLabels(clusterId)).toStrictEqual({ 'gofer.cluster': clusterId });
  });

  it('structured log fields', () => {
    expect(attemptLogFields(tests[1].key)).toStrictEqual({
      namespace_id: 'team_a-1', pipeline_id: 'build-and_test', run_id: 1234, task_id: 'on_failure', attempt: 3,
    });
  });
});

describe('parseTaskAttemptLabels', () => {
  const key = { namespaceId: 'default', pipelineId: 'hello', runId: 12, taskId: 'greet', attempt: 2 };
  const labels = taskContainerLabels('cluster-1', key);

  it('reads back what taskContainerLabels wrote', () => {
    expect(parseTaskAttemptLabels(labels)).toEqual(key);
  });

  it('ignores labels outside gofer.* (an image\'s own, a compose project\'s)', () => {
    const more = { ...labels, 'org.opencontainers.image.title': 'busybox', 'com.docker.compose.project': 'gofer' };
    expect(parseTaskAttemptLabels(more)).toEqual(key);
  });

  const tests: Array<{ why: string; labels: Record<string, string | undefined> }> = [
    { why: 'no labels at all', labels: {} },
    { why: 'only the cluster label (another kind of container of the cluster)', labels: { 'gofer.cluster': 'cluster-1' } },
    { why: 'no task', labels: { ...labels, 'gofer.task': undefined } },
    ...Object.keys(labels).map((name) => ({ why: `no ${name}`, labels: { ...labels, [name]: undefined } })),
    { why: 'an empty cluster', labels: { ...labels, 'gofer.cluster': '' } },
    { why: 'a trigger\'s service (gofer.kind)', labels: { ...labels, 'gofer.kind': 'trigger' } },
    { why: 'a task attempt that is also a trigger', labels: { ...labels, 'gofer.trigger': 'cron' } },
    { why: 'an unknown gofer.* label, even empty', labels: { ...labels, 'gofer.extra': '' } },
    { why: 'a run that is not a number', labels: { ...labels, 'gofer.run': 'twelve' } },
    { why: 'run 0', labels: { ...labels, 'gofer.run': '0' } },
    { why: 'attempt 0', labels: { ...labels, 'gofer.attempt': '0' } },
    { why: 'a negative run', labels: { ...labels, 'gofer.run': '-12' } },
    { why: 'a fractional attempt', labels: { ...labels, 'gofer.attempt': '1.5' } },
    { why: 'a negative attempt', labels: { ...labels, 'gofer.attempt': '-1' } },
    { why: 'a run past the int column', labels: { ...labels, 'gofer.run': '2147483648' } },
    { why: 'a huge attempt', labels: { ...labels, 'gofer.attempt': '99999999999999999999' } },
    { why: 'a run with a leading zero (String(n) never writes one)', labels: { ...labels, 'gofer.run': '012' } },
    { why: 'a run with a sign', labels: { ...labels, 'gofer.run': '+12' } },
    { why: 'a run in exponent notation', labels: { ...labels, 'gofer.run': '1e3' } },
    { why: 'a hexadecimal attempt', labels: { ...labels, 'gofer.attempt': '0x2' } },
    { why: 'an attempt with spaces', labels: { ...labels, 'gofer.attempt': ' 2' } },
    { why: 'an attempt with a trailing newline', labels: { ...labels, 'gofer.attempt': '2\n' } },
    { why: 'an empty run', labels: { ...labels, 'gofer.run': '' } },
    { why: 'an id no pipeline can have', labels: { ...labels, 'gofer.pipeline': '../etc' } },
    { why: 'an empty namespace', labels: { ...labels, 'gofer.namespace': '' } },
    { why: 'an upper-case task id', labels: { ...labels, 'gofer.task': 'Greet' } },
    { why: 'a task id with a dot (it would run into the next part of the name)', labels: { ...labels, 'gofer.task': 'gr.eet' } },
    { why: 'a task id with a colon', labels: { ...labels, 'gofer.task': 'gr:eet' } },
    { why: 'a task id of 65 characters', labels: { ...labels, 'gofer.task': 'a'.repeat(65) } },
    { why: 'a task id starting with -', labels: { ...labels, 'gofer.task': '-greet' } },
    { why: 'a namespace with a trailing newline', labels: { ...labels, 'gofer.namespace': 'default\n' } },
  ];
  it.each(tests)('names no attempt for $why', ({ labels: given }) => {
    expect(parseTaskAttemptLabels(given)).toBeUndefined();
  });
});
