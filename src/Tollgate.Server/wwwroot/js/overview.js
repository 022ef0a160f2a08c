// The live overview: one page of tenants, filtered, ordered and counted on the server, pushed by
// /api/admin/stream?<view>. The stream sends the page once, then per tick only what changed (rows, order, totals), so
// the page's work per tick is a handful of rows however many tenants there are. Rows are kept and patched in place
// (only the text that changed is written) and re-ordered only when the order changes. A new view (sort, filter,
// page) opens a new stream.
import {
  api, liveStream, el, $, badge, usageCell, updateUsageCell, fmtNumber, fmtPercent, fmtMs, fmtDuration, fmtTime, describeProblem,
} from './api.js';
import { initShell } from './shell.js';

const PAGE_SIZE = 50;
// The server's default order: the tenants that need attention first.
const DEFAULT_SORT = 'status';
const SORTS = ['name', 'plan', 'usage', 'status', 'rpm', 'p95', 'errors', 'reset'];
// Numbers read best biggest first; names, plans and reset times from the top.
const firstDirOf = (key) => (['name', 'plan', 'reset'].includes(key) ? 'asc' : 'desc');

const params = new URLSearchParams(location.search);
const initialSort = SORTS.includes(params.get('sort')) ? params.get('sort') : DEFAULT_SORT;
const state = {
  sort: initialSort,
  dir: ['asc', 'desc'].includes(params.get('dir')) ? params.get('dir') : firstDirOf(initialSort),
  q: params.get('q') || '',
  status: params.get('status') || '',
  plan: params.get('plan') || '',
  page: Math.max(1, Number.parseInt(params.get('page'), 10) || 1),
};

const rows = new Map();
const tbody = $('#rows');
// The page as the server last described it: rows by id, their order, totals and the number that match.
let view = null;
let lastOrder = '';
let pendingFrame = 0;
let closeStream = null;
let searchTimer = 0;

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function createRow(t) {
  const link = el('a', { href: `/tenants/${t.id}` }, t.name);
  const cells = {
    name: el('td', {}, link),
    plan: el('td', { className: 'hide-narrow' }),
    usage: el('td', {}, usageCell(t.used, t.limit, t.status)),
    status: el('td'),
    rpm: el('td', { className: 'num' }),
    p95: el('td', { className: 'num hide-narrow' }),
    errors: el('td', { className: 'num hide-narrow' }),
    reset: el('td', { className: 'num hide-narrow' }),
  };
  const tr = el('tr', { dataset: { tenantId: String(t.id) } }, Object.values(cells));
  return { tr, link, cells, statusKey: '', data: null };
}

function updateRow(row, t, generatedAt) {
  setText(row.link, t.name);
  setText(row.cells.plan, t.plan);
  updateUsageCell(row.cells.usage.firstChild, t.used, t.limit, t.status);
  const statusKey = t.status + '/' + t.tenantStatus;
  if (row.statusKey !== statusKey) {
    row.statusKey = statusKey;
    row.cells.status.replaceChildren(badge(t.status), t.tenantStatus === 'Suspended' ? ' ' : '', t.tenantStatus === 'Suspended' ? badge('Suspended') : '');
  }
  setText(row.cells.rpm, fmtNumber(t.requestsLastMinute));
  setText(row.cells.p95, fmtMs(t.p95LatencyMs));
  setText(row.cells.errors, fmtPercent(t.errorRate));
  setText(row.cells.reset, fmtDuration(Date.parse(t.resetAt) - generatedAt));
  row.cells.reset.title = 'Resets ' + fmtTime(t.resetAt);
}

function render() {
  pendingFrame = 0;
  if (!view) return;
  const generatedAt = Date.parse(view.generatedAt);
  for (const id of view.order) {
    const t = view.tenants.get(id);
    let row = rows.get(id);
    if (!row) { row = createRow(t); rows.set(id, row); }
    // Rows that did not change keep their object, and their text stays as written; only the countdown moves.
    if (row.data !== t || row.generatedAt !== view.generatedAt) {
      updateRow(row, t, generatedAt);
      row.data = t;
      row.generatedAt = view.generatedAt;
    }
  }
  for (const id of rows.keys()) if (!view.tenants.has(id)) rows.delete(id);

  const order = view.order.join(',');
  // Moving a row that holds the keyboard focus would drop the focus: wait until it leaves the table.
  const focusInside = tbody.contains(document.activeElement);
  if (order !== lastOrder && !focusInside) {
    lastOrder = order;
    if (view.order.length) {
      tbody.replaceChildren(...view.order.map((id) => rows.get(id).tr));
    } else {
      const message = view.totals.tenants ? 'No tenant matches the filter.' : 'No tenants yet.';
      tbody.replaceChildren(el('tr', {}, el('td', { colSpan: 8, className: 'empty' }, message)));
    }
  }

  renderTotals(view.totals);
  renderPager();
  setText($('#updated'), 'Updated ' + fmtTime(view.generatedAt, { seconds: true }));
}

function renderTotals(totals) {
  setText($('#total-tenants'), fmtNumber(totals.tenants));
  setText($('#total-rpm'), fmtNumber(totals.requestsLastMinute));
  setText($('#total-used'), fmtNumber(totals.used));
  setText($('#total-errors'), totals.requestsLastMinute ? fmtPercent(totals.errorRate) : '–');
  setText($('#total-warning'), fmtNumber(totals.warning));
  setText($('#total-blocked'), fmtNumber(totals.blocked));
}

function renderPager() {
  const first = view.offset + 1;
  const last = view.offset + view.order.length;
  const filtered = view.matched !== view.totals.tenants;
  const of = filtered ? `${fmtNumber(view.matched)} matching of ${fmtNumber(view.totals.tenants)} tenants` : `${fmtNumber(view.matched)} tenants`;
  setText($('#shown'), view.order.length ? `${fmtNumber(first)}–${fmtNumber(last)} of ${of}` : of);
  const pages = Math.max(1, Math.ceil(view.matched / PAGE_SIZE));
  setText($('#page-number'), `Page ${fmtNumber(state.page)} of ${fmtNumber(pages)}`);
  $('#page-prev').disabled = state.page <= 1;
  $('#page-next').disabled = state.page >= pages;
}

function schedule() {
  if (!pendingFrame) pendingFrame = requestAnimationFrame(render);
}

// A 'page' replaces what the overview holds; a 'delta' patches it.
function receive(data, type) {
  showStorageIfAny(data.storage);
  if (type === 'page') {
    view = {
      generatedAt: data.generatedAt, offset: data.offset, matched: data.matched, totals: data.totals,
      order: data.tenants.map((t) => t.id), tenants: new Map(data.tenants.map((t) => [t.id, t])),
    };
    lastOrder = '';
    // Asked for a page past the end (the filter narrowed, tenants went): go to the last page there is.
    const pages = Math.max(1, Math.ceil(data.matched / PAGE_SIZE));
    if (state.page > pages) { state.page = pages; saveState(); openStream(); return; }
  } else if (view) {
    view.generatedAt = data.generatedAt;
    if (data.totals) view.totals = data.totals;
    if (data.matched !== undefined) view.matched = data.matched;
    for (const t of data.rows ?? []) view.tenants.set(t.id, t);
    if (data.order) {
      view.order = data.order;
      const keep = new Set(data.order);
      for (const id of view.tenants.keys()) if (!keep.has(id)) view.tenants.delete(id);
    }
  }
  schedule();
}

function streamUrl() {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String((state.page - 1) * PAGE_SIZE), sort: state.sort, dir: state.dir });
  if (state.q) query.set('q', state.q);
  if (state.status) query.set('status', state.status);
  if (state.plan) query.set('plan', state.plan);
  return '/api/admin/stream?' + query;
}

function openStream() {
  closeStream?.();
  closeStream = liveStream(receive, setLive, { url: streamUrl(), events: ['page', 'delta'] });
}

function saveState() {
  const query = new URLSearchParams();
  if (state.sort !== DEFAULT_SORT) query.set('sort', state.sort);
  if (state.dir !== firstDirOf(state.sort)) query.set('dir', state.dir);
  if (state.q) query.set('q', state.q);
  if (state.status) query.set('status', state.status);
  if (state.plan) query.set('plan', state.plan);
  if (state.page > 1) query.set('page', String(state.page));
  const search = query.toString();
  history.replaceState(null, '', location.pathname + (search ? '?' + search : ''));
}

// A new view: back to its first page unless paging, into the URL, and a stream of its own.
function changeView({ keepPage = false } = {}) {
  if (!keepPage) state.page = 1;
  saveState();
  showSort();
  openStream();
}

function showSort() {
  for (const th of document.querySelectorAll('#tenants th[data-key]')) {
    if (th.dataset.key === state.sort) th.setAttribute('aria-sort', state.dir === 'asc' ? 'ascending' : 'descending');
    else th.removeAttribute('aria-sort');
  }
}

async function loadPlans(select) {
  try {
    const plans = await api('/api/admin/plans');
    select.append(...plans.map((p) => el('option', { value: p.name }, p.name)));
    select.value = state.plan;
  } catch { /* a role that may not list plans keeps "Any plan" */ }
}

function initControls() {
  const filter = $('#filter');
  const status = $('#status-filter');
  const plan = $('#plan-filter');
  filter.value = state.q;
  status.value = state.status;
  if (state.plan) plan.append(el('option', { value: state.plan }, state.plan));
  plan.value = state.plan;
  // Typing waits for a pause: each search is a new stream.
  filter.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      if (state.q === filter.value.trim()) return;
      state.q = filter.value.trim();
      changeView();
    }, 200);
  });
  status.addEventListener('change', () => { state.status = status.value; changeView(); });
  plan.addEventListener('change', () => { state.plan = plan.value; changeView(); });
  $('#page-prev').addEventListener('click', () => { if (state.page > 1) { state.page--; changeView({ keepPage: true }); } });
  $('#page-next').addEventListener('click', () => { state.page++; changeView({ keepPage: true }); });
  for (const th of document.querySelectorAll('#tenants th[data-key]')) {
    th.querySelector('button').addEventListener('click', () => {
      const key = th.dataset.key;
      state.dir = state.sort === key ? (state.dir === 'asc' ? 'desc' : 'asc') : firstDirOf(key);
      state.sort = key;
      changeView();
    });
  }
  // When the focus leaves the table, apply an order that was held back while it was inside.
  tbody.addEventListener('focusout', () => setTimeout(schedule, 0));
  showSort();
  return loadPlans(plan);
}

function showStorageIfAny(storage) {
  if (storage) showStorage(storage);
}

// While usage storage fails (database away: spooling to disk; spool failing too: refusing or dropping rows) the
// operator must see it at once, whatever the table shows.
function showStorage(storage) {
  const banner = $('#storage-banner');
  const stateName = storage?.state ?? 'Healthy';
  const since = storage?.since ? ` since ${fmtTime(storage.since)}` : '';
  let text = '';
  if (stateName === 'Spooling') {
    text = `The database is not taking usage records${since}: Tollgate spools them to local disk (${fmtNumber(storage.spooledEvents)} waiting) and replays them when it answers again.`;
  } else if (stateName === 'Refusing') {
    text = `Usage cannot be recorded${since} (database and spool unavailable): metered requests are refused with 503 (${fmtNumber(storage.refusedRequests)} so far).`;
  } else if (stateName === 'Dropping') {
    text = `Usage cannot be recorded${since} (database and spool unavailable): requests are served without their request-log rows (${fmtNumber(storage.droppedRows)} dropped so far).`;
  }
  banner.dataset.state = stateName;
  setText(banner, text);
  banner.hidden = text === '';
}

function setLive(stateName) {
  const live = $('#live');
  if (live.dataset.state === stateName) return;
  live.dataset.state = stateName;
  live.textContent = stateName === 'live' ? 'Live' : stateName === 'reconnecting' ? 'Reconnecting…' : 'Connecting…';
}

function initAddTenant() {
  const dialog = $('#tenant-dialog');
  const form = $('#tenant-form');
  const error = $('#tenant-error');
  $('#add-tenant').addEventListener('click', async () => {
    error.textContent = '';
    form.reset();
    const select = form.elements.planId;
    try {
      const plans = await api('/api/admin/plans');
      select.replaceChildren(...plans.map((p) => el('option', { value: String(p.id) }, `${p.name} (${fmtNumber(p.quota.limit)} / ${p.quota.period.toLowerCase()})`)));
    } catch (e) {
      error.textContent = e.message;
    }
    dialog.showModal();
    form.elements.name.focus();
  });
  $('#tenant-cancel').addEventListener('click', () => dialog.close());
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    if (!form.elements.planId.value) { error.textContent = 'Create a plan first (Plans page).'; return; }
    try {
      const tenant = await api('/api/admin/tenants', {
        method: 'POST',
        body: { name: form.elements.name.value, planId: Number(form.elements.planId.value) },
      });
      location.assign(`/tenants/${tenant.id}`);
    } catch (e) {
      error.textContent = describeProblem(e.problem) || e.message;
    }
  });
}

const plansLoaded = initControls();
initAddTenant();
openStream();
await initShell();
await plansLoaded;

// Tenants that crossed an alert threshold in their current quota period (the events webhooks are sent for); a small
// list above the table, read every 30 s rather than pushed: it changes a few times a period.
async function showQuotaAlerts() {
  const box = $('#quota-alerts');
  try {
    const alerts = await api('/api/admin/alerts');
    box.hidden = alerts.length === 0;
    box.replaceChildren(el('strong', {}, 'Quota alerts this period: '), ...alerts.slice(0, 10).flatMap((a, i) => [
      i ? ', ' : '',
      el('a', { href: `/tenants/${a.tenantId}` }, a.tenantName),
      ` ≥ ${a.threshold} % (${fmtNumber(a.used)}/${fmtNumber(a.limit)}, since ${fmtTime(a.crossedAt)})`,
    ]), alerts.length > 10 ? ` and ${alerts.length - 10} more` : '');
  } catch {
    // The table's own indicator tells of a lost connection.
  }
}

await showQuotaAlerts();
setInterval(showQuotaAlerts, 30_000);
