import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ConfigError, SETTINGS, loadConfig, resolveIssuer, type Config } from '../../src/config.js';

const ADMIN = 'a'.repeat(32);
const ROOT = join(import.meta.dirname, '../..');

/** The ConfigError `loadConfig` throws for these variables. */
function configError(env: Record<string, string>, overrides: Record<string, string> = {}): ConfigError {
  try {
    loadConfig(env, overrides);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected ${JSON.stringify(env)} to be refused`);
}

/** SPEC §3: one line that names the variable and why. */
function assertOneLineNaming(error: ConfigError, variable: string): void {
  assert.equal(error.variable, variable);
  assert.ok(error.message.startsWith(`${variable} `), error.message);
  assert.doesNotMatch(error.message, /[\x00-\x1f]/);
  assert.ok(error.message.length > variable.length + 1);
}

describe('loadConfig defaults', () => {
  test('an empty environment gives the defaults of SPEC §3', () => {
    const config = loadConfig({});
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 8080);
    assert.equal(config.databaseUrl, 'sqlite:./data/tokend.db');
    assert.equal(config.env, 'production');
    assert.equal(config.logLevel, 'info');
    assert.equal(config.redisUrl, null);
    assert.equal(config.issuer, null);
    assert.equal(config.adminToken, null);
  });

  test('hash concurrency defaults to the cores the process may run on', () => {
    // Pinned to one core (as taskset or a cpuset does), one hash at a time.
    const script = "import('./src/config.ts').then((m) => process.stdout.write(String(m.loadConfig({}).hashConcurrency)))";
    const pinned = execFileSync('taskset', ['-c', '0', process.execPath, '--import', 'tsx', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(pinned, '1');
    assert.equal(loadConfig({}).hashConcurrency, Math.min(availableParallelism(), 4));
    assert.equal(loadConfig({ TOKEND_HASH_CONCURRENCY: '3' }).hashConcurrency, 3);
  });

  test('an empty variable counts as unset', () => {
    const config = loadConfig({ TOKEND_PORT: '', TOKEND_ADMIN_TOKEN: '', TOKEND_REDIS_URL: '', TOKEND_ISSUER: '' });
    assert.equal(config.port, 8080);
    assert.equal(config.adminToken, null);
    assert.equal(config.redisUrl, null);
    assert.equal(config.issuer, null);
  });

  test('every SPEC §3 variable is a setting with a serve flag', () => {
    const names = SETTINGS.map((s) => s.env);
    for (const variable of ['TOKEND_HOST', 'TOKEND_PORT', 'TOKEND_DATABASE_URL', 'TOKEND_REDIS_URL', 'TOKEND_ISSUER', 'TOKEND_ENV', 'TOKEND_ADMIN_TOKEN', 'TOKEND_LOG_LEVEL']) {
      assert.ok(names.includes(variable as (typeof names)[number]), variable);
    }
    for (const setting of SETTINGS) assert.equal(setting.flag, setting.env.replace(/^TOKEND_/, '').toLowerCase().replace(/_/g, '-'));
  });
});

describe('loadConfig values', () => {
  test('reads every variable from the environment', () => {
    const config = loadConfig({
      TOKEND_HOST: '0.0.0.0',
      TOKEND_PORT: '0',
      TOKEND_DATABASE_URL: 'postgres://tokend:pw@db:5432/tokend',
      TOKEND_REDIS_URL: 'rediss://cache:6380',
      TOKEND_ISSUER: 'https://auth.example.com',
      TOKEND_ENV: 'development',
      TOKEND_ADMIN_TOKEN: ADMIN,
      TOKEND_LOG_LEVEL: 'silent',
      TOKEND_TRUST_PROXY: ' 10.0.0.1, ,10.0.0.2 ',
    });
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.port, 0);
    assert.equal(config.databaseUrl, 'postgres://tokend:pw@db:5432/tokend');
    assert.equal(config.redisUrl, 'rediss://cache:6380');
    assert.equal(config.issuer, 'https://auth.example.com');
    assert.equal(config.env, 'development');
    assert.equal(config.adminToken, ADMIN);
    assert.equal(config.logLevel, 'silent');
    assert.deepEqual(config.trustProxy, ['10.0.0.1', '10.0.0.2']);
  });

  test('accepts sqlite paths, in-memory sqlite and both postgres schemes', () => {
    for (const url of ['sqlite:/var/lib/tokend.db', 'sqlite::memory:', 'postgres://h/db', 'postgresql://u:p@h:5432/db']) {
      assert.equal(loadConfig({ TOKEND_DATABASE_URL: url }).databaseUrl, url);
    }
  });

  test('flags win over the environment', () => {
    const env = { TOKEND_PORT: '1000', TOKEND_HOST: '10.0.0.1', TOKEND_LOG_LEVEL: 'debug', TOKEND_ENV: 'development' };
    const config = loadConfig(env, { TOKEND_PORT: '2000', TOKEND_HOST: '::1', TOKEND_LOG_LEVEL: 'warn' });
    assert.equal(config.port, 2000);
    assert.equal(config.host, '::1');
    assert.equal(config.logLevel, 'warn');
    assert.equal(config.env, 'development');
  });

  test('a bad flag is refused even when the environment is good', () => {
    assertOneLineNaming(configError({ TOKEND_PORT: '8080' }, { TOKEND_PORT: 'abc' }), 'TOKEND_PORT');
  });

  test('the configured issuer loses its trailing slashes', () => {
    assert.equal(loadConfig({ TOKEND_ISSUER: 'https://auth.example.com/' }).issuer, 'https://auth.example.com');
    assert.equal(loadConfig({ TOKEND_ISSUER: 'https://example.com/auth//' }).issuer, 'https://example.com/auth');
  });

  test('the result is frozen, nested parts included', () => {
    const config = loadConfig({ TOKEND_TRUST_PROXY: '10.0.0.1' });
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.loginLimits));
    assert.ok(Object.isFrozen(config.trustProxy));
    assert.throws(() => {
      (config as { port: number }).port = 1;
    }, TypeError);
    assert.throws(() => {
      (config.trustProxy as string[]).push('0.0.0.0');
    }, TypeError);
    assert.equal(config.port, 8080);
  });

  test('does not read process.env behind the caller’s back', () => {
    const saved = process.env.TOKEND_PORT;
    process.env.TOKEND_PORT = '1234';
    try {
      assert.equal(loadConfig({}).port, 8080);
    } finally {
      if (saved === undefined) delete process.env.TOKEND_PORT;
      else process.env.TOKEND_PORT = saved;
    }
  });
});

describe('loadConfig refuses bad values with one line naming the variable', () => {
  const cases: [string, string][] = [
    ['TOKEND_PORT', 'abc'],
    ['TOKEND_PORT', '70000'],
    ['TOKEND_PORT', '-1'],
    ['TOKEND_PORT', '80.5'],
    ['TOKEND_ENV', 'staging'],
    ['TOKEND_ADMIN_TOKEN', 'x'.repeat(10)],
    ['TOKEND_ADMIN_TOKEN', 'x'.repeat(31)],
    ['TOKEND_DATABASE_URL', 'mysql://x'],
    ['TOKEND_DATABASE_URL', 'sqlite:'],
    ['TOKEND_DATABASE_URL', './tokend.db'],
    ['TOKEND_REDIS_URL', 'http://x'],
    ['TOKEND_REDIS_URL', 'localhost:6379'],
    ['TOKEND_LOG_LEVEL', 'loud'],
    ['TOKEND_ISSUER', 'not a url'],
    ['TOKEND_ISSUER', 'ftp://auth.example.com'],
    ['TOKEND_LOGIN_LIMIT_USER', '0'],
    ['TOKEND_HASH_CONCURRENCY', 'many'],
  ];
  for (const [variable, value] of cases) {
    test(`${variable}=${value}`, () => {
      assertOneLineNaming(configError({ [variable]: value }), variable);
    });
  }

  test('the port message says what is allowed', () => {
    assert.match(configError({ TOKEND_PORT: '70000' }).message, /0 to 65535/);
  });

  test('a short admin token is never echoed back', () => {
    const token = 'sekrit-0123';
    assert.ok(!configError({ TOKEND_ADMIN_TOKEN: token }).message.includes(token));
  });

  test('a malformed database or Redis URL does not echo its password', () => {
    const db = configError({ TOKEND_DATABASE_URL: 'postgres://tokend:hunter2/x@db:5432/tokend' });
    assertOneLineNaming(db, 'TOKEND_DATABASE_URL');
    assert.ok(!db.message.includes('hunter2'), db.message);
    const redis = configError({ TOKEND_REDIS_URL: 'redis://:hunter2/x@cache:6379' });
    assertOneLineNaming(redis, 'TOKEND_REDIS_URL');
    assert.ok(!redis.message.includes('hunter2'), redis.message);
  });

  test('any value either loads or is refused in one line naming its variable', () => {
    const variables = ['TOKEND_PORT', 'TOKEND_ENV', 'TOKEND_LOG_LEVEL', 'TOKEND_ISSUER', 'TOKEND_REDIS_URL', 'TOKEND_DATABASE_URL', 'TOKEND_LOGIN_WINDOW'] as const;
    const value = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: fc.constantFrom('a', '1', ':', '/', '\n', '\r', ' ', '"', 'http://', 'postgres:'), maxLength: 12 }));
    fc.assert(
      fc.property(fc.constantFrom(...variables), value, (variable, raw) => {
        try {
          loadConfig({ [variable]: raw });
        } catch (error) {
          assert.ok(error instanceof ConfigError, String(error));
          assertOneLineNaming(error, variable);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('resolveIssuer', () => {
  const withHost = (host: string, issuer?: string): Config => loadConfig({ TOKEND_HOST: host, ...(issuer !== undefined && { TOKEND_ISSUER: issuer }) });

  test('is http://HOST:PORT with the port actually bound', () => {
    assert.equal(resolveIssuer(withHost('127.0.0.1'), 41234), 'http://127.0.0.1:41234');
    assert.equal(resolveIssuer(withHost('localhost'), 8080), 'http://localhost:8080');
  });

  test('brackets an IPv6 host', () => {
    assert.equal(resolveIssuer(withHost('::1'), 8080), 'http://[::1]:8080');
    assert.equal(resolveIssuer(withHost('fe80::1'), 9000), 'http://[fe80::1]:9000');
  });

  test('is the configured issuer, without a trailing slash, whatever the port', () => {
    assert.equal(resolveIssuer(withHost('::1', 'https://auth.example.com/'), 8080), 'https://auth.example.com');
    assert.equal(resolveIssuer(withHost('127.0.0.1', 'https://auth.example.com'), 0), 'https://auth.example.com');
  });
});
