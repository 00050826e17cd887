// The alert import's progress: ask for the next step until the import is done, then show the result.
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box) { return; }
  var bar = box.querySelector("progress");
  var text = box.querySelector("[data-progress-text]");
  var fallback = document.querySelector(".no-script-step");
  if (fallback) { fallback.hidden = true; }
  var failures = 0;
  function step() {
    fetch(box.getAttribute("data-step-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": box.getAttribute("data-csrf") }
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    }).then(function (p) {
      failures = 0;
      bar.max = p.valid;
      bar.value = p.processed;
      text.textContent = p.text;
      if (p.done) { window.location.reload(); } else { step(); }
    }).catch(function () {
      failures += 1;
      if (failures > 5) { if (fallback) { fallback.hidden = false; } return; }
      window.setTimeout(step, 2000 * failures);
    });
  }
  step();
})();
