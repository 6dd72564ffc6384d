/*
 * logout_rules client: leaves the page when the session's deadline passes.
 *
 * Configured by data- attributes on its own <script> tag (no inline script, so it works under
 * Content-Security-Policy: script-src 'self'):
 *   data-idle-end     seconds until the idle limit
 *   data-session-end  seconds until the session limit
 * When the earliest deadline passes, the page navigates with a GET to its own URL (without the
 * fragment): the server performs the logout and shows the message once. A page shown after a POST
 * is never re-submitted.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script) {
    return;
  }

  // setTimeout fires at once for delays above 2^31 - 1 ms (about 24.8 days): wait in steps.
  var MAX_DELAY = 2147483647;
  // Arrive a little after the deadline: the server logs out when the limit is strictly exceeded.
  var MARGIN_MS = 1000;

  function seconds(name) {
    var raw = script.getAttribute(name);
    if (raw === null || raw === "") {
      return null;
    }
    var value = Number(raw);
    return isFinite(value) && value >= 0 ? value : null;
  }

  var candidates = [seconds("data-idle-end"), seconds("data-session-end")].filter(function (v) {
    return v !== null;
  });
  if (!candidates.length) {
    return;
  }
  var deadline = Date.now() + Math.min.apply(null, candidates) * 1000 + MARGIN_MS;

  function leave() {
    var url = window.location.href.split("#")[0];
    window.location.replace(url);
  }

  function wait() {
    var remaining = deadline - Date.now();
    if (remaining <= 0) {
      leave();
      return;
    }
    window.setTimeout(wait, Math.min(remaining, MAX_DELAY));
  }

  wait();
})();
