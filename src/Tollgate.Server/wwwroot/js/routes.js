// Gateway routes kept in the database: forwarded by YARP, metered like the hosted endpoints. Super admins only.
import { api, el, $, confirmDialog, describeProblem, fmtNumber, flash } from './api.js';
import { initShell } from './shell.js';

await initShell();
const dialog = $('#route-dialog');
const form = $('#route-form');
const error = $('#route-error');
const status = $('#status');
let editing = null;

async function load() {
  const routes = await api('/api/admin/routes');
  const body = $('#routes');
  if (!routes.length) {
    body.replaceChildren(el('tr', {}, el('td', { colSpan: 6, className: 'empty' }, 'No routes yet.')));
    return;
  }
  body.replaceChildren(...routes.map((r) => el('tr', { dataset: { routeId: String(r.id) } },
    el('td', {}, el('code', {}, r.path)),
    el('td', {}, el('code', {}, r.upstream)),
    el('td', {}, r.metered ? 'yes' : 'no'),
    el('td', { className: 'num' }, fmtNumber(r.cost)),
    el('td', { className: 'num' }, `${fmtNumber(r.timeoutSeconds)} s`),
    el('td', { className: 'nowrap' },
      el('button', { type: 'button', className: 'quiet small', onclick: () => open(r), 'aria-label': `Edit ${r.path}` }, 'Edit'),
      el('button', { type: 'button', className: 'quiet small danger-text', onclick: () => remove(r), 'aria-label': `Delete ${r.path}` }, 'Delete')))));
}

function open(route) {
  editing = route;
  error.textContent = '';
  form.reset();
  $('#route-dialog-title').textContent = route ? `Edit ${route.path}` : 'New route';
  if (route) {
    form.elements.path.value = route.path;
    form.elements.upstream.value = route.upstream;
    form.elements.cost.value = route.cost;
    form.elements.timeoutSeconds.value = route.timeoutSeconds;
    form.elements.metered.checked = route.metered;
  }
  dialog.showModal();
  form.elements.path.focus();
}

async function remove(route) {
  if (!(await confirmDialog({ title: `Delete ${route.path}?`, message: 'Requests to it stop being forwarded on every instance.', confirmLabel: 'Delete route' }))) return;
  try {
    await api(`/api/admin/routes/${route.id}`, { method: 'DELETE' });
    flash(status, `Deleted ${route.path}.`);
    await load();
  } catch (e) {
    flash(status, describeProblem(e.problem) || e.message, 'bad');
  }
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const body = {
    path: form.elements.path.value.trim(),
    upstream: form.elements.upstream.value.trim(),
    metered: form.elements.metered.checked,
    cost: Number(form.elements.cost.value),
    timeoutSeconds: Number(form.elements.timeoutSeconds.value),
  };
  try {
    if (editing) await api(`/api/admin/routes/${editing.id}`, { method: 'PATCH', body });
    else await api('/api/admin/routes', { method: 'POST', body });
    dialog.close();
    flash(status, editing ? `Saved ${body.path}.` : `Created ${body.path}.`);
    await load();
  } catch (e) {
    error.textContent = describeProblem(e.problem) || e.message;
  }
});
$('#route-cancel').addEventListener('click', () => dialog.close());
$('#new-route').addEventListener('click', () => open(null));

await load();
