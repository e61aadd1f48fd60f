import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CONFIG, validateConfig, type ServerConfig } from '../../src/config/config.ts';
import { ErrorCode, isHoldfastError } from '../../src/core/errors.ts';

function rejects(c: ServerConfig, key: string): void {
  assert.throws(
    () => validateConfig(c),
    (e: unknown) => isHoldfastError(e, ErrorCode.config) && e.message.startsWith(`config: ${key} `),
    `expected ${key} to be named`,
  );
}

const withCache = (cache: Partial<ServerConfig['cache']>): ServerConfig => ({ ...DEFAULT_CONFIG, cache: { ...DEFAULT_CONFIG.cache, ...cache } });
const withUpstream = (u: Partial<ServerConfig['upstream']>): ServerConfig => ({ ...DEFAULT_CONFIG, upstream: { ...DEFAULT_CONFIG.upstream, ...u } });
const withAccess = (a: Partial<ServerConfig['access']>): ServerConfig => ({ ...DEFAULT_CONFIG, access: { ...DEFAULT_CONFIG.access, ...a } });
const withLimits = (r: Partial<ServerConfig['rateLimit']>): ServerConfig => ({ ...DEFAULT_CONFIG, rateLimit: { ...DEFAULT_CONFIG.rateLimit, ...r } });
const withTcp = (t: Partial<ServerConfig['tcp']>): ServerConfig => ({ ...DEFAULT_CONFIG, tcp: { ...DEFAULT_CONFIG.tcp, ...t } });

const withEncrypted = (e: Partial<ServerConfig['encryptedUpstream']>): ServerConfig => ({ ...DEFAULT_CONFIG, encryptedUpstream: { ...DEFAULT_CONFIG.encryptedUpstream, ...e } });

describe('validateConfig', () => {
  it('names the encryptedUpstream key at fault', () => {
    rejects(withEncrypted({ caFile: ' ' }), 'encryptedUpstream.caFile');
    rejects(withEncrypted({ paddingBlockBytes: 513 }), 'encryptedUpstream.paddingBlockBytes');
    rejects(withEncrypted({ idleTimeoutMs: 0 }), 'encryptedUpstream.idleTimeoutMs');
    rejects(withEncrypted({ connectTimeoutMs: 10 }), 'encryptedUpstream.connectTimeoutMs');
    rejects(withEncrypted({ silentConnectionMs: 1.5 }), 'encryptedUpstream.silentConnectionMs');
    rejects(withEncrypted({ httpConnections: 0 }), 'encryptedUpstream.httpConnections');
    assert.doesNotThrow(() => validateConfig(withEncrypted({ paddingBlockBytes: 0, caFile: '/etc/ssl/ca.pem' })));
  });

  it('names the relayUpstream key at fault', () => {
    const withRelay = (r: Partial<ServerConfig['relayUpstream']>): ServerConfig => ({ ...DEFAULT_CONFIG, relayUpstream: { ...DEFAULT_CONFIG.relayUpstream, ...r } });
    rejects(withRelay({ token: 'has space' }), 'relayUpstream.token');
    rejects(withRelay({ batchWindowMs: -1 }), 'relayUpstream.batchWindowMs');
    rejects(withRelay({ infoCheck: 'maybe' as 'warn' }), 'relayUpstream.infoCheck');
    rejects(withRelay({ maxItems: 0 }), 'relayUpstream.maxItems');
    // A request must hold at least one item of the largest size allowed.
    rejects(withRelay({ perItemMaxWireBytes: 4096, maxRequestBytes: 4096 }), 'relayUpstream.maxRequestBytes');
    rejects(withRelay({ maxResponseBytes: 100 }), 'relayUpstream.maxResponseBytes');
    assert.doesNotThrow(() => validateConfig(withRelay({ token: 's3cret', batchWindowMs: 0, infoCheck: 'off', maxItems: 8 })));
  });

  it('#4 - names encryptedUpstream.proxy and the problem when the proxy URL cannot be used', () => {
    for (const [proxy, why] of [
      ['127.0.0.1:3128', /must be http:\/\/\[USER:PASS@\]HOST\[:PORT\]/],
      ['https://127.0.0.1:3128', /https:\/\/ proxies are not supported/],
      ['http://127.0.0.1:99999', /port "99999"/],
      ['', /must be http:\/\//],
    ] as const) {
      assert.throws(
        () => validateConfig(withEncrypted({ proxy })),
        (e: unknown) => isHoldfastError(e, ErrorCode.config) && e.message.startsWith('config: encryptedUpstream.proxy ') && why.test(e.message),
        proxy,
      );
    }
    assert.equal(DEFAULT_CONFIG.encryptedUpstream.proxy, null);
    assert.doesNotThrow(() => validateConfig(withEncrypted({ proxy: 'http://user:pw@proxy.lan:3128' })));
  });

  it('accepts the defaults and returns the same object', () => {
    assert.equal(validateConfig(DEFAULT_CONFIG), DEFAULT_CONFIG);
  });

  it('needs at least one listen address with a port in range', () => {
    rejects({ ...DEFAULT_CONFIG, listen: [] }, 'listen');
    rejects({ ...DEFAULT_CONFIG, listen: [{ address: '::1', port: 53 }, { address: '127.0.0.1', port: 65536 }] }, 'listen[1].port');
    assert.doesNotThrow(() => validateConfig({ ...DEFAULT_CONFIG, listen: [{ address: '127.0.0.1', port: 0 }] }));
  });

  it('names the http key at fault: a port out of range, an empty address, a token nobody can send', () => {
    const withHttp = (h: Partial<ServerConfig['http']>): ServerConfig => ({ ...DEFAULT_CONFIG, http: { ...DEFAULT_CONFIG.http, ...h } });
    rejects(withHttp({ listen: { address: '127.0.0.1', port: 70_000 } }), 'http.listen.port');
    rejects(withHttp({ listen: { address: '', port: 9153 } }), 'http.listen');
    rejects(withHttp({ token: '' }), 'http.token');
    rejects(withHttp({ token: 'has space' }), 'http.token');
    rejects(withHttp({ token: 'line\nfeed' }), 'http.token');
    assert.doesNotThrow(() => validateConfig(withHttp({ listen: { address: '::1', port: 0 }, token: 'A-b_c.d~e+f/g=' })));
    assert.equal(DEFAULT_CONFIG.http.listen, null, 'off unless asked for');
  });

  it('#10 - listens by default on loopback, on a port no common router or Pi service holds', () => {
    // mDNS (avahi, umdns), LLMNR (systemd-resolved), https-dns-proxy, stubby, unbound in
    // Pi-hole's guide, SmartDNS, Technitium's console, and DNS itself.
    const taken = [53, 5353, 5355, 5053, 5054, 5453, 5335, 6053, 5380];
    assert.deepEqual(DEFAULT_CONFIG.listen, [
      { address: '127.0.0.1', port: 5333 },
      { address: '::1', port: 5333 },
    ]);
    for (const l of DEFAULT_CONFIG.listen) assert.ok(!taken.includes(l.port), `${l.port} is taken on common routers`);
  });

  it('names queryLog.maxEntries when it is negative, fractional or too large', () => {
    for (const maxEntries of [-1, 1.5, 1_000_001]) rejects({ ...DEFAULT_CONFIG, queryLog: { ...DEFAULT_CONFIG.queryLog, maxEntries } }, 'queryLog.maxEntries');
    assert.equal(DEFAULT_CONFIG.queryLog.maxEntries, 0, 'off unless asked for');
  });

  it('names the queryLog file keys when they are out of range', () => {
    const q = DEFAULT_CONFIG.queryLog;
    rejects({ ...DEFAULT_CONFIG, queryLog: { ...q, file: '' } }, 'queryLog.file');
    for (const maxFileBytes of [0, 1023, 1.5]) rejects({ ...DEFAULT_CONFIG, queryLog: { ...q, maxFileBytes } }, 'queryLog.maxFileBytes');
    for (const rotatedFiles of [0, 101]) rejects({ ...DEFAULT_CONFIG, queryLog: { ...q, rotatedFiles } }, 'queryLog.rotatedFiles');
    assert.equal(q.file, null, 'no file unless asked for, to spare flash');
    assert.doesNotThrow(() => validateConfig({ ...DEFAULT_CONFIG, queryLog: { ...q, file: '/tmp/q.log', maxFileBytes: 1024, rotatedFiles: 1 } }));
  });

  it('names the cache key at fault', () => {
    rejects(withCache({ maxEntries: 0 }), 'cache.maxEntries');
    rejects(withCache({ maxEntries: 1.5 }), 'cache.maxEntries');
    rejects(withCache({ maxBytes: 65_535 }), 'cache.maxBytes');
    rejects(withCache({ maxBytes: 1024 ** 4 + 1 }), 'cache.maxBytes');
    rejects(withCache({ maxBytes: 1e6 + 0.5 }), 'cache.maxBytes');
    rejects(withCache({ maxBytes: Number.NaN }), 'cache.maxBytes');
    rejects(withCache({ minTtlSeconds: -1 }), 'cache.minTtlSeconds');
    rejects(withCache({ maxTtlSeconds: 0 }), 'cache.maxTtlSeconds');
    rejects(withCache({ minTtlSeconds: 600, maxTtlSeconds: 300 }), 'cache.minTtlSeconds');
    rejects(withCache({ negativeMaxTtlSeconds: 86_401 }), 'cache.negativeMaxTtlSeconds');
    rejects(withCache({ servfailTtlSeconds: 301 }), 'cache.servfailTtlSeconds');
  });

  it('#12 - names the --no-stale and --max-stale keys at fault', () => {
    const item = (c: ServerConfig, key: string) => assert.throws(() => validateConfig(c), (e: unknown) => isHoldfastError(e, ErrorCode.config) && e.message.startsWith(`config: ${key}[`));
    item(withCache({ noStale: ['not a name'] }), 'cache.noStale');
    item(withCache({ maxStale: ['example.com'] }), 'cache.maxStale');
    item(withCache({ maxStale: ['example.com=soon'] }), 'cache.maxStale');
    rejects(withCache({ maxStale: ['example.com=3600', 'example.net=999999'], staleIfErrorSeconds: 86_400 }), 'cache.maxStale');
    assert.doesNotThrow(() => validateConfig(withCache({ noStale: ['dyn.example'], maxStale: ['example.com=3600', 'lb.example.net=0'] })));
  });

  it('names the cache snapshot key at fault', () => {
    rejects(withCache({ file: '' }), 'cache.file');
    rejects(withCache({ file: 'a\0b' }), 'cache.file');
    rejects(withCache({ snapshotIntervalSeconds: 0 }), 'cache.snapshotIntervalSeconds');
    rejects(withCache({ snapshotIntervalSeconds: 2.5 }), 'cache.snapshotIntervalSeconds');
    rejects(withCache({ snapshotMinChanges: 0 }), 'cache.snapshotMinChanges');
    assert.doesNotThrow(() => validateConfig(withCache({ file: '/var/lib/holdfast/cache.snap', snapshotIntervalSeconds: 1, snapshotMinChanges: 1 })));
    assert.equal(DEFAULT_CONFIG.cache.file, null, 'memory only unless asked');
  });

  it('names the upstream and tcp keys at fault', () => {
    rejects(withUpstream({ rtoMinMs: 0 }), 'upstream.rtoMinMs');
    rejects(withUpstream({ rtoMinMs: 500, rtoMaxMs: 400 }), 'upstream.rtoMinMs');
    rejects(withUpstream({ rtoInitialMs: 3_000 }), 'upstream.rtoInitialMs');
    rejects(withUpstream({ retryRatio: -0.1 }), 'upstream.retryRatio');
    rejects(withUpstream({ retryRatio: Number.NaN }), 'upstream.retryRatio');
    rejects(withUpstream({ breakerFailures: 0 }), 'upstream.breakerFailures');
    rejects(withUpstream({ breakerCooldownMs: 5_000, breakerMaxCooldownMs: 1_000 }), 'upstream.breakerMaxCooldownMs');
    rejects(withUpstream({ maxInFlight: 0 }), 'upstream.maxInFlight');
    rejects(withUpstream({ maxInFlightPerUpstream: 0 }), 'upstream.maxInFlightPerUpstream');
    rejects(withUpstream({ totalTimeoutMs: Number.NaN }), 'upstream.totalTimeoutMs');
    rejects(withUpstream({ maxAttempts: 0 }), 'upstream.maxAttempts');
    rejects(withTcp({ idleTimeoutMs: 99 }), 'tcp.idleTimeoutMs');
    rejects(withTcp({ maxConnections: 0 }), 'tcp.maxConnections');
    rejects(withTcp({ maxInFlightPerConnection: 10_001 }), 'tcp.maxInFlightPerConnection');
  });

  it('names the access and rateLimit keys at fault', () => {
    rejects(withAccess({ allow: [] }), 'access.allow');
    rejects(withAccess({ deny: ['10.0.0.0/8', ''] }), 'access.deny[1]');
    rejects(withAccess({ refuseAction: 'ignore' as 'drop' }), 'access.refuseAction');
    rejects(withAccess({ localRefreshSeconds: 0 }), 'access.localRefreshSeconds');
    rejects(withAccess({ localRefreshSeconds: 1.5 }), 'access.localRefreshSeconds');
    rejects(withLimits({ perClientQps: -1 }), 'rateLimit.perClientQps');
    rejects(withLimits({ perClientBurst: 0 }), 'rateLimit.perClientBurst');
    rejects(withLimits({ ipv4PrefixBits: 33 }), 'rateLimit.ipv4PrefixBits');
    rejects(withLimits({ ipv6PrefixBits: 129 }), 'rateLimit.ipv6PrefixBits');
    rejects(withLimits({ globalQps: 0.5 }), 'rateLimit.globalQps');
    rejects(withLimits({ globalBurst: 0 }), 'rateLimit.globalBurst');
    rejects(withLimits({ action: 'slip' as 'drop' }), 'rateLimit.action');
    rejects(withLimits({ exempt: [7 as unknown as string] }), 'rateLimit.exempt[0]');
    rejects(withLimits({ maxTrackedClients: 15 }), 'rateLimit.maxTrackedClients');
    rejects(withLimits({ tcpConnectionsPerClient: -1 }), 'rateLimit.tcpConnectionsPerClient');
  });

  it('accepts the edges of every range', () => {
    assert.doesNotThrow(() => validateConfig(withCache({ maxEntries: 1, minTtlSeconds: 0, maxTtlSeconds: 604_800, servfailTtlSeconds: 0 })));
    assert.doesNotThrow(() => validateConfig(withUpstream({ rtoMinMs: 1, rtoInitialMs: 1, totalTimeoutMs: 120_000, maxAttempts: 20, retryRatio: 0 })));
    assert.doesNotThrow(() => validateConfig(withCache({ maxBytes: 65_536 })));
    assert.doesNotThrow(() => validateConfig(withCache({ maxBytes: 1024 ** 4 })));
  });
});
