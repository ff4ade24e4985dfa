// The viewer's time zone, for the server to show times in (ViewerTimezoneMiddleware reads the
// `tz` cookie). Set on every page so a laptop that travels is followed; no reload: the next page
// uses it, and the first page a person sees is the login page.
(function () {
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone) return;
    var current = document.cookie.split("; ").filter(function (c) { return c.indexOf("tz=") === 0; })[0];
    if (current !== "tz=" + encodeURIComponent(zone)) {
      document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=lax";
    }
  } catch (e) { /* an old browser: times stay in the window policy's zone */ }
})();
