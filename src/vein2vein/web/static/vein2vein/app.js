// Small behaviours on top of htmx; no third-party code, nothing fetched from the internet.
document.addEventListener("htmx:afterSwap", (event) => {
  const dialog = document.querySelector("#sign-dialog-slot dialog");
  if (dialog && !dialog.open) dialog.showModal();
  const pw = dialog && dialog.querySelector("input[type=password]");
  if (pw) pw.focus();
});
document.addEventListener("click", (event) => {
  if (event.target.matches("[data-close-dialog]")) {
    const dialog = event.target.closest("dialog");
    if (dialog) { dialog.close(); dialog.remove(); }
  }
});
document.addEventListener("htmx:beforeSwap", (event) => {
  // A successful signature replaces the signatures panel: close the dialog.
  if (event.detail.target && event.detail.target.id !== "sign-dialog-slot") {
    const dialog = document.querySelector("#sign-dialog-slot dialog");
    if (dialog) { dialog.close(); dialog.remove(); }
  }
});
