/*
 * The demo's live status box: polls logout_rules' status endpoint and counts down in between.
 *
 * The status endpoint is passive: polling it never counts as activity, so this widget cannot keep
 * an idle session alive (try it: leave the page alone and it still signs you out). Configured by
 * data- attributes on #session-status; no inline script, so it runs under the demo's strict CSP.
 */
(function () {
  "use strict";

  var box = document.getElementById("session-status");
  if (!box || typeof window.fetch !== "function") {
    return;
  }
  var url = box.getAttribute("data-status-url");
  var every = (Number(box.getAttribute("data-interval")) || 5) * 1000;
  var polls = 0;
  var last = null;
  var lastAt = 0;

  function field(name) {
    return box.querySelector('[data-field="' + name + '"]');
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) {
      return "no limit";
    }
    seconds = Math.max(0, Math.round(seconds));
    var h = Math.floor(seconds / 3600);
    var m = Math.floor((seconds % 3600) / 60);
    var s = seconds % 60;
    var pad = function (n) {
      return (n < 10 ? "0" : "") + n;
    };
    return (h ? h + ":" + pad(m) : m) + ":" + pad(s);
  }

  function show() {
    if (last === null) {
      return;
    }
    var gone = (Date.now() - lastAt) / 1000;
    var left = function (value) {
      return value === null ? null : value - gone;
    };
    if (!last.authenticated) {
      field("idle").textContent = "signed out";
      field("session").textContent = "signed out";
      field("warning").textContent = "-";
    } else {
      field("idle").textContent = duration(left(last.idle_seconds_left));
      field("session").textContent = duration(left(last.session_seconds_left));
      field("warning").textContent =
        last.warning_seconds === null
          ? "none"
          : duration(last.warning_seconds) + " before the end" + (last.warning_due ? " (due now)" : "");
    }
    field("polls").textContent = String(polls);
  }

  function poll() {
    window
      .fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        return response.json();
      })
      .then(function (data) {
        polls += 1;
        last = data;
        lastAt = Date.now();
        show();
        if (!data.authenticated) {
          window.clearInterval(pollTimer);
        }
      })
      .catch(function () {
        field("polls").textContent = polls + " (the server could not be reached)";
      });
  }

  var pollTimer = window.setInterval(poll, every);
  window.setInterval(show, 1000);
  poll();
})();
