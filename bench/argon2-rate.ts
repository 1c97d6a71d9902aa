/**
 * The raw argon2id rate the password grant is judged against: verifications
 * per second with tokend's parameters and its default hashing concurrency
 * (one per core the process may run on), in a process the benchmark pins to
 * the server's core, and the process's CPU time per hash (every thread).
 * Prints one line: `argon2id <n> hashes/s, <c> at once, <u> CPU µs/hash`.
 *
 *   node --import tsx bench/argon2-rate.ts [seconds] [concurrency]
 */
import { hash, verify } from '@node-rs/argon2';
import { loadConfig } from '../src/config.js';
import { ARGON2ID } from '../src/core/passwords.js';

const seconds = Number(process.argv[2] ?? 5);
const concurrency = Number(process.argv[3] ?? loadConfig({}).hashConcurrency);
const stored = await hash('bench-password', ARGON2ID);
let done = 0;
const until = performance.now() + seconds * 1000;
const worker = async (): Promise<void> => {
  while (performance.now() < until) {
    await verify(stored, 'bench-password');
    done += 1;
  }
};
const started = performance.now();
const cpu = process.cpuUsage();
await Promise.all(Array.from({ length: concurrency }, worker));
const { user, system } = process.cpuUsage(cpu);
process.stdout.write(`argon2id ${(done / ((performance.now() - started) / 1000)).toFixed(1)} hashes/s, ${concurrency} at once, ${Math.round((user + system) / done)} CPU µs/hash\n`);
