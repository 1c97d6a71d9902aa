import { createRequire } from 'node:module';

/**
 * What a password-hashing thread (HashingThreads in passwords.ts) runs. It
 * lowers its own scheduling priority first: argon2id is CPU-bound for tens of
 * milliseconds, and on a busy core the event loop that verifies tokens must
 * win (SPEC §9: a flood of logins never starves verification). Niceness 10
 * weighs a hashing thread at about a tenth of the event loop (110 vs 1024 in
 * Linux's scheduler): two busy hashes leave it over 80 % of a shared core,
 * while hashing still gets a tenth against any other busy process. On Linux a
 * thread's id, read from /proc/thread-self, is a valid target for
 * setpriority; elsewhere the thread keeps normal priority and the hasher's
 * queue still bounds it.
 *
 * The source is evaluated (`eval: true`) rather than loaded from a file, so
 * one thread works the same from `src/` under tsx and from the built `dist/`.
 */
export const HASHING_THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { readlinkSync } = require('node:fs');
const { setPriority } = require('node:os');
const argon2 = require(workerData.argon2);
try {
  setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), workerData.niceness);
} catch {}
// A stored hash that cannot be read never logs anyone in: its verification is false, not an error.
function one(request) {
  try {
    return { value: request.op === 'hash'
      ? argon2.hashSync(request.password, workerData.options)
      : argon2.verifySync(request.hash, request.password) };
  } catch (error) {
    return request.op === 'verify' ? { value: false } : { error: String(error && error.message) };
  }
}
parentPort.on('message', ({ id, requests }) => parentPort.postMessage({ id, results: requests.map(one) }));
`;

export const HASHING_NICENESS = 10;

/** Where the thread loads @node-rs/argon2 from: resolved here, since an evaluated thread has no module path of its own. */
export const ARGON2_MODULE = createRequire(import.meta.url).resolve('@node-rs/argon2');

/** One hash or verification a thread is asked for. */
export type HashingJob = { op: 'hash'; password: string } | { op: 'verify'; hash: string; password: string };
/** A batch of jobs, done one after the other and answered in one message, in order. */
export interface HashingRequest {
  id: number;
  requests: HashingJob[];
}
export interface HashingAnswer {
  id: number;
  results: Array<{ value: string | boolean } | { error: string }>;
}
