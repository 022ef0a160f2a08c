// The pages are clients of the same JSON admin API that scripts use; this module is that client, plus the few
// DOM and formatting helpers every page shares. No framework: the pages are small and must load with no CDN.

/** An answer that was not 2xx, carrying its problem+json body. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(describeProblem(problem) || `Request failed (${status}).`);
    this.status = status;
    this.problem = problem;
  }
}

/** Turns a problem+json body into one sentence, validation errors included. */
export function describeProblem(problem) {
  if (!problem) return '';
  const parts = [];
  if (problem.errors) {
    for (const messages of Object.values(problem.errors)) parts.push(...messages);
  }
  if (parts.length) return parts.join(' ');
  return problem.detail || problem.title || '';
}

function goToLogin() {
  const back = location.pathname + location.search;
  location.assign('/login' + (back && back !== '/' ? '?ReturnUrl=' + encodeURIComponent(back) : ''));
}

/**
 * Calls the admin API. JSON in, JSON out; a 401 (session gone) goes to the login page, any other error throws
 * an ApiError with the server's explanation.
 */
export async function api(path, { method = 'GET', body, accept = 'application/json' } = {}) {
  const init = { method, headers: { accept }, credentials: 'same-origin' };
  // The server refuses a state-changing request without a JSON content type, even with no body (its CSRF rule).
  if (method !== 'GET') init.headers['content-type'] = 'application/json';
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(path, init);
  if (response.status === 401 && !path.startsWith('/api/auth/login')) {
    goToLogin();
    throw new ApiError(401, { title: 'Unauthorized', detail: 'Your session has ended; log in again.' });
  }
  if (!response.ok) {
    let problem = null;
    try { problem = await response.json(); } catch { /* not JSON */ }
    throw new ApiError(response.status, problem);
  }
  if (accept !== 'application/json') return response;
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

/**
 * Where to go after login: a path on this site, or '/'. Resolving it as a URL, as the browser will, is what
 * catches '/\t/evil.example' (browsers drop tabs and line breaks, leaving '//evil.example') and every other spelling
 * of another host.
 */
export function safeReturnPath(value) {
  if (!value) return '/';
  let url;
  try { url = new URL(value, location.origin); } catch { return '/'; }
  if (url.origin !== location.origin) return '/';
  return url.pathname + url.search + url.hash;
}

/** The signed-in admin: {username, role, tenantId}. */
let mePromise = null;
export function me() {
  mePromise ??= api('/api/auth/me');
  return mePromise;
}

/**
 * Subscribes to the live snapshot stream (Server-Sent Events). EventSource reconnects by itself after a network
 * error; when the server refuses (a closed stream) or goes quiet, this opens a new one with a growing delay.
 * onState receives 'connecting', 'live' or 'reconnecting'. By default it listens for the whole table's 'snapshot'
 * events; a page of a view is asked for with url (the stream's query) and events (['page', 'delta']), and onSnapshot
 * then also receives the event's type. Answers a function that closes the stream for good.
 */
export function liveStream(onSnapshot, onState, { url = '/api/admin/stream', events = ['snapshot'] } = {}) {
  let source = null;
  let retryDelay = 1000;
  let lastMessage = 0;
  let retryTimer = 0;
  let stopped = false;

  const connect = () => {
    if (stopped) return;
    source = new EventSource(url);
    source.addEventListener('open', () => { retryDelay = 1000; lastMessage = Date.now(); onState('live'); });
    for (const type of events) {
      source.addEventListener(type, (event) => {
        lastMessage = Date.now();
        onState('live');
        onSnapshot(JSON.parse(event.data), type);
      });
    }
    source.addEventListener('error', () => {
      onState('reconnecting');
      if (source.readyState === EventSource.CLOSED) retry();
    });
  };

  const retry = () => {
    source?.close();
    clearTimeout(retryTimer);
    retryTimer = setTimeout(async () => {
      // A refused stream is most often an ended session: this sends the page to the login form if so.
      try { await api('/api/auth/me'); } catch { /* still down: try again later */ }
      connect();
    }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 10000);
  };

  // The server pushes twice a second; five silent seconds mean the connection is dead even if no error came.
  const watchdog = setInterval(() => {
    if (source && source.readyState === EventSource.OPEN && Date.now() - lastMessage > 5000) {
      onState('reconnecting');
      retry();
    }
  }, 1000);

  const stop = () => { stopped = true; clearInterval(watchdog); clearTimeout(retryTimer); source?.close(); };
  window.addEventListener('pagehide', stop);
  onState('connecting');
  connect();
  return stop;
}

/** Creates an element: el('td', {className: 'num'}, 'text', child). Text is always set as text, never as HTML. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key in node && !key.includes('-')) node[key] = value;
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);

const numberFormat = new Intl.NumberFormat('en-US');
export const fmtNumber = (n) => (n === null || n === undefined ? '–' : numberFormat.format(n));
export const fmtPercent = (ratio) => (ratio === null || ratio === undefined ? '–' : (ratio * 100).toFixed(ratio > 0 && ratio < 0.001 ? 2 : 1) + ' %');
export const fmtMs = (ms) => (ms === null || ms === undefined ? '–' : ms >= 100 ? Math.round(ms) + ' ms' : ms.toFixed(ms >= 10 ? 1 : 2) + ' ms');

/** "2026-03-10 14:05 UTC" (seconds too when asked). */
export function fmtTime(value, { seconds = false } = {}) {
  if (!value) return '–';
  const iso = new Date(value).toISOString();
  return iso.slice(0, 10) + ' ' + iso.slice(11, seconds ? 19 : 16) + ' UTC';
}

/** A span of time as a person says it: "45 s", "12 min", "5 h 20 min", "3 d 4 h". */
export function fmtDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '–';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** A status badge: colour and text together. */
export function badge(text) {
  return el('span', { className: 'badge ' + String(text).toLowerCase() }, text);
}

/** A quota progress bar with its numbers. */
export function usageCell(used, limit, status) {
  const bar = el('span');
  const wrap = el('div', { className: 'usage' },
    el('span', { className: 'usage-text' }),
    el('div', { className: 'bar', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-label': 'Quota used' }, bar));
  updateUsageCell(wrap, used, limit, status);
  return wrap;
}

export function updateUsageCell(wrap, used, limit, status) {
  const share = limit > 0 ? Math.min(1, used / limit) : 1;
  const percent = Math.round(share * 100);
  wrap.firstChild.textContent = `${fmtNumber(used)} / ${fmtNumber(limit)}`;
  const bar = wrap.lastChild;
  bar.className = 'bar ' + String(status).toLowerCase();
  bar.setAttribute('aria-valuenow', String(percent));
  bar.setAttribute('aria-valuetext', `${percent} % of the quota used`);
  bar.firstChild.style.width = (share * 100).toFixed(1) + '%';
}

/** Shows a modal question; resolves true when the person confirms. Escape or Cancel resolve false. */
export function confirmDialog({ title, message, confirmLabel = 'Confirm', danger = true }) {
  return new Promise((resolve) => {
    const cancel = el('button', { type: 'button', value: 'cancel' }, 'Cancel');
    const confirm = el('button', { type: 'button', className: danger ? 'danger' : 'primary', value: 'confirm' }, confirmLabel);
    const dialog = el('dialog', { 'aria-labelledby': 'confirm-title' },
      el('h2', { id: 'confirm-title' }, title),
      el('p', {}, message),
      el('div', { className: 'form-actions' }, cancel, confirm));
    const close = (answer) => { dialog.close(); dialog.remove(); resolve(answer); };
    cancel.addEventListener('click', () => close(false));
    confirm.addEventListener('click', () => close(true));
    dialog.addEventListener('cancel', (event) => { event.preventDefault(); close(false); });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

/** Copies text; falls back to selecting it when the clipboard is not available. Resolves true when copied. */
export async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (input) { input.focus(); input.select(); }
    try { return document.execCommand('copy'); } catch { return false; }
  }
}

/** Shows a message in a status element for a moment. */
export function flash(target, message, kind = 'ok') {
  target.replaceChildren(el('div', { className: 'notice ' + kind, role: kind === 'bad' ? 'alert' : 'status' }, message));
}
