import { describe, expect, it } from 'vitest';
import { formatConfigIssues, formatConfigPath } from './config-issue.js';

describe('formatConfigPath', () => {
  it.each([
    [[], '(root)'],
    [['id'], 'id'],
    [['tasks', 3, 'depends_on', 'build'], 'tasks[3].depends_on.build'],
    [['tasks', 0, 'variables', 'MY VAR'], 'tasks[0].variables["MY VAR"]'],
    [['tasks', 0, 'variables', 'a.b'], 'tasks[0].variables["a.b"]'],
    [['tasks', 0, 'command', 1], 'tasks[0].command[1]'],
    [['has "quotes"'], '["has \\"quotes\\""]'],
  ] as const)('%j → %s', (path, text) => {
    expect(formatConfigPath(path)).toBe(text);
  });
});

describe('formatConfigIssues', () => {
  it('renders one issue per line as path: message', () => {
    const text = formatConfigIssues([
      { path: 'tasks[0].image', message: 'required' },
      { path: 'tasks', message: 'cycle a -> b -> a' },
    ]);
    expect(text).toBe('tasks[0].image: required\ntasks: cycle a -> b -> a');
  });
});
