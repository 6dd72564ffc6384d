/*
 * logout_rules client: warns before an automatic logout and leaves the page when the session ends.
 *
 * Dependency-free and configured by data- attributes on its own <script> tag (no inline script, so
 * it works under Content-Security-Policy: script-src 'self'):
 *   data-idle-end, data-session-end   seconds until the idle / session limit (absent: no limit)
 *   data-status-url, data-extend-url  the endpoints of logout_rules.urls (absent: not included)
 *   data-warning                      show the warning this many seconds before the end
 *   data-texts                        the dialog's texts (JSON, translated by Django)
 *   data-stylesheet                   the dialog's stylesheet
 *   data-csrf-token, data-csrf-cookie the CSRF token for "Stay signed in" (the cookie wins)
 *
 * - When the end passes, the page asks the status endpoint (activity in another tab or an XHR may
 *   have postponed it), then navigates with a GET to its own URL without the fragment: the server
 *   logs out and shows the message once. A page shown after a POST is never re-submitted.
 * - Timers wait in steps (setTimeout fires at once above 2^31 - 1 ms, about 24.8 days).
 * - Tabs share deadlines over a BroadcastChannel (localStorage events where it is missing): a page
 *   load or "Stay signed in" in one tab postpones the others; when the session ends, the tab that
 *   ended it leaves first (so the message is shown once) and the others follow.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.logoutRulesLoaded) {
    return;
  }
  window.logoutRulesLoaded = true;

  var MAX_DELAY = 2147483647;
  // Arrive a little after the end: the server logs out when a limit is strictly exceeded.
  var MARGIN_MS = 1000;
  // A tab following another one leaves at the latest this long after its "expired" message...
  var FOLLOW_MS = 3000;
  // ...and this long after finding the session ended by something else (an XHR, a logout).
  var GRACE_MS = 300;
  // A call to the server that takes longer than this counts as failed.
  var CALL_TIMEOUT_MS = 10000;
  var CHANNEL = "logout_rules";
  var STORAGE_KEY = "logout_rules:message";
  var LOCK = "logout_rules:deadline";
  var PLACEHOLDER = "%(time)s";

  function attribute(name) {
    var value = script.getAttribute(name);
    return value === null || value === "" ? null : value;
  }

  function seconds(name) {
    var raw = attribute(name);
    var value = raw === null ? NaN : Number(raw);
    return isFinite(value) && value >= 0 ? value : null;
  }

  function parseTexts() {
    try {
      return JSON.parse(attribute("data-texts") || "{}") || {};
    } catch (error) {
      return {};
    }
  }

  var config = {
    statusUrl: attribute("data-status-url"),
    extendUrl: attribute("data-extend-url"),
    warning: seconds("data-warning"),
    texts: parseTexts(),
    stylesheet: attribute("data-stylesheet"),
    csrfToken: attribute("data-csrf-token"),
    csrfCookie: attribute("data-csrf-cookie"),
    nonce: script.nonce || attribute("nonce") || "",
  };
  var canFetch = typeof window.fetch === "function" && config.statusUrl !== null;
  if (!canFetch || config.extendUrl === null) {
    config.warning = null;
  }

  var tabId = Math.random().toString(36).slice(2);
  var state = {
    idleEnd: null,
    sessionEnd: null,
    endsBy: null, // the server's word on which limit ends first, for a tie in whole seconds
    busy: false, // a status check or an extension is on its way
    leaving: false,
    leader: false, // this tab ended the session: the others wait for it to leave
    dismissedSessionEnd: null,
  };
  var timer = null;
  var followTimer = null;

  function text(name, fallback) {
    var value = config.texts[name];
    return typeof value === "string" && value ? value : fallback;
  }

  // --- deadlines -------------------------------------------------------------------------------

  function setDeadlines(idleSeconds, sessionSeconds) {
    var now = Date.now();
    state.idleEnd = idleSeconds === null ? null : now + idleSeconds * 1000;
    state.sessionEnd = sessionSeconds === null ? null : now + sessionSeconds * 1000;
  }

  function end() {
    if (state.idleEnd === null) {
      return state.sessionEnd;
    }
    return state.sessionEnd === null ? state.idleEnd : Math.min(state.idleEnd, state.sessionEnd);
  }

  // Whether the session limit comes before the idle one. Times are known in whole seconds: on a
  // tie the server's exact answer decides, else the idle limit ("Stay signed in" is offered; if
  // the session limit then comes first, the dialog says so).
  function endsBySession() {
    if (state.sessionEnd === null) {
      return false;
    }
    if (state.idleEnd === null) {
      return true;
    }
    if (state.sessionEnd !== state.idleEnd) {
      return state.sessionEnd < state.idleEnd;
    }
    return state.endsBy === "session";
  }

  function warningStart() {
    var at = end();
    return config.warning === null || at === null ? null : at - config.warning * 1000;
  }

  function warningDismissed() {
    // "OK" on the session-end notice: do not show it again for the same session end.
    return (
      endsBySession() &&
      state.dismissedSessionEnd !== null &&
      Math.abs(state.sessionEnd - state.dismissedSessionEnd) < 5000
    );
  }

  function number(value) {
    return typeof value === "number" && isFinite(value) && value >= 0 ? value : null;
  }

  // The server's answer (status or extend) replaces what this tab believed.
  function apply(data) {
    setDeadlines(number(data.idle_seconds_left), number(data.session_seconds_left));
    state.endsBy = data.ends_by;
    if (canFetch && config.extendUrl !== null) {
      config.warning = number(data.warning_seconds); // rules apply live, also the warning time
    }
    share();
  }

  // --- tabs ------------------------------------------------------------------------------------

  var bus = (function () {
    var channel = null;
    var handler = function () {};
    if (typeof window.BroadcastChannel === "function") {
      try {
        channel = new window.BroadcastChannel(CHANNEL);
        channel.onmessage = function (event) {
          handler(event.data);
        };
      } catch (error) {
        channel = null;
      }
    }
    if (channel === null) {
      window.addEventListener("storage", function (event) {
        if (event.key !== STORAGE_KEY || !event.newValue) {
          return;
        }
        try {
          handler(JSON.parse(event.newValue));
        } catch (error) {
          // Not one of ours.
        }
      });
    }
    return {
      post: function (message) {
        message.source = tabId;
        if (channel !== null) {
          channel.postMessage(message);
          return;
        }
        try {
          // A unique value, so that every message fires a storage event in the other tabs.
          message.stamp = Date.now() + ":" + Math.random();
          window.localStorage.setItem(STORAGE_KEY, JSON.stringify(message));
        } catch (error) {
          // Storage disabled: this tab works alone.
        }
      },
      listen: function (callback) {
        handler = callback;
      },
    };
  })();

  function share() {
    bus.post({ type: "deadlines", idleEnd: state.idleEnd, sessionEnd: state.sessionEnd });
  }

  function later(mine, theirs) {
    return typeof theirs === "number" && mine !== null && theirs > mine ? theirs : mine;
  }

  bus.listen(function (message) {
    if (!message || message.source === tabId || state.leaving === "now" || state.leader) {
      return;
    }
    if (message.type === "left") {
      leave(); // the tab that ended the session has arrived: its page showed the message
      return;
    }
    if (message.type === "expired") {
      follow(FOLLOW_MS);
      return;
    }
    if (state.leaving) {
      return;
    }
    if (message.type === "deadlines") {
      // Another tab saw activity: only ever postpone here (before acting, a tab asks the server).
      var before = end();
      state.idleEnd = later(state.idleEnd, message.idleEnd);
      state.sessionEnd = later(state.sessionEnd, message.sessionEnd);
      if (end() !== before) {
        dialog.refresh();
        schedule();
      }
    }
  });

  // --- talking to the server ---------------------------------------------------------------------

  function csrfToken() {
    if (config.csrfCookie !== null) {
      var cookies = document.cookie ? document.cookie.split(";") : [];
      for (var i = 0; i < cookies.length; i++) {
        var pair = cookies[i].replace(/^\s+/, "");
        if (pair.indexOf(config.csrfCookie + "=") === 0) {
          return decodeURIComponent(pair.slice(config.csrfCookie.length + 1));
        }
      }
    }
    return config.csrfToken || "";
  }

  // Resolves to {ok, data} | {expired, ended} | {error}; never rejects. "ended" means that this
  // very request ended the session. The status endpoint is asked without "Accept: application/json",
  // so an ended session is a 200 answer ({"authenticated": false}), not a 401 logged as an error.
  function call(url, method) {
    var options = { method: method, credentials: "same-origin", cache: "no-store", headers: {} };
    if (method === "POST") {
      var token = csrfToken();
      options.headers = {
        Accept: "application/json",
        "Content-Type": "application/x-www-form-urlencoded",
        "X-CSRFToken": token,
      };
      options.body = "csrfmiddlewaretoken=" + encodeURIComponent(token);
    }
    var abort = null;
    if (typeof window.AbortController === "function") {
      var controller = new window.AbortController();
      options.signal = controller.signal;
      abort = window.setTimeout(function () {
        controller.abort();
      }, CALL_TIMEOUT_MS);
    }
    return window
      .fetch(url, options)
      .then(function (response) {
        if (!response.ok && response.status !== 401) {
          return { error: true };
        }
        return response.json().then(function (body) {
          if (body && body.authenticated === true && response.ok) {
            return { ok: true, data: body };
          }
          if (body && (body.authenticated === false || response.status === 401)) {
            return { expired: true, ended: Boolean(body.reason) };
          }
          return { error: true };
        });
      })
      .catch(function () {
        return { error: true };
      })
      .then(function (result) {
        window.clearTimeout(abort);
        return result;
      });
  }

  // One tab at a time asks the server at a deadline (Web Locks where available), so that only one
  // of them ends the session and shows the message.
  function exclusively(task) {
    if (navigator.locks && typeof navigator.locks.request === "function") {
      navigator.locks
        .request(LOCK, function () {
          return new Promise(task);
        })
        .catch(function () {});
      return;
    }
    task(function () {});
  }

  // --- leaving ---------------------------------------------------------------------------------

  function leave() {
    if (state.leaving === "now") {
      return;
    }
    state.leaving = "now";
    window.clearTimeout(timer);
    window.clearTimeout(followTimer);
    window.location.replace(window.location.href.split("#")[0]);
  }

  // This tab ended the session: tell the others, then leave (they follow once it is gone).
  function lead() {
    state.leaving = true;
    state.leader = true;
    dialog.close();
    bus.post({ type: "expired" });
    leave();
  }

  // Another tab ended the session (or it had ended before): leave after that tab, so that the
  // message is shown once, by the first page that arrives. Its "left" message ends the wait.
  function follow(delay) {
    if (state.leaving === "now") {
      return;
    }
    state.leaving = true;
    window.clearTimeout(timer);
    window.clearTimeout(followTimer);
    dialog.close();
    followTimer = window.setTimeout(leave, delay);
  }

  function expired(result) {
    if (result.ended) {
      lead();
    } else {
      follow(GRACE_MS); // an "expired" message from another tab arriving meanwhile waits longer
    }
  }

  window.addEventListener("pagehide", function () {
    if (state.leader) {
      bus.post({ type: "left" });
    }
  });

  // --- scheduling ------------------------------------------------------------------------------

  function schedule() {
    window.clearTimeout(timer);
    timer = null;
    var at = end();
    if (state.leaving || state.busy || at === null) {
      return;
    }
    var now = Date.now();
    var next = at + MARGIN_MS;
    if (now >= next) {
      onDeadline();
      return;
    }
    var warnAt = warningStart();
    if (warnAt !== null && !dialog.isOpen() && !warningDismissed()) {
      if (now >= warnAt) {
        onWarning();
        return;
      }
      next = Math.min(next, warnAt);
    }
    timer = window.setTimeout(schedule, Math.min(Math.max(next - now, 0), MAX_DELAY));
  }

  function onDeadline() {
    if (!canFetch) {
      leave();
      return;
    }
    state.busy = true;
    exclusively(function (release) {
      if (state.leaving) {
        release();
        return;
      }
      call(config.statusUrl, "GET").then(function (result) {
        state.busy = false;
        release();
        if (result.expired) {
          expired(result);
        } else if (result.ok) {
          apply(result.data); // still alive: activity elsewhere postponed the end
          dialog.refresh();
          schedule();
        } else {
          leave(); // the server decides on the GET
        }
      });
    });
  }

  // Asks the server (one call at a time: state.busy), follows an ended session at once and hands
  // any other answer ({ok, data} or {error}) to `answered`.
  function ask(url, method, answered) {
    state.busy = true;
    call(url, method).then(function (result) {
      state.busy = false;
      if (result.expired) {
        expired(result);
        return;
      }
      answered(result);
    });
  }

  function onWarning() {
    ask(config.statusUrl, "GET", function (result) {
      if (result.ok) {
        apply(result.data);
      }
      var warnAt = warningStart();
      if (warnAt !== null && Date.now() >= warnAt && !warningDismissed()) {
        dialog.open();
      }
      schedule();
    });
  }

  function stay() {
    if (state.busy || state.leaving) {
      return;
    }
    dialog.setError(false);
    ask(config.extendUrl, "POST", function (result) {
      if (result.ok) {
        apply(result.data);
        dialog.close();
      } else {
        dialog.open();
        dialog.setError(true);
      }
      schedule();
    });
  }

  // --- the warning dialog ------------------------------------------------------------------------

  function formatTime(total) {
    var hours = Math.floor(total / 3600);
    var minutes = Math.floor((total % 3600) / 60);
    var secs = total % 60;
    var pad = function (value) {
      return (value < 10 ? "0" : "") + value;
    };
    return (hours ? hours + ":" + pad(minutes) : String(minutes)) + ":" + pad(secs);
  }

  var dialog = (function () {
    var element = null;
    var title;
    var body;
    var countdown;
    var error;
    var button;
    var ticker = null;
    var mode = null;
    var closedByUs = false;
    var previousFocus = null;

    function create(tag, className, parent) {
      var node = document.createElement(tag);
      node.className = className;
      parent.appendChild(node);
      return node;
    }

    function build() {
      element = document.createElement("dialog");
      element.className = "logout-rules-dialog";
      element.setAttribute("role", "alertdialog");
      element.setAttribute("aria-modal", "true");
      element.setAttribute("aria-labelledby", "logout-rules-title");
      element.setAttribute("aria-describedby", "logout-rules-text");
      title = create("h2", "logout-rules-title", element);
      title.id = "logout-rules-title";
      body = create("p", "logout-rules-text", element);
      body.id = "logout-rules-text";
      countdown = document.createElement("strong");
      countdown.className = "logout-rules-countdown";
      countdown.setAttribute("role", "timer");
      error = create("p", "logout-rules-error", element);
      error.hidden = true;
      var actions = create("div", "logout-rules-actions", element);
      button = create("button", "logout-rules-button", actions);
      button.type = "button";
      button.addEventListener("click", act);
      // Escape answers the dialog like its button does.
      element.addEventListener("cancel", function (event) {
        event.preventDefault();
        act();
      });
      element.addEventListener("close", function () {
        if (closedByUs) {
          closedByUs = false;
          return;
        }
        window.clearInterval(ticker);
        act(); // closed by the browser (e.g. a repeated Escape): same as the button
      });
      document.body.appendChild(element);
    }

    function render() {
      var session = endsBySession();
      var newMode = session ? "session" : "idle";
      if (newMode === mode) {
        return;
      }
      mode = newMode;
      title.textContent = session
        ? text("sessionTitle", "Your session is ending")
        : text("idleTitle", "Are you still there?");
      var template = session
        ? text("session", "Your session ends in %(time)s.")
        : text("idle", "You will be signed out in %(time)s.");
      var parts = template.split(PLACEHOLDER);
      body.textContent = "";
      body.appendChild(document.createTextNode(parts[0]));
      if (parts.length > 1) {
        body.appendChild(countdown);
        body.appendChild(document.createTextNode(parts.slice(1).join("")));
      }
      button.textContent = session ? text("ok", "OK") : text("stay", "Stay signed in");
    }

    function tick() {
      var at = end();
      if (at === null) {
        return;
      }
      var warnAt = warningStart();
      if (warnAt !== null && Date.now() < warnAt - MARGIN_MS) {
        api.close(); // postponed (another tab, or the server): no warning any more
        return;
      }
      render();
      var left = Math.max(0, Math.ceil((at - Date.now()) / 1000));
      var shown = formatTime(left);
      if (countdown.textContent !== shown) {
        countdown.textContent = shown;
      }
    }

    function act() {
      if (mode === "session") {
        state.dismissedSessionEnd = state.sessionEnd;
        api.close();
        schedule();
      } else {
        stay();
      }
    }

    function isOpen() {
      return element !== null && (element.open || element.hasAttribute("open"));
    }

    var api = {
      isOpen: isOpen,
      open: function () {
        if (element === null) {
          build();
        }
        mode = null;
        tick();
        if (!isOpen()) {
          previousFocus = document.activeElement;
          if (typeof element.showModal === "function") {
            element.showModal();
          } else {
            element.setAttribute("open", "");
          }
          ticker = window.setInterval(tick, 250);
        }
        button.focus();
      },
      close: function () {
        if (!isOpen()) {
          return;
        }
        window.clearInterval(ticker);
        if (typeof element.close === "function") {
          closedByUs = true; // its "close" event comes later
          element.close();
        } else {
          element.removeAttribute("open");
        }
        error.hidden = true;
        if (previousFocus && typeof previousFocus.focus === "function" && previousFocus.isConnected) {
          previousFocus.focus();
        }
        previousFocus = null;
      },
      refresh: function () {
        if (isOpen()) {
          tick();
        }
      },
      setError: function (shown) {
        if (element === null) {
          return;
        }
        error.textContent = text("error", "The server could not be reached. Please try again.");
        error.hidden = !shown;
        if (shown) {
          error.setAttribute("role", "alert");
        }
      },
    };
    return api;
  })();

  function loadStylesheet() {
    if (config.stylesheet === null || document.querySelector("link[data-logout-rules]")) {
      return;
    }
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = config.stylesheet;
    link.setAttribute("data-logout-rules", "");
    if (config.nonce) {
      link.nonce = config.nonce;
    }
    document.head.appendChild(link);
  }

  // --- start -----------------------------------------------------------------------------------

  setDeadlines(seconds("data-idle-end"), seconds("data-session-end"));
  if (end() === null) {
    return;
  }
  if (config.warning !== null) {
    loadStylesheet();
  }
  share(); // this page load was activity: postpone the other tabs
  schedule();

  // Timers are throttled in background tabs and frozen while a computer sleeps: look again when
  // the page shows up, and ask the server after a restore from the back/forward cache.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      schedule();
    }
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && canFetch && !state.leaving && !state.busy) {
      ask(config.statusUrl, "GET", function (result) {
        if (result.ok) {
          apply(result.data);
        }
        schedule();
      });
    }
  });
})();
