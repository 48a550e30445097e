import { describe, expect, it } from 'vitest';
import {
  notificationContainerLabels,
  notificationContainerName,
  notificationJobId,
  parseNotificationContainerLabels,
  parseTriggerContainerLabels,
  triggerContainerLabels,
  triggerContainerName,
  type NotificationKey,
} from './extension-keys.js';
import { parseTaskAttemptLabels, taskContainerLabels } from './task-attempt-key.js';

// Every expected string below is a wire contract: a new leader adopts trigger containers, and workers
// notification containers, by these names; the reaper tells them from task containers by these labels.
const clusterId = '0f3c9a1e-5b7d-4c2a-9e8f-1a2b3c4d5e6f';

describe('spellings of a trigger container', () => {
  const tests: Array<{ why: string; trigger: string; generation: number; name: string }> = [
    { why: 'a built-in trigger, first install', trigger: 'cron', generation: 1, name: 'gofer.0f3c9a1e.trigger.cron' },
    { why: 'a custom trigger with _ and -, reinstalled', trigger: 'my_hook-2', generation: 17, name: 'gofer.0f3c9a1e.trigger.my_hook-2' },
    { why: 'the longest trigger name and the largest generation', trigger: `t${'x'.repeat(31)}`, generation: 2147483647, name: `gofer.0f3c9a1e.trigger.t${'x'.repeat(31)}` },
  ];

  it.each(tests)('container name of $why', ({ trigger, name }) => {
    expect(triggerContainerName(clusterId, trigger)).toBe(name);
  });

  it.each(tests)('labels of $why, read back by parseTriggerContainerLabels', ({ trigger, generation }) => {
    const labels = triggerContainerLabels(clusterId, trigger, generation);
    expect(labels).toStrictEqual({
      'gofer.cluster': clusterId,
      'gofer.trigger': trigger,
      'gofer.trigger.generation': String(generation),
    });
    expect(parseTriggerContainerLabels(labels)).toStrictEqual({ trigger, generation });
  });

  // The reaper removes what parseTaskAttemptLabels names: a trigger's container must never be one,
  // neither with the labels Gofer gives it nor with those the scheduler adds (the Docker one records
  // the service's port in gofer.service.port).
  it.each(tests)('the reaper cannot take the container of $why for a task attempt\'s', ({ trigger, generation }) => {
    const labels = triggerContainerLabels(clusterId, trigger, generation);
    expect(parseTaskAttemptLabels(labels)).toBeUndefined();
    expect(parseTaskAttemptLabels({ ...labels, 'gofer.service.port': '41599' })).toBeUndefined();
  });

  const notTriggers: Array<{ why: string; labels: Record<string, string | undefined> }> = [
    { why: 'no labels at all', labels: {} },
    { why: 'only the cluster label', labels: { 'gofer.cluster': clusterId } },
    { why: 'a task attempt\'s labels', labels: taskContainerLabels(clusterId, { namespaceId: 'default', pipelineId: 'hello', runId: 1, taskId: 'greet', attempt: 1 }) },
    { why: 'no generation', labels: { ...triggerContainerLabels(clusterId, 'cron', 1), 'gofer.trigger.generation': undefined } },
    { why: 'generation 0', labels: { ...triggerContainerLabels(clusterId, 'cron', 1), 'gofer.trigger.generation': '0' } },
    { why: 'a generation with a leading zero', labels: { ...triggerContainerLabels(clusterId, 'cron', 1), 'gofer.trigger.generation': '01' } },
    { why: 'an empty trigger name', labels: { ...triggerContainerLabels(clusterId, 'cron', 1), 'gofer.trigger': '' } },
    { why: 'an upper-case trigger name', labels: { ...triggerContainerLabels(clusterId, 'cron', 1), 'gofer.trigger': 'Cron' } },
    { why: 'a trigger name of 33 characters', labels: { ...triggerContainerLabels(clusterId, 'cron', 1), 'gofer.trigger': 'a'.repeat(33) } },
  ];
  it.each(notTriggers)('names no trigger for $why', ({ labels }) => {
    expect(parseTriggerContainerLabels(labels)).toBeUndefined();
  });
});

describe('spellings of a notification', () => {
  const tests: Array<{ why: string; key: NotificationKey; jobId: string; name: string }> = [
    {
      why: 'a first run',
      key: { namespaceId: 'default', pipelineId: 'hello', runId: 1, label: 'console' },
      jobId: 'default.hello.1~console',
      name: 'gofer.0f3c9a1e.default.hello.1.notify.console',
    },
    {
      why: 'ids with _ and -, a late run',
      key: { namespaceId: 'team_a-1', pipelineId: 'build-and_test', runId: 2147483647, label: 'slack_ops-2' },
      jobId: 'team_a-1.build-and_test.2147483647~slack_ops-2',
      name: 'gofer.0f3c9a1e.team_a-1.build-and_test.2147483647.notify.slack_ops-2',
    },
  ];

  it.each(tests)('job id of $why', ({ key, jobId }) => {
    expect(notificationJobId(key)).toBe(jobId);
    expect(notificationJobId(key)).not.toContain(':'); // BullMQ reserves it
  });

  it.each(tests)('container name of $why', ({ key, name }) => {
    expect(notificationContainerName(clusterId, key)).toBe(name);
  });

  it.each(tests)('labels of $why, read back by parseNotificationContainerLabels', ({ key }) => {
    const labels = notificationContainerLabels(clusterId, key);
    expect(labels).toStrictEqual({
      'gofer.cluster': clusterId,
      'gofer.namespace': key.namespaceId,
      'gofer.pipeline': key.pipelineId,
      'gofer.run': String(key.runId),
      'gofer.notifier': key.label,
    });
    expect(parseNotificationContainerLabels(labels)).toStrictEqual(key);
    // Neither a task attempt's nor a trigger's.
    expect(parseTaskAttemptLabels(labels)).toBeUndefined();
    expect(parseTriggerContainerLabels(labels)).toBeUndefined();
  });

  it('a task attempt\'s labels name no notification', () => {
    const labels = taskContainerLabels(clusterId, { namespaceId: 'default', pipelineId: 'hello', runId: 1, taskId: 'greet', attempt: 1 });
    expect(parseNotificationContainerLabels(labels)).toBeUndefined();
  });
});
