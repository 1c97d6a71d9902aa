// @ts-check
/* The dashboard user's view: seed 002's API tab (API tokens, install tokens) and own sessions. */
import { asUser, currentSession, query } from './api.js';
import { actionButton, errorLine, field, form, h, mmss, onLeave, replace, secretBox, select, SESSION_USE_COLUMNS, table, time } from './dom.js';

/** @returns {import('./dom.js').Tab[]} */
export function userTabs() {
  return [
    { id: 'api-tokens', title: 'API tokens', render: apiTokensTab },
    { id: 'install-tokens', title: 'Install tokens', render: installTokensTab },
    { id: 'devices', title: 'Sessions & devices', render: sessionsTab },
  ];
}

const me = () => {
  const session = currentSession();
  if (session?.kind !== 'user') throw new Error('Not signed in.');
  return session.me;
};

const LIFETIMES = /** @type {[string, string][]} */ ([['', 'never expires'], ['86400', '1 day'], ['2592000', '30 days'], ['7776000', '90 days'], ['31536000', '1 year']]);

/** @param {HTMLElement} panel */
async function apiTokensTab(panel) {
  const shown = h('div', { class: 'shown' });
  const list = h('div');
  const rowError = errorLine();

  const refresh = async () => {
    const { api_tokens: tokens } = await asUser('GET', `/v1/api-tokens${query({ limit: 200 })}`);
    replace(
      list,
      table({
        caption: 'Your API tokens',
        rows: tokens,
        empty: 'No API tokens yet — create one for a script or integration.',
        columns: [
          { title: 'Name', cell: (t) => h('strong', {}, t.name ?? '—') },
          { title: 'Created', cell: (t) => time(t.created_at) },
          { title: 'Expires', cell: (t) => time(t.expires_at, 'never') },
          { title: 'Last used', cell: (t) => time(t.last_used_at, 'never') },
          {
            title: 'Actions',
            cell: (t) =>
              actionButton('Revoke', async () => {
                await asUser('DELETE', `/v1/api-tokens/${encodeURIComponent(t.id)}`);
                await refresh();
              }, { errorLine: rowError, className: 'danger', confirmText: `Revoke “${t.name}”? Scripts using it stop working at once, and so do the install tokens it made.`, label: `Revoke ${t.name}` }),
          },
        ],
      }),
    );
  };

  const create = form({
    label: 'Create an API token',
    fields: [
      h('h3', {}, 'Create an API token'),
      field('Name', { name: 'name', required: true, maxlength: 200, autocomplete: 'off', placeholder: 'e.g. nightly export script' }),
      select('Lifetime', 'expires_in', LIFETIMES, ''),
    ],
    submit: 'Create token',
    onSubmit: async (data, element) => {
      const expiresIn = String(data.get('expires_in') ?? '');
      const created = await asUser('POST', '/v1/api-tokens', { name: String(data.get('name')), ...(expiresIn === '' ? {} : { expires_in: Number(expiresIn) }) });
      element.reset();
      replace(shown, secretBox({ title: `API token “${created.name}”`, note: 'Shown once: copy it now. Send it as Authorization: Token <key>. tokend keeps only a hash.', fields: [['API token', created.token, 'api_token']] }));
      await refresh();
    },
  });

  replace(panel, h('h2', {}, 'API tokens'), h('p', { class: 'muted' }, `For scripts and integrations acting as ${me().username} on the app “${me().app.name}”.`), shown, create, rowError, list);
  await refresh();
}

/**
 * Base64 of a string of UTF-8 text, for a data: URL.
 * @param {string} text
 */
function base64(text) {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** @param {HTMLElement} panel */
async function installTokensTab(panel) {
  const shown = h('div', { class: 'shown' });
  /** @type {ReturnType<typeof setInterval> | null} */
  let timer = null;
  const stop = () => {
    if (timer !== null) clearInterval(timer);
    timer = null;
  };
  onLeave(stop);

  const generate = form({
    label: 'Generate an install token',
    fields: [
      h('h3', {}, 'Generate an install token'),
      field('Install id', { name: 'installid', required: true, maxlength: 200, pattern: '[\\x21-\\x7E]+', autocomplete: 'off', spellcheck: 'false', class: 'mono', placeholder: 'c12b156b-8592-4545-989b-4468a3936983' }, 'The device install the token is for: printable characters, no spaces.'),
    ],
    submit: 'Generate',
    onSubmit: async (data) => {
      const installId = String(data.get('installid')).trim();
      // The install id and app_key are not secrets; the user's token goes in the header.
      const issued = await asUser('GET', `/v3/users/token${query({ app_key: me().app.client_id, installid: installId, qr: 'svg' })}`);
      // Counted from when the answer arrived, so a skewed browser clock does not shorten or stretch it.
      const deadline = Date.now() + issued.expires_in * 1000;
      stop();
      const countdown = h('strong', { class: 'countdown', role: 'timer', 'aria-live': 'off' }, mmss(issued.expires_in));
      const status = h('p', { class: 'expiry' }, 'Expires in ', countdown, ' (at ', time(issued.expires_at), ')');
      const tick = () => {
        const left = Math.round((deadline - Date.now()) / 1000);
        countdown.textContent = mmss(left);
        if (left <= 0) {
          stop();
          status.classList.add('expired');
          replace(status, 'Expired — generate a new one.');
        }
      };
      timer = setInterval(tick, 1000);
      const qr = h('img', { class: 'qr', src: `data:image/svg+xml;base64,${base64(issued.qr_svg)}`, alt: `QR code of the deep link for install ${issued.installid}`, width: 220, height: 220 });
      replace(
        shown,
        secretBox({
          title: `Install token for ${issued.installid}`,
          note: 'Shown once: scan the QR code with the device, or send it the deep link or the token. It works only for this install.',
          fields: [['Install token', issued.token, 'install_token'], ['Deep link', issued.deeplink, 'deeplink']],
          extra: [status, h('figure', { class: 'qr-figure' }, qr, h('figcaption', { class: 'muted small' }, 'Scan to open the app with this token.'))],
          onDismiss: stop,
        }),
      );
    },
  });

  replace(
    panel,
    h('h2', {}, 'Install tokens'),
    h('p', { class: 'muted' }, `A one-hour token for one device install of “${me().app.name}”, delivered by deep link or QR code. Revoking your session revokes the install tokens it made.`),
    shown,
    generate,
  );
}

/** @param {HTMLElement} panel */
async function sessionsTab(panel) {
  const list = h('div');
  const rowError = errorLine();
  const refresh = async () => {
    const { sessions } = await asUser('GET', `/v1/sessions${query({ limit: 200 })}`);
    replace(
      list,
      table({
        caption: 'Your sessions',
        rows: sessions,
        empty: 'No live sessions.',
        columns: [
          { title: 'Device', cell: (s) => h('span', {}, h('strong', {}, s.device_info), s.current ? h('span', { class: 'badge ok' }, 'this page') : null) },
          ...SESSION_USE_COLUMNS,
          {
            title: 'Actions',
            cell: (s) =>
              actionButton(s.current ? 'Sign out here' : 'Deauthorize', async () => {
                await asUser('DELETE', `/v1/sessions/${encodeURIComponent(s.id)}`);
                await refresh();
              }, { errorLine: rowError, className: 'danger', confirmText: s.current ? 'This is the session of this page: deauthorizing it signs you out. Continue?' : `Deauthorize “${s.device_info}”? Its tokens stop working at once.`, label: s.current ? `Sign out here (${s.device_info})` : `Deauthorize ${s.device_info}` }),
          },
        ],
      }),
    );
  };
  replace(panel, h('h2', {}, 'Sessions & devices'), h('p', { class: 'muted' }, 'Every device signed in as you, on any app. Deauthorizing one ends its tokens at once.'), rowError, list);
  await refresh();
}
