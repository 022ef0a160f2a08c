// Admins: a super admin creates tenant admins, viewers and other super admins (own password and two-factor: /account).
import { api, el, $, confirmDialog, describeProblem, flash } from './api.js';
import { initShell } from './shell.js';

const user = await initShell();
const roleNames = { SuperAdmin: 'Super admin', TenantAdmin: 'Tenant admin', Viewer: 'Viewer' };
let tenants = new Map();

async function load() {
  const [admins, tenantList] = await Promise.all([api('/api/admin/admins'), api('/api/admin/tenants')]);
  tenants = new Map(tenantList.map((t) => [t.id, t.name]));
  const select = $('#admin-form').elements.tenantId;
  select.replaceChildren(el('option', { value: '' }, 'All tenants'), ...tenantList.map((t) => el('option', { value: String(t.id) }, t.name)));
  $('#admins').replaceChildren(...admins.map((a) => el('tr', { dataset: { adminId: String(a.id) } },
    el('td', {}, el('strong', {}, a.username)),
    el('td', {}, roleNames[a.role] ?? a.role),
    el('td', {}, a.tenantId ? (tenants.get(a.tenantId) ?? `#${a.tenantId}`) : 'all'),
    el('td', {}, a.username === user.username ? '' : el('button', {
      type: 'button', className: 'quiet small danger-text', 'aria-label': `Delete ${a.username}`, onclick: () => remove(a),
    }, 'Delete')))));
}

async function remove(a) {
  if (!(await confirmDialog({ title: `Delete ${a.username}?`, message: 'Their sessions end at once.', confirmLabel: 'Delete admin' }))) return;
  try {
    await api(`/api/admin/admins/${a.id}`, { method: 'DELETE' });
    flash($('#status'), `Deleted ${a.username}.`);
    await load();
  } catch (e) {
    flash($('#status'), describeProblem(e.problem) || e.message, 'bad');
  }
}

$('#admin-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const f = event.target.elements;
  const body = {
    username: f.username.value.trim(),
    role: f.role.value,
    tenantId: f.tenantId.value ? Number(f.tenantId.value) : null,
    password: f.password.value || null,
  };
  $('#created').replaceChildren();
  try {
    const created = await api('/api/admin/admins', { method: 'POST', body });
    event.target.reset();
    flash($('#status'), `Created ${created.username}.`);
    if (created.password) {
      $('#created').replaceChildren(el('div', { className: 'secret', role: 'region', 'aria-label': 'Generated password' },
        el('strong', {}, `Password of ${created.username}, shown this once:`), ' ', el('code', { id: 'generated-password' }, created.password)));
    }
    await load();
  } catch (e) {
    flash($('#status'), describeProblem(e.problem) || e.message, 'bad');
  }
});

await load();
