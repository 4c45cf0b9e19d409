// Tandem's admin pages: small progressive enhancements; every page works without them.
// - Inside Jira, links and forms carry the context token (?jwt=); when Atlassian's
//   all.js is there, a fresh one from AP.context.getToken() is swapped in first.
// - Progress (backfill, clean-up, export) is polled as JSON and shown without a reload;
//   when a run ends the page reloads once to show its outcome.
// - The deletion countdown ticks; the integration form reloads its choices when a site
//   or project changes.
// Values only ever go in through textContent and attributes, never as HTML.
(function () {
  "use strict";

  var POLL_MS = 1500;
  var body = document.body;
  var inJira = body.dataset.surface === "jira";

  function freshToken() {
    var ap = window.AP;
    if (inJira && ap && ap.context && typeof ap.context.getToken === "function") {
      return new Promise(function (resolve) {
        ap.context.getToken(resolve);
      });
    }
    return Promise.resolve(null);
  }

  function withToken(url, jwt) {
    var parsed = new URL(url, window.location.href);
    parsed.searchParams.set("jwt", jwt);
    return parsed.pathname + parsed.search;
  }

  // Inside Jira: a fresh token on every navigation and form post.
  if (inJira) {
    document.addEventListener("click", function (event) {
      var link = event.target.closest("a[href]");
      if (!link || !window.AP || link.target || link.origin !== window.location.origin) {
        return;
      }
      event.preventDefault();
      freshToken().then(function (jwt) {
        window.location.href = jwt ? withToken(link.href, jwt) : link.href;
      });
    });
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!window.AP || form.dataset.fresh === "yes") {
        return;
      }
      event.preventDefault();
      var submitter = event.submitter || null;
      freshToken().then(function (jwt) {
        var hidden = form.querySelector("input[name=jwt]"); // a GET form sends fields only
        if (jwt && hidden) {
          hidden.value = jwt;
        } else if (jwt) {
          form.setAttribute("action", withToken(form.getAttribute("action"), jwt));
        }
        form.dataset.fresh = "yes";
        form.requestSubmit(submitter);
      });
    });
  }

  function getJson(url) {
    return freshToken().then(function (jwt) {
      var headers = { Accept: "application/json" };
      if (inJira) {
        headers.Authorization = "JWT " + (jwt || body.dataset.jwt || "");
      }
      return fetch(url, { headers: headers, credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("Tandem answered " + response.status);
          }
          return response.json();
        });
    });
  }

  function setText(root, field, text) {
    var node = root.querySelector('[data-field="' + field + '"]');
    if (node) {
      node.textContent = text === null || text === undefined ? "" : String(text);
    }
  }

  function showProgress(root, done, total) {
    var bar = root.querySelector("[data-role=bar]");
    if (bar && total) {
      bar.max = total;
      bar.value = done;
    }
    var count = root.querySelector("[data-role=count]");
    if (count) {
      count.textContent = done + " of " + (total === null || total === undefined ? "?" : total);
    }
  }

  var FINAL = {
    done: true,
    finished: true,
    incomplete: true,
    failed: true,
    superseded: true,
    stopped: true,
    canceled: true,
  };

  function poll(root) {
    var url = root.dataset.pollUrl;
    var kind = root.dataset.poll;
    var timer = window.setInterval(function () {
      if (document.hidden) {
        return;
      }
      getJson(url).then(function (data) {
        var status = data.status || data.state;
        if (kind === "backfill") {
          showProgress(root, data.done, data.total);
          setText(root, "status", status === "done" ? "done" : "running");
        } else if (kind === "cleanup") {
          showProgress(root, data.done, data.total);
          setText(root, "status", status);
        } else {
          setText(root, "status", status);
        }
        if (FINAL[status]) {
          window.clearInterval(timer);
          if (kind !== "backfill") {
            window.location.reload();
          }
        }
      }, function () {
        setText(root, "status", "not reachable, retrying");
      });
    }, POLL_MS);
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-poll-url]"), function (root) {
    var status = root.dataset.status;
    if (status && !FINAL[status] && status !== "none") {
      poll(root);
    }
  });

  // The deletion countdown.
  Array.prototype.forEach.call(document.querySelectorAll("[data-countdown]"), function (node) {
    var until = Date.parse(node.dataset.countdown);
    function tick() {
      var left = Math.max(0, Math.floor((until - Date.now()) / 1000));
      var days = Math.floor(left / 86400);
      var rest = new Date((left % 86400) * 1000).toISOString().slice(11, 19);
      node.textContent = days + (days === 1 ? " day " : " days ") + rest;
    }
    tick();
    window.setInterval(tick, 1000);
  });

  // Buttons that cannot be undone ask once more, on the button itself (no modal: Jira's
  // iframe may block them).
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-confirm]");
    if (button && button.dataset.armed !== "yes") {
      event.preventDefault();
      button.dataset.armed = "yes";
      button.textContent = button.dataset.confirm;
    }
  });

  // The integration form: a changed site or project loads its choices.
  var reload = document.getElementById("integration-reload");
  if (reload) {
    Array.prototype.forEach.call(document.querySelectorAll("[data-reload]"), function (select) {
      select.addEventListener("change", function () {
        reload.click();
      });
    });
  }

  if (window.AP && typeof window.AP.resize === "function") {
    window.AP.resize();
  }
})();
