// A keyboard-wedge scanner types the barcode text and then Enter. In a one-line scan field
// that Enter would submit a half-filled form; here it moves on to the next field instead.
document.addEventListener("keydown", (event) => {
  const field = event.target;
  if (event.key !== "Enter" || !field.matches || !field.matches("input[data-scan]")) return;
  event.preventDefault();
  const fields = Array.from(field.form.elements).filter(
    (e) => !e.disabled && e.type !== "hidden" && e.tagName !== "FIELDSET"
  );
  const next = fields[fields.indexOf(field) + 1];
  if (next) next.focus();
});
