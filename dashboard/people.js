// @ts-check
/* The operator's view of people: users, their sessions by device, and tokens. */
import { admin, query } from './api.js';
import { actionButton, errorLine, field, form, h, replace, select, SESSION_USE_COLUMNS, table, time } from './dom.js';
import { appNames, appSelect, listApps } from './apps.js';

/** The user the operator last picked, carried from the Users tab to Sessions and Tokens. */
const picked = { userId: /** @type {number | null} */ (null) };

/** @typedef {{ id: number, username: string, user_profile_id: string, disabled: boolean, created_at: string }} User */

/** @returns {Promise<User[]>} */
async function listUsers() {
  /** @type {User[]} */
  const users = (await admin('GET', `/users${query({ limit: 200 })}`)).users;
  return users.sort((a, b) => a.id - b.id);
}

/** @param {User[]} users @param {string} name @param {string} label @param {string} [anyText] */
const userSelect = (users, name, label, anyText) =>
  select(label, name, [...(anyText === undefined ? [] : /** @type {[string, string][]} */ ([['', anyText]])), ...users.map((user) => /** @type {[string, string]} */ ([String(user.id), `${user.username} (#${user.id})`]))], picked.userId === null ? '' : String(picked.userId));

/**
 * @param {HTMLElement} panel
 * @param {import('./dom.js').Navigation} nav
 */
export async function usersTab(panel, nav) {
  const list = h('div');
  const editor = h('div');
  const rowError = errorLine();

  const refresh = async () => {
    const users = await listUsers();
    replace(
      list,
      table({
        caption: 'Users',
        rows: users,
        empty: 'No users yet — create one above.',
        columns: [
          { title: 'Id', cell: (user) => user.id },
          { title: 'Username', cell: (user) => h('strong', {}, user.username) },
          { title: 'Status', cell: (user) => (user.disabled ? h('span', { class: 'badge off' }, 'disabled') : h('span', { class: 'badge ok' }, 'active')) },
          { title: 'Created', cell: (user) => time(user.created_at) },
          {
            title: 'Actions',
            cell: (user) =>
              h(
                'div',
                { class: 'row-actions' },
                h('button', { type: 'button', class: 'secondary', 'aria-label': `Sessions of ${user.username}`, onclick: () => ((picked.userId = user.id), nav.go('sessions')) }, 'Sessions'),
                h('button', { type: 'button', class: 'secondary', 'aria-label': `Tokens of ${user.username}`, onclick: () => ((picked.userId = user.id), nav.go('tokens')) }, 'Tokens'),
                actionButton(
                  user.disabled ? 'Enable' : 'Disable',
                  async () => {
                    await admin('PATCH', `/users/${user.id}`, { disabled: !user.disabled });
                    await refresh();
                  },
                  {
                    errorLine: rowError,
                    className: user.disabled ? 'secondary' : 'danger',
                    label: `${user.disabled ? 'Enable' : 'Disable'} ${user.username}`,
                    ...(user.disabled ? {} : { confirmText: `Disable “${user.username}”? Every token and session of this user dies at once.` }),
                  },
                ),
                h('button', { type: 'button', class: 'secondary', 'aria-label': `Reset password of ${user.username}`, onclick: () => resetPassword(user) }, 'Reset password'),
              ),
          },
        ],
      }),
    );
  };

  /** @param {User} user */
  const resetPassword = (user) => {
    const reset = form({
      label: `Reset the password of ${user.username}`,
      fields: [
        h('h3', {}, `New password for “${user.username}”`),
        field('New password', { name: 'password', type: 'password', required: true, autocomplete: 'new-password', maxlength: 1024 }, 'Setting it ends every session of this user.'),
      ],
      submit: 'Set password',
      onSubmit: async (data) => {
        await admin('PATCH', `/users/${user.id}`, { password: String(data.get('password')) });
        replace(editor, h('p', { class: 'notice', role: 'status' }, `Password of “${user.username}” changed; their sessions were ended.`));
      },
    });
    reset.querySelector('.actions')?.append(h('button', { type: 'button', class: 'secondary', onclick: () => replace(editor) }, 'Cancel'));
    replace(editor, reset);
    reset.querySelector('input')?.focus();
  };

  const create = form({
    label: 'Create a user',
    fields: [
      h('h3', {}, 'Create a user'),
      field('Username', { name: 'username', required: true, maxlength: 200, autocomplete: 'off' }),
      field('Password', { name: 'password', type: 'password', required: true, maxlength: 1024, autocomplete: 'new-password' }),
    ],
    submit: 'Create user',
    onSubmit: async (data, element) => {
      const created = await admin('POST', '/users', { username: String(data.get('username')), password: String(data.get('password')) });
      element.reset();
      replace(editor, h('p', { class: 'notice', role: 'status' }, `User “${created.username}” created (#${created.id}).`));
      await refresh();
    },
  });
  replace(panel, h('h2', {}, 'Users'), create, editor, rowError, list);
  await refresh();
}

/** @param {HTMLElement} panel */
export async function sessionsTab(panel) {
  const [users, apps] = await Promise.all([listUsers(), listApps()]);
  if (users.length === 0) return replace(panel, h('h2', {}, 'Sessions'), h('p', { class: 'empty' }, 'No users yet — create one in the Users tab.'));
  const names = appNames(apps);
  const picker = userSelect(users, 'user', 'User');
  const userInput = /** @type {HTMLSelectElement} */ (picker.querySelector('select'));
  const list = h('div', { 'aria-live': 'polite' });
  const rowError = errorLine();

  const refresh = async () => {
    const user = /** @type {User} */ (users.find((u) => String(u.id) === userInput.value));
    picked.userId = user.id;
    const { sessions } = await admin('GET', `/users/${user.id}/sessions${query({ limit: 200 })}`);
    replace(
      list,
      table({
        caption: `Sessions of ${user.username}`,
        rows: sessions,
        empty: `“${user.username}” has no live sessions.`,
        columns: [
          { title: 'Device', cell: (s) => h('strong', {}, s.device_info) },
          { title: 'App', cell: (s) => names.get(s.app_id) ?? s.app_id },
          ...SESSION_USE_COLUMNS,
          {
            title: 'Actions',
            cell: (s) =>
              actionButton('Deauthorize', async () => {
                await admin('DELETE', `/sessions/${encodeURIComponent(s.id)}`);
                await refresh();
              }, { errorLine: rowError, className: 'danger', confirmText: `Deauthorize “${s.device_info}”? Its tokens stop working at once.`, label: `Deauthorize ${s.device_info}` }),
          },
        ],
      }),
    );
  };
  userInput.addEventListener('change', () => refresh().catch((failure) => replace(list, h('p', { class: 'error', role: 'alert' }, String(failure.message)))));
  replace(panel, h('h2', {}, 'Sessions by device'), h('div', { class: 'card form filters' }, picker), rowError, list);
  await refresh();
}

const KINDS = /** @type {[string, string][]} */ ([['', 'any kind'], ['access', 'access'], ['refresh', 'refresh'], ['service', 'service'], ['install', 'install'], ['api', 'api']]);

/** @param {HTMLElement} panel */
export async function tokensTab(panel) {
  const [users, apps] = await Promise.all([listUsers(), listApps()]);
  const names = appNames(apps);
  const usernames = new Map(users.map((user) => [user.id, user.username]));
  const results = h('div', { 'aria-live': 'polite' });
  const rowError = errorLine();
  /** @type {Record<string, string | boolean>} */
  let filters = { user_id: picked.userId === null ? '' : String(picked.userId), active: true };

  const filterForm = form({
    label: 'Filter tokens',
    className: 'card form filters',
    fields: [
      userSelect(users, 'user_id', 'User', 'any user'),
      appSelect(apps, 'app_id', 'App', '', 'any app'),
      select('Kind', 'kind', KINDS, ''),
      h('div', { class: 'field check' }, h('label', {}, h('input', { type: 'checkbox', name: 'active', checked: true }), ' Live tokens only')),
    ],
    submit: 'Show tokens',
    onSubmit: async (data) => {
      filters = { user_id: String(data.get('user_id') ?? ''), app_id: String(data.get('app_id') ?? ''), kind: String(data.get('kind') ?? ''), active: data.get('active') !== null };
      picked.userId = filters.user_id === '' ? null : Number(filters.user_id);
      await load(null, []);
    },
  });

  /** @param {string | null} cursor @param {any[]} shown */
  const load = async (cursor, shown) => {
    const page = await admin('GET', `/tokens${query({ ...filters, active: filters.active ? true : '', limit: 50, cursor })}`);
    const tokens = [...shown, ...page.tokens];
    const more = page.next_cursor === null ? null : actionButton('Load more', () => load(page.next_cursor, tokens), { errorLine: rowError });
    replace(
      results,
      table({
        caption: 'Tokens',
        rows: tokens,
        empty: 'No tokens match these filters.',
        columns: [
          { title: 'Kind', cell: (t) => h('span', { class: 'badge' }, t.kind) },
          { title: 'Name', cell: (t) => t.name ?? '—' },
          { title: 'App', cell: (t) => names.get(t.app_id) ?? t.app_id },
          { title: 'User', cell: (t) => (t.user_id === null ? '—' : usernames.get(t.user_id) ?? `#${t.user_id}`) },
          { title: 'Install', cell: (t) => t.install_id ?? '—' },
          { title: 'Created', cell: (t) => time(t.created_at) },
          { title: 'Expires', cell: (t) => time(t.expires_at, 'never') },
          { title: 'Last used', cell: (t) => time(t.last_used_at, 'never') },
          { title: 'Status', cell: (t) => (t.revoked_at !== null ? h('span', { class: 'badge off' }, 'revoked') : t.used_at !== null ? h('span', { class: 'badge off' }, 'used') : h('span', { class: 'badge ok' }, 'live')) },
          {
            title: 'Actions',
            cell: (t) =>
              t.revoked_at !== null
                ? null
                : actionButton('Revoke', async () => {
                    await admin('DELETE', `/tokens/${encodeURIComponent(t.id)}`);
                    await load(null, []);
                  }, { errorLine: rowError, className: 'danger', confirmText: `Revoke this ${t.kind} token?${t.kind === 'refresh' ? ' Its session ends with it.' : ''}`, label: `Revoke ${t.kind} token ${t.name ?? t.id}` }),
          },
        ],
      }),
      more,
    );
  };
  replace(panel, h('h2', {}, 'Tokens'), h('p', { class: 'muted' }, 'Metadata only: tokend never stores or shows a token’s secret after it was issued.'), filterForm, rowError, results);
  await load(null, []);
}
