// The demo setup: one POST (never a GET that changes data), then the new keys, shown this once.
import { api, el, $, confirmDialog, copyText, describeProblem, flash } from './api.js';
import { initShell } from './shell.js';

await initShell();

const form = $('#setup');
const result = $('#result');
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const historyDays = Number(form.elements.historyDays.value);
  if (!Number.isInteger(historyDays) || historyDays < 0 || historyDays > 90) {
    flash(result, 'Days of history must be a whole number from 0 to 90.', 'bad');
    return;
  }
  const reset = form.elements.reset.checked;
  if (reset && !(await confirmDialog({
    title: 'Start over?',
    message: 'This deletes Acme Corp and Wayne Ent with their keys, users and usage history, then creates them again.',
    confirmLabel: 'Delete and recreate',
  }))) return;

  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  flash(result, historyDays ? 'Creating the demo and its traffic history…' : 'Creating the demo…', 'warn');
  try {
    const body = await api('/api/admin/setup', { method: 'POST', body: { reset, historyDays } });
    showKeys(body.tenants);
  } catch (e) {
    flash(result, describeProblem(e.problem) || e.message, 'bad');
  } finally {
    button.disabled = false;
  }
});

function showKeys(tenants) {
  const list = el('div');
  for (const t of tenants) {
    const input = el('input', { value: t.apiKey ?? '', readOnly: true, 'aria-label': `API key of ${t.name}` });
    const status = el('span', { className: 'muted', role: 'status' });
    const copy = el('button', { type: 'button', className: 'small' }, 'Copy');
    copy.addEventListener('click', async () => { status.textContent = (await copyText(input.value, input)) ? 'Copied.' : 'Press Ctrl+C to copy.'; });
    list.append(el('div', { className: 'key-line' },
      el('a', { href: `/tenants/${t.id}`, className: 'nowrap' }, t.name), input, copy, status));
  }
  result.replaceChildren(el('div', { className: 'secret', dataset: { testid: 'demo-keys' } },
    el('strong', {}, 'Copy these keys now: they are not shown again.'),
    el('p', { className: 'muted' }, 'Only a hash of each key is stored. Send it as the X-API-KEY header.'),
    list,
    el('p', {}, el('a', { href: '/' }, 'Open the live dashboard'))));
}
