// The audit log: who changed what, when; filtered on the server, newest first, a page at a time, or as CSV.
import { api, el, $, describeProblem, flash, fmtTime } from './api.js';
import { initShell } from './shell.js';

await initShell();
const PAGE = 50;
let pages = [null];
let page = 0;

function query(extra = {}) {
  const f = $('#filters').elements;
  const params = new URLSearchParams();
  if (f.actor.value.trim()) params.set('actor', f.actor.value.trim());
  if (f.tenantId.value) params.set('tenantId', f.tenantId.value);
  if (f.action.value.trim()) params.set('action', f.action.value.trim());
  if (f.from.value) params.set('from', f.from.value + 'Z');
  if (f.to.value) params.set('to', f.to.value + 'Z');
  for (const [k, v] of Object.entries(extra)) if (v !== null && v !== undefined) params.set(k, String(v));
  return params;
}

async function load() {
  try {
    const entries = await api('/api/admin/audit?' + query({ limit: PAGE, before: pages[page] }));
    $('#entries').replaceChildren(...(entries.length ? entries.map((a) => el('tr', {},
      el('td', { className: 'nowrap' }, fmtTime(a.timestamp, { seconds: true })),
      el('td', {}, a.actor),
      el('td', {}, el('code', {}, a.action)),
      el('td', {}, a.target),
      el('td', { className: 'num' }, a.tenantId ?? '–'),
      el('td', {}, el('code', { className: 'details' }, a.details ?? ''))))
      : [el('tr', {}, el('td', { colSpan: 6, className: 'empty' }, 'No entries.'))]));
    pages[page + 1] = entries.length === PAGE ? entries[entries.length - 1].id : undefined;
    $('#older').disabled = pages[page + 1] === undefined;
    $('#newer').disabled = page === 0;
  } catch (e) {
    flash($('#status'), describeProblem(e.problem) || e.message, 'bad');
  }
}

$('#filters').addEventListener('submit', (event) => { event.preventDefault(); pages = [null]; page = 0; load(); });
$('#older').addEventListener('click', () => { page++; load(); });
$('#newer').addEventListener('click', () => { page = Math.max(0, page - 1); load(); });
$('#export').addEventListener('click', async () => {
  try {
    const response = await api('/api/admin/audit?' + query(), { accept: 'text/csv' });
    const url = URL.createObjectURL(await response.blob());
    el('a', { href: url, download: 'tollgate-audit.csv' }).click();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (e) {
    flash($('#status'), describeProblem(e.problem) || e.message, 'bad');
  }
});

await load();
