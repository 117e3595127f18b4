// One tap, one entry: a step form is sent once (a double tap or a scanner's second Enter
// would otherwise post the same step twice and be refused as already recorded).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.matches || !form.matches("form[data-once]")) return;
  if (form.dataset.sent) { event.preventDefault(); return; }
  form.dataset.sent = "1";
});
