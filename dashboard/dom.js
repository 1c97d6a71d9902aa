// @ts-check
/*
 * DOM building without markup strings: every piece of data reaches the page
 * through textContent or an attribute value, never innerHTML, so nothing a
 * server or a user typed can become script.
 */

/**
 * @typedef {string | number | boolean | null | undefined | ((event: any) => void)} AttrValue
 * @typedef {Node | string | number | null | undefined | false} Child
 */

/**
 * An element with attributes (`onclick` and friends become listeners; `true` sets
 * a boolean attribute; null/false/undefined leave it out) and children.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, AttrValue>} [attrs]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, '');
    else if (value !== false && value !== null && value !== undefined) element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

/**
 * @param {Element} parent
 * @param {(Child | Child[])[]} children
 */
function append(parent, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(typeof child === 'number' ? String(child) : child);
  }
}

/**
 * Replaces an element's children.
 * @param {Element} parent
 * @param {...(Child | Child[])} children
 */
export function replace(parent, ...children) {
  parent.replaceChildren();
  append(parent, children);
}

/**
 * @typedef {{ go: (tabId: string) => void }} Navigation
 * @typedef {{ id: string, title: string, render: (panel: HTMLElement, nav: Navigation) => Promise<void> | void }} Tab
 */

/** Run when the shown view goes away (stops countdowns and the like). */
let cleanups = /** @type {(() => void)[]} */ ([]);

/** @param {() => void} cleanup */
export function onLeave(cleanup) {
  cleanups.push(cleanup);
}

export function leave() {
  for (const cleanup of cleanups) cleanup();
  cleanups = [];
}

let uid = 0;
/** @param {string} prefix */
export const nextId = (prefix) => `${prefix}-${++uid}`;

/**
 * A labelled form field.
 * @param {string} label
 * @param {Record<string, AttrValue>} attrs attributes of the input (name, type, required, …)
 * @param {string} [hint]
 */
export function field(label, attrs, hint) {
  const id = nextId(String(attrs.name ?? 'field'));
  const hintId = hint === undefined ? null : `${id}-hint`;
  const input = h('input', { id, 'aria-describedby': hintId, ...attrs });
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint === undefined ? null : h('small', { id: hintId, class: 'hint' }, hint));
}

/**
 * A labelled select.
 * @param {string} label
 * @param {string} name
 * @param {[string, string][]} options value, text
 * @param {string} [selected]
 */
export function select(label, name, options, selected) {
  const id = nextId(name);
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    h('select', { id, name }, options.map(([value, text]) => h('option', { value, selected: value === selected }, text))),
  );
}

/**
 * A form that never navigates: it is posted by `onSubmit` through fetch. Its error
 * line sits right under it. method=post keeps any field out of the URL even if the
 * script failed to attach.
 * @param {{ label: string, fields: (Node | null)[], submit: string, onSubmit: (data: FormData, form: HTMLFormElement) => Promise<void>, className?: string }} options
 */
export function form({ label, fields, submit, onSubmit, className }) {
  const error = errorLine();
  const button = h('button', { type: 'submit' }, submit);
  const element = h('form', { method: 'post', action: '/dashboard', 'aria-label': label, class: className ?? 'card form' }, h('div', { class: 'fields' }, fields), h('div', { class: 'actions' }, button), error);
  element.addEventListener('submit', async (event) => {
    event.preventDefault();
    showError(error, null);
    button.disabled = true;
    try {
      await onSubmit(new FormData(element), element);
    } catch (failure) {
      showError(error, failure);
    } finally {
      button.disabled = false;
    }
  });
  return element;
}

export const errorLine = () => h('p', { class: 'error', role: 'alert', hidden: true });

/**
 * Shows an error's message in its line (or hides the line for null).
 * @param {HTMLElement} line
 * @param {unknown} failure
 */
export function showError(line, failure) {
  if (failure === null) {
    line.hidden = true;
    line.textContent = '';
    return;
  }
  line.textContent = failure instanceof Error ? failure.message : String(failure);
  line.hidden = false;
}

/**
 * A button whose click runs an action; a failure shows in `errorLine`.
 * `confirmText` asks first (a destructive action).
 * @param {string} text
 * @param {() => Promise<void>} action
 * @param {{ errorLine: HTMLElement, confirmText?: string, className?: string, label?: string }} options
 */
export function actionButton(text, action, { errorLine: line, confirmText, className, label }) {
  const button = h('button', { type: 'button', class: className ?? 'secondary', 'aria-label': label ?? null }, text);
  button.addEventListener('click', async () => {
    if (confirmText !== undefined && !window.confirm(confirmText)) return;
    showError(line, null);
    button.disabled = true;
    try {
      await action();
    } catch (failure) {
      showError(line, failure);
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

/**
 * @template T
 * @typedef {{ title: string, cell: (row: T) => Child | Child[] }} Column
 */

/**
 * A table in its own scrolling container (so a narrow screen scrolls the table,
 * never the page), or the empty-state text when there are no rows.
 * @template T
 * @param {{ caption: string, columns: Column<T>[], rows: T[], empty: string }} options
 */
export function table({ caption, columns, rows, empty }) {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  return h(
    'div',
    { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': caption },
    h(
      'table',
      {},
      h('caption', { class: 'visually-hidden' }, caption),
      h('thead', {}, h('tr', {}, columns.map((column) => h('th', { scope: 'col' }, column.title)))),
      h('tbody', {}, rows.map((row) => h('tr', {}, columns.map((column) => h('td', { 'data-label': column.title }, column.cell(row)))))),
    ),
  );
}

/**
 * A time for people: local date and time, with the exact ISO value as a tooltip.
 * @param {string | null | undefined} value
 * @param {string} [none]
 */
export function time(value, none = '—') {
  if (value === null || value === undefined) return none;
  const date = new Date(value);
  return h('time', { datetime: value, title: value }, date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }));
}

/**
 * The columns both session lists (an operator's and a user's own) show: where
 * and when the device was used.
 * @type {Column<any>[]} rows of the session API: `ip`, `user_agent`, `created_at`, `last_used_at`
 */
export const SESSION_USE_COLUMNS = [
  { title: 'IP', cell: (s) => s.ip ?? '—' },
  { title: 'User agent', cell: (s) => h('span', { class: 'agent' }, s.user_agent ?? '—') },
  { title: 'Signed in', cell: (s) => time(s.created_at) },
  { title: 'Last used', cell: (s) => time(s.last_used_at) },
];

/** @param {number} seconds */
export function duration(seconds) {
  const units = /** @type {[number, string][]} */ ([[86400, 'd'], [3600, 'h'], [60, 'min'], [1, 's']]);
  for (const [size, unit] of units) if (seconds % size === 0) return `${seconds / size} ${unit}`;
  return `${seconds} s`;
}

/** @param {number} seconds remaining, as mm:ss (hours folded into minutes) */
export function mmss(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * Copies text, falling back to selecting it in its field when the clipboard API is refused.
 * @param {HTMLInputElement | HTMLTextAreaElement} input
 * @param {HTMLElement} status
 */
async function copyFrom(input, status) {
  try {
    await navigator.clipboard.writeText(input.value);
    status.textContent = 'Copied.';
  } catch {
    input.focus();
    input.select();
    status.textContent = 'Selected: press Ctrl+C (⌘C) to copy.';
  }
}

/**
 * A read-only value with a Copy button.
 * @param {string} label
 * @param {string} value
 * @param {string} testName a stable name tests and people can find it by
 */
export function copyField(label, value, testName) {
  const id = nextId('secret');
  const input = h('input', { id, name: testName, readonly: true, value, autocomplete: 'off', spellcheck: 'false', class: 'mono' });
  const status = h('span', { class: 'copy-status', 'aria-live': 'polite' });
  const button = h('button', { type: 'button', class: 'secondary', 'aria-label': `Copy ${label}` }, 'Copy');
  button.addEventListener('click', () => copyFrom(input, status));
  return h('div', { class: 'field copy' }, h('label', { for: id }, label), h('div', { class: 'copy-row' }, input, button), status);
}

/**
 * A secret shown once: read-only fields with Copy buttons, then gone (its values
 * dropped from the page) when dismissed. `onDismiss` runs after removal.
 * @param {{ title: string, note?: string, fields: [string, string, string][], extra?: Child[], onDismiss?: () => void }} options
 */
export function secretBox({ title, note, fields, extra, onDismiss }) {
  const dismiss = h('button', { type: 'button' }, 'Done, I saved it');
  const box = h(
    'section',
    { class: 'card secret', role: 'region', 'aria-label': title },
    h('h3', {}, title),
    h('p', { class: 'warn' }, note ?? 'Shown once: copy it now. tokend keeps only a hash and cannot show it again.'),
    fields.map(([label, value, name]) => copyField(label, value, name)),
    extra ?? [],
    h('div', { class: 'actions' }, dismiss),
  );
  dismiss.addEventListener('click', () => {
    box.remove();
    onDismiss?.();
  });
  queueMicrotask(() => box.querySelector('input')?.focus());
  return box;
}
