// Ticket pages. Everything here is optional: without JavaScript the form offers empty eval rows
// and delete boxes, and times are shown in the window policy's zone.
(function () {
  "use strict";
  // The viewer's time zone, so the server shows times (and reads a planned start) in it; without
  // JavaScript the window policy's zone is used.
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("tz=" + encodeURIComponent(zone)) === -1) {
      document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (e) { /* old browser: the policy zone it is */ }
})();

(function () {
  "use strict";
  var form = document.getElementById("ticket-form");
  if (!form) return;
  var body = document.querySelector("#eval-rows tbody");
  var template = document.getElementById("eval-row-template");
  var total = form.querySelector("input[name='evals-TOTAL_FORMS']");

  document.querySelectorAll("[data-js-only]").forEach(function (el) { el.classList.remove("d-none"); });
  document.querySelectorAll("[data-nojs-only]").forEach(function (el) { el.classList.add("d-none"); });

  function updateDelta(row) {
    var baseline = row.querySelector("input[name$='-baseline']");
    var candidate = row.querySelector("input[name$='-candidate']");
    var cell = row.querySelector(".eval-delta");
    if (!baseline || !candidate || !cell) return;
    var b = parseFloat(baseline.value), c = parseFloat(candidate.value);
    cell.textContent = isFinite(b) && isFinite(c) ? (+(c - b).toFixed(4)).toString() : "—";
  }

  // After a refused save the page comes back with the removed rows still ticked: keep them hidden.
  body.querySelectorAll("input[name$='-DELETE']:checked").forEach(function (box) {
    box.closest("tr.eval-row").classList.add("d-none");
  });

  body.addEventListener("input", function (event) {
    var row = event.target.closest("tr.eval-row");
    if (row) updateDelta(row);
  });

  body.addEventListener("click", function (event) {
    var button = event.target.closest("[data-remove-eval-row]");
    if (!button) return;
    var row = button.closest("tr.eval-row");
    var del = row.querySelector("input[name$='-DELETE']");
    if (del) del.checked = true;  // the formset skips it; the server decides, as without JS
    row.classList.add("d-none");
  });

  // Say which tier the feature gives, next to the tier select ("may be raised, never lowered").
  var tiers = JSON.parse((document.getElementById("feature-tiers") || {}).textContent || "{}");
  var feature = document.getElementById("id_feature");
  var tierHelp = document.querySelector("#field-risk_tier .form-text");
  function showFeatureTier() {
    if (!feature || !tierHelp) return;
    var tier = tiers[feature.value];
    tierHelp.textContent = tier
      ? "The feature is " + tier + " tier: you may raise it, never lower it."
      : "Inherited from the feature; you may raise it, never lower it.";
  }
  // Users affected follows the feature's users served until the author types their own.
  var users = JSON.parse((document.getElementById("feature-users") || {}).textContent || "{}");
  var affected = document.getElementById("id_users_affected");
  var suggested = null;
  function suggestUsers() {
    if (!feature || !affected) return;
    var served = users[feature.value];
    if (served === undefined) return;
    if (affected.value === "" || affected.value === String(suggested)) {
      affected.value = String(served);
      suggested = served;
    }
  }
  if (feature) {
    feature.addEventListener("change", showFeatureTier);
    feature.addEventListener("change", suggestUsers);
    showFeatureTier();
    suggestUsers();
  }

  var add = document.querySelector("[data-add-eval-row]");
  if (add && template && total) {
    add.addEventListener("click", function () {
      var index = parseInt(total.value, 10);
      var html = template.innerHTML.replace(/__prefix__/g, String(index));
      body.insertAdjacentHTML("beforeend", html);
      total.value = String(index + 1);
      var row = body.lastElementChild;
      row.querySelectorAll("[data-js-only]").forEach(function (el) { el.classList.remove("d-none"); });
      row.querySelectorAll("[data-nojs-only]").forEach(function (el) { el.classList.add("d-none"); });
      var first = row.querySelector("input");
      if (first) first.focus();
    });
  }
})();
