// The login form. A session cookie comes back from POST /api/auth/login; then on to the page that sent us here.
import { api, describeProblem, safeReturnPath, $ } from './api.js';

const form = $('#login');
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const error = $('#error');
  error.textContent = '';
  const username = form.elements.username.value.trim();
  const password = form.elements.password.value;
  if (!username || !password) {
    error.textContent = 'Enter your user name and password.';
    (username ? form.elements.password : form.elements.username).focus();
    return;
  }
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    const code = form.elements.code.value.trim() || null;
    await api('/api/auth/login', { method: 'POST', body: { username, password, code } });
    // Only a path on this site: never an open redirect to another host.
    location.assign(safeReturnPath(new URLSearchParams(location.search).get('ReturnUrl')));
  } catch (e) {
    if (e.problem?.twoFactorRequired) {
      // The password was right: ask for the authenticator's code (or a recovery code) and try again.
      $('#code-field').hidden = false;
      error.textContent = 'Enter the code from your authenticator app, or a recovery code.';
      form.elements.code.focus();
      button.disabled = false;
      return;
    }
    error.textContent = e.status === 401 ? 'Wrong user name, password or code.' : describeProblem(e.problem) || e.message;
    form.elements.password.select();
    button.disabled = false;
  }
});
