// @ts-check
import { currentSession, signInOperator, signInUser, signOut, whenSessionEnds } from './api.js';
import { field, form, h, leave, replace } from './dom.js';
import { operatorTabs } from './operator.js';
import { userTabs } from './user.js';

/** @typedef {import('./dom.js').Tab} Tab */

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const who = /** @type {HTMLElement} */ (document.getElementById('who'));
const signOutButton = /** @type {HTMLButtonElement} */ (document.getElementById('sign-out'));

/** @param {string} [notice] why we are back at the sign-in page */
function showSignIn(notice) {
  leave();
  who.textContent = '';
  signOutButton.hidden = true;
  document.title = 'Sign in · tokend dashboard';

  const operatorForm = form({
    label: 'Operator sign-in',
    className: 'card form signin',
    fields: [
      h('h2', {}, 'Operator'),
      h('p', { class: 'muted' }, 'Manage apps, keys, users, sessions and tokens.'),
      field('Operator token', { name: 'operator_token', type: 'password', required: true, autocomplete: 'off', spellcheck: 'false' }, 'TOKEND_ADMIN_TOKEN, or one made by “tokend admin-token create”.'),
    ],
    submit: 'Sign in as operator',
    onSubmit: async (data) => {
      await signInOperator(String(data.get('operator_token')));
      showApp();
    },
  });

  const userForm = form({
    label: 'User sign-in',
    className: 'card form signin',
    fields: [
      h('h2', {}, 'Dashboard user'),
      h('p', { class: 'muted' }, 'Your API tokens, install tokens and devices.'),
      field('Username', { name: 'username', required: true, autocomplete: 'username', maxlength: 200 }),
      field('Password', { name: 'password', type: 'password', required: true, autocomplete: 'current-password' }),
      field('App (client_id)', { name: 'client_id', autocomplete: 'off', spellcheck: 'false', placeholder: 'default' }, 'Leave empty for the default app.'),
    ],
    submit: 'Sign in',
    onSubmit: async (data) => {
      const clientId = String(data.get('client_id') ?? '').trim();
      await signInUser({
        username: String(data.get('username')),
        password: String(data.get('password')),
        clientId: clientId === '' ? null : clientId,
        deviceInfo: `Dashboard (${browserName()})`,
      });
      showApp();
    },
  });

  replace(
    main,
    h('h1', {}, 'Sign in'),
    notice === undefined ? null : h('p', { class: 'notice', role: 'status' }, notice),
    h('div', { class: 'signin-grid' }, operatorForm, userForm),
    h('p', { class: 'muted small' }, 'Your session is kept in this tab’s memory only: reloading or closing the page signs you out. Nothing is stored in cookies or local storage.'),
  );
  /** @type {HTMLInputElement | null} */ (operatorForm.querySelector('input'))?.focus();
}

function browserName() {
  const agent = navigator.userAgent;
  const name = /Firefox\//.test(agent) ? 'Firefox' : /Edg\//.test(agent) ? 'Edge' : /Chrom(e|ium)\//.test(agent) ? 'Chromium' : /Safari\//.test(agent) ? 'Safari' : 'browser';
  return `${name} on ${navigator.platform || 'unknown OS'}`;
}

function showApp() {
  const session = currentSession();
  if (session === null) return showSignIn();
  leave();
  signOutButton.hidden = false;
  if (session.kind === 'operator') {
    who.textContent = 'Operator';
    renderTabs('Operator', operatorTabs());
  } else {
    who.textContent = `${session.me.username} · ${session.me.app.name}`;
    renderTabs(`${session.me.username}`, userTabs());
  }
}

/**
 * WAI-ARIA tabs: arrow keys, Home and End move between tabs; the panel follows.
 * @param {string} heading
 * @param {Tab[]} tabs
 */
function renderTabs(heading, tabs) {
  const newPanel = () => h('section', { class: 'panel', role: 'tabpanel', tabindex: 0, id: 'panel' });
  let panel = newPanel();
  const buttons = tabs.map((tab) =>
    h('button', { type: 'button', role: 'tab', id: `tab-${tab.id}`, 'aria-controls': 'panel', 'aria-selected': 'false', tabindex: -1, 'data-tab': tab.id }, tab.title),
  );
  const nav = h('nav', { 'aria-label': 'Sections' }, h('div', { role: 'tablist', 'aria-label': 'Sections', class: 'tabs' }, buttons));

  /** @param {number} index */
  const select = async (index, focus = false) => {
    leave();
    buttons.forEach((button, i) => {
      button.setAttribute('aria-selected', String(i === index));
      button.tabIndex = i === index ? 0 : -1;
    });
    if (focus) buttons[index]?.focus();
    const tab = /** @type {Tab} */ (tabs[index]);
    // A fresh panel per selection: a slow render of a tab left behind writes into a detached element.
    const fresh = newPanel();
    panel.replaceWith(fresh);
    panel = fresh;
    panel.setAttribute('aria-labelledby', `tab-${tab.id}`);
    document.title = `${tab.title} · tokend dashboard`;
    replace(fresh, h('p', { class: 'muted' }, 'Loading…'));
    try {
      await tab.render(fresh, { go: (id) => select(Math.max(0, tabs.findIndex((t) => t.id === id)), true) });
    } catch (failure) {
      replace(fresh, h('p', { class: 'error', role: 'alert' }, failure instanceof Error ? failure.message : String(failure)));
    }
  };
  buttons.forEach((button, index) => {
    button.addEventListener('click', () => select(index));
    button.addEventListener('keydown', (event) => {
      const last = buttons.length - 1;
      const to = { ArrowRight: index === last ? 0 : index + 1, ArrowLeft: index === 0 ? last : index - 1, Home: 0, End: last }[event.key];
      if (to === undefined) return;
      event.preventDefault();
      select(to, true);
    });
  });
  replace(main, h('h1', { class: 'visually-hidden' }, heading), nav, panel);
  select(0);
}

signOutButton.addEventListener('click', async () => {
  await signOut();
  showSignIn('Signed out.');
});
whenSessionEnds((reason) => showSignIn(reason));
showSignIn();
