// Plans: the tiers tenants are on. Everyone signed in may read them; only a super admin creates, edits or deletes.
import { api, el, $, confirmDialog, describeProblem, fmtNumber, flash } from './api.js';
import { initShell } from './shell.js';

const user = await initShell();
const superAdmin = user.role === 'SuperAdmin';
const dialog = $('#plan-dialog');
const form = $('#plan-form');
const error = $('#plan-error');
const status = $('#status');
let editing = null;

async function load() {
  const [plans, tenants] = await Promise.all([api('/api/admin/plans'), api('/api/admin/tenants')]);
  const counts = new Map();
  for (const t of tenants) counts.set(t.planId, (counts.get(t.planId) ?? 0) + 1);
  const body = $('#plans');
  if (!plans.length) {
    body.replaceChildren(el('tr', {}, el('td', { colSpan: 6, className: 'empty' }, 'No plans yet.')));
    return;
  }
  body.replaceChildren(...plans.map((p) => {
    const actions = superAdmin
      ? el('td', { className: 'nowrap' },
        el('button', { type: 'button', className: 'quiet small', onclick: () => open(p), 'aria-label': `Edit ${p.name}` }, 'Edit'),
        el('button', { type: 'button', className: 'quiet small danger-text', onclick: () => remove(p), 'aria-label': `Delete ${p.name}` }, 'Delete'))
      : null;
    return el('tr', { dataset: { planId: String(p.id) } },
      el('td', {}, el('strong', {}, p.name)),
      el('td', { className: 'num' }, fmtNumber(p.quota.limit)),
      el('td', {}, p.quota.period),
      el('td', { className: 'num' }, p.rate ? `${fmtNumber(p.rate.limit)} per ${p.rate.windowSeconds} s` : 'none'),
      el('td', { className: 'num' }, fmtNumber(counts.get(p.id) ?? 0)),
      actions);
  }));
}

function open(plan) {
  editing = plan;
  error.textContent = '';
  form.reset();
  $('#plan-dialog-title').textContent = plan ? `Edit ${plan.name}` : 'New plan';
  if (plan) {
    form.elements.name.value = plan.name;
    form.elements.quotaLimit.value = plan.quota.limit;
    form.elements.quotaPeriod.value = plan.quota.period;
    form.elements.rateLimit.value = plan.rate?.limit ?? '';
    form.elements.rateWindow.value = plan.rate?.windowSeconds ?? 1;
  }
  dialog.showModal();
  form.elements.name.focus();
}

async function remove(plan) {
  if (!(await confirmDialog({ title: `Delete ${plan.name}?`, message: 'Tenants on it must move to another plan first.', confirmLabel: 'Delete plan' }))) return;
  try {
    await api(`/api/admin/plans/${plan.id}`, { method: 'DELETE' });
    flash(status, `Deleted ${plan.name}.`);
    await load();
  } catch (e) {
    flash(status, describeProblem(e.problem) || e.message, 'bad');
  }
}

function readForm() {
  const name = form.elements.name.value.trim();
  const quotaLimit = Number(form.elements.quotaLimit.value);
  const rateText = form.elements.rateLimit.value.trim();
  const rateLimit = Number(rateText);
  const rateWindow = Number(form.elements.rateWindow.value);
  if (!name) return { problem: 'Give the plan a name.' };
  if (!Number.isInteger(quotaLimit) || quotaLimit < 1) return { problem: 'The quota must be a whole number of at least 1.' };
  if (rateText && (!Number.isInteger(rateLimit) || rateLimit < 1)) return { problem: 'The rate limit must be a whole number of at least 1, or empty.' };
  if (rateText && (!Number.isInteger(rateWindow) || rateWindow < 1 || rateWindow > 86400)) return { problem: 'The window must be 1 to 86,400 seconds.' };
  return {
    body: {
      name,
      quota: { limit: quotaLimit, period: form.elements.quotaPeriod.value },
      rate: rateText ? { limit: rateLimit, windowSeconds: rateWindow } : null,
    },
  };
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const { body, problem } = readForm();
  if (problem) { error.textContent = problem; return; }
  try {
    if (editing) await api(`/api/admin/plans/${editing.id}`, { method: 'PATCH', body });
    else await api('/api/admin/plans', { method: 'POST', body });
    dialog.close();
    flash(status, editing ? `Saved ${body.name}.` : `Created ${body.name}.`);
    await load();
  } catch (e) {
    error.textContent = describeProblem(e.problem) || e.message;
  }
});
$('#plan-cancel').addEventListener('click', () => dialog.close());
$('#new-plan').addEventListener('click', () => open(null));

await load();
