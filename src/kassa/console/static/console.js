// The console works without JavaScript; this only disables a form's button once it is
// submitted, so that an impatient second click does not even reach the server (the server
// refuses to execute twice anyway: each form carries its own Idempotency-Key).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.classList.contains("once")) return;
  for (const button of form.querySelectorAll("button")) {
    setTimeout(() => { button.disabled = true; }, 0);
  }
});
