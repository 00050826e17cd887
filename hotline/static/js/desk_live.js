// The desk's live panels: incoming and recent calls, tickets waiting for an operator
// (new text messages, missed calls) and the banner of urgent texts nobody has taken yet,
// refreshed every few seconds without reloading the page.
(function () {
  "use strict";

  var calls = document.getElementById("live-calls");
  var waiting = document.getElementById("unclaimed");
  var alerts = document.getElementById("urgent-alerts");
  if (!calls || !waiting) { return; }
  var url = calls.getAttribute("data-live-url");
  var every = (parseInt(calls.getAttribute("data-poll-seconds"), 10) || 5) * 1000;
  var last = null;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text) { node.textContent = text; }
    return node;
  }

  function link(href, text) {
    var a = el("a", "", text);
    a.href = href;
    return a;
  }

  // Replace everything in a panel after its heading.
  function fill(panel, node) {
    var heading = panel.querySelector("h2");
    while (heading.nextSibling) { panel.removeChild(heading.nextSibling); }
    panel.appendChild(node);
  }

  function renderCalls(list) {
    if (!list.length) { fill(calls, el("p", "muted", calls.getAttribute("data-empty"))); return; }
    var ul = el("ul", "plain", "");
    ul.setAttribute("data-field", "calls");
    list.forEach(function (c) {
      var li = el("li", "call call-" + c.state, "");
      li.setAttribute("data-call", c.id);
      li.appendChild(el("span", "nowrap", c.started + " · " + c.from + " "));
      li.appendChild(el("span", "badge call-state-" + c.state, c.state_label));
      if (c.line) { li.appendChild(el("span", "muted small", " " + c.line)); }
      if (c.answered_by) {
        var who = el("div", "small", c.answered_by + (c.mine ? " (" + calls.getAttribute("data-mine-label") + ")" : ""));
        li.appendChild(who);
      }
      if (c.ticket) {
        var t = el("div", "", "");
        t.appendChild(link(c.ticket.url, c.ticket.number));
        li.appendChild(t);
      } else if (c.draft_url) {
        var open = link(c.draft_url, calls.getAttribute("data-open-label"));
        open.className = "button small" + (c.mine ? " primary" : "");
        var d = el("div", "", "");
        d.appendChild(open);
        li.appendChild(d);
      }
      ul.appendChild(li);
    });
    fill(calls, ul);
  }

  function renderWaiting(list) {
    if (!list.length) { fill(waiting, el("p", "muted", waiting.getAttribute("data-empty"))); return; }
    var token = document.querySelector("input[name=csrf_token]");
    var ul = el("ul", "plain", "");
    list.forEach(function (t) {
      var li = el("li", "unclaimed", "");
      li.appendChild(link(t.url, t.number));
      li.appendChild(document.createTextNode(" "));
      li.appendChild(el("span", "badge prio-" + t.priority.toLowerCase(), t.priority));
      li.appendChild(el("span", "muted small", " " + t.channel + " · " + t.created));
      li.appendChild(el("div", "", t.summary));
      var form = el("form", "inline", "");
      form.method = "post";
      form.action = t.take_url;
      [["csrf_token", token ? token.value : ""], ["version", String(t.version)]].forEach(function (pair) {
        var input = el("input", "", "");
        input.type = "hidden"; input.name = pair[0]; input.value = pair[1];
        form.appendChild(input);
      });
      var button = el("button", "small", waiting.getAttribute("data-take-label"));
      button.type = "submit";
      form.appendChild(button);
      li.appendChild(form);
      ul.appendChild(li);
    });
    fill(waiting, ul);
  }

  // The banner of urgent texts (triaged P0/P1) nobody has taken yet: shown while the list is not empty.
  function renderAlerts(list) {
    if (!alerts) { return; }
    alerts.hidden = !list.length;
    var ul = el("ul", "plain", "");
    list.forEach(function (t) {
      var li = el("li", "", "");
      li.setAttribute("data-ticket", t.number);
      li.appendChild(link(t.url, t.number));
      li.appendChild(document.createTextNode(" "));
      li.appendChild(el("span", "badge prio-" + t.priority.toLowerCase(), t.priority));
      li.appendChild(document.createTextNode(" " + t.triage + " "));
      li.appendChild(el("span", "small", t.created));
      if (t.owned) { li.appendChild(el("span", "small", " " + alerts.getAttribute("data-owned-label"))); }
      ul.appendChild(li);
    });
    fill(alerts, ul);
  }

  function poll() {
    if (document.hidden) { setTimeout(poll, every); return; }
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) {
        var text = JSON.stringify(data);
        if (text === last) { return; }  // unchanged: leave the buttons where the operator's mouse is
        last = text;
        renderCalls(data.calls);
        renderWaiting(data.unclaimed);
        renderAlerts(data.alerts || []);
      })
      .catch(function () { /* offline or logged out: try again next time */ })
      .then(function () { setTimeout(poll, every); });
  }
  poll();
})();
