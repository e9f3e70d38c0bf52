// sigcore console: small behaviours on top of plain forms (the pages work without this file).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Ask before destructive forms (data-confirm holds the question).
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
  // After a refused form, put the keyboard on the first field in error.
  const invalid = document.querySelector('[aria-invalid="true"]');
  if (invalid) invalid.focus();
});
