/**
 * The page's own script, loaded after React and GraphiQL (the CSP allows no inline script).
 * It asks for an API token before GraphiQL starts, so that nothing goes out without one, and keeps
 * it in sessionStorage: for this tab only, gone when the tab closes, never in a URL or localStorage.
 */
export const GRAPHIQL_BOOTSTRAP_JS = `(function () {
  'use strict';
  var KEY = 'backplane.graphiql.token';
  var root = document.getElementById('graphiql');
  var endpoint = root.getAttribute('data-endpoint');
  var form = document.getElementById('signin');
  var input = document.getElementById('signin-token');
  var message = document.getElementById('signin-message');
  var bar = document.getElementById('bar');
  var editor = null;

  function bearer(token) {
    return 'Bearer ' + token;
  }

  function showForm(text) {
    if (editor) editor.unmount();
    editor = null;
    bar.hidden = true;
    root.hidden = true;
    form.hidden = false;
    message.textContent = text || '';
    input.focus();
  }

  function showGraphiql(token) {
    form.hidden = true;
    message.textContent = '';
    bar.hidden = false;
    root.hidden = false;
    var fetcher = GraphiQL.createFetcher({
      url: endpoint,
      headers: { Authorization: bearer(token) },
      subscriptionUrl: (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + endpoint,
      wsConnectionParams: { authorization: bearer(token) },
    });
    editor = ReactDOM.createRoot(root);
    // shouldPersistHeaders: false, so that a token typed into the headers editor stays out of localStorage too.
    editor.render(React.createElement(GraphiQL, { fetcher: fetcher, isHeadersEditorEnabled: true, shouldPersistHeaders: false }));
  }

  /** One query the token must answer before GraphiQL introspects with it: a wrong token gets the API's message, not a broken editor. */
  function signIn(token) {
    form.hidden = false;
    message.textContent = 'Signing in…';
    return fetch(endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: bearer(token) },
      body: JSON.stringify({ query: '{ me { name } }' }),
      credentials: 'omit',
      cache: 'no-store',
    })
      .then(function (response) {
        return response.json();
      })
      .then(
        function (result) {
          var error = result && result.errors && result.errors[0];
          if (error || !result.data) {
            sessionStorage.removeItem(KEY);
            showForm((error && error.message) || 'The API refused the token.');
            return;
          }
          sessionStorage.setItem(KEY, token);
          showGraphiql(token);
        },
        function () {
          showForm('The API did not answer; try again.');
        },
      );
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var token = input.value.trim();
    input.value = '';
    if (token) signIn(token);
    else showForm('Paste an API token.');
  });

  document.getElementById('signout').addEventListener('click', function () {
    sessionStorage.removeItem(KEY);
    showForm('');
  });

  var saved = sessionStorage.getItem(KEY);
  if (saved) signIn(saved);
  else showForm('');
})();
`;
