import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../..');
export const TOKEND_MAIN = join(ROOT, 'src/cli/main.ts');
/** The built server, as `npm start` runs it (the benchmarks measure this one; `npm run build` makes it). */
export const TOKEND_BUILT_MAIN = join(ROOT, 'dist/cli/main.js');

export interface Running {
  child: ChildProcess;
  /** Where it listens, as it printed it. */
  url: string;
  /** Everything it printed so far. */
  output(): string;
}

/**
 * Runs a server script (tokend's CLI by default: `serve --port 0`) in a
 * process of its own and resolves once it prints `listening on http://…`.
 * `cpu` pins it with taskset (the benchmark keeps servers off the load
 * generator's core).
 */
export function startServer(options: { env?: Record<string, string>; args?: string[]; cpu?: string } = {}): Promise<Running> {
  const script = options.args ?? [TOKEND_MAIN, 'serve', '--port', '0'];
  // TypeScript sources run through tsx; a built script runs as Node runs it in production.
  const args = script[0]?.endsWith('.js') ? script : ['--import', 'tsx', ...script];
  const [command, argv] = options.cpu === undefined ? [process.execPath, args] : ['taskset', ['-c', options.cpu, process.execPath, ...args]];
  const child = spawn(command, argv, { cwd: ROOT, env: { ...process.env, ...options.env } });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start in 30 s:\n${output}`)), 30_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        resolve({ child, url: match[1]!, output: () => output });
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited with ${code}:\n${output}`));
    });
  });
}

/** The exit code of a child process (null if a signal ended it), now or when it exits. */
export const exited = (child: ChildProcess): Promise<number | null> =>
  new Promise((resolve) =>
    child.exitCode !== null || child.signalCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code)),
  );
