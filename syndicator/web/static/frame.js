/* Syndicator iframe pages (/embed/<feed>, /embed/subscribe): tell the parent page our height.
 * The parent listens for {type: "syndicator:resize", feed, height} (docs/embed.md); embed.js
 * does it for every iframe of the service on the page. No feed data is ever in a script. */
(() => {
  "use strict";
  if (window.parent === window) return;
  const feed = document.body.getAttribute("data-feed") || "";
  let last = -1;
  const send = () => {
    const height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height === last) return;
    last = height;
    // Only a height: nothing secret, so any parent may read it.
    window.parent.postMessage({ type: "syndicator:resize", feed, height }, "*");
  };
  new ResizeObserver(send).observe(document.documentElement);
  window.addEventListener("load", send);
  send();
})();
