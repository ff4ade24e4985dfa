// What a refused htmx request says. htmx swaps nothing on a 403, 404 or 500, so without this the
// page would simply not change: show the server's reason above the page instead.
(function () {
  "use strict";
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var reason = "";
    try {
      var page = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
      var said = page.querySelector("[data-error-reason]") || page.querySelector("main p");
      reason = said ? said.textContent.trim() : "";
      if (!reason && xhr.responseText && xhr.responseText.charAt(0) === "{") {
        reason = JSON.parse(xhr.responseText).detail || "";
      }
    } catch (e) { /* not HTML or JSON: the status line will do */ }
    var box = document.getElementById("htmx-errors");
    if (!box) return;
    var alert = document.createElement("div");
    alert.className = "alert alert-danger alert-dismissible";
    alert.setAttribute("role", "alert");
    alert.textContent = "Refused (" + xhr.status + "): " + (reason || xhr.statusText || "the server said no") + " ";
    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close";
    close.setAttribute("data-bs-dismiss", "alert");
    close.setAttribute("aria-label", "Close");
    alert.appendChild(close);
    box.replaceChildren(alert);
  });
  document.addEventListener("htmx:sendError", function () {
    var box = document.getElementById("htmx-errors");
    if (box) {
      box.innerHTML = '<div class="alert alert-danger" role="alert">The server could not be reached; nothing was changed by this page. Reload to see the current state.</div>';
    }
  });
})();
