// Small progressive enhancements; every page works without them.
(function () {
  "use strict";

  // Ask before destructive actions (close, merge, deactivate...).
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { ev.preventDefault(); return; }
    var button = form.querySelector("button[type=submit]");
    if (button) { setTimeout(function () { button.disabled = true; }, 0); }
  });

  // Callback form: satisfaction only makes sense when the caller was reached.
  document.querySelectorAll("#action-callback form").forEach(function (form) {
    var select = form.querySelector("select[name=satisfaction]");
    function sync() {
      var reached = form.querySelector("input[name=reached]:checked");
      var no = reached && reached.value === "no";
      select.disabled = no;
      if (no) { select.value = ""; }
    }
    form.querySelectorAll("input[name=reached]").forEach(function (r) { r.addEventListener("change", sync); });
    sync();
  });

  var form = document.getElementById("log-call");
  if (!form) { return; }

  // Checklists suggest a priority: any P0 tick means P0, any 救急难 tick at least P1.
  var priority = form.querySelector("select[name=priority]");
  var hint = document.getElementById("priority-hint");
  var rank = { P0: 0, P1: 1, P2: 2, P3: 3 };
  // The stylesheet colours the select by this attribute (P0/P1 in red).
  function markPriority() { priority.setAttribute("data-priority", priority.value); }
  priority.addEventListener("change", markPriority);
  markPriority();
  function suggest() {
    var p0 = form.querySelectorAll("input[name=p0_checks]:checked").length;
    var p1 = form.querySelectorAll("input[name=p1_checks]:checked").length;
    var want = p0 ? "P0" : (p1 ? "P1" : null);
    if (want && rank[priority.value] > rank[want]) {
      priority.value = want;
      markPriority();
      hint.querySelector("[data-field=suggested]").textContent = priority.options[priority.selectedIndex].text;
      hint.hidden = false;
    }
    form.querySelector("select[name=emergency_service]").required = !!p0;
  }
  form.querySelectorAll("input[name=p0_checks], input[name=p1_checks]").forEach(function (c) {
    c.addEventListener("change", suggest);
  });
  var p1Categories = (form.getAttribute("data-p1-categories") || "").split(",");
  form.querySelector("select[name=category]").addEventListener("change", function (ev) {
    if (p1Categories.indexOf(ev.target.value) >= 0 && rank[priority.value] > 1) { priority.value = "P1"; markPriority(); }
  });

  // Triage of the summary and description as they are typed: shown beside the operator's own choice.
  var triageHint = document.getElementById("triage-hint");
  var triageTimer = null;
  function triage() {
    var text = ["summary", "description"].map(function (name) {
      return form.querySelector("[name=" + name + "]").value;
    }).join("\n");
    var body = new FormData();
    body.append("text", text);
    body.append("csrf_token", form.querySelector("input[name=csrf_token]").value);
    fetch(triageHint.getAttribute("data-url"), { method: "POST", body: body, credentials: "same-origin",
      headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) {
        triageHint.querySelector("[data-field=triage]").textContent = data.triage;
        triageHint.hidden = !data.triage;
      })
      .catch(function () { triageHint.hidden = true; });
  }
  ["summary", "description"].forEach(function (name) {
    form.querySelector("[name=" + name + "]").addEventListener("input", function () {
      clearTimeout(triageTimer);
      triageTimer = setTimeout(triage, 400);
    });
  });

  // "What the caller was told" only matters once "answered on the call" is ticked.
  var answered = form.querySelector("input[name=answered_on_call]");
  var answerField = form.querySelector("textarea[name=answer]").closest(".field");
  function syncAnswer() {
    var keep = answered.checked || answerField.querySelector("textarea").value.trim() ||
      answerField.classList.contains("has-error");
    answerField.hidden = !keep;
  }
  answered.addEventListener("change", syncAnswer);
  syncAnswer();

  // Phone first: show the caller's history and offer their open ticket.
  var phone = form.querySelector("input[name=phone]");
  var panel = document.getElementById("caller-history");
  var lookupUrl = phone.getAttribute("data-lookup");
  var timer = null;
  var last = null;
  function show(state) {
    panel.querySelectorAll("[data-state]").forEach(function (el) { el.hidden = el.getAttribute("data-state") !== state; });
  }
  function render(data) {
    var list = panel.querySelector("[data-field=history]");
    var contact = panel.querySelector("[data-field=contact]");
    var title = panel.querySelector("[data-field=history-title]");
    list.textContent = "";
    contact.hidden = true;
    title.hidden = !(data.tickets && data.tickets.length);
    if (!data.valid) { show("invalid"); return; }
    if (data.recent_open) {
      show("recent");
      var link = panel.querySelector("[data-field=recent-link]");
      link.href = data.recent_open.url;
      link.textContent = data.recent_open.number;
      panel.querySelector("[data-field=recent-summary]").textContent = data.recent_open.summary;
      panel.querySelector("[data-field=recent-form]").action = data.recent_open.add_url;
    } else {
      show(data.tickets.length ? "" : "unknown");
    }
    if (data.contact) {
      contact.hidden = false;
      contact.textContent = data.phone + (data.contact.name ? " · " + data.contact.name : "") +
        (data.contact.flags.length ? " · " + data.contact.flags.join(" / ") : "");
    }
    data.tickets.forEach(function (t) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = t.url; a.textContent = t.number;
      var badge = document.createElement("span");
      badge.className = "badge prio-" + t.priority.toLowerCase();
      badge.textContent = t.priority;
      li.appendChild(a);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(badge);
      li.appendChild(document.createTextNode(" " + t.status + " · " + t.created));
      var div = document.createElement("div");
      div.textContent = t.summary;
      li.appendChild(div);
      list.appendChild(li);
    });
  }
  function lookup() {
    var value = phone.value.trim();
    if (value === last) { return; }
    last = value;
    if (value.replace(/\D/g, "").length < 7) { show("idle"); render({ valid: true, tickets: [] }); show("idle"); return; }
    fetch(lookupUrl + "?phone=" + encodeURIComponent(value), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) { if (phone.value.trim() === value) { render(data); } })
      .catch(function () { show("idle"); });
  }
  phone.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(lookup, 300); });
  phone.addEventListener("blur", lookup);
  if (phone.value) { lookup(); }
})();
