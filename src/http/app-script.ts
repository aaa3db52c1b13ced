/**
 * /static/app.js: the only script of the status pages (CSP `script-src 'self'`, no inline code).
 * It turns the "Archive now" form into a fetch with the token in the Authorization header and
 * reports the answer in the form's aria-live region. Without JavaScript the form posts to
 * /datasets/:id/archive instead. Plain ES5 so that any browser runs it; no dependencies.
 */
export const APP_SCRIPT = `(function () {
  'use strict';
  var form = document.getElementById('archive-form');
  var status = document.getElementById('archive-status');
  if (!form || !status || typeof window.fetch !== 'function') return;
  var input = form.querySelector('input[name="token"]');
  var button = form.querySelector('button[type="submit"]');
  function show(text, ok) {
    status.className = ok ? 'notice' : 'error';
    status.textContent = text;
  }
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var url = form.getAttribute('data-sync-url');
    if (!url || !input || input.value === '') return;
    if (button) button.disabled = true;
    show('Queuing…', true);
    window
      .fetch(url, {
        method: 'POST',
        headers: { 'Authorization': 'Bearer ' + input.value, 'Content-Type': 'application/json' },
        body: '{}',
        credentials: 'omit',
        cache: 'no-store'
      })
      .then(function (response) {
        return response
          .json()
          .catch(function () { return {}; })
          .then(function (body) { return { status: response.status, body: body || {} }; });
      })
      .then(
        function (result) {
          if (result.status === 202) {
            input.value = '';
            show(result.body.queued === false ? 'Sync already queued.' : 'Sync queued.', true);
          } else if (result.status === 401) {
            show('Wrong token: nothing was queued.', false);
          } else {
            show(typeof result.body.error === 'string' ? result.body.error : 'The sync could not be queued (HTTP ' + result.status + ').', false);
          }
        },
        function () { show('The server could not be reached; nothing was queued.', false); }
      )
      .then(function () { if (button) button.disabled = false; });
  });
})();
`;
