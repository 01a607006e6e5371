/* The /builder page: options → live preview (the real widget or iframe) and the snippet. */
(() => {
  "use strict";
  const form = document.getElementById("options");
  const preview = document.getElementById("preview");
  const snippet = document.getElementById("snippet");
  const copied = document.getElementById("copied");
  const base = form.getAttribute("data-base");
  const LANG = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$/;
  const attr = (value) => String(value).replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");

  function options() {
    const data = new FormData(form);
    const feed = form.elements.feed.selectedOptions[0];
    const lang = String(data.get("lang") || "");
    return {
      kind: data.get("kind"),
      feed: feed ? feed.value : "",
      title: feed ? feed.getAttribute("data-title") : "",
      target: form.elements.target ? form.elements.target.value : "",
      limit: Math.min(Math.max(parseInt(data.get("limit"), 10) || 5, 1), 50),
      summary: data.has("summary"),
      images: data.has("images"),
      lang: LANG.test(lang) ? lang : "",
    };
  }

  function widget(o) {
    const node = document.createElement("div");
    if (o.kind === "subscribe") {
      node.setAttribute("data-syndicator-subscribe", o.target);
    } else {
      node.setAttribute("data-syndicator-feed", o.feed);
      node.setAttribute("data-limit", String(o.limit));
      if (o.summary) node.setAttribute("data-show-summary", "");
      if (o.images) node.setAttribute("data-show-images", "");
    }
    if (o.lang) node.setAttribute("data-lang", o.lang);
    return node;
  }

  function frameUrl(o) {
    const q = new URLSearchParams();
    if (o.kind === "subscribe") {
      q.set("target", o.target);
    } else {
      q.set("limit", String(o.limit));
      if (o.summary) q.set("summary", "1");
      if (o.images) q.set("images", "1");
    }
    if (o.lang) q.set("lang", o.lang);
    return `${base}embed/${o.kind === "subscribe" ? "subscribe" : encodeURIComponent(o.feed)}?${q}`;
  }

  function update() {
    const o = options();
    const framed = o.kind.endsWith("iframe");
    const subscribe = o.kind.startsWith("subscribe");
    o.kind = subscribe ? "subscribe" : o.kind;
    form.elements.feed.disabled = subscribe;
    if (form.elements.target) form.elements.target.disabled = !subscribe;
    let node;
    let text;
    if (framed) {
      const title = subscribe ? "Email subscription" : o.title;
      const height = subscribe ? 160 : o.limit * 70 + 40;
      node = document.createElement("iframe");
      node.src = frameUrl(o);
      node.title = title;
      text = `<iframe src="${attr(node.src)}" title="${attr(title)}" loading="lazy"\n` +
        `  style="width:100%;height:${height}px;border:0"></iframe>\n` +
        `<!-- optional: lets the iframe fit its height -->\n<script src="${base}embed.js" async></script>`;
    } else {
      node = widget(o);
      text = `${node.outerHTML}\n<script src="${base}embed.js" async></script>`;
    }
    preview.replaceChildren(node);   // embed.js mounts new widgets by itself
    snippet.value = text;
    copied.textContent = "";
  }

  document.getElementById("copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(snippet.value);
    } catch (e) {   // no clipboard permission: select it so that Ctrl+C works
      snippet.select();
      document.execCommand("copy");
    }
    copied.textContent = "Copied.";
  });
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();
