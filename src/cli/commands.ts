import { Option, type Command } from 'commander';
import QRCode from 'qrcode';
import { createApp, findLiveApp, type AppPolicy } from '../core/apps.js';
import { issueInstallToken } from '../core/install-tokens.js';
import { createMasterKey } from '../core/master-keys.js';
import type { GrantType, SigningAlg, TokenFormat } from '../core/model.js';
import { createOperatorToken } from '../core/operators.js';
import { MAX_PASSWORD_LENGTH } from '../core/passwords.js';
import { rotateSigningKeys } from '../core/signing.js';
import { createUser, usernameKey } from '../core/users.js';
import { installTokenView } from '../http/dialects/install-token.js';
import { describeUrl, openRuntime, runCommand, type Runtime } from './runtime.js';

/** Every command but `serve` takes the store's URL, and `--json` for scripts. */
function common(command: Command): Command {
  return command
    .option('--database-url <url>', 'the store (default: TOKEND_DATABASE_URL or sqlite:./data/tokend.db)')
    .option('--json', 'print the result as JSON');
}

async function withRuntime(options: { databaseUrl?: string }, body: (runtime: Runtime) => Promise<void>): Promise<void> {
  await runCommand(async () => {
    const runtime = await openRuntime({ overrides: options.databaseUrl === undefined ? {} : { TOKEND_DATABASE_URL: options.databaseUrl }, quiet: true });
    try {
      await body(runtime);
    } finally {
      await runtime.close();
    }
  });
}

/** Prints a result: `name: value` lines for people, or one JSON object with `--json`. */
function print(options: { json?: boolean }, fields: Record<string, unknown>, note?: string): void {
  if (options.json) {
    process.stdout.write(`${JSON.stringify(fields)}\n`);
    return;
  }
  const width = Math.max(...Object.keys(fields).map((k) => k.length));
  for (const [key, value] of Object.entries(fields)) process.stdout.write(`${`${key}:`.padEnd(width + 2)}${Array.isArray(value) ? value.join(' ') : String(value)}\n`);
  if (note !== undefined) process.stderr.write(`${note}\n`);
}

const SHOWN_ONCE = 'Save the secret now: tokend keeps only its hash and cannot show it again.';

const list = (value: string): string[] => value.split(',').map((s) => s.trim()).filter(Boolean);
const seconds = (value: string): number => {
  if (!/^\d+$/.test(value)) throw new Error(`"${value}" is not a whole number of seconds`);
  return Number(value);
};

async function readPasswordFromStdin(): Promise<string> {
  if (process.stdin.isTTY) {
    throw new Error("--password-stdin reads the password from a pipe, e.g. printf '%s' \"$PASSWORD\" | tokend users create --username alice --password-stdin");
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > MAX_PASSWORD_LENGTH * 4 + 2) throw new Error(`the password is longer than ${MAX_PASSWORD_LENGTH} characters`);
    chunks.push(chunk as Buffer);
  }
  // One trailing newline is what `echo` adds, not part of the password.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export function registerCommands(program: Command): void {
  common(program.command('migrate').description('create or upgrade the store schema (serve does this too)')).action(async (options) => {
    await withRuntime(options, async (runtime) => print(options, { store: describeUrl(runtime.config.databaseUrl), status: 'up to date' }));
  });

  const adminToken = program.command('admin-token').description('operator tokens for the admin API');
  common(adminToken.command('create').description('create an operator token (printed once)').option('--name <name>', 'what it is for', 'cli')).action(async (options) => {
    await withRuntime(options, async ({ core }) => {
      const { id, secret } = await createOperatorToken(core, options.name as string);
      print(options, { id, token: secret }, SHOWN_ONCE);
    });
  });

  const apps = program.command('apps').description('OAuth clients and their token policy');
  common(
    apps
      .command('create')
      .description('create an app; prints its client_id and client_secret (once)')
      .requiredOption('--name <name>', 'a name for people')
      .option('--grants <list>', 'comma-separated: password,refresh_token,client_credentials', list)
      .option('--scopes <list>', 'comma-separated scopes the app may grant', list)
      .addOption(new Option('--access-token-format <format>', 'access tokens').choices(['opaque', 'jwt']))
      .addOption(new Option('--service-token-format <format>', 'service tokens').choices(['opaque', 'jwt']))
      .option('--audience <aud>', 'aud of its JWTs (default: the issuer)')
      .option('--access-token-ttl <seconds>', 'default 7200', seconds)
      .option('--refresh-token-ttl <seconds>', 'default 1209600 (14 days)', seconds)
      .option('--service-token-ttl <seconds>', 'default 2592000 (30 days)', seconds)
      .option('--install-token-ttl <seconds>', 'default 3600', seconds)
      .option('--refresh-reuse-grace-seconds <seconds>', 'default 0', seconds)
      .option('--deeplink-template <template>', 'default tokend://auth?token={token}'),
  ).action(async (options) => {
    await withRuntime(options, async ({ core }) => {
      const policy: Partial<AppPolicy> & { name: string } = { name: options.name as string };
      if (options.grants) policy.grants = options.grants as GrantType[];
      if (options.scopes) policy.scopes = options.scopes as string[];
      if (options.accessTokenFormat) policy.accessTokenFormat = options.accessTokenFormat as TokenFormat;
      if (options.serviceTokenFormat) policy.serviceTokenFormat = options.serviceTokenFormat as TokenFormat;
      if (options.audience) policy.audience = options.audience as string;
      if (options.accessTokenTtl !== undefined) policy.accessTokenTtl = options.accessTokenTtl as number;
      if (options.refreshTokenTtl !== undefined) policy.refreshTokenTtl = options.refreshTokenTtl as number;
      if (options.serviceTokenTtl !== undefined) policy.serviceTokenTtl = options.serviceTokenTtl as number;
      if (options.installTokenTtl !== undefined) policy.installTokenTtl = options.installTokenTtl as number;
      if (options.refreshReuseGraceSeconds !== undefined) policy.refreshReuseGraceSeconds = options.refreshReuseGraceSeconds as number;
      if (options.deeplinkTemplate) policy.deeplinkTemplate = options.deeplinkTemplate as string;
      const { app, clientSecret } = await createApp(core, policy, 'operator:cli');
      print(options, { id: app.id, name: app.name, client_id: app.clientId, client_secret: clientSecret }, SHOWN_ONCE);
    });
  });

  const users = program.command('users').description('users who log in with a password');
  common(
    users
      .command('create')
      .description('create a user; the password is read from standard input')
      .requiredOption('--username <username>', 'unique, compared case-insensitively')
      .option('--password-stdin', 'read the password from standard input (required: passwords never go in argv)'),
  ).action(async (options) => {
    await runCommand(async () => {
      if (!options.passwordStdin) throw new Error("give --password-stdin and pipe the password in: printf '%s' \"$PASSWORD\" | tokend users create --username NAME --password-stdin");
      const password = await readPasswordFromStdin();
      await withRuntime(options, async ({ core }) => {
        const user = await createUser(core, { username: options.username as string, password }, 'operator:cli');
        print(options, { id: user.id, username: user.username, user_profile_id: user.userProfileId });
      });
    });
  });

  const masterKeys = program.command('master-keys').description('master keys that partner backends trade for service tokens');
  common(
    masterKeys
      .command('create')
      .description('create a master key for an app (printed once)')
      .requiredOption('--app <client_id>', "the app's client_id (or id)")
      .option('--name <name>', 'what it is for'),
  ).action(async (options) => {
    await withRuntime(options, async ({ core }) => {
      const app = await findLiveApp(core, options.app as string);
      if (app === null) throw new Error(`no app "${options.app as string}"; list them with GET /admin/v1/apps`);
      const { key, secret } = await createMasterKey(core, app.id, (options.name as string | undefined) ?? null, 'operator:cli');
      print(options, { id: key.id, app: app.clientId, key: secret, created_at: new Date(key.createdAt).toISOString() }, SHOWN_ONCE);
    });
  });

  common(
    program
      .command('install-token')
      .description('make an install token for one device install (SPEC §5.3); prints it, its deep link and a QR code of the link')
      .requiredOption('--app <client_id>', "the app's client_id (or id)")
      .requiredOption('--install-id <id>', 'the device install it is bound to')
      .option('--user <username>', 'the user it acts for (default: the app alone, no user)'),
  ).action(async (options) => {
    await withRuntime(options, async ({ core }) => {
      const app = await findLiveApp(core, options.app as string);
      if (app === null) throw new Error(`no app "${options.app as string}"; list them with GET /admin/v1/apps`);
      let userId: number | null = null;
      if (options.user !== undefined) {
        const user = await core.store.findUserByUsernameKey(usernameKey(options.user as string));
        if (user === null) throw new Error(`no user "${options.user as string}"`);
        if (user.disabled) throw new Error(`the user "${user.username}" is disabled`);
        userId = user.id;
      }
      const { minted, deeplink } = await issueInstallToken(core, {
        app,
        installId: options.installId as string,
        userId,
        parentId: null,
        scopes: [...app.scopes],
        actor: 'operator:cli',
        ip: null,
      });
      const view = installTokenView(minted, deeplink);
      if (options.json) return print(options, { ...view });
      // A QR code holds about 3 KB; an app with a longer deep link still gets its token and link.
      const qr = await QRCode.toString(deeplink, { type: 'terminal', small: true }).catch(() => null);
      print(options, { ...view }, qr === null ? `${SHOWN_ONCE}\nThe deep link is too long for a QR code.` : SHOWN_ONCE);
      if (qr !== null) process.stdout.write(`\nScan to open the app:\n${qr}`);
    });
  });

  const keys = program.command('keys').description('JWT signing keys');
  common(
    keys
      .command('rotate')
      .description('promote the pre-published next key; the old key stays in the JWKS until its tokens expire')
      .addOption(new Option('--alg <alg>', 'algorithm of the new key').choices(['ES256', 'RS256', 'EdDSA'])),
  ).action(async (options) => {
    await withRuntime(options, async ({ core }) => {
      const rotated = await rotateSigningKeys(core, options.alg as SigningAlg | undefined, 'operator:cli');
      print(options, { kid: rotated.kid, alg: rotated.alg, note: 'nodes already running pick the new key up on their next key reload; restart them to switch at once' });
    });
  });
}
