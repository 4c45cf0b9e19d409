// The issue panel: keeps the server-rendered list fresh and sends "Sync now" / "Unlink".
// Inside Jira every call takes a fresh context token from AP.context.getToken(); without
// Atlassian's script (tests, a direct visit) it uses the token the page was rendered with.
// Values only ever go in through textContent and attributes, never as HTML.
(function () {
  "use strict";

  var POLL_MS = 2000;
  var body = document.body;
  var issueQuery = body.dataset.issueQuery;
  if (!issueQuery) {
    return; // the page shows a problem, nothing to keep fresh
  }
  var list = document.querySelector("[data-role=mirrors]");
  var empty = document.querySelector("[data-role=empty]");
  var statusLine = document.querySelector("[data-role=status]");
  var template = document.querySelector("[data-role=mirror-template]");
  var base = "/connect/issue-panel";
  var waitingFor = null; // {link, after}: the attempt a "Sync now" waits to see

  function token() {
    var ap = window.AP;
    if (ap && ap.context && typeof ap.context.getToken === "function") {
      return new Promise(function (resolve) {
        ap.context.getToken(resolve);
      });
    }
    return Promise.resolve(body.dataset.token || "");
  }

  function call(method, path) {
    var url = base + path + (path.indexOf("?") < 0 ? "?" : "&") + issueQuery;
    return token().then(function (jwt) {
      return fetch(url, {
        method: method,
        headers: { Authorization: "JWT " + jwt, Accept: "application/json" },
        credentials: "omit",
        cache: "no-store",
      }).then(function (response) {
        return response
          .json()
          .catch(function () {
            return {};
          })
          .then(function (data) {
            if (!response.ok) {
              throw new Error(data.message || "Tandem answered " + response.status);
            }
            return data;
          });
      });
    });
  }

  function show(message, isError) {
    statusLine.textContent = message;
    statusLine.classList.toggle("failed", Boolean(isError));
  }

  function setText(item, field, text) {
    var node = item.querySelector('[data-field="' + field + '"]');
    if (node) {
      node.textContent = text || "";
      node.hidden = (field === "error" || field === "note") && !text;
    }
    return node;
  }

  function fill(item, mirror, allowed) {
    item.dataset.link = mirror.link_id;
    var link = setText(item, "other_key", mirror.other_key);
    if (mirror.other_url) {
      link.setAttribute("href", mirror.other_url);
    } else {
      link.removeAttribute("href");
    }
    ["integration", "direction", "last_synced", "last_attempt", "outcome_words", "error", "note"]
      .forEach(function (field) {
        setText(item, field, mirror[field]);
      });
    item.querySelector('[data-field="last_synced"]').setAttribute("datetime", mirror.last_synced_at || "");
    item.querySelector('[data-field="last_attempt"]').setAttribute("datetime", mirror.last_attempt_at || "");
    item.querySelector('[data-field="outcome_words"]').dataset.outcome = mirror.outcome || "";
    item.querySelector('[data-field="deleted"]').hidden = mirror.state !== "deleted";
    item.querySelector("[data-action=sync]").hidden = !allowed.sync;
    item.querySelector("[data-action=unlink]").hidden = !allowed.unlink;
  }

  function render(state) {
    var items = {};
    Array.prototype.forEach.call(list.children, function (item) {
      items[item.dataset.link] = item;
    });
    state.mirrors.forEach(function (mirror) {
      var item = items[mirror.link_id];
      if (!item) {
        item = template.content.firstElementChild.cloneNode(true);
      }
      delete items[mirror.link_id];
      fill(item, mirror, state.allowed);
      list.appendChild(item); // keeps the server's order
      if (waitingFor && waitingFor.link === mirror.link_id && mirror.last_attempt_id !== waitingFor.after) {
        waitingFor = null;
        show(mirror.other_key + ": " + mirror.outcome_words + (mirror.error ? " — " + mirror.error : ""), Boolean(mirror.error));
      }
    });
    Object.keys(items).forEach(function (gone) {
      list.removeChild(items[gone]);
    });
    empty.hidden = state.mirrors.length > 0;
    if (window.AP && typeof window.AP.resize === "function") {
      window.AP.resize();
    }
  }

  function refresh() {
    return call("GET", "/state").then(render, function (error) {
      show(error.message + " Reload the issue to see the latest state.", true);
    });
  }

  list.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (!button) {
      return;
    }
    var item = button.closest("[data-link]");
    var linkId = item.dataset.link;
    var action = button.dataset.action;
    // Unlink asks once more on the button itself (no modal: Jira's iframe may block them).
    if (action === "unlink" && button.dataset.armed !== "yes") {
      button.dataset.armed = "yes";
      button.textContent = "Click again to unlink";
      show("Unlinking stops syncing these two issues and removes Tandem's marks from both.", false);
      return;
    }
    button.disabled = true;
    show(action === "sync" ? "Syncing…" : "Unlinking…", false);
    call("GET", "/state")
      .then(function (state) {
        var mirror = state.mirrors.filter(function (m) {
          return m.link_id === linkId;
        })[0];
        return call("POST", "/links/" + encodeURIComponent(linkId) + "/" + action).then(function (answer) {
          if (action === "sync") {
            waitingFor = { link: linkId, after: mirror ? mirror.last_attempt_id : null };
          } else {
            show(answer.message, false);
          }
          return refresh();
        });
      })
      .catch(function (error) {
        show(error.message, true);
      })
      .then(function () {
        button.disabled = false;
      });
  });

  window.setInterval(function () {
    if (!document.hidden) {
      refresh();
    }
  }, POLL_MS);
})();
