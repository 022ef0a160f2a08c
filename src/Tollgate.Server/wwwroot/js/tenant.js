// One tenant: live usage, charts and breakdowns over a range kept in the URL, the request log, monthly statements,
// keys, users and plan.
import {
  api, liveStream, el, $, badge, usageCell, updateUsageCell, confirmDialog, copyText, describeProblem, flash,
  fmtNumber, fmtPercent, fmtMs, fmtDuration, fmtTime,
} from './api.js';
import { initShell } from './shell.js';

const RANGES = {
  '1h': { ms: 3600e3, bucket: 'minute', text: 'last hour, per minute' },
  '24h': { ms: 86400e3, bucket: 'hour', text: 'last 24 hours, per hour' },
  '7d': { ms: 7 * 86400e3, bucket: 'hour', text: 'last 7 days, per hour' },
  '30d': { ms: 30 * 86400e3, bucket: 'day', text: 'last 30 days, per day' },
};
const COLORS = { admitted: '#10b981', errors: '#f59e0b', rejected: '#ef4444', p50: '#60a5fa', p95: '#1d4ed8', p99: '#7c3aed' };
const LOG_PAGE = 25;

const tenantId = Number(location.pathname.split('/')[2]);
const user = await initShell();
const superAdmin = user.role === 'SuperAdmin';
let tenant = null;
let plans = [];
let keysById = new Map();
let range = rangeFromUrl();
let charts = {};
let log = { cursors: [null], next: null };

function rangeFromUrl() {
  const value = new URLSearchParams(location.search).get('range');
  return value in RANGES ? value : '24h';
}

function windowOf(name) {
  const to = new Date();
  return { from: new Date(to.getTime() - RANGES[name].ms).toISOString(), to: to.toISOString() };
}

// ---------- tenant, plan, users, keys ----------

async function loadTenant() {
  try {
    [tenant, plans] = await Promise.all([api(`/api/admin/tenants/${tenantId}`), api('/api/admin/plans')]);
  } catch (e) {
    if (e.status === 404 || e.status === 400) {
      $('#missing').hidden = false;
      return false;
    }
    throw e;
  }
  $('#tenant').hidden = false;
  document.title = `Tollgate · ${tenant.name}`;
  $('#tenant-name').textContent = tenant.name;
  $('#crumb').textContent = tenant.name;
  $('#tenant-status').replaceChildren(badge(tenant.status));
  renderPlan();
  return true;
}

function describeQuota(q) { return `${fmtNumber(q.limit)} requests per ${q.period.toLowerCase()}`; }
function describeRate(r) { return r ? `${fmtNumber(r.limit)} per ${r.windowSeconds} s` : 'none'; }

function renderPlan() {
  const plan = plans.find((p) => p.id === tenant.planId);
  const rows = [
    ['Plan', plan ? plan.name : `#${tenant.planId}`],
    ['Quota', plan ? describeQuota(plan.quota) : '–'],
    ['Rate', plan ? describeRate(plan.rate) : '–'],
  ];
  if (tenant.quotaOverride) rows.push(['Quota override', describeQuota(tenant.quotaOverride)]);
  if (tenant.rateOverride) rows.push(['Rate override', describeRate(tenant.rateOverride)]);
  rows.push(['Status', tenant.status]);
  $('#plan-details').replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));

  const select = $('#plan-form').elements.planId;
  select.replaceChildren(...plans.map((p) => el('option', { value: String(p.id), selected: p.id === tenant.planId }, `${p.name} — ${describeQuota(p.quota)}`)));
  $('#suspend').textContent = tenant.status === 'Active' ? 'Suspend tenant' : 'Reactivate tenant';
}

async function patchTenant(body, message) {
  try {
    tenant = await api(`/api/admin/tenants/${tenantId}`, { method: 'PATCH', body });
    $('#tenant-status').replaceChildren(badge(tenant.status));
    renderPlan();
    flash($('#plan-status'), message);
  } catch (e) {
    flash($('#plan-status'), describeProblem(e.problem) || e.message, 'bad');
  }
}

function initPlanControls() {
  $('#plan-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const planId = Number(event.target.elements.planId.value);
    if (planId === tenant.planId) { flash($('#plan-status'), 'The tenant is already on this plan.', 'warn'); return; }
    const plan = plans.find((p) => p.id === planId);
    await patchTenant({ planId }, `Moved to ${plan?.name ?? 'the new plan'}; the new limits apply from the next request.`);
  });
  $('#suspend').addEventListener('click', async () => {
    const suspend = tenant.status === 'Active';
    if (suspend && !(await confirmDialog({
      title: `Suspend ${tenant.name}?`,
      message: 'Every call with its keys will be refused with 403 until you reactivate it.',
      confirmLabel: 'Suspend',
    }))) return;
    await patchTenant({ status: suspend ? 'Suspended' : 'Active' }, suspend ? 'Suspended.' : 'Reactivated.');
  });
  $('#delete').addEventListener('click', async () => {
    if (!(await confirmDialog({
      title: `Delete ${tenant.name}?`,
      message: 'Its keys, users and tenant admins are deleted; its usage history is kept. This cannot be undone.',
      confirmLabel: 'Delete tenant',
    }))) return;
    try {
      await api(`/api/admin/tenants/${tenantId}`, { method: 'DELETE' });
      location.assign('/');
    } catch (e) {
      flash($('#plan-status'), describeProblem(e.problem) || e.message, 'bad');
    }
  });
}

async function loadUsers() {
  const users = await api(`/api/admin/tenants/${tenantId}/users`);
  $('#users').replaceChildren(...(users.length
    ? users.map((u) => el('tr', {}, el('td', {}, u.username), el('td', { className: 'nowrap' }, fmtTime(u.createdAt))))
    : [el('tr', {}, el('td', { colSpan: 2, className: 'empty' }, 'No users yet.'))]));
}

function keyState(k) {
  if (k.revokedAt) return 'Revoked';
  if (k.expiresAt && Date.parse(k.expiresAt) <= Date.now()) return 'Expired';
  return 'Active';
}

async function loadKeys() {
  const keys = await api(`/api/admin/tenants/${tenantId}/keys`);
  keysById = new Map(keys.map((k) => [k.id, k]));
  // Active keys first, newest first within each group.
  keys.sort((a, b) => (keyState(a) === 'Active' ? 0 : 1) - (keyState(b) === 'Active' ? 0 : 1) || b.id - a.id);
  $('#keys').replaceChildren(...(keys.length ? keys.map(keyRow) : [el('tr', {}, el('td', { colSpan: 7, className: 'empty' }, 'No keys yet.'))]));
}

function keyRow(k) {
  const stateName = keyState(k);
  const editor = user.role !== 'Viewer';
  const revoke = stateName === 'Revoked' || !editor ? '' : el('button', {
    type: 'button', className: 'quiet small danger-text', 'aria-label': `Revoke key ${k.name} (${k.start}…)`,
    onclick: () => revokeKey(k),
  }, 'Revoke');
  const rotate = stateName !== 'Active' || !editor ? '' : el('button', {
    type: 'button', className: 'quiet small', 'aria-label': `Rotate key ${k.name} (${k.start}…)`,
    onclick: () => rotateKey(k),
  }, 'Rotate');
  return el('tr', { dataset: { keyId: String(k.id) } },
    el('td', {}, k.name),
    el('td', {}, el('code', {}, k.start + '…')),
    el('td', { className: 'nowrap hide-narrow' }, fmtTime(k.createdAt)),
    el('td', { className: 'nowrap' }, k.lastUsedAt ? fmtTime(k.lastUsedAt) : 'never'),
    el('td', { className: 'nowrap hide-narrow' }, k.expiresAt ? fmtTime(k.expiresAt) : 'never'),
    el('td', {}, badge(stateName)),
    el('td', { className: 'nowrap' }, rotate, ' ', revoke));
}

/** A new key for the same tenant; the old one keeps working for the chosen grace period, then gets 401. */
async function rotateKey(k) {
  const grace = Number(form().elements.grace.value);
  if (!(await confirmDialog({
    title: `Rotate key ${k.name}?`,
    message: `A new key is made now. The key starting ${k.start} keeps working for ${fmtDuration(grace * 1000)}, then gets 401.`,
    confirmLabel: 'Rotate key',
    danger: false,
  }))) return;
  try {
    const created = await api(`/api/admin/tenants/${tenantId}/keys/${k.id}/rotate`, { method: 'POST', body: { gracePeriodSeconds: grace } });
    showNewKey(created);
    await loadKeys();
  } catch (e) {
    flash($('#key-status'), describeProblem(e.problem) || e.message, 'bad');
  }
}

async function revokeKey(k) {
  if (!(await confirmDialog({
    title: `Revoke key ${k.name}?`,
    message: `Calls with the key starting ${k.start} will be refused with 401 from now on. This cannot be undone.`,
    confirmLabel: 'Revoke key',
  }))) return;
  try {
    await api(`/api/admin/tenants/${tenantId}/keys/${k.id}`, { method: 'DELETE' });
    flash($('#key-status'), `Revoked ${k.name} (${k.start}…).`);
    await loadKeys();
  } catch (e) {
    flash($('#key-status'), describeProblem(e.problem) || e.message, 'bad');
  }
}

function initKeyForm() {
  const form = $('#key-form');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const name = form.elements.name.value.trim();
    const expires = form.elements.expires.value;
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    $('#key-status').replaceChildren();
    try {
      const created = await api(`/api/admin/tenants/${tenantId}/keys`, {
        method: 'POST',
        body: { name: name || null, expiresAt: expires ? `${expires}T00:00:00Z` : null },
      });
      form.reset();
      showNewKey(created);
      await loadKeys();
    } catch (e) {
      flash($('#key-status'), describeProblem(e.problem) || e.message, 'bad');
    } finally {
      button.disabled = false;
    }
  });
}

/** The whole key, this once: it lives only in this box and is gone when the box is closed or the page reloads. */
function showNewKey(created) {
  const input = el('input', { id: 'new-key-value', value: created.key, readOnly: true, 'aria-label': 'The new API key' });
  const copied = el('span', { role: 'status', className: 'muted' });
  const copy = el('button', { type: 'button', className: 'primary small' }, 'Copy');
  copy.addEventListener('click', async () => { copied.textContent = (await copyText(created.key, input)) ? 'Copied to the clipboard.' : 'Press Ctrl+C to copy.'; });
  const done = el('button', { type: 'button', className: 'small' }, 'I have stored it');
  done.addEventListener('click', () => { $('#new-key').replaceChildren(); form().elements.name.focus(); });
  $('#new-key').replaceChildren(el('div', { className: 'secret', role: 'region', 'aria-label': 'New API key' },
    el('strong', {}, `Key “${created.name}” created. Copy it now: it will not be shown again.`),
    el('div', { className: 'key-line' }, input, copy, copied),
    el('p', { className: 'muted' }, 'Tollgate stores only a hash of the key. If it is lost, revoke it and create another. Send it as the X-API-KEY header.'),
    done));
  input.focus();
  input.select();
}

const form = () => $('#key-form');

// ---------- usage: charts, endpoints, status codes ----------

function label(start, bucket) {
  const iso = new Date(start).toISOString();
  if (bucket === 'day') return iso.slice(5, 10);
  if (range === '7d') return iso.slice(5, 10) + ' ' + iso.slice(11, 16);
  return iso.slice(11, 16);
}

function chartOptions(yTitle) {
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    interaction: { mode: 'index', intersect: false },
    plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } },
    scales: {
      x: { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 8 }, grid: { display: false } },
      y: { beginAtZero: true, title: { display: true, text: yTitle } },
    },
  };
}

function drawCharts(series) {
  const labels = series.points.map((p) => label(p.start, series.bucket));
  const admitted = series.points.map((p) => p.requests - p.errors - p.rejected);
  const errors = series.points.map((p) => p.errors);
  const rejected = series.points.map((p) => p.rejected);
  const total = series.points.reduce((sum, p) => sum + p.requests, 0);
  const totalErrors = errors.reduce((a, b) => a + b, 0);
  const totalRejected = rejected.reduce((a, b) => a + b, 0);
  $('#requests-total').textContent = `· ${fmtNumber(total)}`;
  $('#requests-chart').setAttribute('aria-label',
    `Requests, ${RANGES[range].text}: ${fmtNumber(total)} in all, ${fmtNumber(totalErrors)} errors, ${fmtNumber(totalRejected)} rejected.`);
  const worstP95 = Math.max(0, ...series.points.map((p) => p.p95Ms ?? 0));
  $('#latency-chart').setAttribute('aria-label', `Latency p50, p95 and p99, ${RANGES[range].text}; highest p95 ${fmtMs(worstP95)}.`);

  const requestData = {
    labels,
    datasets: [
      { label: 'Admitted', data: admitted, backgroundColor: COLORS.admitted, stack: 'requests' },
      { label: 'Errors (4xx/5xx)', data: errors, backgroundColor: COLORS.errors, stack: 'requests' },
      { label: 'Rejected (429)', data: rejected, backgroundColor: COLORS.rejected, stack: 'requests' },
    ],
  };
  const line = (name, key, color) => ({
    label: name, data: series.points.map((p) => p[key]), borderColor: color, backgroundColor: color,
    pointRadius: 0, borderWidth: 2, spanGaps: true, tension: 0.2,
  });
  const latencyData = { labels, datasets: [line('p50', 'p50Ms', COLORS.p50), line('p95', 'p95Ms', COLORS.p95), line('p99', 'p99Ms', COLORS.p99)] };

  if (!window.Chart) return;
  if (charts.requests) {
    charts.requests.data = requestData;
    charts.requests.update();
    charts.latency.data = latencyData;
    charts.latency.update();
    return;
  }
  const requestOptions = chartOptions('requests');
  requestOptions.scales.x.stacked = true;
  requestOptions.scales.y.stacked = true;
  requestOptions.scales.y.ticks = { precision: 0 };
  charts.requests = new window.Chart($('#requests-chart'), { type: 'bar', data: requestData, options: requestOptions });
  charts.latency = new window.Chart($('#latency-chart'), { type: 'line', data: latencyData, options: chartOptions('ms') });
}

function renderEndpoints(list) {
  $('#endpoints').replaceChildren(...(list.endpoints.length
    ? list.endpoints.map((e) => el('tr', {},
      el('td', {}, el('code', {}, `${e.method} ${e.endpoint}`)),
      el('td', { className: 'num' }, fmtNumber(e.requests)),
      el('td', { className: 'num' }, fmtPercent(e.errorRate)),
      el('td', { className: 'num' }, fmtMs(e.p95Ms)),
      el('td', { className: 'num', title: e.meanMs === null ? '' : `mean ${fmtMs(e.meanMs)}, of which Tollgate ${fmtMs(e.ownMeanMs)}` }, fmtMs(e.ownMeanMs))))
    : [el('tr', {}, el('td', { colSpan: 5, className: 'empty' }, 'No requests in this range.'))]));
}

function renderCodes(list) {
  const total = list.statusCodes.reduce((sum, c) => sum + c.requests, 0);
  $('#codes').replaceChildren(...(list.statusCodes.length
    ? list.statusCodes.map((c) => {
      const share = total ? c.requests / total : 0;
      const bar = el('span', { className: 'share' });
      bar.style.width = Math.max(2, Math.round(share * 80)) + 'px';
      const kind = c.statusCode >= 500 ? 'blocked' : c.statusCode >= 400 ? 'warning' : 'normal';
      return el('tr', {},
        el('td', {}, el('span', { className: 'badge ' + kind }, String(c.statusCode))),
        el('td', { className: 'num' }, fmtNumber(c.requests)),
        el('td', { className: 'num' }, bar, ' ', fmtPercent(share)));
    })
    : [el('tr', {}, el('td', { colSpan: 3, className: 'empty' }, 'No requests in this range.'))]));
}

async function loadUsage() {
  const { from, to } = windowOf(range);
  const query = `tenantId=${tenantId}&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
  const [series, endpoints, codes] = await Promise.all([
    api(`/api/admin/usage?${query}&bucket=${RANGES[range].bucket}`),
    api(`/api/admin/usage/endpoints?${query}`),
    api(`/api/admin/usage/status-codes?${query}`),
  ]);
  drawCharts(series);
  renderEndpoints(endpoints);
  renderCodes(codes);
  $('#range-note').textContent = `Charts and tables: ${RANGES[range].text} (UTC), from the per-minute roll-ups.`;
}

// ---------- request log ----------

async function loadLog() {
  const { from } = windowOf(range);
  const cursor = log.cursors[log.cursors.length - 1];
  const page = await api(`/api/admin/logs?tenantId=${tenantId}&from=${encodeURIComponent(from)}&limit=${LOG_PAGE}` + (cursor ? `&cursor=${cursor}` : ''));
  log.next = page.nextCursor;
  $('#log').replaceChildren(...(page.items.length
    ? page.items.map((r) => {
      const key = keysById.get(r.apiKeyId);
      return el('tr', { dataset: { id: String(r.id) } },
        el('td', { className: 'nowrap' }, fmtTime(r.timestamp, { seconds: true }).replace(' UTC', '')),
        el('td', {}, el('code', {}, `${r.method} ${r.endpoint}`)),
        el('td', { className: 'num' }, String(r.statusCode)),
        el('td', { className: 'num' }, fmtMs(r.latencyMs)),
        el('td', {}, badge(r.outcome)),
        el('td', { className: 'hide-narrow' }, key ? `${key.name} (${key.start}…)` : `#${r.apiKeyId}`));
    })
    : [el('tr', {}, el('td', { colSpan: 6, className: 'empty' }, 'No requests in this range.'))]));
  $('#log-page').textContent = `Page ${log.cursors.length}`;
  $('#log-newer').disabled = log.cursors.length === 1;
  $('#log-older').disabled = !log.next;
}

function initLog() {
  $('#log-older').addEventListener('click', async () => { if (log.next) { log.cursors.push(log.next); await loadLog(); } });
  $('#log-newer').addEventListener('click', async () => { if (log.cursors.length > 1) { log.cursors.pop(); await loadLog(); } });
  $('#export').addEventListener('click', exportCsv);
}

/**
 * Fetches a CSV export and hands it to the browser as a download. A plain link cannot do it: the admin API answers
 * CSV only to a request that asks for text/csv, which a navigation does not send. The file is called name, or else
 * what the server calls it (Content-Disposition).
 */
async function downloadCsv(path, name) {
  const response = await api(path, { accept: 'text/csv' });
  const disposition = response.headers.get('content-disposition') || '';
  name ??= /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? 'tollgate.csv';
  const url = URL.createObjectURL(await response.blob());
  const link = el('a', { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

async function exportCsv() {
  const status = $('#export-status');
  const { from } = windowOf(range);
  flash(status, 'Preparing the CSV…', 'warn');
  try {
    // The page's own name (tenant and range) rather than the server's, which knows no range.
    await downloadCsv(`/api/admin/logs?tenantId=${tenantId}&from=${encodeURIComponent(from)}`,
      `tollgate-${tenant.name.replace(/[^A-Za-z0-9]+/g, '-').toLowerCase()}-${range}.csv`);
    flash(status, `Exported the request log of the ${RANGES[range].text.split(',')[0]}.`);
  } catch (e) {
    flash(status, describeProblem(e.problem) || e.message, 'bad');
  }
}

// ---------- monthly statements ----------

async function loadStatements() {
  // Without a range the API answers the last 12 months, the current one first.
  const statements = await api(`/api/admin/tenants/${tenantId}/statements`);
  $('#statements').replaceChildren(...statements.map((s) => el('tr', { dataset: { month: s.month } },
    el('td', { className: 'nowrap' }, s.month, s.complete ? '' : el('span', { className: 'muted' }, ' · in progress')),
    el('td', { className: 'num' }, fmtNumber(s.requests)),
    el('td', { className: 'num' }, fmtNumber(s.admitted)),
    el('td', { className: 'num' }, fmtNumber(s.rateLimited + s.quotaExceeded)),
    el('td', { className: 'num' }, fmtNumber(s.errors)),
    el('td', { className: 'num' }, fmtMs(s.p95Ms)),
    el('td', {}, el('button', {
      type: 'button', className: 'quiet small', 'aria-label': `Download the statement of ${s.month} as CSV`,
      onclick: () => downloadStatements(`/statements/${s.month}`, `the statement of ${s.month}`),
    }, 'CSV')))));
}

async function downloadStatements(path, what) {
  const status = $('#statements-status');
  try {
    await downloadCsv(`/api/admin/tenants/${tenantId}${path}`);
    flash(status, `Downloaded ${what}.`);
  } catch (e) {
    flash(status, describeProblem(e.problem) || e.message, 'bad');
  }
}

function initStatements() {
  $('#statements-csv').addEventListener('click', () => downloadStatements('/statements', 'the statements of the last 12 months'));
}

// ---------- range picker (kept in the URL) ----------

function showRange() {
  for (const button of document.querySelectorAll('[data-range]')) button.setAttribute('aria-pressed', String(button.dataset.range === range));
}

async function setRange(name, push) {
  range = name;
  if (push) {
    const query = new URLSearchParams(location.search);
    query.set('range', name);
    history.pushState(null, '', `${location.pathname}?${query}`);
  }
  showRange();
  log = { cursors: [null], next: null };
  await Promise.all([loadUsage(), loadLog()]);
}

function initRange() {
  for (const button of document.querySelectorAll('[data-range]')) {
    button.addEventListener('click', () => { if (button.dataset.range !== range) setRange(button.dataset.range, true); });
  }
  window.addEventListener('popstate', () => setRange(rangeFromUrl(), false));
  showRange();
}

// ---------- live card ----------

function setLive(stateName) {
  const live = $('#live');
  if (live.dataset.state === stateName) return;
  live.dataset.state = stateName;
  live.textContent = stateName === 'live' ? 'Live' : stateName === 'reconnecting' ? 'Reconnecting…' : 'Connecting…';
}

function renderLive(snapshot) {
  const row = snapshot.tenants.find((t) => t.id === tenantId);
  if (!row) return;
  const holder = $('#live-usage');
  if (!holder.firstChild) holder.append(usageCell(row.used, row.limit, row.status));
  else updateUsageCell(holder.firstChild, row.used, row.limit, row.status);
  const status = $('#live-status');
  if (status.dataset.status !== row.status) { status.dataset.status = row.status; status.replaceChildren(badge(row.status)); }
  $('#live-rpm').textContent = fmtNumber(row.requestsLastMinute);
  $('#live-p95').textContent = fmtMs(row.p95LatencyMs);
  $('#live-errors').textContent = fmtPercent(row.errorRate);
  $('#live-reset').textContent = fmtDuration(Date.parse(row.resetAt) - Date.parse(snapshot.generatedAt));
  $('#live-reset').title = 'Resets ' + fmtTime(row.resetAt);
}

// ---------- start ----------

if (await loadTenant()) {
  initRange();
  initLog();
  initKeyForm();
  initPlanControls();
  initStatements();
  await Promise.all([loadKeys(), loadUsers(), loadStatements()]);
  await Promise.all([loadUsage(), loadLog()]);
  liveStream(renderLive, setLive);
  // Keep the charts and breakdowns current while the page stays open (the log keeps its page until asked).
  setInterval(() => { if (document.visibilityState === 'visible') loadUsage().catch(() => {}); }, 60000);
}
