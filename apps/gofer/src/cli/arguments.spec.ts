import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseExpiry, parseMetadata, parseNamespaces, parseObjectKey } from './arguments.js';

describe('parseExpiry (--expires)', () => {
  const ok: Array<[string, number]> = [
    ['45s', 45],
    ['90m', 5_400],
    ['12h', 43_200],
    ['30d', 2_592_000],
    ['2w', 1_209_600],
    ['1d12h', 129_600],
    ['1h30m15s', 5_415],
    [' 30D ', 2_592_000],
    ['never', 0],
    ['0', 0],
  ];
  it.each(ok)('%s -> %i seconds', (arg, seconds) => expect(parseExpiry(arg)).toBe(seconds));

  const bad: Array<[string, RegExp]> = [
    ['30', /expected a lifetime like 30d/],
    ['d', /expected a lifetime/],
    ['1.5d', /expected a lifetime/],
    ['-1d', /expected a lifetime/],
    ['1y', /expected a lifetime/],
    ['0d', /longer than 0s/],
    ['99999999999999999999d', /too long/],
  ];
  it.each(bad)('rejects %s as a usage error', (arg, message) => {
    expect(() => parseExpiry(arg)).toThrow(InvalidArgumentError);
    expect(() => parseExpiry(arg)).toThrow(message);
  });
});

describe('parseMetadata (--metadata KEY=VALUE)', () => {
  it('adds to the labels so far without mutating them; values keep "=" and may be empty', () => {
    const previous = { owner: 'ci' };
    expect(parseMetadata('purpose=deploy=prod', previous)).toEqual({ owner: 'ci', purpose: 'deploy=prod' });
    expect(previous).toEqual({ owner: 'ci' });
    expect(parseMetadata('empty=')).toEqual({ empty: '' });
    expect(parseMetadata('owner=me', previous)).toEqual({ owner: 'me' });
  });

  it('rejects a label without "=" or without a name', () => {
    expect(() => parseMetadata('owner')).toThrow(/expected KEY=VALUE/);
    expect(() => parseMetadata('=x')).toThrow(/label name before "=" is empty/);
  });
});

describe('parseNamespaces', () => {
  const ok: Array<[string, string[]]> = [
    ['team-a', ['team-a']],
    ['team-a,team-b', ['team-a', 'team-b']],
    ['team-a, team-b ,', ['team-a', 'team-b']],
    ['a-1,/re-.*/', ['a-1', '/re-.*/']],
    ['/team-.*/,default', ['/team-.*/', 'default']],
    ['/a{1,3}x/,b-2', ['/a{1,3}x/', 'b-2']],
    ['/a\\/b/', ['/a\\/b/']],
    ['team-a,team-a', ['team-a']],
  ];
  it.each(ok)('%s -> %j', (arg, list) => expect(parseNamespaces(arg)).toEqual(list));

  const bad: Array<[string, RegExp]> = [
    ['', /name at least one namespace/],
    [',', /name at least one namespace/],
    ['Team', /"Team" is not a namespace id/],
    ['ab', /"ab" is not a namespace id/],
    ['/open', /has no closing "\/"/],
    ['/a/b', /expected a comma after \/a\//],
    ['/(/', /not a valid regular expression/],
  ];
  it.each(bad)('rejects %j as a usage error', (arg, message) => {
    expect(() => parseNamespaces(arg)).toThrow(InvalidArgumentError);
    expect(() => parseNamespaces(arg)).toThrow(message);
  });
});

describe('parseObjectKey', () => {
  it.each(['report.tar.gz', 'a', 'A_b-c.1', 'x'.repeat(256)])('accepts %s', (key) => expect(parseObjectKey(key)).toBe(key));
  it.each(['', '.', '..', 'a/b', 'with space', 'x'.repeat(257), 'é'])('rejects %j', (key) => {
    expect(() => parseObjectKey(key)).toThrow(InvalidArgumentError);
  });
});
