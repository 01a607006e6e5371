// Copy buttons: <button data-copy="ID" data-copied="TEXT"> copies the value of the input
// with that id, and says TEXT (the page's language) for a moment.
// The server's pages load it as a file (their Content-Security-Policy forbids inline script);
// the published index.html has it inline, to work from any static host.
document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-copy]");
  if (!button) { return; }
  var input = document.getElementById(button.getAttribute("data-copy"));
  if (!input) { return; }
  input.select();
  var label = button.getAttribute("data-label") || button.textContent;
  button.setAttribute("data-label", label);
  var done = function () {
    button.textContent = button.getAttribute("data-copied") || "Copied";
    setTimeout(function () { button.textContent = label; }, 1500);
  };
  var fallback = function () { document.execCommand("copy"); done(); };
  if (navigator.clipboard) { navigator.clipboard.writeText(input.value).then(done, fallback); }
  else { fallback(); }
});
