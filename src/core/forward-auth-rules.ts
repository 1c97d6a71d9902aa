import type { TokenKind } from './tokens.js';

/** Kinds a rule may admit: a refresh token never authorizes a request (RFC 6749 §1.5). */
export const RULE_KINDS = ['access', 'api', 'service', 'install'] as const;
export type RuleKind = (typeof RULE_KINDS)[number] & TokenKind;

/** One route rule of forward-auth: which requests it covers and which tokens it admits. */
export interface ForwardAuthRule {
  /** An exact path (`/api/assets`), or a prefix ending in `/*` (`/api/data/*` covers `/api/data` and below). */
  readonly path: string;
  /** Upper-case methods; empty covers every method. */
  readonly methods: readonly string[];
  readonly kinds: readonly RuleKind[];
  /** Every one of these scopes must be granted to the token. */
  readonly scopes: readonly string[];
  /** SPEC §5.3: an install token may come as the `token` query parameter (with `installid`). */
  readonly installTokensInQuery: boolean;
}

const DEFAULT_KINDS: readonly RuleKind[] = ['access', 'api', 'service'];

/** With no rules file: any path, any method, any access, API or service token, header only. */
export const DEFAULT_FORWARD_AUTH_RULES: readonly ForwardAuthRule[] = Object.freeze([
  Object.freeze({ path: '/*', methods: [], kinds: DEFAULT_KINDS, scopes: [], installTokensInQuery: false }),
]);

/** Why a rules document is not valid, as one line (the caller names the variable). */
export class RulesError extends Error {}

const strings = (value: unknown, where: string): string[] => {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v.length > 0)) throw new RulesError(`${where} must be an array of non-empty strings`);
  return value as string[];
};

/**
 * Parses `{"rules": [{path, methods?, kinds?, scopes?, install_tokens_in_query?}]}`
 * once at start-up into frozen rules; anything unexpected is a RulesError.
 */
export function parseForwardAuthRules(text: string): readonly ForwardAuthRule[] {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new RulesError('is not valid JSON');
  }
  const rules = (document as { rules?: unknown } | null)?.rules;
  if (!Array.isArray(rules) || rules.length === 0) throw new RulesError('must be {"rules": [ … ]} with at least one rule');
  return Object.freeze(
    rules.map((raw: unknown, i): ForwardAuthRule => {
      const where = `rules[${i}]`;
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new RulesError(`${where} must be an object`);
      const rule = raw as Record<string, unknown>;
      const unknown = Object.keys(rule).filter((k) => !['path', 'methods', 'kinds', 'scopes', 'install_tokens_in_query'].includes(k));
      if (unknown.length > 0) throw new RulesError(`${where} has an unknown field "${unknown[0]}"`);
      if (typeof rule.path !== 'string' || !rule.path.startsWith('/')) throw new RulesError(`${where}.path must be a string starting with /`);
      if (rule.path.includes('*') && !/^\/[^*]*\/\*$|^\/\*$/.test(rule.path)) throw new RulesError(`${where}.path may only end in /* (got "${rule.path}")`);
      const kinds = rule.kinds === undefined ? DEFAULT_KINDS : strings(rule.kinds, `${where}.kinds`);
      const bad = kinds.find((k) => !(RULE_KINDS as readonly string[]).includes(k));
      if (bad !== undefined) throw new RulesError(`${where}.kinds has "${bad}"; allowed: ${RULE_KINDS.join(', ')}`);
      const inQuery = rule.install_tokens_in_query ?? false;
      if (typeof inQuery !== 'boolean') throw new RulesError(`${where}.install_tokens_in_query must be true or false`);
      if (inQuery && !kinds.includes('install')) throw new RulesError(`${where} lets install tokens in the query but its kinds leave install out`);
      return Object.freeze({
        path: rule.path,
        methods: Object.freeze((rule.methods === undefined ? [] : strings(rule.methods, `${where}.methods`)).map((m) => m.toUpperCase())),
        kinds: Object.freeze([...kinds] as RuleKind[]),
        scopes: Object.freeze(rule.scopes === undefined ? [] : strings(rule.scopes, `${where}.scopes`)),
        installTokensInQuery: inQuery,
      });
    }),
  );
}

/**
 * Trailing slashes do not matter, as on tokend's own routes; nor does case,
 * since some upstream routers (Express by default) ignore it, and a rule must
 * cover every path the upstream would serve as the rule's path.
 */
const normalized = (path: string): string => (path.length > 1 ? path.replace(/\/+$/, '') : path).toLowerCase();

/** The first rule that covers this method and (decoded) path, or null (then nothing is allowed). */
export function matchRule(rules: readonly ForwardAuthRule[], method: string, path: string): ForwardAuthRule | null {
  const wanted = normalized(path);
  for (const rule of rules) {
    if (rule.methods.length > 0 && !rule.methods.includes(method.toUpperCase())) continue;
    if (rule.path.endsWith('/*')) {
      const base = normalized(rule.path.slice(0, -2) || '/').replace(/^\/$/, '');
      if (base === '' || wanted === base || wanted.startsWith(`${base}/`)) return rule;
    } else if (normalized(rule.path) === wanted) {
      return rule;
    }
  }
  return null;
}
