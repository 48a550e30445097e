import { describe, expect, it } from 'vitest';
import { redactUrl } from './redact-url.js';

describe('redactUrl', () => {
  const tests: Array<[string, string]> = [
    ['postgres://gofer:hunter2@db:5432/gofer', 'postgres://gofer:***@db:5432/gofer'],
    ['redis://:s3cret@127.0.0.1:6379', 'redis://:***@127.0.0.1:6379'],
    ['postgres://db/gofer?user=gofer&password=hunter2', 'postgres://db/gofer?user=gofer&password=***'],
    ['postgres://gofer@db/gofer', 'postgres://gofer@db/gofer'],
    ['not a url', 'not a url'],
    // Mistyped URLs are the ones an error message shows: they are redacted too.
    ['redis://:hunter2@127.0.0.1:port', 'redis://:***@127.0.0.1:port'],
    ['postgres://gofer:hunter2@db:port/x?password=hunter2', 'postgres://gofer:***@db:port/x?password=***'],
  ];
  it.each(tests)('%s -> %s', (url, shown) => expect(decodeURIComponent(redactUrl(url))).toBe(shown));
});
