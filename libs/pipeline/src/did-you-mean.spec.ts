import { describe, expect, it } from 'vitest';
import { closestMatch } from './did-you-mean.js';

const taskFields = ['id', 'description', 'image', 'command', 'depends_on', 'registry_auth', 'inject_api_token', 'cpu'];

describe('closestMatch', () => {
  it.each([
    ['imag', 'image'],
    ['iamge', 'image'],
    ['comand', 'command'],
    ['dependsOn', 'depends_on'],
    ['depends-on', 'depends_on'],
    ['registryAuth', 'registry_auth'],
    ['inject_api_tokens', 'inject_api_token'],
    ['descripton', 'description'],
  ])('%s → %s', (word, match) => {
    expect(closestMatch(word, taskFields)).toBe(match);
  });

  it.each([['gpu'], ['d'], ['colour'], ['environment']])('no guess for %s', (word) => {
    expect(closestMatch(word, taskFields)).toBeUndefined();
  });

  it('prefers the closest candidate, then the first listed', () => {
    expect(closestMatch('buidl', ['guild', 'build'])).toBe('build');
    expect(closestMatch('abcdx', ['abcde', 'abcdf'])).toBe('abcde');
  });
});
