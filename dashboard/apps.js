// @ts-check
/* The operator's apps and their master keys; the app helpers the other operator tabs share. */
import { admin, query } from './api.js';
import { actionButton, duration, errorLine, field, form, h, replace, secretBox, select, table, time } from './dom.js';

/** @typedef {{ id: string, client_id: string, name: string, access_token_format: string, service_token_format: string, [ttl: string]: any }} App */

/** Every live app (the operator API caps a page at 200), oldest first. @returns {Promise<App[]>} */
export async function listApps() {
  /** @type {App[]} */
  const apps = (await admin('GET', `/apps${query({ limit: 200 })}`)).apps;
  return apps.sort((a, b) => String(a.created_at).localeCompare(String(b.created_at)) || a.name.localeCompare(b.name));
}

/** @param {App[]} apps */
export const appNames = (apps) => new Map(apps.map((app) => [app.id, app.name]));

/** @param {App[]} apps @param {string} name @param {string} label @param {string} [selected] @param {string} [anyText] */
export const appSelect = (apps, name, label, selected, anyText) =>
  select(label, name, [...(anyText === undefined ? [] : /** @type {[string, string][]} */ ([['', anyText]])), ...apps.map((app) => /** @type {[string, string]} */ ([app.id, `${app.name} (${app.client_id})`]))], selected);

const FORMATS = /** @type {[string, string][]} */ ([['opaque', 'opaque'], ['jwt', 'JWT']]);
const TTLS = /** @type {[string, string, string][]} */ ([
  ['access_token_ttl', 'Access token TTL (s)', '7200'],
  ['refresh_token_ttl', 'Refresh token TTL (s)', '1209600'],
  ['service_token_ttl', 'Service token TTL (s)', '2592000'],
  ['install_token_ttl', 'Install token TTL (s)', '3600'],
  ['device_token_ttl', '/v1/oauth/ token TTL (s)', '2592000'],
]);

/**
 * The non-empty numeric fields of a form, as integers (the API says what is out of range).
 * @param {FormData} data @param {string[]} names
 */
function numbers(data, names) {
  /** @type {Record<string, number>} */
  const out = {};
  for (const name of names) {
    const value = String(data.get(name) ?? '').trim();
    if (value !== '') out[name] = Number(value);
  }
  return out;
}

/** @param {Partial<App>} [app] */
const ttlFields = (app) => TTLS.map(([name, label, fallback]) => field(label, { name, type: 'number', min: 1, step: 1, inputmode: 'numeric', value: app?.[name] ?? null, placeholder: app === undefined ? fallback : null }));

/** @param {HTMLElement} panel */
export async function appsTab(panel) {
  const shown = h('div', { class: 'shown' });
  const list = h('div');
  const editor = h('div');
  const rowError = errorLine();

  const refresh = async () => {
    const apps = await listApps();
    replace(
      list,
      table({
        caption: 'Apps',
        rows: apps,
        empty: 'No apps yet — create one above.',
        columns: [
          { title: 'Name', cell: (app) => h('strong', {}, app.name) },
          { title: 'client_id', cell: (app) => h('code', {}, app.client_id) },
          { title: 'Access', cell: (app) => `${app.access_token_format}, ${duration(app.access_token_ttl)}` },
          { title: 'Refresh', cell: (app) => duration(app.refresh_token_ttl) },
          { title: 'Service', cell: (app) => `${app.service_token_format}, ${duration(app.service_token_ttl)}` },
          { title: 'Install', cell: (app) => duration(app.install_token_ttl) },
          {
            title: 'Actions',
            cell: (app) =>
              h(
                'div',
                { class: 'row-actions' },
                h('button', { type: 'button', class: 'secondary', 'aria-label': `Edit ${app.name}`, onclick: () => edit(app) }, 'Edit'),
                actionButton(
                  'Rotate secret',
                  async () => {
                    const rotated = await admin('POST', `/apps/${encodeURIComponent(app.id)}/secret`);
                    replace(shown, secretBox({ title: `New client secret for “${rotated.name}”`, note: 'Shown once. The old secret stopped working just now.', fields: [['client_id', rotated.client_id, 'client_id'], ['client_secret', rotated.client_secret, 'client_secret']] }));
                  },
                  { errorLine: rowError, confirmText: `Rotate the client secret of “${app.name}”? The old secret stops working at once.`, label: `Rotate secret of ${app.name}` },
                ),
              ),
          },
        ],
      }),
    );
  };

  /** @param {App} app */
  const edit = (app) => {
    const editForm = form({
      label: `Edit ${app.name}`,
      fields: [
        h('h3', {}, `Edit “${app.name}”`),
        field('Name', { name: 'name', required: true, maxlength: 200, value: app.name }),
        select('Access token format', 'access_token_format', FORMATS, app.access_token_format),
        select('Service token format', 'service_token_format', FORMATS, app.service_token_format),
        ...ttlFields(app),
        field('Refresh reuse grace (s)', { name: 'refresh_reuse_grace_seconds', type: 'number', min: 0, max: 3600, step: 1, value: app.refresh_reuse_grace_seconds }),
        field('Deep link template', { name: 'deeplink_template', required: true, maxlength: 2000, value: app.deeplink_template, class: 'mono' }, '{token} is replaced by the token.'),
      ],
      submit: 'Save changes',
      onSubmit: async (data) => {
        /** @type {Record<string, string | number>} */
        const wanted = {
          name: String(data.get('name')),
          access_token_format: String(data.get('access_token_format')),
          service_token_format: String(data.get('service_token_format')),
          deeplink_template: String(data.get('deeplink_template')),
          ...numbers(data, [...TTLS.map(([name]) => name), 'refresh_reuse_grace_seconds']),
        };
        // Only what changed, so the audit log's admin.app.updated names the fields the operator touched.
        const changes = Object.fromEntries(Object.entries(wanted).filter(([name, value]) => value !== app[name]));
        if (Object.keys(changes).length === 0) {
          replace(editor, h('p', { class: 'notice', role: 'status' }, 'Nothing changed.'));
          return;
        }
        await admin('PATCH', `/apps/${encodeURIComponent(app.id)}`, changes);
        replace(editor, h('p', { class: 'notice', role: 'status' }, `Saved “${wanted.name}”.`));
        await refresh();
      },
    });
    const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => replace(editor) }, 'Cancel');
    editForm.querySelector('.actions')?.append(cancel);
    replace(editor, editForm);
    editForm.querySelector('input')?.focus();
  };

  const create = form({
    label: 'Create an app',
    fields: [
      h('h3', {}, 'Create an app'),
      field('Name', { name: 'name', required: true, maxlength: 200 }),
      select('Access token format', 'access_token_format', FORMATS, 'opaque'),
      select('Service token format', 'service_token_format', FORMATS, 'opaque'),
      ...ttlFields(),
    ],
    submit: 'Create app',
    onSubmit: async (data, element) => {
      const created = await admin('POST', '/apps', {
        name: String(data.get('name')),
        access_token_format: String(data.get('access_token_format')),
        service_token_format: String(data.get('service_token_format')),
        ...numbers(data, TTLS.map(([name]) => name)),
      });
      element.reset();
      replace(shown, secretBox({ title: `App “${created.name}” created`, fields: [['client_id', created.client_id, 'client_id'], ['client_secret', created.client_secret, 'client_secret']] }));
      await refresh();
    },
  });

  replace(panel, h('h2', {}, 'Apps'), shown, create, rowError, list, editor);
  await refresh();
}

/** @param {HTMLElement} panel */
export async function masterKeysTab(panel) {
  const apps = await listApps();
  if (apps.length === 0) return replace(panel, h('h2', {}, 'Master keys'), h('p', { class: 'empty' }, 'No apps yet — create an app first; master keys belong to one app.'));
  const picker = appSelect(apps, 'app', 'App');
  const appInput = /** @type {HTMLSelectElement} */ (picker.querySelector('select'));
  const shown = h('div', { class: 'shown' });
  const list = h('div');
  const rowError = errorLine();

  const refresh = async () => {
    const app = /** @type {App} */ (apps.find((a) => a.id === appInput.value));
    const { master_keys: keys } = await admin('GET', `/apps/${encodeURIComponent(app.id)}/master-keys${query({ limit: 200 })}`);
    replace(
      list,
      table({
        caption: `Master keys of ${app.name}`,
        rows: keys,
        empty: `No master keys for “${app.name}” yet — create one.`,
        columns: [
          { title: 'Name', cell: (key) => key.name ?? h('span', { class: 'muted' }, 'unnamed') },
          { title: 'Id', cell: (key) => h('code', {}, key.id) },
          { title: 'Created', cell: (key) => time(key.created_at) },
          { title: 'Last used', cell: (key) => time(key.last_used_at, 'never') },
          { title: 'Status', cell: (key) => (key.revoked_at === null ? h('span', { class: 'badge ok' }, 'active') : h('span', { class: 'badge off' }, 'revoked')) },
          {
            title: 'Actions',
            cell: (key) =>
              key.revoked_at !== null
                ? null
                : actionButton('Revoke', async () => {
                    await admin('DELETE', `/master-keys/${encodeURIComponent(key.id)}`);
                    await refresh();
                  }, { errorLine: rowError, className: 'danger', confirmText: `Revoke master key “${key.name ?? key.id}”? Every service token it minted dies with it.`, label: `Revoke master key ${key.name ?? key.id}` }),
          },
        ],
      }),
    );
  };
  appInput.addEventListener('change', () => {
    replace(shown);
    refresh().catch((failure) => replace(list, h('p', { class: 'error', role: 'alert' }, String(failure.message))));
  });

  const create = form({
    label: 'Create a master key',
    fields: [h('h3', {}, 'Create a master key'), picker, field('Name (optional)', { name: 'name', maxlength: 200, placeholder: 'e.g. partner backend, 2026 Q4' })],
    submit: 'Create master key',
    onSubmit: async (data, element) => {
      const name = String(data.get('name') ?? '').trim();
      const created = await admin('POST', `/apps/${encodeURIComponent(appInput.value)}/master-keys`, name === '' ? {} : { name });
      /** @type {HTMLInputElement} */ (element.elements.namedItem('name')).value = '';
      replace(shown, secretBox({ title: 'Master key created', note: 'Shown once: give it to the partner backend now (Authorization: Token …). tokend keeps only a hash.', fields: [['Master key', created.key, 'master_key']] }));
      await refresh();
    },
  });
  replace(panel, h('h2', {}, 'Master keys'), shown, create, rowError, list);
  await refresh();
}

