/* Syndicator embed widget: https://<service>/embed.js (docs/embed.md).
 *
 *   <div data-syndicator-feed="office-en" data-limit="5"></div>
 *   <div data-syndicator-subscribe="office-email"></div>
 *   <script src="https://<service>/embed.js" async></script>
 *
 * Plain JS, no dependencies, no build step. Rules that keep partner pages safe:
 * - feed text goes in with textContent only (never innerHTML), links only http(s);
 * - every request goes to the service the script came from, except item images, which
 *   load from the publisher's site and only with data-show-images;
 * - everything renders in a shadow root: no CSS in or out, theming via --syndicator-* vars.
 */
(() => {
  "use strict";
  // currentScript is only set while this file runs for the first time (also when async).
  const me = document.currentScript || document.querySelector('script[src$="/embed.js"]');
  if (!me || window.__syndicatorEmbed) return;
  window.__syndicatorEmbed = 1;

  const base = new URL(".", me.src).href;     // the service root, path prefix included
  const origin = new URL(base).origin;
  const SEL = "[data-syndicator-feed],[data-syndicator-subscribe]";
  const ID = /^[a-z0-9][a-z0-9_-]*$/;
  const feeds = new Map();       // feed id -> Promise of the parsed JSON Feed (one fetch each)
  const frames = new Set();      // subscribe iframes we created (resized on their message)
  const seen = new WeakSet();
  const roots = new WeakMap();   // host -> its shadow root (may be on an inner div)
  // Chromium's ICU has no Belarusian data; Intl then silently answers in English.
  const MONTHS = {
    be: "студзеня лютага сакавіка красавіка мая чэрвеня ліпеня жніўня верасня кастрычніка лістапада снежня",
  };
  const TEXT = {
    en: ["Latest news (RSS feed)", "Email subscription"],
    ru: ["Последние новости (RSS)", "Подписка по почте"],
    be: ["Апошнія навіны (RSS)", "Падпіска па пошце"],
  };
  const CSS = `
:host{all:initial;display:block}
.w{all:initial;display:block;box-sizing:border-box;
font:var(--syndicator-font-size,1rem)/1.4 var(--syndicator-font,system-ui,-apple-system,"Segoe UI",Roboto,sans-serif);
color:var(--syndicator-color,#1f2328);background:var(--syndicator-bg,transparent);
border:var(--syndicator-border,none);border-radius:var(--syndicator-radius,0);
padding:var(--syndicator-padding,0)}
ul{list-style:none;margin:0;padding:0;display:grid;gap:var(--syndicator-gap,.75em)}
li{display:flex;gap:.75em;align-items:flex-start;margin:0;padding:0;color:inherit}
.t{min-width:0}
a{color:var(--syndicator-link-color,#0b57d0);text-decoration:underline;font-weight:600;border-radius:2px}
a:hover{text-decoration-thickness:2px}
a:focus-visible{outline:2px solid var(--syndicator-focus-color,var(--syndicator-link-color,#0b57d0));outline-offset:2px}
time{display:block;font-size:.875em;color:var(--syndicator-muted-color,#59636e)}
p{margin:.25em 0 0}
.l{display:flex;gap:.5em;font-size:.8em;color:var(--syndicator-muted-color,#59636e)}
.l a{font-weight:400}
img{flex:none;width:var(--syndicator-image-size,4.5em);height:var(--syndicator-image-size,4.5em);
object-fit:cover;border-radius:var(--syndicator-radius,0)}
iframe{display:block;width:100%;height:10em;border:0}`;
  let sheet = null;

  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = String(text);
    return node;
  };
  const safeUrl = (value) => {
    try {
      const url = new URL(value);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : "";
    } catch (e) {
      return "";
    }
  };
  const flag = (host, name) => {
    const v = host.getAttribute(name);
    return v !== null && !/^(false|0|no|off)$/i.test(v);
  };
  // data-lang="auto": the partner page's <html lang>, else data-lang-fallback, else as unset.
  const langOf = (host, feed) => {
    let lang = host.getAttribute("data-lang");
    if (lang && lang.toLowerCase() === "auto") {
      lang = document.documentElement.lang || host.getAttribute("data-lang-fallback");
    }
    return lang || (feed && feed.language) || document.documentElement.lang || "en";
  };
  const primary = (lang) => String(lang || "").toLowerCase().split("-")[0];
  // Chinese with the script its tag names or its region implies (zh-TW is zh-hant, zh-CN
  // zh-hans), as locales.language_key keys it; other languages by their primary subtag.
  const HANT_REGIONS = ["tw", "hk", "mo"];
  const scriptKey = (lang) => {
    const parts = String(lang || "").toLowerCase().split(/[-_]/);
    if (parts[0] !== "zh") return parts[0];
    const script = parts.slice(1, 3).find((p) => p.length === 4);
    if (script) return "zh-" + script;
    return parts.slice(1, 3).some((p) => HANT_REGIONS.includes(p)) ? "zh-hant" : "zh-hans";
  };
  // Of the versions, the one for a reader of `lang`: the same tag (zh-Hant before zh-Hans),
  // else the same script (zh-Hant for zh-TW), else the same language (be for be-BY); as
  // web/embed_items.py's best_match.
  const bestMatch = (lang, versions) => {
    const low = String(lang).toLowerCase();
    return versions.find((v) => String(v.language).toLowerCase() === low)
      || versions.find((v) => scriptKey(v.language) === scriptKey(lang))
      || versions.find((v) => primary(v.language) === primary(lang));
  };
  // The other language versions of an item (its "_syndicator" extension, docs/embed.md).
  const versionsOf = (item) => {
    const ext = item._syndicator;
    const links = ext && Array.isArray(ext.links) ? ext.links : [];
    return links.filter((l) => l && l.rel === "alternate" && typeof l.language === "string"
      && safeUrl(l.url));
  };
  const text = (lang, i) => (TEXT[lang.toLowerCase().split("-")[0]] || TEXT.en)[i];

  function dateFormat(lang) {
    try {
      if (Intl.DateTimeFormat.supportedLocalesOf([lang]).length) {
        const f = new Intl.DateTimeFormat(lang, { dateStyle: "long" });
        return (d) => f.format(d);
      }
    } catch (e) { /* not a valid language tag */ }
    const months = MONTHS[lang.toLowerCase().split("-")[0]];
    if (months) {
      const names = months.split(" ");
      return (d) => `${d.getDate()} ${names[d.getMonth()]} ${d.getFullYear()} г.`;
    }
    const f = new Intl.DateTimeFormat(undefined, { dateStyle: "long" });
    return (d) => f.format(d);
  }

  function shadow(host) {
    let root = roots.get(host);
    if (!root) {
      try {
        root = host.attachShadow({ mode: "open" });
      } catch (e) {  // cannot host a shadow root (e.g. <p>, or one exists): use a child
        const inner = el("div");
        host.append(inner);
        root = inner.attachShadow({ mode: "open" });
      }
      roots.set(host, root);
    }
    if (root.adoptedStyleSheets && window.CSSStyleSheet && CSSStyleSheet.prototype.replaceSync) {
      // A constructed sheet also works on partner pages whose CSP forbids inline <style>.
      if (!sheet) {
        sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS);
      }
      root.adoptedStyleSheets = [sheet];
      return [root];
    }
    return [root, el("style", "", CSS)];
  }

  function load(id) {
    if (!feeds.has(id)) {
      feeds.set(id, fetch(`${base}${id}.json`, { credentials: "omit", referrerPolicy: "no-referrer" })
        .then((r) => {
          if (!r.ok) throw new Error(`HTTP ${r.status}`);
          return r.json();
        })
        .then((feed) => {
          if (!feed || !Array.isArray(feed.items)) throw new Error("not a JSON Feed");
          return feed;
        }));
    }
    return feeds.get(id);
  }

  function fallback(host, id) {
    // The partner's own content inside the div (if any) shows through the slot; else a link.
    const [root, style] = shadow(host);
    const slot = el("slot");
    const link = el("a", "", text(langOf(host), 0));
    link.href = `${base}${id}.rss`;
    slot.append(link);
    const wrap = el("div", "w");
    wrap.append(slot);
    root.replaceChildren(...(style ? [style] : []), wrap);
  }

  function render(host, id, feed) {
    const lang = langOf(host, feed);
    const format = dateFormat(lang);
    const limit = Math.min(Math.max(parseInt(host.getAttribute("data-limit"), 10) || 5, 1), 50);
    const summaries = flag(host, "data-show-summary");
    const images = flag(host, "data-show-images");
    const list = el("ul");
    list.setAttribute("part", "list");
    if (typeof feed.title === "string") list.setAttribute("aria-label", feed.title);
    for (const item of feed.items.slice(0, limit)) {
      if (!item || typeof item.title !== "string") continue;
      const li = el("li");
      const body = el("div", "t");
      const versions = versionsOf(item);
      // The story in the widget's language when it has a version in it, else as published.
      const best = bestMatch(lang, [item, ...versions.filter((v) => typeof v.title === "string")]);
      const mine = best && best !== item ? best : null;
      const shown = mine ? { url: mine.url, title: mine.title, language: mine.language } : item;
      const url = safeUrl(shown.url);
      const title = el(url ? "a" : "span", "", shown.title);
      if (typeof shown.language === "string") title.lang = shown.language;
      if (url) {
        title.href = url;
        title.rel = "noopener noreferrer";
        if (host.getAttribute("data-target") !== "_self") title.target = "_blank";
      }
      body.append(title);
      const when = new Date(item.date_published);
      if (!isNaN(when)) {
        const time = el("time", "", format(when));
        time.dateTime = when.toISOString();
        body.append(time);
      }
      if (summaries && !mine && typeof item.summary === "string" && item.summary) {
        body.append(el("p", "", item.summary));
      }
      if (versions.length) {
        // Every language of the story as a link, the one shown first and unlinked.
        const langs = el("p", "l");
        langs.setAttribute("part", "languages");
        const all = [{ url: item.url, language: item.language, title: item.title }, ...versions];
        const current = all.find((v) => safeUrl(v.url) === url) || all[0];
        for (const v of [current, ...all.filter((v) => v !== current)]) {
          if (typeof v.language !== "string") continue;
          const code = primary(v.language).toUpperCase();
          const link = v === current ? el("span", "", code) : el("a", "", code);
          if (v !== current) {
            link.href = safeUrl(v.url);
            link.hreflang = v.language;
            link.rel = "noopener noreferrer";
            if (typeof v.title === "string") link.title = v.title;
            if (host.getAttribute("data-target") !== "_self") link.target = "_blank";
          }
          langs.append(link);
        }
        if (langs.children.length > 1) body.append(langs);
      }
      const src = images && safeUrl(item.image);
      if (src) {
        const img = el("img");
        img.alt = "";
        img.loading = "lazy";
        img.decoding = "async";
        img.referrerPolicy = "no-referrer";
        img.src = src;
        li.append(img);
      }
      li.append(body);
      list.append(li);
    }
    if (!list.children.length) return fallback(host, id);
    const [root, style] = shadow(host);
    const wrap = el("div", "w");
    wrap.lang = lang;
    wrap.append(list);
    root.replaceChildren(...(style ? [style] : []), wrap);
  }

  function subscribe(host, target) {
    const lang = langOf(host);
    const frame = el("iframe");
    const query = new URLSearchParams({ target, lang });
    frame.src = `${base}embed/subscribe?${query}`;
    frame.title = text(lang, 1);
    frame.loading = "lazy";
    frames.add(frame);
    const [root, style] = shadow(host);
    const wrap = el("div", "w");
    wrap.append(frame);
    root.replaceChildren(...(style ? [style] : []), wrap);
  }

  function mount(host) {
    if (seen.has(host)) return;
    seen.add(host);
    const id = host.getAttribute("data-syndicator-feed");
    const target = host.getAttribute("data-syndicator-subscribe");
    if (target !== null) {
      if (ID.test(target)) subscribe(host, target);
    } else if (ID.test(id)) {
      load(id).then((feed) => render(host, id, feed), () => fallback(host, id));
    }
  }

  function scan(node) {
    if (node.nodeType !== 1) return;
    if (node.matches(SEL)) mount(node);
    node.querySelectorAll(SEL).forEach(mount);
  }

  // Our iframes (subscribe, or /embed/<feed> pasted by hand) report their height.
  window.addEventListener("message", (event) => {
    const data = event.data;
    if (event.origin !== origin || !data || data.type !== "syndicator:resize") return;
    const height = Math.min(Math.max(Number(data.height) || 0, 0), 20000);
    for (const frame of [...frames, ...document.querySelectorAll("iframe")]) {
      if (frame.contentWindow === event.source) frame.style.height = `${Math.ceil(height)}px`;
    }
  });
  // Widgets parsed after this (async) script ran, or added later by the page, mount too.
  new MutationObserver((records) => {
    for (const record of records) record.addedNodes.forEach(scan);
  }).observe(document.documentElement, { childList: true, subtree: true });
  scan(document.documentElement);
})();
