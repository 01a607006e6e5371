// Copy buttons: <button data-copy="ID"> copies the value of the input with that id.
// A separate file (not inline) so the pages' Content-Security-Policy can forbid inline script.
document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-copy]");
  if (!button) { return; }
  var input = document.getElementById(button.getAttribute("data-copy"));
  if (!input) { return; }
  input.select();
  var done = function () {
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = "Copy"; }, 1500);
  };
  var fallback = function () { document.execCommand("copy"); done(); };
  if (navigator.clipboard) { navigator.clipboard.writeText(input.value).then(done, fallback); }
  else { fallback(); }
});
