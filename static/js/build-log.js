// A build's page while it runs: every second, ask for the log from where the page has it,
// append it, and update the status and duration, until the build has finished.
(() => {
  const log = document.querySelector("[data-build-log]");
  if (!log || log.dataset.finished === "true") return;
  let offset = Number(log.dataset.offset) || 0;
  const find = (name) => document.querySelector(`[data-${name}]`);

  // 42s, 3m 05s, 1h 02m: as the build_tags `duration` filter writes it.
  const formatDuration = (total) => {
    if (total < 60) return `${total}s`;
    const minutes = Math.floor(total / 60);
    if (minutes < 60) return `${minutes}m ${String(total % 60).padStart(2, "0")}s`;
    return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
  };

  const show = (state) => {
    if (state.text) {
      const following = log.scrollHeight - log.scrollTop - log.clientHeight < 24;
      log.append(state.text);
      if (following) log.scrollTop = log.scrollHeight;
    }
    offset = state.offset;
    document.querySelectorAll("[data-build-status]").forEach((badge) => {
      badge.dataset.status = state.status;
      badge.textContent = state.status_display;
    });
    if (state.duration_seconds !== null) find("build-duration").textContent = formatDuration(state.duration_seconds);
    find("build-truncated").hidden = !state.truncated;
    const error = find("build-error");
    error.textContent = state.error;
    error.hidden = !state.error;
    if (state.digest) {
      find("build-digest").textContent = state.digest;
      find("build-digest-row").hidden = false;
    }
  };

  const finish = () => {
    log.dataset.finished = "true";
    find("build-live")?.remove();
    find("build-cancel")?.remove();
    find("build-finished").textContent = "just now";
  };

  const poll = async () => {
    try {
      const response = await fetch(`${log.dataset.url}?offset=${offset}`, {
        headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const state = await response.json();
      show(state);
      if (state.finished) {
        finish();
        return;
      }
      setTimeout(poll, 1000);
    } catch {
      setTimeout(poll, 3000); // the portal restarting, the network gone: try again later
    }
  };
  setTimeout(poll, 1000);
})();
