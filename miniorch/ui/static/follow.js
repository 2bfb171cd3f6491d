// Live follow of a pod's log: the page's only script. It reads the follow URL from the <pre>'s
// data-follow attribute (no token: the session cookie goes with the request, HttpOnly) and
// appends what arrives as text nodes (never HTML).
"use strict";
(function () {
  const log = document.getElementById("log");
  const state = document.getElementById("follow-state");
  if (!log || !log.dataset.follow) {
    return;
  }
  const say = (text) => { if (state) { state.textContent = text; } };
  const atBottom = () => window.innerHeight + window.scrollY >= document.body.scrollHeight - 8;
  async function follow() {
    const response = await fetch(log.dataset.follow, { credentials: "same-origin", cache: "no-store" });
    if (!response.ok || !response.body) {
      say("live follow unavailable (HTTP " + response.status + "); reload the page");
      return;
    }
    say("following live");
    log.classList.add("live");
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        break;
      }
      const stick = atBottom();
      log.appendChild(document.createTextNode(decoder.decode(value, { stream: true })));
      if (stick) {
        window.scrollTo(0, document.body.scrollHeight);
      }
    }
    log.classList.remove("live");
    say("the log ended (the container stopped)");
  }
  follow().catch(() => say("live follow interrupted; reload the page"));
})();
