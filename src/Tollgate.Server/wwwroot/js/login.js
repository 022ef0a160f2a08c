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
    await api('/api/auth/login', { method: 'POST', body: { username, password } });
    // Only a path on this site: never an open redirect to another host.
    location.assign(safeReturnPath(new URLSearchParams(location.search).get('ReturnUrl')));
  } catch (e) {
    error.textContent = e.status === 401 ? 'Wrong user name or password.' : describeProblem(e.problem) || e.message;
    form.elements.password.select();
    button.disabled = false;
  }
});
