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
