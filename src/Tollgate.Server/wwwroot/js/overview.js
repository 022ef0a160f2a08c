// The live overview: one row per tenant, pushed by /api/admin/stream. Rows are kept and patched in place (only
// the text that changed is written) and re-ordered only when the order changes, so a thousand tenants updated
// twice a second stay cheap to draw.
import {
  api, liveStream, el, $, badge, usageCell, updateUsageCell, fmtNumber, fmtPercent, fmtMs, fmtDuration, fmtTime, describeProblem,
} from './api.js';
import { initShell } from './shell.js';

const STATUS_ORDER = { Normal: 0, Warning: 1, Blocked: 2 };
const params = new URLSearchParams(location.search);
const state = {
  sort: params.get('sort') || 'name',
  dir: params.get('dir') === 'desc' ? 'desc' : 'asc',
  q: params.get('q') || '',
  status: params.get('status') || '',
};

const rows = new Map();
const tbody = $('#rows');
let snapshot = null;
let lastOrder = '';
let pendingFrame = 0;

const sorters = {
  name: (a, b) => a.name.localeCompare(b.name, undefined, { sensitivity: 'base' }),
  plan: (a, b) => a.plan.localeCompare(b.plan) || sorters.name(a, b),
  usage: (a, b) => share(a) - share(b),
  status: (a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status] || share(a) - share(b),
  rpm: (a, b) => a.requestsLastMinute - b.requestsLastMinute,
  p95: (a, b) => (a.p95LatencyMs ?? -1) - (b.p95LatencyMs ?? -1),
  errors: (a, b) => a.errorRate - b.errorRate,
  reset: (a, b) => Date.parse(a.resetAt) - Date.parse(b.resetAt),
};

function share(t) { return t.limit > 0 ? t.used / t.limit : 1; }

function matches(t) {
  if (state.q && !t.name.toLowerCase().includes(state.q.toLowerCase())) return false;
  if (state.status === 'Suspended') return t.tenantStatus === 'Suspended';
  if (state.status && t.status !== state.status) return false;
  return true;
}

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
  return { tr, link, cells, statusKey: '' };
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
  if (!snapshot) return;
  const generatedAt = Date.parse(snapshot.generatedAt);
  const seen = new Set();
  for (const t of snapshot.tenants) {
    let row = rows.get(t.id);
    if (!row) { row = createRow(t); rows.set(t.id, row); }
    updateRow(row, t, generatedAt);
    seen.add(t.id);
  }
  for (const id of rows.keys()) if (!seen.has(id)) rows.delete(id);

  const compare = sorters[state.sort] || sorters.name;
  const sign = state.dir === 'desc' ? -1 : 1;
  const visible = snapshot.tenants.filter(matches).sort((a, b) => sign * compare(a, b) || sorters.name(a, b));
  const order = visible.map((t) => t.id).join(',');
  // Moving a row that holds the keyboard focus would drop the focus: wait until it leaves the table.
  const focusInside = tbody.contains(document.activeElement);
  if (order !== lastOrder && !focusInside) {
    lastOrder = order;
    if (visible.length) {
      tbody.replaceChildren(...visible.map((t) => rows.get(t.id).tr));
    } else {
      const message = snapshot.tenants.length ? 'No tenant matches the filter.' : 'No tenants yet.';
      tbody.replaceChildren(el('tr', {}, el('td', { colSpan: 8, className: 'empty' }, message)));
    }
  }

  renderTotals(snapshot.tenants, visible.length);
  setText($('#updated'), 'Updated ' + fmtTime(snapshot.generatedAt, { seconds: true }));
}

function renderTotals(tenants, shown) {
  let rpm = 0, used = 0, errors = 0, warning = 0, blocked = 0;
  for (const t of tenants) {
    rpm += t.requestsLastMinute;
    used += t.used;
    errors += t.errorRate * t.requestsLastMinute;
    if (t.status === 'Warning') warning++;
    if (t.status === 'Blocked') blocked++;
  }
  setText($('#total-tenants'), fmtNumber(tenants.length));
  setText($('#total-rpm'), fmtNumber(rpm));
  setText($('#total-used'), fmtNumber(used));
  setText($('#total-errors'), rpm ? fmtPercent(errors / rpm) : '–');
  setText($('#total-warning'), fmtNumber(warning));
  setText($('#total-blocked'), fmtNumber(blocked));
  setText($('#shown'), shown === tenants.length ? `${fmtNumber(shown)} tenants` : `${fmtNumber(shown)} of ${fmtNumber(tenants.length)} tenants`);
}

function schedule() {
  if (!pendingFrame) pendingFrame = requestAnimationFrame(render);
}

function saveState() {
  const query = new URLSearchParams();
  if (state.sort !== 'name') query.set('sort', state.sort);
  if (state.dir !== 'asc') query.set('dir', state.dir);
  if (state.q) query.set('q', state.q);
  if (state.status) query.set('status', state.status);
  const search = query.toString();
  history.replaceState(null, '', location.pathname + (search ? '?' + search : ''));
}

function showSort() {
  for (const th of document.querySelectorAll('#tenants th[data-key]')) {
    if (th.dataset.key === state.sort) th.setAttribute('aria-sort', state.dir === 'asc' ? 'ascending' : 'descending');
    else th.removeAttribute('aria-sort');
  }
}

function initControls() {
  const filter = $('#filter');
  const status = $('#status-filter');
  filter.value = state.q;
  status.value = state.status;
  filter.addEventListener('input', () => { state.q = filter.value.trim(); lastOrder = ''; saveState(); schedule(); });
  status.addEventListener('change', () => { state.status = status.value; lastOrder = ''; saveState(); schedule(); });
  for (const th of document.querySelectorAll('#tenants th[data-key]')) {
    th.querySelector('button').addEventListener('click', () => {
      const key = th.dataset.key;
      // Numbers read best biggest first; names and plans A to Z.
      const firstDir = ['name', 'plan', 'reset'].includes(key) ? 'asc' : 'desc';
      state.dir = state.sort === key ? (state.dir === 'asc' ? 'desc' : 'asc') : firstDir;
      state.sort = key;
      lastOrder = '';
      showSort();
      saveState();
      schedule();
    });
  }
  // When the focus leaves the table, apply an order that was held back while it was inside.
  tbody.addEventListener('focusout', () => setTimeout(schedule, 0));
  showSort();
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

initControls();
initAddTenant();
await initShell();
liveStream((data) => { snapshot = data; showStorage(data.storage); schedule(); }, setLive);

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
