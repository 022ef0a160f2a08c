// The frame every signed-in page shares: who is signed in, links for their role, and logging out.
import { api, me, $ } from './api.js';

export async function initShell() {
  const current = location.pathname === '/' ? '/' : '/' + location.pathname.split('/')[1];
  for (const link of document.querySelectorAll('.topbar nav a')) {
    if (link.getAttribute('href') === current) link.setAttribute('aria-current', 'page');
  }

  $('#logout')?.addEventListener('click', async () => {
    try { await api('/api/auth/logout', { method: 'POST' }); } finally { location.assign('/login'); }
  });

  const user = await me();
  const roleNames = { SuperAdmin: 'super admin', TenantAdmin: 'tenant admin', Viewer: 'viewer' };
  $('#who-name').textContent = `${user.username} · ${roleNames[user.role] ?? user.role}`;
  // Links and controls a role may not use are hidden; the API refuses them anyway.
  for (const node of document.querySelectorAll('[data-role="SuperAdmin"]')) node.hidden = user.role !== 'SuperAdmin';
  for (const node of document.querySelectorAll('[data-role="Editor"]')) node.hidden = user.role === 'Viewer';
  return user;
}
