// Squall console: live pages from the event stream. The pages work without this script; it
// only refreshes the server-rendered region of the page (and appends output) as events arrive.
"use strict";
(function () {
  const main = document.querySelector("main[data-live]");
  if (!main || !window.EventSource) return;
  const kind = main.dataset.live;
  const executionId = main.dataset.execution || "";
  const region = document.getElementById("live-region");
  let timer = null;

  function refresh() {
    timer = null;
    const url = new URL(window.location.href);
    url.searchParams.set("partial", "1");
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then((html) => {
        // The fragment is the server's own autoescaped template output.
        region.innerHTML = html;
        const final = document.getElementById("final-output");
        const output = document.getElementById("output");
        if (final && output) output.textContent = final.content.textContent;
        main.dataset.refreshed = String(Number(main.dataset.refreshed || "0") + 1);
      })
      .catch(() => {});
  }

  function soon() {
    if (timer === null) timer = window.setTimeout(refresh, 150);
  }

  const events = ["st2.execution__create", "st2.execution__update"];
  if (kind === "execution") events.push("st2.execution.output__create");
  const source = new EventSource("/ui/stream?events=" + events.join(","));
  // Whatever changed between rendering the page and the stream opening (or while it was
  // reconnecting) came before this connection: catch up once on every open.
  source.addEventListener("open", () => {
    main.dataset.stream = "open";
    soon();
  });
  source.addEventListener("st2.execution__create", soon);
  source.addEventListener("st2.execution__update", soon);
  source.addEventListener("st2.execution.output__create", (event) => {
    const chunk = JSON.parse(event.data);
    if (chunk.execution_id !== executionId) return;
    const output = document.getElementById("output");
    if (output) output.textContent += chunk.data;
  });
})();
