// Webhook endpoints: quota.threshold events, signed per Standard Webhooks. A tenant admin manages its own tenant's,
// a viewer reads, a super admin also adds endpoints for every tenant.
import { api, el, $, badge, confirmDialog, copyText, describeProblem, fmtTime, flash } from './api.js';
import { initShell } from './shell.js';

const user = await initShell();
const canChange = user.role !== 'Viewer';
const dialog = $('#webhook-dialog');
const form = $('#webhook-form');
const error = $('#webhook-error');
const status = $('#status');
let editing = null;
let shown = null;

async function load() {
  const hooks = await api('/api/admin/webhooks');
  const body = $('#webhooks');
  if (!hooks.length) {
    body.replaceChildren(el('tr', {}, el('td', { colSpan: 5, className: 'empty' }, 'No webhooks yet.')));
    return;
  }
  body.replaceChildren(...hooks.map((h) => el('tr', { dataset: { webhookId: String(h.id) } },
    el('td', {}, el('code', {}, h.url)),
    el('td', {}, h.tenantId === null ? 'every tenant' : el('a', { href: `/tenants/${h.tenantId}` }, `#${h.tenantId}`)),
    el('td', {}, h.events.join(', ')),
    el('td', { title: h.disabledReason || '' }, badge(h.enabled ? 'Enabled' : 'Disabled')),
    el('td', { className: 'nowrap' },
      el('button', { type: 'button', className: 'quiet small', onclick: () => showDeliveries(h) }, 'Deliveries'),
      canChange && el('button', { type: 'button', className: 'quiet small', onclick: () => sendTest(h), 'aria-label': `Send test event to ${h.url}` }, 'Send test event'),
      canChange && el('button', { type: 'button', className: 'quiet small', onclick: () => toggle(h) }, h.enabled ? 'Disable' : 'Enable'),
      canChange && el('button', { type: 'button', className: 'quiet small', onclick: () => open(h), 'aria-label': `Edit ${h.url}` }, 'Edit'),
      canChange && el('button', { type: 'button', className: 'quiet small danger-text', onclick: () => remove(h), 'aria-label': `Delete ${h.url}` }, 'Delete')))));
}

async function showDeliveries(hook) {
  shown = hook;
  $('#deliveries-panel').hidden = false;
  $('#deliveries-title').textContent = `Deliveries to ${hook.url}`;
  const rows = await api(`/api/admin/webhooks/${hook.id}/deliveries`);
  const body = $('#deliveries');
  if (!rows.length) {
    body.replaceChildren(el('tr', {}, el('td', { colSpan: 7, className: 'empty' }, 'Nothing sent yet.')));
    return rows;
  }
  body.replaceChildren(...rows.map((d) => el('tr', {},
    el('td', {}, d.time ? fmtTime(d.time, { seconds: true }) : 'waiting'),
    el('td', {}, el('code', {}, d.eventId)),
    el('td', {}, d.type),
    el('td', {}, badge(d.status)),
    el('td', { className: 'num' }, d.statusCode ?? '–'),
    el('td', {}, d.error ?? ''),
    el('td', {}, d.nextAttempt ? fmtTime(d.nextAttempt, { seconds: true }) : '–'))));
  return rows;
}

// A receiver has up to the webhook timeout (10 s by default) to answer, so no single wait shows how a test event went:
// the deliveries are shown again every second until the event's first attempt is listed. Stops when the person turns
// to another endpoint's deliveries or deletes this one, and after a minute.
async function followTest(hook, eventId) {
  for (let i = 0; i < 60; i++) {
    const rows = await showDeliveries(hook);
    if (rows.some((d) => d.eventId === eventId && d.time)) return;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    if (shown?.id !== hook.id || $('#deliveries-panel').hidden) return;
  }
}

async function sendTest(hook) {
  try {
    const sent = await api(`/api/admin/webhooks/${hook.id}/test`, { method: 'POST' });
    flash(status, `Test event ${sent.eventId} queued for ${hook.url}.`);
    await followTest(hook, sent.eventId);
  } catch (e) {
    flash(status, describeProblem(e.problem) || e.message, 'bad');
  }
}

async function toggle(hook) {
  try {
    await api(`/api/admin/webhooks/${hook.id}`, { method: 'PATCH', body: { enabled: !hook.enabled } });
    await load();
  } catch (e) {
    flash(status, describeProblem(e.problem) || e.message, 'bad');
  }
}

function open(hook) {
  editing = hook;
  error.textContent = '';
  form.reset();
  $('#webhook-dialog-title').textContent = hook ? `Edit ${hook.url}` : 'New webhook';
  form.elements.tenantId.disabled = !!hook;
  if (hook) {
    form.elements.url.value = hook.url;
    form.elements.tenantId.value = hook.tenantId ?? '';
  }
  dialog.showModal();
  form.elements.url.focus();
}

async function remove(hook) {
  if (!(await confirmDialog({ title: `Delete the webhook to ${hook.url}?`, message: 'Its pending events are not sent.', confirmLabel: 'Delete webhook' }))) return;
  try {
    await api(`/api/admin/webhooks/${hook.id}`, { method: 'DELETE' });
    flash(status, `Deleted the webhook to ${hook.url}.`);
    if (shown?.id === hook.id) $('#deliveries-panel').hidden = true;
    await load();
  } catch (e) {
    flash(status, describeProblem(e.problem) || e.message, 'bad');
  }
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const url = form.elements.url.value.trim();
  try {
    if (editing) {
      await api(`/api/admin/webhooks/${editing.id}`, { method: 'PATCH', body: { url } });
      flash(status, `Saved ${url}.`);
    } else {
      const tenant = form.elements.tenantId.value;
      const body = { url, events: ['quota.threshold'] };
      if (user.role === 'SuperAdmin') body.tenantId = tenant ? Number(tenant) : null;
      const created = await api('/api/admin/webhooks', { method: 'POST', body });
      $('#secret').textContent = created.secret;
      $('#secret-box').hidden = false;
      flash(status, `Created the webhook to ${url}.`);
    }
    dialog.close();
    await load();
  } catch (e) {
    error.textContent = describeProblem(e.problem) || e.message;
  }
});
$('#copy-secret').addEventListener('click', () => copyText($('#secret').textContent));
$('#webhook-cancel').addEventListener('click', () => dialog.close());
$('#new-webhook').addEventListener('click', () => open(null));
$('#refresh-deliveries').addEventListener('click', () => shown && showDeliveries(shown));

await load();
