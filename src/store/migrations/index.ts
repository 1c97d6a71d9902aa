import type { Migration } from 'kysely';
import * as initial from './0001_initial.js';
import * as partialTokenIndexes from './0002_partial_token_indexes.js';
import * as tokenListIndexes from './0003_token_list_indexes.js';

/** Every migration, in order. Listed statically so the build carries them and no directory is scanned at run time. */
export const migrations: Record<string, Migration> = {
  '0001_initial': initial,
  '0002_partial_token_indexes': partialTokenIndexes,
  '0003_token_list_indexes': tokenListIndexes,
};
