// @ts-check
/* The operator's view: its tabs, and the signing keys and audit log; apps.js and people.js hold the rest. */
import { admin, query } from './api.js';
import { appNames, appSelect, appsTab, listApps, masterKeysTab } from './apps.js';
import { actionButton, errorLine, field, form, h, replace, select, table, time } from './dom.js';
import { sessionsTab, tokensTab, usersTab } from './people.js';

/** @returns {import('./dom.js').Tab[]} */
export function operatorTabs() {
  return [
    { id: 'apps', title: 'Apps', render: appsTab },
    { id: 'master-keys', title: 'Master keys', render: masterKeysTab },
    { id: 'users', title: 'Users', render: usersTab },
    { id: 'sessions', title: 'Sessions', render: sessionsTab },
    { id: 'tokens', title: 'Tokens', render: tokensTab },
    { id: 'signing-keys', title: 'Signing keys', render: signingKeysTab },
    { id: 'audit', title: 'Audit log', render: auditTab },
  ];
}

/** @param {HTMLElement} panel */
async function signingKeysTab(panel) {
  const list = h('div');
  const status = h('p', { class: 'notice', role: 'status', hidden: true });
  /** @param {any[]} keys */
  const show = (keys) =>
    replace(
      list,
      table({
        caption: 'Signing keys',
        rows: keys,
        empty: 'No signing keys yet — tokend makes one before it signs its first JWT.',
        columns: [
          { title: 'kid', cell: (key) => h('code', {}, key.kid) },
          { title: 'Algorithm', cell: (key) => key.alg },
          { title: 'State', cell: (key) => h('span', { class: `badge ${key.state === 'current' ? 'ok' : key.state === 'retired' ? 'off' : ''}` }, key.state) },
          { title: 'Created', cell: (key) => time(key.created_at) },
          { title: 'Activated', cell: (key) => time(key.activated_at) },
          { title: 'Retired', cell: (key) => time(key.retired_at) },
          { title: 'In JWKS until', cell: (key) => time(key.published_until) },
        ],
      }),
    );
  const rotate = form({
    label: 'Rotate signing keys',
    fields: [
      h('h3', {}, 'Rotate'),
      h('p', { class: 'muted' }, 'The pre-published next key starts signing; the old one stays in the JWKS until every token it signed has expired.'),
      select('Algorithm of the key after next', 'alg', [['', 'keep the current one'], ['ES256', 'ES256'], ['RS256', 'RS256'], ['EdDSA', 'EdDSA']], ''),
    ],
    submit: 'Rotate signing keys',
    onSubmit: async (data) => {
      if (!window.confirm('Rotate the signing keys now?')) return;
      const alg = String(data.get('alg') ?? '');
      const rotated = await admin('POST', '/signing-keys/rotate', alg === '' ? {} : { alg });
      status.textContent = `Rotated: ${rotated.kid} (${rotated.alg}) signs from now on.`;
      status.hidden = false;
      show(rotated.keys);
    },
  });
  replace(panel, h('h2', {}, 'Signing keys'), status, list, rotate);
  show((await admin('GET', '/signing-keys')).keys);
}

const AUDIT_ACTIONS = [
  'token.issued', 'token.refreshed', 'token.refresh_replayed', 'token.refresh_reused', 'token.revoked', 'session.revoked', 'token.leaked',
  'client_secret.leaked', 'login.failed', 'login.rate_limited', 'admin.app.created', 'admin.app.updated', 'admin.app.deleted',
  'admin.app.secret_rotated', 'admin.master_key.created', 'admin.master_key.revoked', 'admin.user.created', 'admin.user.disabled',
  'admin.user.enabled', 'admin.user.password_changed', 'admin.user.deleted', 'admin.api_token.created', 'admin.signing_key.rotated',
];

/** @param {HTMLElement} panel */
async function auditTab(panel) {
  const apps = await listApps();
  const names = appNames(apps);
  const results = h('div', { 'aria-live': 'polite' });
  /** @type {Record<string, string>} */
  let filters = {};

  const actions = h('datalist', { id: 'audit-actions' }, AUDIT_ACTIONS.map((action) => h('option', { value: action })));
  const filterForm = form({
    label: 'Filter the audit log',
    className: 'card form filters',
    fields: [
      field('Action', { name: 'action', list: 'audit-actions', maxlength: 100, autocomplete: 'off', placeholder: 'any' }),
      appSelect(apps, 'app_id', 'App', '', 'any app'),
      field('User id', { name: 'user_id', type: 'number', min: 1, step: 1, inputmode: 'numeric', placeholder: 'any' }),
      field('Since', { name: 'since', type: 'datetime-local' }),
    ],
    submit: 'Filter',
    onSubmit: async (data) => {
      const since = String(data.get('since') ?? '');
      filters = {
        action: String(data.get('action') ?? '').trim(),
        app_id: String(data.get('app_id') ?? ''),
        user_id: String(data.get('user_id') ?? ''),
        since: since === '' ? '' : new Date(since).toISOString(),
      };
      await load(null, []);
    },
  });

  /** @param {string | null} cursor @param {any[]} shown */
  const load = async (cursor, shown) => {
    const page = await admin('GET', `/audit${query({ ...filters, limit: 50, cursor })}`);
    const events = [...shown, ...page.events];
    const moreError = errorLine();
    const more = page.next_cursor === null ? null : actionButton('Load more', () => load(page.next_cursor, events), { errorLine: moreError });
    replace(
      results,
      h('p', { class: 'muted small' }, `${events.length} event${events.length === 1 ? '' : 's'}${page.next_cursor === null ? '' : ' so far'}, newest first.`),
      table({
        caption: 'Audit events',
        rows: events,
        empty: 'No events match these filters.',
        columns: [
          { title: 'When', cell: (event) => time(event.at) },
          { title: 'Action', cell: (event) => h('code', { class: 'action' }, event.action) },
          { title: 'Actor', cell: (event) => event.actor },
          { title: 'App', cell: (event) => (event.app_id === null ? '—' : names.get(event.app_id) ?? event.app_id) },
          { title: 'User id', cell: (event) => event.user_id ?? '—' },
          { title: 'IP', cell: (event) => event.ip ?? '—' },
          { title: 'Detail', cell: (event) => (event.detail === null || event.detail === undefined ? '—' : h('code', { class: 'detail' }, JSON.stringify(event.detail))) },
        ],
      }),
      more,
      moreError,
    );
  };
  replace(panel, h('h2', {}, 'Audit log'), actions, filterForm, results);
  await load(null, []);
}
