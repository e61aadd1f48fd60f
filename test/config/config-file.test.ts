import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatConfig } from '../../src/config/derive.ts';
import { configFromText, parseToml } from '../../src/config/file.ts';
import { DEFAULT_CONFIG, validateConfig } from '../../src/config/config.ts';
import { ErrorCode, HoldfastError } from '../../src/core/errors.ts';
import { createPrng } from '../helpers/prng.ts';

function configErr(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof HoldfastError, `not a HoldfastError: ${e}`);
    assert.equal(e.code, ErrorCode.config);
    return e.message;
  }
  assert.fail('no error');
}

describe('parseToml', () => {
  it('reads tables, strings, numbers, booleans, arrays and comments', () => {
    const doc = parseToml(
      [
        '# a comment',
        'top = "a # not a comment" # a comment',
        "lit = 'C:\\dir'",
        '[t]',
        'n = 1_000',
        'f = -0.25',
        'b = true',
        'list = ["x", "y",]',
        'empty = []',
        '[t.sub]',
        'e = "tab\\there"',
      ].join('\n'),
    );
    assert.deepEqual(doc, { top: 'a # not a comment', lit: 'C:\\dir', t: { n: 1000, f: -0.25, b: true, list: ['x', 'y'], empty: [], sub: { e: 'tab\there' } } });
  });

  for (const [text, words] of [
    ['x = ', /^config: f.toml line 1: invalid value$/],
    ['x = bare', /line 1: invalid value \(strings need quotes: "bare"\)/],
    ['[t]\nx = 1\nx = 2', /line 3: .*already defined/],
    ['[t]\n[t]', /line 2: .*already defined/],
    ['x = "open', /line 1: unfinished string/],
    ['x = [1, 2', /line 1: expected comma/],
    ['just words', /line 1: illegal character in key/],
    ['x = 1 2', /line 1: .*end-of-line/],
  ] as const) {
    it(`rejects ${JSON.stringify(text)} naming the line`, () => {
      assert.match(configErr(() => parseToml(text, 'f.toml')), words);
    });
  }
});

describe('configFromText', () => {
  it('#13 - takes a [__proto__] table for an unknown key, never for Object.prototype', () => {
    assert.match(configErr(() => configFromText('[__proto__]\ntoken = "x"', 'x')), /^config: __proto__ is an unknown key/);
    assert.match(configErr(() => configFromText('[http]\n__proto__ = 1', 'x')), /^config: http.__proto__ is an unknown key/);
    assert.equal(({} as Record<string, unknown>).token, undefined);
  });

  it('reads back what formatConfig writes, for the defaults and for a changed configuration', () => {
    assert.deepEqual(configFromText(formatConfig(DEFAULT_CONFIG), 'x'), DEFAULT_CONFIG);
    const changed = {
      ...DEFAULT_CONFIG,
      listen: [{ address: '::1', port: 53 }],
      upstreams: ['udp://9.9.9.9'],
      cache: { ...DEFAULT_CONFIG.cache, file: '/tmp/c "q".bin', maxBytes: 1 << 20 },
      http: { ...DEFAULT_CONFIG.http, listen: { address: '0.0.0.0', port: 8080 }, token: 'abc', allowedHosts: ['router.lan'] },
    };
    assert.deepEqual(configFromText(formatConfig(changed), 'x'), changed);
  });

  it('takes sizes as "8M" and keeps unset keys at their defaults', () => {
    const c = validateConfig(configFromText('[cache]\nmaxBytes = "16M"\n[prefetch]\nbytesPerHour = "1G"', 'x'));
    assert.equal(c.cache.maxBytes, 16 * 1024 * 1024);
    assert.equal(c.prefetch.bytesPerHour, 1024 ** 3);
    assert.equal(c.cache.maxEntries, DEFAULT_CONFIG.cache.maxEntries);
    assert.deepEqual(c.listen, DEFAULT_CONFIG.listen);
  });

  it('#4 - reads [encryptedUpstream] proxy as a string, unset when left out, and refuses another type', () => {
    assert.equal(validateConfig(configFromText('[encryptedUpstream]\nproxy = "http://192.0.2.8:3128"', 'x')).encryptedUpstream.proxy, 'http://192.0.2.8:3128');
    assert.equal(configFromText('', 'x').encryptedUpstream.proxy, null);
    assert.match(configErr(() => configFromText('[encryptedUpstream]\nproxy = 3128', 'x')), /^config: encryptedUpstream.proxy must be a string \(got 3128\); leave it out for none/);
    const withProxy = { ...DEFAULT_CONFIG, encryptedUpstream: { ...DEFAULT_CONFIG.encryptedUpstream, proxy: 'http://u:p@[::1]:3128' } };
    assert.deepEqual(configFromText(formatConfig(withProxy), 'x'), withProxy);
  });

  it('reads http.listen given as a port alone as loopback', () => {
    assert.deepEqual(configFromText('[http]\nlisten = "8053"', 'x').http.listen, { address: '127.0.0.1', port: 8053 });
  });

  it('names an unknown key and suggests the nearest', () => {
    assert.equal(configErr(() => configFromText('[cache]\nmaxEntrys = 5', 'x')), 'config: cache.maxEntrys is an unknown key (did you mean cache.maxEntries?)');
    assert.match(configErr(() => configFromText('[upstrem]\ntotalTimeoutMs = 5', 'x')), /upstrem is an unknown key \(did you mean upstream\?\)/);
    assert.match(configErr(() => configFromText('zzzzzz = 1', 'x')), /zzzzzz is an unknown key \(known: listen, upstreams, cache/);
  });

  it('names a wrong type with the key path', () => {
    assert.match(configErr(() => configFromText('upstreams = "udp://1.1.1.1"', 'x')), /^config: upstreams must be a list of strings/);
    assert.match(configErr(() => configFromText('[cache]\nmaxEntries = "many"', 'x')), /^config: cache.maxEntries must be a number \(got "many"\)/);
    assert.match(configErr(() => configFromText('[access]\nallow = ["ok", 3]', 'x')), /^config: access.allow\[1\] must be a string/);
    assert.match(configErr(() => configFromText('cache = 3', 'x')), /^config: cache must be a table/);
    assert.match(configErr(() => configFromText('listen = ["localhost"]', 'x')), /^config: listen\[0\] "localhost" is not ADDR:PORT/);
  });

  it('leaves ranges to validateConfig, which names the key', () => {
    assert.match(configErr(() => validateConfig(configFromText('[upstream]\nmaxAttempts = 99', 'x'))), /^config: upstream.maxAttempts must be a whole number from 1 to 20/);
  });
});

describe('config fuzz', () => {
  // Every key path with its default, to mutate.
  const paths: Array<[string, unknown]> = [];
  for (const [k, v] of Object.entries(DEFAULT_CONFIG)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) for (const [k2, v2] of Object.entries(v)) paths.push([`${k}.${k2}`, v2]);
    else paths.push([k, v]);
  }
  const wrongValues = ['"text"', '-5', '1.5', 'true', '["a"]', '[1, 2]', '99999999999999', '""', '0', '"8Q"'];

  it('gives a config HoldfastError naming a key for 2000 random wrong keys, types and values (seeded)', () => {
    const prng = createPrng(20240605);
    const random = prng.next;
    const pick = prng.pick;
    let errors = 0;
    for (let i = 0; i < 2000; i++) {
      const [path] = pick(paths);
      const [table, key] = path.includes('.') ? path.split('.') : [null, path];
      let k = key;
      const mode = Math.floor(random() * 3);
      if (mode === 0) {
        // A typo: a letter dropped, doubled or changed.
        const at = Math.floor(random() * k.length);
        k = [k.slice(0, at) + k.slice(at + 1), k.slice(0, at) + k[at] + k.slice(at), k.slice(0, at) + 'q' + k.slice(at + 1)][Math.floor(random() * 3)];
        if (k === key) k += 'x';
      }
      const value = mode === 0 ? '1' : pick(wrongValues);
      const text = table ? `[${table}]\n${k} = ${value}\n` : `${k} = ${value}\n`;
      let c;
      try {
        c = validateConfig(configFromText(text, 'fuzz.toml'));
      } catch (e) {
        assert.ok(e instanceof HoldfastError, `${JSON.stringify(text)}: ${e}`);
        assert.equal(e.code, ErrorCode.config);
        // The message names the key (or its table, for an unknown key at the top).
        assert.ok(e.message.includes(table ? `${table}.${k}` : k) || e.message.includes(path), `${JSON.stringify(text)}: ${e.message}`);
        errors++;
        continue;
      }
      // Accepted: then the value was valid for that key, and was really taken.
      assert.notEqual(mode, 0, `typo accepted: ${text}`);
      assert.ok(c);
    }
    assert.ok(errors > 1500, `only ${errors} errors`);
  });
});
