// Hide a Gravatar that cannot load (offline hub, blocked host): the initials underneath stay.
document.addEventListener("error", (event) => {
  if (event.target instanceof HTMLImageElement && event.target.dataset.avatar !== undefined) {
    event.target.remove();
  }
}, true);

// Copy buttons on command snippets.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  navigator.clipboard.writeText(button.dataset.copy).then(() => {
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  });
});

// Selects that apply at once (the platform of a tag's layers).
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-autosubmit]")) event.target.form.submit();
});

// Create repository: the visibility follows the chosen namespace's default.
document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-visibility-default]");
  if (!select) return;
  const value = select.selectedOptions[0].dataset.private;
  const radio = select.form.querySelector(`input[name="is_private"][value="${value}"]`);
  if (radio) radio.checked = true;
});

// Suggestions under the header search box: type, pick one (click, or arrows and Enter), and go
// to the repository's page; Enter without a pick searches as usual.
document.querySelectorAll("input[data-suggest]").forEach((input) => {
  const list = document.createElement("ul");
  list.className = "suggestions";
  list.id = "search-suggestions";
  list.setAttribute("role", "listbox");
  list.hidden = true;
  input.setAttribute("aria-controls", list.id);
  input.setAttribute("aria-autocomplete", "list");
  input.after(list);
  let timer = null;
  let active = -1;
  const items = () => [...list.querySelectorAll("a")];
  const close = () => { list.hidden = true; list.replaceChildren(); active = -1; };
  const highlight = (index) => {
    const links = items();
    active = (index + links.length) % links.length;
    links.forEach((link, i) => link.setAttribute("aria-selected", i === active ? "true" : "false"));
  };
  const show = (results) => {
    list.replaceChildren(...results.map((result) => {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = result.url;
      link.setAttribute("role", "option");
      const name = document.createElement("strong");
      name.textContent = result.name;
      link.append(name);
      if (result.description) {
        const description = document.createElement("span");
        description.textContent = result.description;
        link.append(description);
      }
      item.append(link);
      return item;
    }));
    active = -1;
    list.hidden = results.length === 0;
  };
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const query = input.value.trim();
    if (!query) { close(); return; }
    timer = setTimeout(async () => {
      const response = await fetch(`${input.dataset.suggest}?q=${encodeURIComponent(query)}`);
      if (response.ok && input.value.trim() === query) show((await response.json()).results);
    }, 150);
  });
  input.addEventListener("keydown", (event) => {
    if (list.hidden) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      highlight(active + (event.key === "ArrowDown" ? 1 : -1));
    } else if (event.key === "Enter" && active >= 0) {
      event.preventDefault();
      window.location.assign(items()[active].href);
    } else if (event.key === "Escape") {
      close();
    }
  });
  input.addEventListener("blur", () => setTimeout(close, 200));
});
