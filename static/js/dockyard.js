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
