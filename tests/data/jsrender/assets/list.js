// Builds the news list from /api/news.json, as single-page news sites do. It also tries
// requests the renderer must refuse: another origin named in ?other=, a POST, a WebSocket.
(function () {
  "use strict";
  var params = new URLSearchParams(window.location.search);
  var other = params.get("other");
  if (other) {
    fetch(other + "leak.json").catch(function () {});
    fetch(other + "leak-post", {method: "POST", body: "x"}).catch(function () {});
    try { new WebSocket(other.replace(/^http/, "ws") + "socket"); } catch (e) { /* refused */ }
  }
  fetch("/api/news.json", {headers: {"Accept": "application/json"}})
    .then(function (response) { return response.json(); })
    .then(function (items) {
      var main = document.getElementById("news");
      main.textContent = "";
      items.forEach(function (item) {
        var card = document.createElement("article");
        card.className = "card";
        var link = document.createElement("a");
        link.className = "card__link";
        link.href = item.path;
        var title = document.createElement("h2");
        title.className = "card__title";
        title.textContent = item.title;
        link.appendChild(title);
        var date = document.createElement("time");
        date.className = "card__date";
        date.setAttribute("datetime", item.published);
        date.textContent = item.shown;
        var summary = document.createElement("p");
        summary.className = "card__summary";
        summary.textContent = item.summary;
        card.appendChild(link);
        card.appendChild(date);
        card.appendChild(summary);
        main.appendChild(card);
      });
      main.setAttribute("data-state", "ready");
    });
}());
