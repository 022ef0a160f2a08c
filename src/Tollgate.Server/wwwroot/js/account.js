// The signed-in admin's own account: password and two-factor sign-in. Every role may use it.
import { api, el, $, describeProblem, flash } from './api.js';
import { initShell } from './shell.js';

await initShell();

$('#password-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const f = event.target.elements;
  try {
    await api('/api/auth/password', { method: 'POST', body: { currentPassword: f.currentPassword.value, newPassword: f.newPassword.value } });
    event.target.reset();
    flash($('#password-status'), 'Password changed; your other sessions have ended.');
  } catch (e) {
    flash($('#password-status'), describeProblem(e.problem) || e.message, 'bad');
  }
});

$('#totp-setup').addEventListener('click', async () => {
  try {
    const setup = await api('/api/auth/totp/setup', { method: 'POST', body: {} });
    $('#totp-secret').textContent = setup.secret;
    $('#totp-enable').hidden = false;
    $('#totp-enable').elements.code.focus();
  } catch (e) {
    flash($('#totp-status'), describeProblem(e.problem) || e.message, 'bad');
  }
});

$('#totp-enable').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    const enabled = await api('/api/auth/totp/enable', { method: 'POST', body: { code: event.target.elements.code.value.trim() } });
    event.target.hidden = true;
    $('#totp-status').replaceChildren(el('div', { className: 'secret', role: 'region', 'aria-label': 'Recovery codes' },
      el('strong', {}, 'Two-factor sign-in is on. Recovery codes, each good once, shown this once:'),
      el('p', {}, el('code', { id: 'recovery-codes' }, enabled.recoveryCodes.join('  ')))));
  } catch (e) {
    flash($('#totp-status'), describeProblem(e.problem) || e.message, 'bad');
  }
});

$('#totp-disable').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    await api('/api/auth/totp/disable', { method: 'POST', body: { password: event.target.elements.password.value } });
    event.target.reset();
    flash($('#totp-status'), 'Two-factor sign-in is off.');
  } catch (e) {
    flash($('#totp-status'), describeProblem(e.problem) || e.message, 'bad');
  }
});
